//! Score plugins decide between otherwise equal nodes, on a real apiserver.

mod common;

use common::{node, pod, Env};
use scheduler::SchedulerConfig;
use serde_json::json;

#[tokio::test]
async fn least_allocated_by_default_most_allocated_by_profile() {
    let config = SchedulerConfig::from_yaml(
        r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
"#,
    )
    .unwrap();
    let env = Env::start_with(vec![node("busy", "4", "8Gi", json!({})), node("idle", "4", "8Gi", json!({}))], config).await;
    assert_eq!(env.schedule(pod("filler", "2", "4Gi", json!({"spec": {"nodeName": null, "nodeSelector": {"kubernetes.io/hostname": "busy"}}}))).await, "busy");
    assert_eq!(env.schedule(pod("spread", "500m", "1Gi", json!({}))).await, "idle");
    assert_eq!(env.schedule(pod("packed", "500m", "1Gi", json!({"spec": {"schedulerName": "bin-packer"}}))).await, "busy");
    env.stop().await;
}

#[tokio::test]
async fn requested_to_capacity_ratio() {
    let config = SchedulerConfig::from_yaml(
        r#"
profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources: [{name: cpu, weight: 1}]
        requestedToCapacityRatio:
          shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]
"#,
    )
    .unwrap();
    let env = Env::start_with(vec![node("busy", "4", "8Gi", json!({})), node("idle", "4", "8Gi", json!({}))], config).await;
    env.schedule(pod("filler", "2", "", json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "busy"}}}))).await;
    assert_eq!(env.schedule(pod("p", "1", "", json!({}))).await, "busy");
    env.stop().await;
}

#[tokio::test]
async fn preferred_node_affinity_and_prefer_no_schedule() {
    let env = Env::start(vec![
        node("a", "4", "8Gi", json!({"metadata": {"labels": {"disk": "ssd"}}})),
        node("b", "4", "8Gi", json!({"spec": {"taints": [{"key": "flaky", "effect": "PreferNoSchedule"}]}})),
        node("c", "4", "8Gi", json!({})),
    ])
    .await;
    let prefer = json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}}});
    assert_eq!(env.schedule(pod("ssd", "", "", prefer)).await, "a");
    // With a, b, c otherwise comparable, b's PreferNoSchedule taint keeps pods off it.
    for i in 0..4 {
        assert_ne!(env.schedule(pod(&format!("p{i}"), "", "", json!({}))).await, "b");
    }
    env.stop().await;
}

#[tokio::test]
async fn preferred_pod_affinity_and_anti_affinity() {
    let env = Env::start(vec![node("a", "4", "8Gi", json!({})), node("b", "4", "8Gi", json!({})), node("c", "4", "8Gi", json!({}))]).await;
    env.schedule(pod("cache", "", "", json!({"metadata": {"labels": {"app": "cache"}}, "spec": {"nodeSelector": {"kubernetes.io/hostname": "b"}}}))).await;
    let near = json!({"spec": {"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}}]}}}});
    assert_eq!(env.schedule(pod("near", "", "", near)).await, "b");
    let far = json!({"spec": {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}}]}}}});
    assert_ne!(env.schedule(pod("far", "", "", far)).await, "b");
    env.stop().await;
}

#[tokio::test]
async fn image_locality() {
    let img = json!({"status": {"images": [{"names": ["registry.local/app:1"], "sizeBytes": 800_000_000}]}});
    let env = Env::start(vec![node("has", "4", "8Gi", img), node("lacks", "4", "8Gi", json!({}))]).await;
    let p = json!({"spec": {"containers": [{"name": "c", "image": "registry.local/app:1"}]}});
    assert_eq!(env.schedule(pod("p", "", "", p)).await, "has");
    env.stop().await;
}

/// A profile that packs pods: without spreading, pods pile onto one node.
fn packer() -> SchedulerConfig {
    SchedulerConfig::from_yaml(
        r#"
profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
"#,
    )
    .unwrap()
}

#[tokio::test]
async fn system_default_spreading_spreads_a_replica_sets_pods() {
    use client::{Api, PostParams};
    use k8s_openapi::api::apps::v1::ReplicaSet;
    let nodes = || vec![node("a", "4", "8Gi", json!({})), node("b", "4", "8Gi", json!({})), node("c", "4", "8Gi", json!({}))];
    let rs_json = json!({"metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
    let env = Env::start_seeded(nodes(), packer(), |c| async move {
        let rs: ReplicaSet = serde_json::from_value(rs_json).unwrap();
        Api::<ReplicaSet>::namespaced(c, "default").create(&PostParams::default(), &rs).await.expect("ReplicaSet is served");
    })
    .await;
    let uid = Api::<ReplicaSet>::namespaced(env.cluster.client.clone(), "default").get("web-1").await.unwrap().metadata.uid.unwrap();
    let replica = |name: &str| {
        pod(name, "1", "1Gi", json!({"metadata": {"labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": uid, "controller": true}]}}))
    };
    let mut placed = vec![];
    for i in 0..3 {
        placed.push(env.schedule(replica(&format!("web-{i}"))).await);
    }
    placed.sort();
    assert_eq!(placed, ["a", "b", "c"], "hostname spreading (maxSkew 3) outweighs MostAllocated");
    env.stop().await;

    // The same pods without an owner (nothing selects them): packed on one node.
    let env = Env::start_with(nodes(), packer()).await;
    let mut placed = vec![];
    for i in 0..3 {
        placed.push(env.schedule(pod(&format!("loose-{i}"), "1", "1Gi", json!({"metadata": {"labels": {"app": "web"}}}))).await);
    }
    placed.dedup();
    assert_eq!(placed.len(), 1, "{placed:?}");
    env.stop().await;
}
