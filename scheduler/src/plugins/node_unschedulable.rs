//! NodeUnschedulable: cordoned nodes (spec.unschedulable) reject pods that
//! do not tolerate node.kubernetes.io/unschedulable:NoSchedule.

use api::taints::{tolerations_tolerate_taint, NO_SCHEDULE};
use k8s_openapi::api::core::v1::Taint;

use super::NODE_UNSCHEDULABLE;
use crate::cache::NodeInfo;
use crate::framework::{CycleState, Plugin, Point, Status};
use crate::pod_info::PodInfo;

pub const REASON: &str = "node(s) were unschedulable";

pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NODE_UNSCHEDULABLE
    }
    fn points(&self) -> &'static [Point] {
        &[Point::Filter]
    }
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint { key: "node.kubernetes.io/unschedulable".into(), effect: NO_SCHEDULE.into(), ..Default::default() };
        if tolerations_tolerate_taint(&pod.tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable(NODE_UNSCHEDULABLE, REASON)
        }
    }
}
