//! DefaultPreemption (PostFilter): when a pod fits nowhere, find one node
//! where evicting lower-priority pods makes it fit, with the least damage
//! (PodDisruptionBudgets respected where possible).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use api::selector::Selector;

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

/// upstream filterPodsWithPDBViolation: splits `pods` (most important
/// first) into those whose eviction would exceed a PDB's
/// status.disruptionsAllowed and the others. A PDB without status allows 0.
fn split_by_pdb_violation(pods: Vec<Arc<PodInfo>>, pdbs: &[Arc<PodDisruptionBudget>]) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let compiled: Vec<(&PodDisruptionBudget, Selector)> =
        pdbs.iter().map(|p| (&**p, Selector::from_label_selector(p.spec.as_ref().and_then(|s| s.selector.as_ref())).unwrap_or_else(|_| Selector::nothing()))).collect();
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.status.as_ref().and_then(|s| s.disruptions_allowed).unwrap_or(0)).collect();
    let (mut violating, mut ok) = (vec![], vec![]);
    for p in pods {
        let mut violated = false;
        // A pod with no labels matches no PDB.
        if !p.labels.is_empty() {
            for (i, (pdb, sel)) in compiled.iter().enumerate() {
                if pdb.metadata.namespace.as_deref() != Some(p.namespace.as_str()) {
                    continue;
                }
                // A nil or empty selector matches nothing.
                if sel.is_empty() || !sel.matches(&p.labels) {
                    continue;
                }
                // Already counted by the apiserver's eviction.
                if pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()).is_some_and(|d| d.contains_key(&p.name)) {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated { violating.push(p) } else { ok.push(p) }
    }
    (violating, ok)
}

/// upstream MoreImportantPod: higher priority, then started earlier (a pod
/// not started yet counts as starting now).
fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority.cmp(&a.priority).then_with(|| start_key(a).cmp(&start_key(b)))
}

/// Sorts by start time, pods without one last.
fn start_key(p: &PodInfo) -> (bool, Option<k8s_openapi::jiff::Timestamp>) {
    let t = p.pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
    (t.is_none(), t)
}

/// Victims on one node, and how many of them violate a PDB.
struct Victims {
    pods: Vec<Arc<PodInfo>>,
    pdb_violations: usize,
}

/// The victims on `node` for `pod`: all lower-priority pods removed, then as
/// many as possible put back, most important first, PDB-violating ones
/// before the others (upstream SelectVictimsOnNode).
fn select_victims(fw: &Framework, pod: &PodInfo, snap: &Snapshot, node: &Arc<NodeInfo>, pdbs: &[Arc<PodDisruptionBudget>]) -> Option<Victims> {
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
    lower.sort_by(|a, b| more_important(a, b));
    let (violating, ok) = split_by_pdb_violation(lower, pdbs);
    let mixed = !violating.is_empty() && !ok.is_empty();
    let mut victims = Victims { pods: vec![], pdb_violations: 0 };
    for (p, violates) in violating.into_iter().map(|p| (p, true)).chain(ok.into_iter().map(|p| (p, false))) {
        ni.add_pod(p.clone());
        if !fits(fw, pod, &snap.with_node(ni.clone()), &ni) {
            ni.remove_pod(&p.key);
            victims.pods.push(p);
            victims.pdb_violations += violates as usize;
        }
    }
    if mixed {
        victims.pods.sort_by(|a, b| more_important(a, b));
    }
    Some(victims)
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
    let pdbs = snap.listers.pdbs();
    let mut reasons: HashMap<String, Status> = HashMap::new();
    let mut candidates = vec![];
    for n in &snap.nodes {
        let helpful = diag.node_statuses.get(&n.name).is_some_and(|s| s.code == Code::Unschedulable);
        if !helpful {
            reasons.insert(n.name.clone(), Status::unresolvable("DefaultPreemption", NOT_HELPFUL));
            continue;
        }
        match select_victims(fw, pod, snap, n, &pdbs) {
            Some(v) if !v.pods.is_empty() => {
                candidates.push((Candidate { node: n.name.clone(), victims: v.pods }, v.pdb_violations));
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
    // upstream pickOneNodeForPreemption: fewest PDB violations, lowest
    // highest-victim priority, lowest sum of priorities, fewest victims, then
    // the latest start among the highest-priority victims.
    candidates.sort_by_key(|(c, violations)| {
        let max = c.victims.iter().map(|v| v.priority).max().unwrap_or(i32::MIN);
        let sum: i64 = c.victims.iter().map(|v| v.priority as i64 + i32::MAX as i64 + 1).sum();
        let earliest = c.victims.iter().filter(|v| v.priority == max).map(|v| start_key(v)).min();
        (*violations, max, sum, c.victims.len(), std::cmp::Reverse(earliest))
    });
    Outcome::Preempt(candidates.swap_remove(0).0)
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

    fn labelled(name: &str, app: &str, p: i32) -> Arc<PodInfo> {
        let mut pod = crate::testutil::pod(name, "1", "");
        pod.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        let mut pi = PodInfo::new(Arc::new(pod));
        pi.priority = p;
        Arc::new(pi)
    }

    fn pdb(app: &str, allowed: Option<i32>) -> Arc<PodDisruptionBudget> {
        let mut v = serde_json::json!({"metadata": {"name": app, "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": app}}}});
        if let Some(a) = allowed {
            v["status"] = serde_json::json!({"disruptionsAllowed": a, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0});
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn preempt_with(pdbs: Vec<Arc<PodDisruptionBudget>>, nodes: Vec<NodeInfo>, pod: &PodInfo) -> Outcome {
        let fw = SchedulerConfig::default().profiles[0].framework(0);
        let mut snap = Snapshot::from_nodes(nodes);
        snap.listers = crate::listers::ListerHandle(Arc::new(crate::listers::StaticListers { pdbs, ..Default::default() }));
        let Err(ScheduleError::Fit(fe)) = Algorithm::default().schedule(&fw, &mut CycleState::default(), pod, &snap) else {
            panic!("should not fit")
        };
        preempt(&fw, pod, &snap, &fe.diagnosis)
    }

    #[test]
    fn pdb_budget_is_spent_in_importance_order() {
        let pods = vec![labelled("a", "db", 5), labelled("b", "db", 3), labelled("c", "web", 1), labelled("d", "db", 1)];
        let (violating, ok) = split_by_pdb_violation(pods.clone(), &[pdb("db", Some(1))]);
        let names = |v: &[Arc<PodInfo>]| v.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        assert_eq!((names(&violating), names(&ok)), (vec!["b".to_string(), "d".to_string()], vec!["a".to_string(), "c".to_string()]));
        // No status yet (no controller filled it): nothing may be disrupted, as upstream reads 0.
        let (violating, _) = split_by_pdb_violation(pods.clone(), &[pdb("db", None)]);
        assert_eq!(names(&violating), ["a", "b", "d"]);
        // A PDB in another namespace, or with an empty selector, protects nothing.
        let mut other = (*pdb("db", Some(0))).clone();
        other.metadata.namespace = Some("other".into());
        let mut empty = (*pdb("web", Some(0))).clone();
        empty.spec.as_mut().unwrap().selector = Some(Default::default());
        let (violating, _) = split_by_pdb_violation(pods, &[Arc::new(other), Arc::new(empty)]);
        assert!(violating.is_empty());
    }

    #[test]
    fn preemption_prefers_nodes_whose_victims_do_not_violate_a_pdb() {
        let with = |node: &str, victim: Arc<PodInfo>| {
            let mut n = node_info(node, "1", "8Gi");
            n.add_pod(victim);
            n
        };
        let urgent = prio("urgent", "1", 10);
        // Both nodes hold one priority-1 pod; a's is protected.
        let nodes = || vec![with("a", labelled("a-db", "db", 1)), with("b", labelled("b-web", "web", 1))];
        match preempt_with(vec![pdb("db", Some(0))], nodes(), &urgent) {
            Outcome::Preempt(c) => assert_eq!((c.node.as_str(), c.victims[0].name.as_str()), ("b", "b-web")),
            o => panic!("{o:?}"),
        }
        // With the (status-less, so zero) budget on web instead, a wins.
        match preempt_with(vec![pdb("web", None)], nodes(), &urgent) {
            Outcome::Preempt(c) => assert_eq!(c.node, "a"),
            o => panic!("{o:?}"),
        }
        // Only PDB-protected victims: preemption still happens, as upstream.
        match preempt_with(vec![pdb("db", Some(0))], vec![with("a", labelled("a-db", "db", 1))], &urgent) {
            Outcome::Preempt(c) => assert_eq!(c.victims[0].name, "a-db"),
            o => panic!("{o:?}"),
        }
    }
}
