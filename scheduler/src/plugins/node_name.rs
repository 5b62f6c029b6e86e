//! NodeName: a pod that names its node fits only there.

use super::NODE_NAME;
use crate::cache::NodeInfo;
use crate::framework::{CycleState, Plugin, Point, Status};
use crate::pod_info::PodInfo;

pub const REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NODE_NAME
    }
    fn points(&self) -> &'static [Point] {
        &[Point::Filter]
    }
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match &pod.node_name {
            Some(n) if *n != node.name => Status::unresolvable(NODE_NAME, REASON),
            _ => Status::success(),
        }
    }
}
