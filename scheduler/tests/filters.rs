//! Each filter plugin against a real apiserver on etcd, with Node objects.

mod common;

use client::{DeleteParams, Patch, PostParams};
use common::{node, pod, Env};
use serde_json::json;

#[tokio::test]
async fn cordoned_node_rejects_until_uncordoned() {
    let env = Env::start(vec![node("n1", "4", "8Gi", json!({"spec": {"unschedulable": true}}))]).await;
    env.create_pod(pod("p", "100m", "", json!({}))).await;
    let msg = env.wait_unschedulable("p").await;
    assert_eq!(
        msg,
        "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
    );
    assert_eq!(env.wait_event("p", "FailedScheduling").await, msg);
    // A toleration of the unschedulable taint lets a pod in.
    let tol = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}});
    assert_eq!(env.schedule(pod("tolerant", "100m", "", tol)).await, "n1");
    // Uncordoning (a node update) retries the waiting pod.
    env.nodes().patch("n1", &PostParams::default(), &Patch::Merge(json!({"spec": {"unschedulable": false}}))).await.unwrap();
    assert_eq!(env.wait_bound("p").await, "n1");
    assert_eq!(env.wait_event("p", "Scheduled").await, "Successfully assigned default/p to n1");
    env.stop().await;
}

#[tokio::test]
async fn taints_and_the_upstream_message_shape() {
    let cp = json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}});
    let env = Env::start(vec![
        node("cp1", "8", "8Gi", cp.clone()),
        node("cp2", "8", "8Gi", cp),
        node("small", "1", "8Gi", json!({})),
    ])
    .await;
    env.create_pod(pod("big", "2", "", json!({}))).await;
    assert_eq!(
        env.wait_unschedulable("big").await,
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. \
         preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.."
    );
    // Small pods go to the only untainted node.
    assert_eq!(env.schedule(pod("a", "100m", "", json!({}))).await, "small");
    // A toleration opens the tainted nodes.
    let tol = json!({"spec": {"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}});
    let n = env.schedule(pod("tol", "2", "", tol)).await;
    assert!(n == "cp1" || n == "cp2", "{n}");
    env.stop().await;
}

#[tokio::test]
async fn not_ready_and_unreachable_taints() {
    let env = Env::start(vec![
        node("nr", "4", "8Gi", json!({"spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}})),
        // NoExecute too: the default tolerations (300 s) only cover NoExecute, as upstream.
        node("un", "4", "8Gi", json!({"spec": {"taints": [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]}})),
        node("ok", "4", "8Gi", json!({})),
    ])
    .await;
    for i in 0..4 {
        assert_eq!(env.schedule(pod(&format!("p{i}"), "100m", "", json!({}))).await, "ok");
    }
    env.stop().await;
}

#[tokio::test]
async fn node_selector_and_required_affinity_operators() {
    let env = Env::start(vec![
        node("a", "4", "8Gi", json!({"metadata": {"labels": {"zone": "a", "cores": "8", "gpu": "yes"}}})),
        node("b", "4", "8Gi", json!({"metadata": {"labels": {"zone": "b", "cores": "2"}}})),
    ])
    .await;
    let aff = |op: &str, key: &str, vals: serde_json::Value| {
        json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": op, "values": vals}]}]}}}}})
    };
    assert_eq!(env.schedule(pod("sel", "", "", json!({"spec": {"nodeSelector": {"zone": "b"}}}))).await, "b");
    assert_eq!(env.schedule(pod("in", "", "", aff("In", "zone", json!(["a"])))).await, "a");
    assert_eq!(env.schedule(pod("notin", "", "", aff("NotIn", "zone", json!(["a"])))).await, "b");
    assert_eq!(env.schedule(pod("exists", "", "", aff("Exists", "gpu", json!(null)))).await, "a");
    assert_eq!(env.schedule(pod("dne", "", "", aff("DoesNotExist", "gpu", json!(null)))).await, "b");
    assert_eq!(env.schedule(pod("gt", "", "", aff("Gt", "cores", json!(["4"])))).await, "a");
    assert_eq!(env.schedule(pod("lt", "", "", aff("Lt", "cores", json!(["4"])))).await, "b");
    env.create_pod(pod("nowhere", "", "", json!({"spec": {"nodeSelector": {"zone": "c"}}}))).await;
    assert!(env.wait_unschedulable("nowhere").await.starts_with("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."));
    // A node that gains the label makes it fit.
    env.create_node(node("c", "4", "8Gi", json!({"metadata": {"labels": {"zone": "c"}}}))).await;
    assert_eq!(env.wait_bound("nowhere").await, "c");
    env.stop().await;
}

#[tokio::test]
async fn resources_fit_with_init_containers_and_requeue_on_delete() {
    let env = Env::start(vec![node("n", "2", "4Gi", json!({}))]).await;
    assert_eq!(env.schedule(pod("first", "1500m", "1Gi", json!({}))).await, "n");
    env.create_pod(pod("second", "1", "1Gi", json!({}))).await;
    let msg = env.wait_unschedulable("second").await;
    assert!(msg.starts_with("0/1 nodes are available: 1 Insufficient cpu."), "{msg}");
    // Init containers count as max(init, sum of app containers): 3 cpu init never fits a 2 cpu node.
    let init = json!({"spec": {"initContainers": [{"name": "i", "image": "busybox", "resources": {"requests": {"cpu": "3"}}}]}});
    env.create_pod(pod("init", "100m", "", init)).await;
    assert!(env.wait_unschedulable("init").await.contains("Insufficient cpu"));
    // Deleting the first pod frees the node for the second.
    env.pods().delete("first", &DeleteParams::immediate()).await.unwrap();
    assert_eq!(env.wait_bound("second").await, "n");
    // memory and ephemeral-storage too.
    let big = json!({"spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"memory": "8Gi", "ephemeral-storage": "1Ti"}}}]}});
    env.create_pod(pod("big", "", "", big)).await;
    let msg = env.wait_unschedulable("big").await;
    assert!(msg.starts_with("0/1 nodes are available: 1 Insufficient ephemeral-storage, 1 Insufficient memory."), "{msg}");
    env.stop().await;
}

#[tokio::test]
async fn too_many_pods() {
    let env = Env::start(vec![node("n", "4", "8Gi", json!({"status": {"allocatable": {"pods": "2"}, "capacity": {"pods": "2"}}}))]).await;
    env.schedule(pod("a", "", "", json!({}))).await;
    env.schedule(pod("b", "", "", json!({}))).await;
    env.create_pod(pod("c", "", "", json!({}))).await;
    assert!(env.wait_unschedulable("c").await.starts_with("0/1 nodes are available: 1 Too many pods."));
    env.stop().await;
}

#[tokio::test]
async fn host_ports_conflict() {
    let env = Env::start(vec![node("a", "4", "8Gi", json!({})), node("b", "4", "8Gi", json!({}))]).await;
    let hp = |name: &str| pod(name, "", "", json!({"spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}}));
    let n1 = env.schedule(hp("w1")).await;
    let n2 = env.schedule(hp("w2")).await;
    assert_ne!(n1, n2);
    env.create_pod(hp("w3")).await;
    assert!(env.wait_unschedulable("w3").await.starts_with("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."));
    env.stop().await;
}

#[tokio::test]
async fn node_name_pods_are_not_touched_and_other_schedulers_are_left_alone() {
    let env = Env::start(vec![node("a", "4", "8Gi", json!({}))]).await;
    env.create_pod(pod("other", "", "", json!({"spec": {"schedulerName": "someone-else"}}))).await;
    // Pods are taken in order: once a later pod is bound, the other one was seen and skipped.
    assert_eq!(env.schedule(pod("mine", "", "", json!({}))).await, "a");
    assert_eq!(env.schedule(pod("mine2", "", "", json!({}))).await, "a");
    let other = env.pods().get("other").await.unwrap();
    assert!(other.spec.unwrap().node_name.is_none());
    assert!(env.events_for("other").await.is_empty());
    env.stop().await;
}
