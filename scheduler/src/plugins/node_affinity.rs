//! NodeAffinity: spec.nodeSelector and required node affinity filter;
//! preferred node affinity scores (sum of matching weights, normalized).

use std::sync::Arc;

use api::affinity::preferred_score;

use super::NODE_AFFINITY;
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{default_normalize, CycleState, Plugin, Point, Status, MAX_NODE_SCORE};
use crate::pod_info::PodInfo;

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

pub struct NodeAffinity;

/// Whether the node satisfies the pod's nodeSelector and required node affinity.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    pod.required_node_affinity.matches(&node.labels, &node.name)
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NODE_AFFINITY
    }
    fn points(&self) -> &'static [Point] {
        &[Point::PreFilter, Point::Filter, Point::PreScore, Point::Score]
    }
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> Status {
        if pod.required_node_affinity.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if required_matches(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(NODE_AFFINITY, REASON)
        }
    }
    fn pre_score(&self, _: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        if pod.preferred_node_affinity.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        preferred_score(&pod.preferred_node_affinity, &node.labels, &node.name)
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, false, scores);
    }
}
