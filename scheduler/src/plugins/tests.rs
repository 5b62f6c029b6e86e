//! Unit tests of the filter/score plugins on hand-built node infos.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::cache::Snapshot;
use crate::framework::{Code, CycleState, Plugin};
use crate::testutil::*;

fn with_taints(name: &str, taints: serde_json::Value) -> crate::cache::NodeInfo {
    node_from_json(json!({"metadata": {"name": name}, "spec": {"taints": taints}}))
}

#[test]
fn taint_toleration_filter_and_score() {
    let tt = taint_toleration::TaintToleration;
    let n = with_taints("n", json!([{"key": "k", "value": "v", "effect": "NoSchedule"}]));
    let st = CycleState::default();
    let p = pod_info("p", "", "");
    let s = tt.filter(&st, &p, &n);
    assert_eq!((s.code, s.reasons[0].as_str()), (Code::UnschedulableAndUnresolvable, "node(s) had untolerated taint {k: v}"));
    let tol = pod_from_json(json!({"metadata": {"name": "t"}, "spec": {"containers": [], "tolerations": [{"key": "k", "operator": "Equal", "value": "v"}]}}));
    assert!(tt.filter(&st, &tol, &n).is_success());
    let wrong = pod_from_json(json!({"metadata": {"name": "t"}, "spec": {"containers": [], "tolerations": [{"key": "k", "value": "x"}]}}));
    assert!(!tt.filter(&st, &wrong, &n).is_success());
    let all = pod_from_json(json!({"metadata": {"name": "t"}, "spec": {"containers": [], "tolerations": [{"operator": "Exists"}]}}));
    assert!(tt.filter(&st, &all, &n).is_success());

    let soft = with_taints("s", json!([{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"}]));
    let one = with_taints("o", json!([{"key": "a", "effect": "PreferNoSchedule"}]));
    let clean = with_taints("c", json!([]));
    let mut st = CycleState::default();
    let nodes = vec![Arc::new(soft.clone()), Arc::new(one.clone()), Arc::new(clean.clone())];
    tt.pre_score(&mut st, &p, &nodes, &Snapshot::default());
    let mut scores: Vec<i64> = nodes.iter().map(|n| tt.score(&st, &p, n)).collect();
    tt.normalize(&st, &p, &mut scores);
    assert_eq!(scores, vec![0, 50, 100]);
}

#[test]
fn cordon_and_node_name() {
    let n = node_from_json(json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}}));
    let st = CycleState::default();
    let s = node_unschedulable::NodeUnschedulable.filter(&st, &pod_info("p", "", ""), &n);
    assert_eq!(s.reasons, vec!["node(s) were unschedulable"]);
    let mut p = pod_info("p", "", "");
    p.node_name = Some("other".into());
    assert_eq!(node_name::NodeName.filter(&st, &p, &n).reasons, vec!["node(s) didn't match the requested node name"]);
}

#[test]
fn preferred_node_affinity_normalizes_to_100() {
    let na = node_affinity::NodeAffinity;
    let p = pod_from_json(json!({"metadata": {"name": "p"}, "spec": {"containers": [], "affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}},
            {"weight": 30, "preference": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}}]}}}}));
    let mk = |name: &str, labels: serde_json::Value| node_from_json(json!({"metadata": {"name": name, "labels": labels}}));
    let nodes = [mk("x", json!({"a": "1"})), mk("y", json!({"a": "1", "b": "1"})), mk("z", json!({}))];
    let st = CycleState::default();
    let mut s: Vec<i64> = nodes.iter().map(|n| na.score(&st, &p, n)).collect();
    assert_eq!(s, vec![10, 40, 0]);
    na.normalize(&st, &p, &mut s);
    assert_eq!(s, vec![25, 100, 0]);
}

#[test]
fn inter_pod_anti_affinity_by_zone() {
    let ipa = inter_pod_affinity::InterPodAffinity { hard_pod_affinity_weight: 1 };
    let zone = |name: &str, z: &str| node_from_json(json!({"metadata": {"name": name, "labels": {"zone": z}}}));
    let mut a = zone("a", "1");
    a.add_pod(Arc::new(pod_from_json(json!({"metadata": {"name": "db", "namespace": "default", "labels": {"app": "db"}}, "spec": {"containers": []}}))));
    let b = zone("b", "1");
    let c = zone("c", "2");
    let snap = Snapshot::from_nodes(vec![a, b, c]);
    let p = pod_from_json(json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [], "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]}}}}));
    let mut st = CycleState::default();
    assert!(ipa.pre_filter(&mut st, &p, &snap).is_success());
    let res: Vec<bool> = snap.nodes.iter().map(|n| ipa.filter(&st, &p, n).is_success()).collect();
    assert_eq!(res, vec![false, false, true], "the whole zone 1 is excluded");
    // A pod from another namespace is not selected by a term without namespaces.
    let other = pod_from_json(json!({"metadata": {"name": "p", "namespace": "other"}, "spec": {"containers": [], "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]}}}}));
    let mut st = CycleState::default();
    ipa.pre_filter(&mut st, &other, &snap);
    assert!(snap.nodes.iter().all(|n| ipa.filter(&st, &other, n).is_success()));
}

/// Namespaces labelled team=a ("x", "z") and team=b ("y").
fn team_namespaces() -> crate::listers::ListerHandle {
    let ns = |name: &str, team: &str| Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "labels": {"team": team}}})).unwrap());
    let l = crate::listers::StaticListers { namespaces: vec![ns("x", "a"), ns("y", "b"), ns("z", "a")], ..Default::default() };
    crate::listers::ListerHandle(Arc::new(l))
}

/// One node per zone, each with a pod labelled app=db in the given namespace.
fn db_in_zones(namespaces: &[&str]) -> Snapshot {
    let nodes = namespaces
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let mut n = node_from_json(json!({"metadata": {"name": format!("n{i}"), "labels": {"zone": format!("z{i}")}}}));
            n.add_pod(Arc::new(pod_from_json(json!({"metadata": {"name": format!("db{i}"), "namespace": ns, "labels": {"app": "db"}}, "spec": {"containers": []}}))));
            n
        })
        .collect();
    let mut snap = Snapshot::from_nodes(nodes);
    snap.listers = team_namespaces();
    snap
}

/// Which nodes pass InterPodAffinity's filter for a pod with this anti-affinity term.
fn anti_affinity_allows(snap: &Snapshot, term: serde_json::Value) -> Vec<bool> {
    let ipa = inter_pod_affinity::InterPodAffinity { hard_pod_affinity_weight: 1 };
    let mut t = json!({"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"});
    t.as_object_mut().unwrap().extend(term.as_object().unwrap().clone());
    let p = pod_from_json(json!({"metadata": {"name": "p", "namespace": "x"}, "spec": {"containers": [], "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [t]}}}}));
    let mut st = CycleState::default();
    assert!(ipa.pre_filter(&mut st, &p, snap).is_success());
    snap.nodes.iter().map(|n| ipa.filter(&st, &p, n).is_success()).collect()
}

#[test]
fn affinity_term_namespaces_and_namespace_selector() {
    // db pods in x (team a), y (team b), z (team a), default (no labels).
    let snap = db_in_zones(&["x", "y", "z", "default"]);
    // Neither namespaces nor namespaceSelector: the pod's own namespace only.
    assert_eq!(anti_affinity_allows(&snap, json!({})), [false, true, true, true]);
    // An explicit list.
    assert_eq!(anti_affinity_allows(&snap, json!({"namespaces": ["y", "default"]})), [true, false, true, false]);
    // A selector on namespace labels.
    assert_eq!(anti_affinity_allows(&snap, json!({"namespaceSelector": {"matchLabels": {"team": "a"}}})), [false, true, false, true]);
    // The union of both.
    assert_eq!(
        anti_affinity_allows(&snap, json!({"namespaces": ["default"], "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["b"]}]}})),
        [true, false, true, false]
    );
    // An empty selector: every namespace.
    assert_eq!(anti_affinity_allows(&snap, json!({"namespaceSelector": {}})), [false, false, false, false]);
    // A selector that selects no namespace, with an empty list: nothing.
    assert_eq!(anti_affinity_allows(&snap, json!({"namespaceSelector": {"matchLabels": {"team": "c"}}})), [true, true, true, true]);
}

#[test]
fn existing_pods_anti_affinity_matches_the_incoming_pods_namespace_labels() {
    let ipa = inter_pod_affinity::InterPodAffinity { hard_pod_affinity_weight: 1 };
    let mut guard = node_from_json(json!({"metadata": {"name": "n1", "labels": {"zone": "1"}}}));
    guard.add_pod(Arc::new(pod_from_json(json!({"metadata": {"name": "guard", "namespace": "y"}, "spec": {"containers": [], "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {}, "namespaceSelector": {"matchLabels": {"team": "a"}}, "topologyKey": "zone"}]}}}}))));
    let free = node_from_json(json!({"metadata": {"name": "n2", "labels": {"zone": "2"}}}));
    let mut snap = Snapshot::from_nodes(vec![guard, free]);
    snap.listers = team_namespaces();
    let allowed = |ns: &str| {
        let p = pod_from_json(json!({"metadata": {"name": "p", "namespace": ns}, "spec": {"containers": []}}));
        let mut st = CycleState::default();
        assert!(ipa.pre_filter(&mut st, &p, &snap).is_success());
        snap.nodes.iter().map(|n| ipa.filter(&st, &p, n).is_success()).collect::<Vec<_>>()
    };
    assert_eq!(allowed("z"), [false, true], "team a is kept out of zone 1");
    assert_eq!(allowed("y"), [true, true]);
    assert_eq!(allowed("unknown"), [true, true], "an unknown namespace has no labels");
}

#[test]
fn preferred_affinity_with_namespace_selector_scores() {
    let ipa = inter_pod_affinity::InterPodAffinity { hard_pod_affinity_weight: 1 };
    let snap = db_in_zones(&["y", "z"]);
    let p = pod_from_json(json!({"metadata": {"name": "p", "namespace": "x"}, "spec": {"containers": [], "affinity": {"podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "podAffinityTerm":
            {"labelSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": {"matchLabels": {"team": "a"}}, "topologyKey": "zone"}}]}}}}));
    let mut st = CycleState::default();
    assert!(ipa.pre_score(&mut st, &p, &snap.nodes, &snap).is_success());
    let mut s: Vec<i64> = snap.nodes.iter().map(|n| ipa.score(&st, &p, n)).collect();
    assert_eq!(s, [0, 10], "only the db in team a's namespace z counts");
    ipa.normalize(&st, &p, &mut s);
    assert_eq!(s, [0, 100]);
}

#[test]
fn topology_spread_skew() {
    let pts = pod_topology_spread::PodTopologySpread::new(&Default::default());
    let zone = |name: &str, z: &str| node_from_json(json!({"metadata": {"name": name, "labels": {"zone": z}}}));
    let member = |n: &str| Arc::new(pod_from_json(json!({"metadata": {"name": n, "namespace": "default", "labels": {"app": "s"}}, "spec": {"containers": []}})));
    let mut a = zone("a", "1");
    a.add_pod(member("m1"));
    a.add_pod(member("m2"));
    let mut b = zone("b", "2");
    b.add_pod(member("m3"));
    let snap = Snapshot::from_nodes(vec![a, b]);
    let p = pod_from_json(json!({"metadata": {"name": "p", "namespace": "default", "labels": {"app": "s"}}, "spec": {"containers": [],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "s"}}}]}}));
    let mut st = CycleState::default();
    assert!(pts.pre_filter(&mut st, &p, &snap).is_success());
    assert!(!pts.filter(&st, &p, &snap.nodes[0]).is_success(), "zone 1 would be 3 vs 1");
    assert!(pts.filter(&st, &p, &snap.nodes[1]).is_success());
}
