use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::listers::{ListerHandle, StaticListers};
use crate::testutil::{node_from_json, pod_from_json};

fn node(name: &str, labels: Value, pods: &[Value]) -> NodeInfo {
    let mut n = node_from_json(json!({"metadata": {"name": name, "labels": labels}}));
    for p in pods {
        n.add_pod(Arc::new(pod_from_json(p.clone())));
    }
    n
}

fn member(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": "s"}}, "spec": {"containers": []}})
}

/// Scores of every node of `snap` (all feasible), normalized; None when PreScore skips.
fn scores(pl: &PodTopologySpread, pod: &PodInfo, snap: &Snapshot) -> Option<Vec<i64>> {
    let mut st = CycleState::default();
    let status = pl.pre_score(&mut st, pod, &snap.nodes, snap);
    if status.code == crate::framework::Code::Skip {
        return None;
    }
    assert!(status.is_success(), "{status:?}");
    let mut s: Vec<i64> = snap.nodes.iter().map(|n| pl.score(&st, pod, n)).collect();
    pl.normalize(&st, pod, &mut s);
    Some(s)
}

fn soft_pod(constraints: Value) -> PodInfo {
    pod_from_json(json!({"metadata": {"name": "p", "namespace": "default", "labels": {"app": "s"}}, "spec": {"containers": [],
        "topologySpreadConstraints": constraints}}))
}

#[test]
fn schedule_anyway_prefers_the_emptier_domain() {
    let pl = PodTopologySpread::new(&SpreadArgs::default());
    let snap = Snapshot::from_nodes(vec![
        node("a", json!({"zone": "1"}), &[member("m1"), member("m2")]),
        node("b", json!({"zone": "2"}), &[member("m3")]),
        node("c", json!({"zone": "3"}), &[]),
    ]);
    let p = soft_pod(json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "s"}}}]));
    // Raw: count * ln(3 domains + 2) + (maxSkew - 1) = 3.22 -> 3, 1.61 -> 2, 0;
    // normalized 100 * (max + min - s) / max.
    assert_eq!(scores(&pl, &p, &snap), Some(vec![0, 33, 100]));
    // A DoNotSchedule constraint is the filter's, not the score's.
    let hard = soft_pod(json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "s"}}}]));
    assert_eq!(scores(&pl, &hard, &snap), None);
}

#[test]
fn max_skew_waters_down_differences_and_missing_keys_score_zero() {
    let pl = PodTopologySpread::new(&SpreadArgs::default());
    let snap = Snapshot::from_nodes(vec![
        node("a", json!({"zone": "1"}), &[member("m1"), member("m2")]),
        node("b", json!({"zone": "2"}), &[]),
        node("c", json!({}), &[member("m3")]),
    ]);
    let p = soft_pod(json!([{"maxSkew": 5, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "s"}}}]));
    // Domains {1, 2} (c has no zone and is ignored): weight ln 4; raw a = 2*1.386 + 4 = 6.77 -> 7, b = 4.
    // 100 * (7 + 4 - 7) / 7 = 57, 100 * (7 + 4 - 4) / 7 = 100; c 0.
    assert_eq!(scores(&pl, &p, &snap), Some(vec![57, 100, 0]));
}

#[test]
fn hostname_constraint_counts_per_node_and_other_namespaces_do_not_count() {
    let pl = PodTopologySpread::new(&SpreadArgs::default());
    let host = |n: &str| json!({"kubernetes.io/hostname": n});
    let mut elsewhere = member("x");
    elsewhere["metadata"]["namespace"] = json!("other");
    let snap = Snapshot::from_nodes(vec![
        node("a", host("a"), &[member("m1")]),
        node("b", host("b"), &[elsewhere]),
    ]);
    let p = soft_pod(json!([{"maxSkew": 1, "topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "s"}}}]));
    // weight ln(2 + 2) = 1.39: a 1, b 0 -> 100 * (1 + 0 - 1) / 1 = 0 and 100.
    assert_eq!(scores(&pl, &p, &snap), Some(vec![0, 100]));
}

fn rs_listers() -> ListerHandle {
    let rs = serde_json::from_value(json!({"metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {}}}))
    .unwrap();
    let svc = |name: &str, sel: Value| Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"selector": sel}})).unwrap());
    let headless: Arc<k8s_openapi::api::core::v1::Service> = Arc::new(serde_json::from_value(json!({"metadata": {"name": "no-selector", "namespace": "default"}, "spec": {}})).unwrap());
    ListerHandle(Arc::new(StaticListers {
        replica_sets: vec![Arc::new(rs)],
        services: vec![svc("web", json!({"app": "web"})), svc("api", json!({"app": "api"})), headless],
        ..Default::default()
    }))
}

fn web_pod(name: &str, owned: bool) -> Value {
    let mut p = json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": "web", "tier": "front"}}, "spec": {"containers": []}});
    if owned {
        p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": true}]);
    }
    p
}

#[test]
fn default_selector_from_services_and_controller() {
    let l = rs_listers();
    let p = pod_from_json(web_pod("p", true));
    let sel = default_selector(&p, &*l);
    assert!(sel.matches(&[("app".to_string(), "web".to_string())].into()));
    assert!(!sel.matches(&[("app".to_string(), "api".to_string())].into()));
    // Selected by no Service and owned by nothing: no default spreading.
    let lone = pod_from_json(json!({"metadata": {"name": "lone", "namespace": "default", "labels": {"app": "batch"}}, "spec": {"containers": []}}));
    assert!(default_selector(&lone, &*l).is_empty());
}

#[test]
fn system_defaults_spread_a_replica_set_by_hostname_even_without_zones() {
    let pl = PodTopologySpread::new(&SpreadArgs::default());
    let host = |n: &str| json!({"kubernetes.io/hostname": n});
    let mut snap = Snapshot::from_nodes(vec![
        node("a", host("a"), &[web_pod("w1", true), web_pod("w2", true)]),
        node("b", host("b"), &[web_pod("w3", true)]),
        node("c", host("c"), &[]),
    ]);
    snap.listers = rs_listers();
    let p = pod_from_json(web_pod("p", true));
    // hostname maxSkew 3, weight ln 5: a 2*1.61 + 2 = 5.2 -> 5, b 3.6 -> 4, c 2;
    // zone (maxSkew 5) has no node with the key and does not count.
    assert_eq!(scores(&pl, &p, &snap), Some(vec![40, 60, 100]));
    // No Service or controller selects this pod: nothing to spread.
    let lone = pod_from_json(json!({"metadata": {"name": "lone", "namespace": "default", "labels": {"app": "batch"}}, "spec": {"containers": []}}));
    assert_eq!(scores(&pl, &lone, &snap), None);
    // defaultingType List with no constraints: no defaults at all.
    let none = PodTopologySpread::new(&SpreadArgs { system_defaulting: false, default_constraints: vec![] });
    assert_eq!(scores(&none, &p, &snap), None);
}

#[test]
fn listed_default_constraints_can_filter() {
    let c: TopologySpreadConstraint = serde_json::from_value(json!({"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"})).unwrap();
    let pl = PodTopologySpread::new(&SpreadArgs { system_defaulting: false, default_constraints: vec![c] });
    let mut snap = Snapshot::from_nodes(vec![
        node("a", json!({"zone": "1"}), &[web_pod("w1", true), web_pod("w2", true)]),
        node("b", json!({"zone": "2"}), &[web_pod("w3", true)]),
    ]);
    snap.listers = rs_listers();
    let p = pod_from_json(web_pod("p", true));
    let mut st = CycleState::default();
    assert!(pl.pre_filter(&mut st, &p, &snap).is_success());
    let ok: Vec<bool> = snap.nodes.iter().map(|n| pl.filter(&st, &p, n).is_success()).collect();
    assert_eq!(ok, [false, true]);
    // A pod with constraints of its own does not get the defaults.
    let own = soft_pod(json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "s"}}}]));
    assert_eq!(pl.pre_filter(&mut CycleState::default(), &own, &snap).code, crate::framework::Code::Skip);
}
