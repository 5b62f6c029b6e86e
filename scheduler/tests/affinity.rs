//! Inter-pod affinity / anti-affinity and topology spread, on a real apiserver.

mod common;

use common::{node, pod, Env};
use serde_json::json;

fn zone_node(name: &str, zone: &str) -> serde_json::Value {
    node(name, "4", "8Gi", json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone}}}))
}

#[tokio::test]
async fn anti_affinity_on_hostname_spreads_one_per_node() {
    let env = Env::start(vec![zone_node("a", "z1"), zone_node("b", "z1")]).await;
    let web = |name: &str| {
        pod(name, "", "", json!({"metadata": {"labels": {"app": "web"}}, "spec": {"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}}}))
    };
    let n1 = env.schedule(web("w1")).await;
    let n2 = env.schedule(web("w2")).await;
    assert_ne!(n1, n2);
    // A third web pod: the existing pods' anti-affinity is checked first (upstream order).
    env.create_pod(web("w3")).await;
    let msg = env.wait_unschedulable("w3").await;
    assert!(msg.starts_with("0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules."), "{msg}");
    // A pod without the label whose own anti-affinity rejects both nodes.
    let loner = pod("loner", "", "", json!({"spec": {"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}}}));
    env.create_pod(loner).await;
    let msg = env.wait_unschedulable("loner").await;
    assert!(msg.starts_with("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."), "{msg}");
    // Deleting one web pod frees its node for w3.
    env.pods().delete("w1", &client::DeleteParams::immediate()).await.unwrap();
    assert_eq!(env.wait_bound("w3").await, n1);
    env.stop().await;
}

#[tokio::test]
async fn affinity_on_zone_follows_the_target() {
    let env = Env::start(vec![zone_node("a1", "z1"), zone_node("a2", "z1"), zone_node("b1", "z2"), zone_node("b2", "z2")]).await;
    let follower = |name: &str| {
        pod(name, "", "", json!({"spec": {"affinity": {"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}}}))
    };
    env.create_pod(follower("early")).await;
    let msg = env.wait_unschedulable("early").await;
    assert!(msg.starts_with("0/4 nodes are available: 4 node(s) didn't match pod affinity rules."), "{msg}");
    let db = env.schedule(pod("db", "", "", json!({"metadata": {"labels": {"app": "db"}}, "spec": {"nodeSelector": {"kubernetes.io/hostname": "b1"}}}))).await;
    assert_eq!(db, "b1");
    // The new pod (an assigned-pod add) retries the waiting one; both land in z2.
    let e = env.wait_bound("early").await;
    assert!(e.starts_with('b'), "{e}");
    for i in 0..3 {
        let n = env.schedule(follower(&format!("f{i}"))).await;
        assert!(n.starts_with('b'), "{n}");
    }
    env.stop().await;
}

#[tokio::test]
async fn topology_spread_do_not_schedule() {
    let env = Env::start(vec![zone_node("a1", "z1"), zone_node("a2", "z1"), zone_node("b1", "z2")]).await;
    let spread = |name: &str| {
        pod(name, "", "", json!({"metadata": {"labels": {"app": "s"}}, "spec": {"topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}}}]}}))
    };
    let mut per_zone = std::collections::HashMap::<char, i32>::new();
    for i in 0..6 {
        let n = env.schedule(spread(&format!("s{i}"))).await;
        *per_zone.entry(if n.starts_with('a') { '1' } else { '2' }).or_default() += 1;
    }
    assert_eq!((per_zone[&'1'], per_zone[&'2']), (3, 3));
    // Nodes without the key are never chosen for a constrained pod.
    env.create_node(node("nolabel", "64", "64Gi", json!({}))).await;
    for i in 6..8 {
        assert_ne!(env.schedule(spread(&format!("s{i}"))).await, "nolabel");
    }
    // A skew violation: pin z2 full by cordoning it, then z1 can take only one more.
    env.nodes().patch("b1", &client::PostParams::default(), &client::Patch::Merge(json!({"spec": {"unschedulable": true}}))).await.unwrap();
    let n = env.schedule(spread("s8")).await;
    assert!(n.starts_with('a'));
    env.create_pod(spread("s9")).await;
    let msg = env.wait_unschedulable("s9").await;
    assert!(msg.contains("2 node(s) didn't match pod topology spread constraints"), "{msg}");
    assert!(msg.contains("1 node(s) didn't match pod topology spread constraints (missing required label)"), "{msg}");
    env.stop().await;
}

#[tokio::test]
async fn affinity_terms_select_other_namespaces_by_label() {
    use client::{Api, PostParams};
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    let nodes = vec![zone_node("a", "z1"), zone_node("b", "z2"), zone_node("c", "z3")];
    let env = Env::start_seeded(nodes, scheduler::SchedulerConfig::default(), |c| async move {
        for (name, team) in [("team-a", "a"), ("team-b", "b")] {
            let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"team": team}}})).unwrap();
            Api::<Namespace>::all(c.clone()).create(&PostParams::default(), &ns).await.unwrap();
        }
    })
    .await;
    // One db pod in each team's namespace: team-a's on a (z1), team-b's on b (z2).
    for (ns, node) in [("team-a", "a"), ("team-b", "b")] {
        let mut p = pod("db", "", "", json!({"metadata": {"labels": {"app": "db"}}, "spec": {"nodeSelector": {"kubernetes.io/hostname": node}}}));
        p["metadata"]["namespace"] = json!(ns);
        let api = Api::<Pod>::namespaced(env.cluster.client.clone(), ns);
        api.create(&PostParams::default(), &serde_json::from_value(p).unwrap()).await.unwrap();
        for _ in 0..300 {
            if api.get("db").await.unwrap().spec.unwrap().node_name.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let term = |ns_selector: serde_json::Value| json!({"labelSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": ns_selector, "topologyKey": "topology.kubernetes.io/zone"});
    // Affinity to team b's db (selected by namespace label, not by name): zone z2.
    let follow = pod("follow-b", "", "", json!({"spec": {"affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term(json!({"matchLabels": {"team": "b"}}))]}}}}));
    assert_eq!(env.schedule(follow).await, "b");
    // Anti-affinity to db pods in every namespace ({}): only z3 is left.
    let avoid = pod("avoid-all", "", "", json!({"spec": {"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term(json!({}))]}}}}));
    assert_eq!(env.schedule(avoid).await, "c");
    // Without namespaces or a selector, a term looks at the pod's own namespace,
    // where no db runs: required affinity cannot be met.
    let own = pod("own-ns", "", "", json!({"spec": {"affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}}}));
    env.create_pod(own).await;
    let msg = env.wait_unschedulable("own-ns").await;
    assert!(msg.starts_with("0/3 nodes are available: 3 node(s) didn't match pod affinity rules."), "{msg}");
    env.stop().await;
}
