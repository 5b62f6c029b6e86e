//! InterPodAffinity: required pod affinity / anti-affinity (of the incoming
//! pod and of existing pods) filter by topology domain; preferred terms score.

use std::collections::HashMap;
use std::sync::Arc;

use api::selector::Labels;

use super::INTER_POD_AFFINITY;
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Plugin, Point, Status, MAX_NODE_SCORE};
use crate::pod_info::{resolve_terms, resolve_weighted, AffinityTerm, PodInfo};

pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const ERR_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

const PRE_FILTER: &str = "InterPodAffinity/preFilter";
const PRE_SCORE: &str = "InterPodAffinity/preScore";

type Counts = HashMap<(String, String), i64>;

pub struct InterPodAffinity {
    pub hard_pod_affinity_weight: i64,
}

#[derive(Default)]
struct FilterState {
    existing_anti: Counts,
    affinity: Counts,
    anti: Counts,
    /// The incoming pod's required terms, namespaceSelectors resolved.
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
}

/// Labels of no namespace: resolved terms match without them.
static NO_LABELS: Labels = Labels::new();

fn domain(node: &NodeInfo, key: &str) -> Option<(String, String)> {
    node.labels.get(key).map(|v| (key.to_string(), v.clone()))
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        INTER_POD_AFFINITY
    }
    fn points(&self) -> &'static [Point] {
        &[Point::PreFilter, Point::Filter, Point::PreScore, Point::Score]
    }

    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        let own = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        if !own && snap.have_pods_with_required_anti_affinity.is_empty() {
            return Status::skip();
        }
        let mut st = FilterState {
            required_affinity: resolve_terms(&pod.required_affinity, &*snap.listers),
            required_anti_affinity: resolve_terms(&pod.required_anti_affinity, &*snap.listers),
            ..Default::default()
        };
        // Existing pods whose required anti-affinity selects the incoming pod.
        let ns_labels = if snap.have_pods_with_required_anti_affinity.is_empty() { Labels::new() } else { snap.listers.namespace_labels(&pod.namespace) };
        for &i in &snap.have_pods_with_required_anti_affinity {
            let n = &snap.nodes[i];
            for ep in &n.pods {
                for t in &ep.required_anti_affinity {
                    if t.matches(pod, &ns_labels) {
                        if let Some(d) = domain(n, &t.topology_key) {
                            *st.existing_anti.entry(d).or_default() += 1;
                        }
                    }
                }
            }
        }
        if own {
            for n in &snap.nodes {
                for ep in &n.pods {
                    if !st.required_affinity.is_empty() && st.required_affinity.iter().all(|t| t.matches(ep, &NO_LABELS)) {
                        for t in &st.required_affinity {
                            if let Some(d) = domain(n, &t.topology_key) {
                                *st.affinity.entry(d).or_default() += 1;
                            }
                        }
                    }
                    for t in &st.required_anti_affinity {
                        if t.matches(ep, &NO_LABELS) {
                            if let Some(d) = domain(n, &t.topology_key) {
                                *st.anti.entry(d).or_default() += 1;
                            }
                        }
                    }
                }
            }
        }
        state.write(PRE_FILTER, st);
        Status::success()
    }

    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(st) = state.read::<FilterState>(PRE_FILTER) else {
            return Status::error(INTER_POD_AFFINITY, "missing PreFilter state");
        };
        if !st.existing_anti.is_empty() && node.labels.iter().any(|(k, v)| st.existing_anti.get(&(k.clone(), v.clone())).is_some_and(|c| *c > 0)) {
            return Status::unschedulable(INTER_POD_AFFINITY, ERR_EXISTING_ANTI_AFFINITY);
        }
        if !st.required_affinity.is_empty() {
            let all = st.required_affinity.iter().all(|t| domain(node, &t.topology_key).is_some_and(|d| st.affinity.get(&d).is_some_and(|c| *c > 0)));
            if !all {
                // The first pod of a group that selects itself may start anywhere with the topology keys.
                let self_match = st.affinity.is_empty()
                    && st.required_affinity.iter().all(|t| t.matches(pod, &NO_LABELS) && node.labels.contains_key(&t.topology_key));
                if !self_match {
                    return Status::unresolvable(INTER_POD_AFFINITY, ERR_AFFINITY);
                }
            }
        }
        for t in &st.required_anti_affinity {
            if domain(node, &t.topology_key).is_some_and(|d| st.anti.get(&d).is_some_and(|c| *c > 0)) {
                return Status::unschedulable(INTER_POD_AFFINITY, ERR_ANTI_AFFINITY);
            }
        }
        Status::success()
    }

    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>], snap: &Snapshot) -> Status {
        let own = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if !own && snap.have_pods_with_affinity.is_empty() {
            return Status::skip();
        }
        let preferred_affinity = resolve_weighted(&pod.preferred_affinity, &*snap.listers);
        let preferred_anti_affinity = resolve_weighted(&pod.preferred_anti_affinity, &*snap.listers);
        let ns_labels = if snap.have_pods_with_affinity.is_empty() { Labels::new() } else { snap.listers.namespace_labels(&pod.namespace) };
        let mut scores: Counts = HashMap::new();
        let mut visit = |n: &NodeInfo| {
            for ep in &n.pods {
                let mut add = |key: &str, w: i64| {
                    if let Some(d) = domain(n, key) {
                        *scores.entry(d).or_default() += w;
                    }
                };
                for w in &preferred_affinity {
                    if w.term.matches(ep, &NO_LABELS) {
                        add(&w.term.topology_key, w.weight);
                    }
                }
                for w in &preferred_anti_affinity {
                    if w.term.matches(ep, &NO_LABELS) {
                        add(&w.term.topology_key, -w.weight);
                    }
                }
                if self.hard_pod_affinity_weight > 0 {
                    for t in &ep.required_affinity {
                        if t.matches(pod, &ns_labels) {
                            add(&t.topology_key, self.hard_pod_affinity_weight);
                        }
                    }
                }
                for w in &ep.preferred_affinity {
                    if w.term.matches(pod, &ns_labels) {
                        add(&w.term.topology_key, w.weight);
                    }
                }
                for w in &ep.preferred_anti_affinity {
                    if w.term.matches(pod, &ns_labels) {
                        add(&w.term.topology_key, -w.weight);
                    }
                }
            }
        };
        if own {
            snap.nodes.iter().for_each(|n| visit(n));
        } else {
            snap.have_pods_with_affinity.iter().for_each(|&i| visit(&snap.nodes[i]));
        }
        if scores.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE, scores);
        Status::success()
    }

    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(scores) = state.read::<Counts>(PRE_SCORE) else { return 0 };
        scores.iter().filter(|((k, v), _)| node.labels.get(k) == Some(v)).map(|(_, s)| *s).sum()
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        let (min, max) = (scores.iter().copied().min().unwrap_or(0), scores.iter().copied().max().unwrap_or(0));
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 { MAX_NODE_SCORE * (*s - min) / diff } else { 0 };
        }
    }
}
