//! PodTopologySpread: DoNotSchedule constraints filter (`filtering`),
//! ScheduleAnyway constraints score (`scoring`). A pod without constraints of
//! its own gets the default constraints (upstream's System defaulting:
//! hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway) with a selector
//! taken from the Services, ReplicationController, ReplicaSet or StatefulSet
//! that select or own it.

mod filtering;
mod scoring;

use k8s_openapi::api::core::v1::TopologySpreadConstraint;

use api::selector::{Labels, Selector};
use api::taints::{does_not_schedule, find_untolerated};

use super::node_affinity::required_matches;
use super::POD_TOPOLOGY_SPREAD;
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Plugin, Point, Status};
use crate::listers::Listers;
use crate::pod_info::{PodInfo, SpreadConstraint};

pub use filtering::{ERR_MISSING_LABEL, ERR_SKEW};

pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const ZONE: &str = "topology.kubernetes.io/zone";

/// upstream systemDefaultConstraints.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    let c = |key: &str, skew| TopologySpreadConstraint {
        topology_key: key.into(),
        when_unsatisfiable: "ScheduleAnyway".into(),
        max_skew: skew,
        ..Default::default()
    };
    vec![c(HOSTNAME, 3), c(ZONE, 5)]
}

/// PodTopologySpreadArgs.
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadArgs {
    /// defaultingType System (true) or List.
    pub system_defaulting: bool,
    /// defaultConstraints, for List.
    pub default_constraints: Vec<TopologySpreadConstraint>,
}

impl Default for SpreadArgs {
    fn default() -> Self {
        SpreadArgs { system_defaulting: true, default_constraints: vec![] }
    }
}

pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
}

impl PodTopologySpread {
    pub fn new(args: &SpreadArgs) -> Self {
        if args.system_defaulting {
            PodTopologySpread { default_constraints: system_default_constraints(), system_defaulted: true }
        } else {
            PodTopologySpread { default_constraints: args.default_constraints.clone(), system_defaulted: false }
        }
    }

    /// The pod's constraints with `action` (DoNotSchedule / ScheduleAnyway),
    /// or the defaults with that action when it has none of its own (upstream getConstraints).
    fn constraints(&self, pod: &PodInfo, do_not_schedule: bool, listers: &dyn Listers) -> Vec<SpreadConstraint> {
        if !pod.spread.is_empty() {
            return pod.spread.iter().filter(|c| c.do_not_schedule == do_not_schedule).cloned().collect();
        }
        let mut out: Vec<SpreadConstraint> = self
            .default_constraints
            .iter()
            .filter(|c| (c.when_unsatisfiable == "DoNotSchedule") == do_not_schedule)
            .map(|c| SpreadConstraint::new(c, &pod.labels))
            .collect();
        if out.is_empty() {
            return out;
        }
        let selector = default_selector(pod, listers);
        if selector.is_empty() {
            return vec![];
        }
        for c in &mut out {
            c.selector = selector.clone();
        }
        out
    }
}

/// upstream helper.DefaultSelector: the labels of the Services selecting the
/// pod, plus the selector of the ReplicationController, ReplicaSet or
/// StatefulSet controlling it.
pub fn default_selector(pod: &PodInfo, listers: &dyn Listers) -> Selector {
    let mut set = Labels::new();
    for svc in listers.services(&pod.namespace) {
        // A nil selector selects nothing, not everything.
        let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else { continue };
        if Selector::from_set(sel).matches(&pod.labels) {
            set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut selector = Selector::from_set(&set);
    let owner = pod.pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
    let Some(owner) = owner else { return selector };
    match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("v1", "ReplicationController") => {
            if let Some(rc) = listers.replication_controller(&pod.namespace, &owner.name) {
                set.extend(rc.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default());
                selector = Selector::from_set(&set);
            }
        }
        ("apps/v1", "ReplicaSet") => {
            if let Some(rs) = listers.replica_set(&pod.namespace, &owner.name) {
                selector.extend(&Selector::from_label_selector(Some(&rs.spec.selector)).unwrap_or_else(|_| Selector::nothing()));
            }
        }
        ("apps/v1", "StatefulSet") => {
            if let Some(ss) = listers.stateful_set(&pod.namespace, &owner.name) {
                selector.extend(&Selector::from_label_selector(Some(&ss.spec.selector)).unwrap_or_else(|_| Selector::nothing()));
            }
        }
        _ => {}
    }
    selector
}

/// Whether `node` counts for constraint `c` (nodeAffinityPolicy / nodeTaintsPolicy).
fn eligible(pod: &PodInfo, c: &SpreadConstraint, node: &NodeInfo) -> bool {
    if c.honor_node_affinity && !required_matches(pod, node) {
        return false;
    }
    if c.honor_node_taints && find_untolerated(&node.taints, &pod.tolerations, does_not_schedule).is_some() {
        return false;
    }
    true
}

/// Whether the node has every constraint's topology key.
fn has_all_keys(node: &NodeInfo, cs: &[SpreadConstraint]) -> bool {
    cs.iter().all(|c| node.labels.contains_key(&c.topology_key))
}

/// Pods on `node` in namespace `ns`, not terminating, that `sel` selects.
fn count_matching(node: &NodeInfo, sel: &Selector, ns: &str) -> i64 {
    node.pods.iter().filter(|p| p.namespace == ns && !p.terminating && sel.matches(&p.labels)).count() as i64
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        POD_TOPOLOGY_SPREAD
    }
    fn points(&self) -> &'static [Point] {
        &[Point::PreFilter, Point::Filter, Point::PreScore, Point::Score]
    }
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        filtering::pre_filter(self, state, pod, snap)
    }
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        filtering::filter(state, pod, node)
    }
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[std::sync::Arc<NodeInfo>], snap: &Snapshot) -> Status {
        scoring::pre_score(self, state, pod, nodes, snap)
    }
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        scoring::score(state, pod, node)
    }
    fn normalize(&self, state: &CycleState, pod: &PodInfo, scores: &mut [i64]) {
        scoring::normalize(state, pod, scores)
    }
}

#[cfg(test)]
mod tests;
