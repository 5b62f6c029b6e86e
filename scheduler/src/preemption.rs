//! DefaultPreemption (PostFilter): when a pod fits nowhere, find one node
//! where evicting lower-priority pods makes it fit, with the least damage.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{Code, CycleState, Framework, Status};
use crate::pod_info::PodInfo;
use crate::schedule_one::{reasons_histogram, Diagnosis};

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// Stop looking once this many candidate nodes were found (upstream's minCandidateNodesAbsolute).
const MAX_CANDIDATES: usize = 100;

#[derive(Debug, Clone)]
pub struct Candidate {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// Evict these pods from this node; the preemptor is nominated to it.
    Preempt(Candidate),
    /// Preemption cannot help; the message for the FitError's PostFilter part.
    NotHelpful(String),
    /// Earlier victims on the nominated node are still terminating.
    Wait,
}

fn fits(fw: &Framework, pod: &PodInfo, snap: &Snapshot, node: &NodeInfo) -> bool {
    let mut state = CycleState::default();
    fw.run_pre_filter(&mut state, pod, snap).is_success() && fw.run_filter(&state, pod, node).is_success()
}

/// The victims on `node` for `pod`: all lower-priority pods removed, then as
/// many as possible put back, most important first (upstream selectVictimsOnNode).
fn select_victims(fw: &Framework, pod: &PodInfo, snap: &Snapshot, node: &Arc<NodeInfo>) -> Option<Vec<Arc<PodInfo>>> {
    let mut lower: Vec<Arc<PodInfo>> = node.pods.iter().filter(|p| p.priority < pod.priority).cloned().collect();
    if lower.is_empty() {
        return None;
    }
    let mut ni = (**node).clone();
    for p in &lower {
        ni.remove_pod(&p.key);
    }
    if !fits(fw, pod, &snap.with_node(ni.clone()), &ni) {
        return None;
    }
    // Most important first: higher priority, then older.
    lower.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| start_time(a).cmp(&start_time(b))));
    let mut victims = vec![];
    for p in lower {
        ni.add_pod(p.clone());
        if !fits(fw, pod, &snap.with_node(ni.clone()), &ni) {
            ni.remove_pod(&p.key);
            victims.push(p);
        }
    }
    Some(victims)
}

fn start_time(p: &PodInfo) -> String {
    p.pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.to_string()).unwrap_or_default()
}

/// Runs DefaultPreemption for `pod` after `diag` showed it fits nowhere.
pub fn preempt(fw: &Framework, pod: &PodInfo, snap: &Snapshot, diag: &Diagnosis) -> Outcome {
    if pod.preemption_never {
        return Outcome::NotHelpful("preemption: not eligible due to preemptionPolicy=Never".into());
    }
    // Victims chosen earlier are still terminating on the nominated node: wait for them.
    if let Some(nominated) = pod.pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()) {
        if let Some(n) = snap.get(nominated) {
            if n.pods.iter().any(|p| p.terminating && p.priority < pod.priority) {
                return Outcome::Wait;
            }
        }
    }
    let mut reasons: HashMap<String, Status> = HashMap::new();
    let mut candidates = vec![];
    for n in &snap.nodes {
        let helpful = diag.node_statuses.get(&n.name).is_some_and(|s| s.code == Code::Unschedulable);
        if !helpful {
            reasons.insert(n.name.clone(), Status::unresolvable("DefaultPreemption", NOT_HELPFUL));
            continue;
        }
        match select_victims(fw, pod, snap, n) {
            Some(v) if !v.is_empty() => {
                candidates.push(Candidate { node: n.name.clone(), victims: v });
                if candidates.len() >= MAX_CANDIDATES {
                    break;
                }
            }
            _ => {
                reasons.insert(n.name.clone(), Status::unschedulable("DefaultPreemption", NO_VICTIMS));
            }
        }
    }
    if candidates.is_empty() {
        return Outcome::NotHelpful(format!(
            "preemption: 0/{} nodes are available: {}.",
            snap.len(),
            reasons_histogram(&reasons).join(", ")
        ));
    }
    // upstream pickOneNodeForPreemption (without PDBs): lowest highest-victim
    // priority, then lowest sum of priorities, then fewest victims.
    candidates.sort_by_key(|c| {
        let max = c.victims.iter().map(|v| v.priority).max().unwrap_or(i32::MIN);
        let sum: i64 = c.victims.iter().map(|v| v.priority as i64 + i32::MAX as i64 + 1).sum();
        (max, sum, c.victims.len())
    });
    Outcome::Preempt(candidates.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SchedulerConfig;
    use crate::schedule_one::{Algorithm, ScheduleError};
    use crate::testutil::*;

    fn prio(name: &str, cpu: &str, p: i32) -> Arc<PodInfo> {
        let mut pi = pod_info(name, cpu, "");
        pi.priority = p;
        Arc::new(pi)
    }

    #[test]
    fn evicts_the_fewest_lowest_priority_pods() {
        let c = SchedulerConfig::default();
        let fw = c.profiles[0].framework(0);
        let mut a = node_info("a", "2", "8Gi");
        a.add_pod(prio("a-low", "1", 1));
        a.add_pod(prio("a-mid", "1", 5));
        let mut b = node_info("b", "2", "8Gi");
        b.add_pod(prio("b-high", "2", 100));
        let snap = Snapshot::from_nodes(vec![a, b]);
        let pod = prio("urgent", "1", 10);
        let Err(ScheduleError::Fit(fe)) = Algorithm::default().schedule(&fw, &mut CycleState::default(), &pod, &snap) else {
            panic!("should not fit")
        };
        match preempt(&fw, &pod, &snap, &fe.diagnosis) {
            Outcome::Preempt(c) => {
                assert_eq!(c.node, "a");
                let names: Vec<_> = c.victims.iter().map(|v| v.name.as_str()).collect();
                assert_eq!(names, ["a-low"], "a-mid is reprieved");
            }
            o => panic!("{o:?}"),
        }
        let mut never = (*prio("never", "1", 10)).clone();
        never.preemption_never = true;
        assert!(matches!(preempt(&fw, &never, &snap, &fe.diagnosis), Outcome::NotHelpful(_)));
        match preempt(&fw, &prio("lowly", "1", 0), &snap, &fe.diagnosis) {
            Outcome::NotHelpful(m) => assert_eq!(m, "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."),
            o => panic!("{o:?}"),
        }
    }
}
