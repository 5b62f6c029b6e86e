//! PodTopologySpread (DoNotSchedule constraints): placing the pod must not
//! push a domain's matching-pod count more than maxSkew above the minimum.

use std::collections::HashMap;

use super::node_affinity::required_matches;
use super::{tolerated, POD_TOPOLOGY_SPREAD};
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Plugin, Point, Status};
use crate::pod_info::{PodInfo, SpreadConstraint};

pub const ERR_SKEW: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";

const STATE: &str = "PodTopologySpread/preFilter";

pub struct PodTopologySpread;

struct Constraint {
    c: SpreadConstraint,
    counts: HashMap<String, i64>,
    min: i64,
    self_match: i64,
}

fn eligible(pod: &PodInfo, c: &SpreadConstraint, node: &NodeInfo) -> bool {
    if c.honor_node_affinity && !required_matches(pod, node) {
        return false;
    }
    if c.honor_node_taints
        && node.taints.iter().any(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(&pod.tolerations, t))
    {
        return false;
    }
    true
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        POD_TOPOLOGY_SPREAD
    }
    fn points(&self) -> &'static [Point] {
        &[Point::PreFilter, Point::Filter]
    }
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        let hard: Vec<&SpreadConstraint> = pod.spread.iter().filter(|c| c.do_not_schedule).collect();
        if hard.is_empty() {
            return Status::skip();
        }
        let mut out = vec![];
        for c in hard {
            let mut counts: HashMap<String, i64> = HashMap::new();
            for n in &snap.nodes {
                // Only nodes with every constraint's key form domains (upstream).
                if !pod.spread.iter().filter(|c| c.do_not_schedule).all(|c| n.labels.contains_key(&c.topology_key)) {
                    continue;
                }
                if !eligible(pod, c, n) {
                    continue;
                }
                let v = &n.labels[&c.topology_key];
                let matching = n.pods.iter().filter(|p| p.namespace == pod.namespace && !p.terminating && c.selector.matches(&p.labels)).count();
                *counts.entry(v.clone()).or_default() += matching as i64;
            }
            let mut min = counts.values().copied().min().unwrap_or(0);
            if c.min_domains.is_some_and(|m| (counts.len() as i32) < m) {
                min = 0;
            }
            let self_match = c.selector.matches(&pod.labels) as i64;
            out.push(Constraint { c: c.clone(), counts, min, self_match });
        }
        state.write(STATE, out);
        Status::success()
    }
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(cs) = state.read::<Vec<Constraint>>(STATE) else {
            return Status::error(POD_TOPOLOGY_SPREAD, "missing PreFilter state");
        };
        for c in cs {
            let Some(v) = node.labels.get(&c.c.topology_key) else {
                return Status::unresolvable(POD_TOPOLOGY_SPREAD, ERR_MISSING_LABEL);
            };
            let count = c.counts.get(v).copied().unwrap_or(0);
            if count + c.self_match - c.min > c.c.max_skew as i64 {
                return Status::unschedulable(POD_TOPOLOGY_SPREAD, ERR_SKEW);
            }
        }
        Status::success()
    }
}
