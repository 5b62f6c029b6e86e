//! pods/eviction against a real etcd: a PodDisruptionBudget that allows no
//! disruption refuses the eviction with upstream's 429; one that allows it
//! is decremented, records the pod in disruptedPods, and the pod goes.
//! (No disruption controller runs here: the test writes the budget's status
//! the way that controller would.)

use client::{Api, DeleteParams, PostParams};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::json;
use testing::TestCluster;

const NS: &str = "default";

async fn running_ready_pod(pods: &Api<Pod>, name: &str) {
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    pods.bind(name, "n1").await.unwrap();
    let mut p = pods.get(name).await.unwrap();
    p.status = Some(serde_json::from_value(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})).unwrap());
    pods.replace_status(&p).await.unwrap();
}

async fn set_budget_status(pdbs: &Api<PodDisruptionBudget>, allowed: i32, healthy: i32, desired: i32) {
    let mut pdb = pdbs.get("web").await.unwrap();
    pdb.status = Some(serde_json::from_value(json!({
        "observedGeneration": pdb.metadata.generation, "disruptionsAllowed": allowed, "currentHealthy": healthy,
        "desiredHealthy": desired, "expectedPods": healthy
    })).unwrap());
    pdbs.replace_status(&pdb).await.unwrap();
}

#[tokio::test]
async fn eviction_honours_the_disruption_budget() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let pods = Api::<Pod>::namespaced(client.clone(), NS);
    let pdbs = Api::<PodDisruptionBudget>::namespaced(client.clone(), NS);
    running_ready_pod(&pods, "a").await;
    running_ready_pod(&pods, "b").await;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}})).unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();

    // Not yet observed by the (absent) controller: retry later.
    let e = pods.evict("a", &DeleteParams::default()).await.unwrap_err();
    assert_eq!(e.reason(), Some(api::Reason::TooManyRequests));

    set_budget_status(&pdbs, 0, 1, 1).await;
    let e = pods.evict("a", &DeleteParams::default()).await.unwrap_err();
    assert_eq!(e.reason(), Some(api::Reason::TooManyRequests));
    assert!(e.to_string().contains("Cannot evict pod as it would violate the pod's disruption budget."), "{e}");
    assert!(pods.get_opt("a").await.unwrap().is_some_and(|p| p.metadata.deletion_timestamp.is_none()));

    set_budget_status(&pdbs, 1, 2, 1).await;
    pods.evict("a", &DeleteParams::default().grace_period(0)).await.unwrap();
    assert!(pods.get_opt("a").await.unwrap().is_none(), "evicted with grace 0");
    let st = pdbs.get("web").await.unwrap().status.unwrap();
    assert_eq!(st.disruptions_allowed, Some(0));
    assert!(st.disrupted_pods.unwrap_or_default().contains_key("a"));
    let allowed = st.conditions.unwrap_or_default().into_iter().find(|c| c.type_ == "DisruptionAllowed").unwrap();
    assert_eq!((allowed.status.as_str(), allowed.reason.as_str()), ("False", "InsufficientPods"));

    // The budget is spent: the next one is refused.
    let e = pods.evict("b", &DeleteParams::default()).await.unwrap_err();
    assert_eq!(e.reason(), Some(api::Reason::TooManyRequests));

    // A pending pod disrupts nothing: evicted regardless of the budget.
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "pending", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    pods.evict("pending", &DeleteParams::default()).await.unwrap();
    assert!(pods.get_opt("pending").await.unwrap().is_none());

    // Name mismatch and missing pods as upstream.
    let e = pods.evict("nosuch", &DeleteParams::default()).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
}
