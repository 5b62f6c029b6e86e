//! TaintToleration: NoSchedule/NoExecute taints the pod does not tolerate
//! filter the node; untolerated PreferNoSchedule taints lower its score.

use std::sync::Arc;

use api::taints::{does_not_schedule, find_untolerated, tolerations_tolerate_taint, PREFER_NO_SCHEDULE};
use k8s_openapi::api::core::v1::Toleration;

use super::TAINT_TOLERATION;
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{default_normalize, CycleState, Plugin, Point, Status, MAX_NODE_SCORE};
use crate::pod_info::PodInfo;

pub struct TaintToleration;

const PREFER_TOLS: &str = "TaintToleration/prefer";

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        TAINT_TOLERATION
    }
    fn points(&self) -> &'static [Point] {
        &[Point::Filter, Point::PreScore, Point::Score]
    }
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match find_untolerated(&node.taints, &pod.tolerations, does_not_schedule) {
            None => Status::success(),
            Some(t) => Status::unresolvable(
                TAINT_TOLERATION,
                format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value.as_deref().unwrap_or("")),
            ),
        }
    }
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        let tols: Vec<Toleration> = pod
            .tolerations
            .iter()
            .filter(|t| t.effect.as_deref().is_none_or(|e| e.is_empty() || e == PREFER_NO_SCHEDULE))
            .cloned()
            .collect();
        state.write(PREFER_TOLS, tols);
        Status::success()
    }
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        if node.taints.is_empty() {
            return 0;
        }
        let empty = vec![];
        let tols: &Vec<Toleration> = state.read(PREFER_TOLS).unwrap_or(&empty);
        node.taints.iter().filter(|t| t.effect == PREFER_NO_SCHEDULE && !tolerations_tolerate_taint(tols, t)).count() as i64
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, true, scores);
    }
}
