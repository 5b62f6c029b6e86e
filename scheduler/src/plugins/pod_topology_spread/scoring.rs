//! ScheduleAnyway constraints (upstream scoring.go): a node scores the
//! matching pods in its domains, weighted by ln(number of domains + 2), plus
//! maxSkew - 1; fewer is better once normalized.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{count_matching, eligible, has_all_keys, PodTopologySpread, HOSTNAME};
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Status, MAX_NODE_SCORE};
use crate::pod_info::{PodInfo, SpreadConstraint};

const STATE: &str = "PodTopologySpread/preScore";
/// Score of nodes that miss a topology key: 0 after normalizing.
const INVALID_SCORE: i64 = -1;

struct PreScoreState {
    constraints: Vec<SpreadConstraint>,
    /// Feasible nodes missing some constraint's key.
    ignored: HashSet<String>,
    /// Per constraint: domain value -> matching pods (not for hostname: counted per node in Score).
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: ln(number of domains + 2).
    weights: Vec<f64>,
}

pub(super) fn pre_score(pl: &PodTopologySpread, state: &mut CycleState, pod: &PodInfo, feasible: &[Arc<NodeInfo>], snap: &Snapshot) -> Status {
    if snap.nodes.is_empty() {
        return Status::skip();
    }
    let constraints = pl.constraints(pod, false, &*snap.listers);
    if constraints.is_empty() {
        return Status::skip();
    }
    // System defaults do not need every key: nodes without a zone still spread by hostname.
    let require_all = !pod.spread.is_empty() || !pl.system_defaulted;
    let mut st = PreScoreState {
        ignored: HashSet::new(),
        counts: vec![HashMap::new(); constraints.len()],
        weights: vec![0.0; constraints.len()],
        constraints,
    };
    let mut sizes = vec![0usize; st.constraints.len()];
    for n in feasible {
        if require_all && !has_all_keys(n, &st.constraints) {
            st.ignored.insert(n.name.clone());
            continue;
        }
        for (i, c) in st.constraints.iter().enumerate() {
            if c.topology_key == HOSTNAME {
                continue;
            }
            let v = n.labels.get(&c.topology_key).cloned().unwrap_or_default();
            if !st.counts[i].contains_key(&v) {
                st.counts[i].insert(v, 0);
                sizes[i] += 1;
            }
        }
    }
    for (i, c) in st.constraints.iter().enumerate() {
        let size = if c.topology_key == HOSTNAME { feasible.len() - st.ignored.len() } else { sizes[i] };
        st.weights[i] = ((size + 2) as f64).ln();
    }
    // Matching pods per domain, over every node (not only the feasible ones).
    for n in &snap.nodes {
        if require_all && !has_all_keys(n, &st.constraints) {
            continue;
        }
        for (i, c) in st.constraints.iter().enumerate() {
            if c.topology_key == HOSTNAME || !eligible(pod, c, n) {
                continue;
            }
            let v = n.labels.get(&c.topology_key).map(String::as_str).unwrap_or("");
            if let Some(count) = st.counts[i].get_mut(v) {
                *count += count_matching(n, &c.selector, &pod.namespace);
            }
        }
    }
    state.write(STATE, st);
    Status::success()
}

pub(super) fn score(state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(st) = state.read::<PreScoreState>(STATE) else { return 0 };
    if st.ignored.contains(&node.name) {
        return INVALID_SCORE;
    }
    let mut score = 0.0;
    for (i, c) in st.constraints.iter().enumerate() {
        let Some(v) = node.labels.get(&c.topology_key) else { continue };
        let count = if c.topology_key == HOSTNAME {
            count_matching(node, &c.selector, &pod.namespace)
        } else {
            st.counts[i].get(v).copied().unwrap_or(0)
        };
        score += count as f64 * st.weights[i] + (c.max_skew - 1) as f64;
    }
    score.round() as i64
}

/// Fewer matching pods is better: MAX * (max + min - score) / max; ignored nodes get 0.
pub(super) fn normalize(state: &CycleState, _: &PodInfo, scores: &mut [i64]) {
    if state.read::<PreScoreState>(STATE).is_none() {
        return;
    }
    let valid = scores.iter().copied().filter(|s| *s != INVALID_SCORE);
    let (min, max) = valid.fold((i64::MAX, 0), |(lo, hi), s| (lo.min(s), hi.max(s)));
    for s in scores.iter_mut() {
        *s = if *s == INVALID_SCORE {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - *s) / max
        };
    }
}
