//! NodePorts: a pod's hostPorts must be free on the node.

use super::NODE_PORTS;
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Plugin, Point, Status};
use crate::pod_info::PodInfo;

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NODE_PORTS
    }
    fn points(&self) -> &'static [Point] {
        &[Point::PreFilter, Point::Filter]
    }
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> Status {
        if pod.host_ports.is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let clash = pod.host_ports.iter().any(|p| node.used_ports.iter().any(|u| u.conflicts(p)));
        if clash {
            Status::unschedulable(NODE_PORTS, REASON)
        } else {
            Status::success()
        }
    }
}
