//! DoNotSchedule constraints: placing the pod must not push a domain's
//! matching-pod count more than maxSkew above the minimum.

use std::collections::HashMap;

use super::{count_matching, eligible, has_all_keys, PodTopologySpread};
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Status};
use crate::pod_info::{PodInfo, SpreadConstraint};
use crate::plugins::POD_TOPOLOGY_SPREAD;

pub const ERR_SKEW: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";

const STATE: &str = "PodTopologySpread/preFilter";

struct Constraint {
    c: SpreadConstraint,
    counts: HashMap<String, i64>,
    min: i64,
    self_match: i64,
}

pub(super) fn pre_filter(pl: &PodTopologySpread, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
    let hard = pl.constraints(pod, true, &*snap.listers);
    if hard.is_empty() {
        return Status::skip();
    }
    let mut out = vec![];
    for c in &hard {
        let mut counts: HashMap<String, i64> = HashMap::new();
        for n in &snap.nodes {
            // Only nodes with every constraint's key form domains (upstream).
            if !has_all_keys(n, &hard) || !eligible(pod, c, n) {
                continue;
            }
            let v = &n.labels[&c.topology_key];
            *counts.entry(v.clone()).or_default() += count_matching(n, &c.selector, &pod.namespace);
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

pub(super) fn filter(state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
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
