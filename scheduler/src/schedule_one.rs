//! One scheduling attempt for one pod (upstream schedule_one.go): PreFilter,
//! Filter over enough feasible nodes, PreScore/Score, pick the best node.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use rand::Rng;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Framework, Status};
use crate::pod_info::PodInfo;

const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// Why each node was rejected.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    pub node_statuses: HashMap<String, Status>,
    pub unschedulable_plugins: HashSet<&'static str>,
    pub pre_filter_msg: Option<String>,
    pub post_filter_msg: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FitError {
    pub num_all_nodes: usize,
    pub diagnosis: Diagnosis,
}

/// "count reason" strings sorted as upstream's sortReasonsHistogram.
pub fn reasons_histogram(statuses: &HashMap<String, Status>) -> Vec<String> {
    let mut hist: BTreeMap<&str, usize> = BTreeMap::new();
    for st in statuses.values() {
        for r in &st.reasons {
            *hist.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut v: Vec<String> = hist.into_iter().map(|(r, c)| format!("{c} {r}")).collect();
    v.sort();
    v
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        match &self.diagnosis.pre_filter_msg {
            Some(m) => write!(f, " {m}.")?,
            None => {
                let h = reasons_histogram(&self.diagnosis.node_statuses);
                if !h.is_empty() {
                    write!(f, " {}.", h.join(", "))?;
                }
            }
        }
        if let Some(m) = &self.diagnosis.post_filter_msg {
            write!(f, " {m}.")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{NO_NODES_AVAILABLE}")]
    NoNodes,
    #[error("{0}")]
    Fit(FitError),
    #[error("running {plugin}: {message}")]
    Internal { plugin: String, message: String },
}

#[derive(Debug, Clone)]
pub struct ScheduleResult {
    pub node: String,
    pub evaluated: usize,
    pub feasible: usize,
}

/// How many feasible nodes to look for before scoring (upstream numFeasibleNodesToFind).
pub fn num_feasible_nodes_to_find(percentage: Option<i32>, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let mut pct = percentage.unwrap_or(0).max(0) as usize;
    if pct >= 100 {
        return all;
    }
    if pct == 0 {
        pct = 50usize.saturating_sub(all / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    (all * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The generic scheduler: remembers where the last search stopped so that
/// successive pods look at different nodes first (upstream nextStartNodeIndex).
#[derive(Debug, Default)]
pub struct Algorithm {
    next_start: usize,
}

impl Algorithm {
    pub fn schedule(&mut self, fw: &Framework, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Result<ScheduleResult, ScheduleError> {
        if snap.is_empty() {
            return Err(ScheduleError::NoNodes);
        }
        let (feasible, diagnosis) = self.find_nodes_that_fit(fw, state, pod, snap)?;
        if feasible.is_empty() {
            return Err(ScheduleError::Fit(FitError { num_all_nodes: snap.len(), diagnosis }));
        }
        let evaluated = feasible.len() + diagnosis.node_statuses.len();
        if feasible.len() == 1 {
            return Ok(ScheduleResult { node: feasible[0].name.clone(), evaluated, feasible: 1 });
        }
        let st = fw.run_pre_score(state, pod, &feasible, snap);
        if !st.is_success() {
            return Err(ScheduleError::Internal { plugin: st.plugin.into(), message: st.message() });
        }
        let scores = fw.run_score(state, pod, &feasible);
        let node = select_host(&feasible, &scores);
        Ok(ScheduleResult { node, evaluated, feasible: feasible.len() })
    }

    pub fn find_nodes_that_fit(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snap: &Snapshot,
    ) -> Result<(Vec<Arc<NodeInfo>>, Diagnosis), ScheduleError> {
        let mut diag = Diagnosis::default();
        let st = fw.run_pre_filter(state, pod, snap);
        if !st.is_success() {
            if !st.is_rejected() {
                return Err(ScheduleError::Internal { plugin: st.plugin.into(), message: st.message() });
            }
            diag.pre_filter_msg = Some(st.message());
            diag.unschedulable_plugins.insert(st.plugin);
            for n in &snap.nodes {
                diag.node_statuses.insert(n.name.clone(), st.clone());
            }
            return Ok((vec![], diag));
        }
        // A node nominated by an earlier preemption is tried first.
        if let Some(nominated) = pod.pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()) {
            if let Some(n) = snap.get(nominated) {
                if fw.run_filter(state, pod, n).is_success() {
                    return Ok((vec![n.clone()], diag));
                }
            }
        }
        let all = snap.len();
        let want = num_feasible_nodes_to_find(fw.percentage_of_nodes_to_score, all);
        let mut feasible = Vec::with_capacity(want);
        let mut processed = 0;
        for i in 0..all {
            let n = &snap.nodes[(self.next_start + i) % all];
            processed += 1;
            let st = fw.run_filter(state, pod, n);
            if st.is_success() {
                feasible.push(n.clone());
                if feasible.len() >= want {
                    break;
                }
            } else if st.is_rejected() {
                diag.unschedulable_plugins.insert(st.plugin);
                diag.node_statuses.insert(n.name.clone(), st);
            } else {
                return Err(ScheduleError::Internal { plugin: st.plugin.into(), message: st.message() });
            }
        }
        self.next_start = (self.next_start + processed) % all;
        Ok((feasible, diag))
    }
}

/// The highest total score; ties broken uniformly at random (reservoir sampling).
pub fn select_host(nodes: &[Arc<NodeInfo>], scores: &[i64]) -> String {
    let mut rng = rand::rng();
    let mut best = 0;
    let mut ties = 1;
    for i in 1..nodes.len() {
        if scores[i] > scores[best] {
            best = i;
            ties = 1;
        } else if scores[i] == scores[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best].name.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SchedulerConfig;
    use crate::framework::Code;
    use crate::testutil::*;

    fn fw() -> Framework {
        let c = SchedulerConfig::default();
        c.profiles[0].framework(c.percentage_of_nodes_to_score)
    }

    #[test]
    fn adaptive_percentage() {
        assert_eq!(num_feasible_nodes_to_find(None, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(None, 5000), 500); // 50 - 40 = 10%
        assert_eq!(num_feasible_nodes_to_find(None, 200), 100); // 48% = 96 -> at least 100
        assert_eq!(num_feasible_nodes_to_find(None, 10000), 500); // min 5%
        assert_eq!(num_feasible_nodes_to_find(Some(100), 5000), 5000);
        assert_eq!(num_feasible_nodes_to_find(Some(30), 1000), 300);
    }

    #[test]
    fn fit_error_message_as_upstream() {
        let mut taint = node_info("cp", "4", "8Gi");
        taint.taints.push(k8s_openapi::api::core::v1::Taint {
            key: "node-role.kubernetes.io/control-plane".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
        let mut taint2 = taint.clone();
        taint2.name = "cp2".into();
        let small = node_info("small", "1", "8Gi");
        let snap = Snapshot::from_nodes(vec![taint, taint2, small]);
        let pod = pod_info("p", "2", "1Gi");
        let err = Algorithm::default().schedule(&fw(), &mut CycleState::default(), &pod, &snap).unwrap_err();
        let ScheduleError::Fit(mut fe) = err else { panic!("not a fit error") };
        assert_eq!(
            fe.to_string(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
        );
        assert_eq!(fe.diagnosis.node_statuses["small"].code, Code::Unschedulable);
        assert_eq!(fe.diagnosis.node_statuses["cp"].code, Code::UnschedulableAndUnresolvable);
        fe.diagnosis.post_filter_msg = Some("preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.".into());
        assert!(fe.to_string().ends_with("untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."));
    }

    #[test]
    fn picks_least_allocated_node() {
        let mut busy = node_info("busy", "4", "8Gi");
        busy.add_pod(Arc::new(pod_info("x", "3", "6Gi")));
        let idle = node_info("idle", "4", "8Gi");
        let snap = Snapshot::from_nodes(vec![busy, idle]);
        for _ in 0..5 {
            let r = Algorithm::default().schedule(&fw(), &mut CycleState::default(), &pod_info("p", "100m", "100Mi"), &snap).unwrap();
            assert_eq!(r.node, "idle");
        }
    }

    #[test]
    fn no_nodes() {
        let err = Algorithm::default().schedule(&fw(), &mut CycleState::default(), &pod_info("p", "", ""), &Snapshot::default()).unwrap_err();
        assert_eq!(err.to_string(), NO_NODES_AVAILABLE);
    }

    #[test]
    fn stops_after_enough_feasible_nodes_and_rotates() {
        let nodes: Vec<_> = (0..1000).map(|i| node_info(&format!("n{i:04}"), "4", "8Gi")).collect();
        let snap = Snapshot::from_nodes(nodes);
        let mut alg = Algorithm::default();
        let fw = fw();
        let (f1, _) = alg.find_nodes_that_fit(&fw, &mut CycleState::default(), &pod_info("p", "", ""), &snap).unwrap();
        assert_eq!(f1.len(), 420); // 50 - 1000/125 = 42%
        let (f2, _) = alg.find_nodes_that_fit(&fw, &mut CycleState::default(), &pod_info("p", "", ""), &snap).unwrap();
        assert_eq!(f2[0].name, "n0420");
    }
}
