//! Priority and preemption with PriorityClass objects, on a real apiserver.

mod common;

use client::{Api, PostParams};
use common::{node, pod, Env};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::json;

async fn class(env: &Env, name: &str, value: i32) {
    let pc: PriorityClass = serde_json::from_value(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value})).unwrap();
    Api::<PriorityClass>::all(env.cluster.client.clone()).create(&PostParams::default(), &pc).await.expect("PriorityClass is served");
}

#[tokio::test]
async fn higher_priority_pod_evicts_lower_priority_pods_from_one_node() {
    let env = Env::start(vec![node("a", "2", "8Gi", json!({})), node("b", "2", "8Gi", json!({}))]).await;
    class(&env, "low", 10).await;
    class(&env, "mid", 50).await;
    class(&env, "high", 1000).await;
    let with = |c: &str| json!({"spec": {"priorityClassName": c}});
    // a: one low pod using all cpu; b: one mid pod using all cpu.
    let a = env.schedule(pod("low", "2", "", json!({"spec": {"priorityClassName": "low", "nodeSelector": {"kubernetes.io/hostname": "a"}}}))).await;
    let b = env.schedule(pod("mid", "2", "", json!({"spec": {"priorityClassName": "mid", "nodeSelector": {"kubernetes.io/hostname": "b"}}}))).await;
    assert_eq!((a.as_str(), b.as_str()), ("a", "b"));

    // An equal-priority pod cannot preempt.
    env.create_pod(pod("peer", "1", "", with("low"))).await;
    let msg = env.wait_unschedulable("peer").await;
    assert_eq!(
        msg,
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.."
    );

    // The high pod preempts the cheapest victim: the low pod on a.
    env.create_pod(pod("urgent", "1", "", with("high"))).await;
    let mut nominated = None;
    for _ in 0..300 {
        nominated = env.pods().get("urgent").await.unwrap().status.and_then(|s| s.nominated_node_name);
        if nominated.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(nominated.as_deref(), Some("a"));
    let m = env.wait_event("low", "Preempted").await;
    assert!(m.starts_with("Preempted by pod ") && m.ends_with(" on node a"), "{m}");
    // No kubelet runs here: the victim stays Terminating until the test finishes its deletion.
    let low = env.pods().get("low").await.unwrap();
    assert!(low.metadata.deletion_timestamp.is_some(), "victim is being deleted");
    let msg = env.wait_unschedulable("urgent").await;
    assert!(msg.contains("Insufficient cpu"), "{msg}");
    env.pods().delete("low", &client::DeleteParams::immediate()).await.unwrap();
    assert_eq!(env.wait_bound("urgent").await, "a");
    // The mid pod was never a victim.
    assert!(env.pods().get("mid").await.unwrap().metadata.deletion_timestamp.is_none());
    assert!(env.events_for("mid").await.iter().all(|e| e.reason.as_deref() != Some("Preempted")));
    env.stop().await;
}

#[tokio::test]
async fn preemption_policy_never_does_not_evict() {
    let env = Env::start(vec![node("a", "1", "8Gi", json!({}))]).await;
    class(&env, "low", 10).await;
    let pc: PriorityClass = serde_json::from_value(json!({"metadata": {"name": "polite"}, "value": 1000, "preemptionPolicy": "Never"})).unwrap();
    Api::<PriorityClass>::all(env.cluster.client.clone()).create(&PostParams::default(), &pc).await.unwrap();
    env.schedule(pod("low", "1", "", json!({"spec": {"priorityClassName": "low"}}))).await;
    env.create_pod(pod("polite", "1", "", json!({"spec": {"priorityClassName": "polite"}}))).await;
    let msg = env.wait_unschedulable("polite").await;
    assert_eq!(msg, "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.");
    assert!(env.pods().get("low").await.unwrap().metadata.deletion_timestamp.is_none());
    env.stop().await;
}

#[tokio::test]
async fn preemption_spares_pods_protected_by_a_disruption_budget() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let nodes = vec![node("a", "1", "8Gi", json!({})), node("b", "1", "8Gi", json!({}))];
    // No controller fills PDB status here: disruptionsAllowed reads 0, as upstream.
    let env = Env::start_seeded(nodes, scheduler::SchedulerConfig::default(), |c| async move {
        let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "guard"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}})).unwrap();
        Api::<PodDisruptionBudget>::namespaced(c, "default").create(&PostParams::default(), &pdb).await.expect("PDB is served");
    })
    .await;
    class(&env, "low", 10).await;
    class(&env, "high", 1000).await;
    let on = |node: &str, app: &str| json!({"metadata": {"labels": {"app": app}}, "spec": {"priorityClassName": "low", "nodeSelector": {"kubernetes.io/hostname": node}}});
    // Equal victims on a and b, except that a's is guarded (a would win the tie otherwise).
    assert_eq!(env.schedule(pod("guarded", "1", "", on("a", "guarded"))).await, "a");
    assert_eq!(env.schedule(pod("plain", "1", "", on("b", "plain"))).await, "b");
    env.create_pod(pod("urgent", "1", "", json!({"spec": {"priorityClassName": "high"}}))).await;
    let m = env.wait_event("plain", "Preempted").await;
    assert!(m.ends_with(" on node b"), "{m}");
    env.pods().delete("plain", &client::DeleteParams::immediate()).await.unwrap();
    assert_eq!(env.wait_bound("urgent").await, "b");
    assert!(env.pods().get("guarded").await.unwrap().metadata.deletion_timestamp.is_none());

    // When only guarded victims are left, preemption still evicts one.
    env.create_pod(pod("urgent2", "1", "", json!({"spec": {"priorityClassName": "high"}}))).await;
    let m = env.wait_event("guarded", "Preempted").await;
    assert!(m.ends_with(" on node a"), "{m}");
    env.stop().await;
}
