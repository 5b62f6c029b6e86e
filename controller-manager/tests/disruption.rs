//! The disruption controller against a real etcd and apiserver, with no
//! scheduler and no kubelet: the tests bind pods and write their readiness
//! as a kubelet would, and evict through the real pods/eviction subresource.

mod common;
use common::*;

use std::time::{Duration, Instant};

use client::{Api, Client, DeleteParams, ListParams, Patch, PostParams};
use controller_manager::controllers::{deployment::DEPLOYMENT, disruption::DISRUPTION, replicaset::REPLICASET, Descriptor};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, PodCondition, PodStatus};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;
use testing::TestCluster;

fn start(client: &Client, which: &[Descriptor]) -> Running {
    start_controllers(client, which.iter().map(|d| (*d, 2)).collect())
}

const NS: &str = "default";





fn pdbs(client: &Client) -> Api<PodDisruptionBudget> {
    Api::namespaced(client.clone(), NS)
}

fn pods(client: &Client) -> Api<Pod> {
    Api::namespaced(client.clone(), NS)
}

async fn create_pdb(client: &Client, name: &str, app: &str, rule: serde_json::Value) -> PodDisruptionBudget {
    let mut spec = json!({"selector": {"matchLabels": {"app": app}}});
    spec.as_object_mut().unwrap().extend(rule.as_object().cloned().unwrap());
    let pdb = serde_json::from_value(json!({"metadata": {"name": name, "namespace": NS}, "spec": spec})).unwrap();
    pdbs(client).create(&PostParams::default(), &pdb).await.unwrap()
}

/// The budget's status once the controller has written one with this
/// (currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed).
async fn status_becomes(client: &Client, name: &str, want: (i32, i32, i32, i32)) -> (PodDisruptionBudget, PodDisruptionBudgetStatus) {
    let mut last = None;
    let found = wait_for_quiet(Duration::from_secs(20), async || {
        let pdb = pdbs(client).get(name).await.unwrap();
        let s = pdb.status.clone().unwrap_or_default();
        let got = (s.current_healthy.unwrap_or(-1), s.desired_healthy.unwrap_or(-1), s.expected_pods.unwrap_or(-1), s.disruptions_allowed.unwrap_or(-1));
        last = Some(s.clone());
        (got == want && s.observed_generation == pdb.metadata.generation).then_some((pdb, s))
    })
    .await;
    found.unwrap_or_else(|| panic!("{name}: wanted (healthy, desired, expected, allowed) = {want:?}, last status {last:#?}"))
}

async fn wait_for_quiet<T>(timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn condition(s: &PodDisruptionBudgetStatus) -> (String, String, String) {
    let c = s.conditions.iter().flatten().find(|c| c.type_ == "DisruptionAllowed").expect("a DisruptionAllowed condition");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// A pod with `labels` and, if given, a controller reference (apiVersion, kind, name, uid).
async fn create_pod(client: &Client, name: &str, app: &str, owner: Option<(&str, &str, &str, &str)>) -> Pod {
    let mut meta = json!({"name": name, "namespace": NS, "labels": {"app": app}});
    if let Some((api_version, kind, owner_name, uid)) = owner {
        meta["ownerReferences"] = json!([{"apiVersion": api_version, "kind": kind, "name": owner_name, "uid": uid, "controller": true}]);
    }
    let pod = serde_json::from_value(json!({"metadata": meta, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods(client).create(&PostParams::default(), &pod).await.unwrap()
}

/// Binds the pod (once) and writes Running with Ready = `ready`, as a kubelet would.
async fn set_ready(client: &Client, name: &str, ready: bool) {
    let api = pods(client);
    let mut p = api.get(name).await.unwrap();
    if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() {
        api.bind(name, "n1").await.unwrap();
        p = api.get(name).await.unwrap();
    }
    let now = Time(controller_manager::controller_utils::now());
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition { type_: "Ready".into(), status: if ready { "True" } else { "False" }.into(), last_transition_time: Some(now), ..Default::default() }]),
        ..Default::default()
    });
    api.replace_status(&p).await.unwrap();
}

async fn events(client: &Client, name: &str, reason: &str) -> Vec<Event> {
    let lp = ListParams { field_selector: Some(format!("involvedObject.name={name}")), ..Default::default() };
    let evs = Api::<Event>::namespaced(client.clone(), NS).list(&lp).await.unwrap().items;
    evs.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).collect()
}

fn force() -> DeleteParams {
    DeleteParams { grace_period_seconds: Some(0), ..Default::default() }
}

#[tokio::test]
async fn min_available_counts_ready_pods_and_evictions_spend_the_budget() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client, &[DISRUPTION]);
    for p in ["web-a", "web-b", "web-c"] {
        create_pod(&client, p, "web", None).await;
        set_ready(&client, p, true).await;
    }
    create_pdb(&client, "web", "web", json!({"minAvailable": 2})).await;
    let (pdb, s) = status_becomes(&client, "web", (3, 2, 3, 1)).await;
    assert_eq!(condition(&s), ("True".into(), "SufficientPods".into(), String::new()));
    assert_eq!(s.observed_generation, Some(1));
    let c = s.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "DisruptionAllowed").unwrap();
    assert_eq!(c.observed_generation, pdb.metadata.generation);

    // An unready pod lowers currentHealthy; ready again, the budget reopens.
    set_ready(&client, "web-c", false).await;
    let (_, s) = status_becomes(&client, "web", (2, 2, 3, 0)).await;
    assert_eq!(condition(&s).1, "InsufficientPods");
    set_ready(&client, "web-c", true).await;
    status_becomes(&client, "web", (3, 2, 3, 1)).await;

    // One eviction fits the budget; the next is refused with 429.
    pods(&client).evict("web-a", &DeleteParams::default()).await.expect("the first eviction fits the budget");
    let refused = pods(&client).evict("web-b", &DeleteParams::default()).await.expect_err("the budget is spent");
    assert_eq!(refused.reason(), Some(api::Reason::TooManyRequests), "{refused}");
    assert!(refused.to_string().contains("Cannot evict pod as it would violate the pod's disruption budget."), "{refused}");
    // web-a was bound, so it is deleted gracefully: it stays, terminating, and is not counted.
    let (_, s) = status_becomes(&client, "web", (2, 2, 3, 0)).await;
    assert!(s.disrupted_pods.as_ref().is_none_or(|d| d.is_empty()), "a pod being deleted leaves disruptedPods: {s:?}");
    assert_eq!(condition(&s).1, "InsufficientPods");
    let refused = pods(&client).evict("web-b", &DeleteParams::default()).await.expect_err("still spent while web-a terminates");
    assert_eq!(refused.reason(), Some(api::Reason::TooManyRequests));

    // web-a goes; a replacement becomes ready and the budget allows one more.
    pods(&client).delete("web-a", &force()).await.unwrap();
    status_becomes(&client, "web", (2, 2, 2, 0)).await;
    create_pod(&client, "web-d", "web", None).await;
    set_ready(&client, "web-d", true).await;
    status_becomes(&client, "web", (3, 2, 3, 1)).await;
    pods(&client).evict("web-b", &DeleteParams::default()).await.expect("the recomputed budget allows one");
    running.stop().await;
}

#[tokio::test]
async fn evicted_pods_are_not_healthy_until_deleted_or_two_minutes_pass() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client, &[DISRUPTION]);
    for p in ["db-a", "db-b", "db-c"] {
        create_pod(&client, p, "db", None).await;
        set_ready(&client, p, true).await;
    }
    create_pdb(&client, "db", "db", json!({"minAvailable": 1})).await;
    status_becomes(&client, "db", (3, 1, 3, 2)).await;

    // An eviction recorded but whose delete has not happened yet (as the
    // eviction subresource leaves it between its two writes): not healthy.
    let record = async |at: Time| {
        let mut pdb = pdbs(&client).get("db").await.unwrap();
        pdb.status.as_mut().unwrap().disrupted_pods = Some([("db-a".to_string(), at)].into());
        pdbs(&client).replace_status(&pdb).await.unwrap();
    };
    record(Time(controller_manager::controller_utils::now())).await;
    let (_, s) = status_becomes(&client, "db", (2, 1, 3, 1)).await;
    assert!(s.disrupted_pods.as_ref().is_some_and(|d| d.contains_key("db-a")), "a recent entry for a live pod stays: {s:?}");

    // An entry over 2 minutes old is dropped: the pod counts again and an Event says so.
    let old = controller_manager::controller_utils::now() - std::time::Duration::from_secs(180);
    record(Time(old)).await;
    let (_, s) = status_becomes(&client, "db", (3, 1, 3, 2)).await;
    assert!(s.disrupted_pods.as_ref().is_none_or(|d| d.is_empty()), "{s:?}");
    let ev = wait_for("a NotDeleted event", Duration::from_secs(10), async || events(&client, "db-a", "NotDeleted").await.into_iter().next()).await;
    assert_eq!(ev.message.as_deref(), Some("Pod was expected by PDB default/db to be deleted but it wasn't"));
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    running.stop().await;
}

fn replicaset(name: &str, app: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap()
}

/// Names of the pods with `app` that are not being deleted.
async fn live_pods(client: &Client, app: &str) -> Vec<String> {
    let lp = ListParams { label_selector: Some(format!("app={app}")), ..Default::default() };
    let items = pods(client).list(&lp).await.unwrap().items;
    items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).map(|p| p.metadata.name.unwrap()).collect()
}

async fn ready_all(client: &Client, app: &str, n: usize) {
    let names = wait_for(&format!("{n} pods of {app}"), Duration::from_secs(20), async || Some(live_pods(client, app).await).filter(|p| p.len() == n)).await;
    for p in names {
        set_ready(client, &p, true).await;
    }
}

#[tokio::test]
async fn max_unavailable_and_percentages_use_the_controllers_scale() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client, &[REPLICASET, DEPLOYMENT, DISRUPTION]);

    // maxUnavailable 1 over a ReplicaSet of 3: desiredHealthy 2.
    Api::<ReplicaSet>::namespaced(client.clone(), NS).create(&PostParams::default(), &replicaset("api", "api", 3)).await.unwrap();
    ready_all(&client, "api", 3).await;
    create_pdb(&client, "api", "api", json!({"maxUnavailable": 1})).await;
    let (_, s) = status_becomes(&client, "api", (3, 2, 3, 1)).await;
    assert_eq!(condition(&s).1, "SufficientPods");
    // Scaled to 4, the new pod not ready yet: expected 4, desired 3, nothing to spare.
    let patch = Patch::Merge(json!({"spec": {"replicas": 4}}));
    Api::<ReplicaSet>::namespaced(client.clone(), NS).patch("api", &PostParams::default(), &patch).await.unwrap();
    status_becomes(&client, "api", (3, 3, 4, 0)).await;
    ready_all(&client, "api", 4).await;
    status_becomes(&client, "api", (4, 3, 4, 1)).await;

    // A percentage over a Deployment's pods (found through their ReplicaSet): 50% of 4 = 2.
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "front", "namespace": NS},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "front"}},
            "template": {"metadata": {"labels": {"app": "front"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), NS).create(&PostParams::default(), &deploy).await.unwrap();
    ready_all(&client, "front", 4).await;
    create_pdb(&client, "front", "front", json!({"minAvailable": "50%"})).await;
    status_becomes(&client, "front", (4, 2, 4, 2)).await;
    // maxUnavailable "25%" of 4 rounds up to 1: desired 3. The spec change is a new generation.
    let patch = Patch::Json(json!([{"op": "remove", "path": "/spec/minAvailable"}, {"op": "add", "path": "/spec/maxUnavailable", "value": "25%"}]));
    pdbs(&client).patch("front", &PostParams::default(), &patch).await.unwrap();
    let (pdb, _) = status_becomes(&client, "front", (4, 3, 4, 1)).await;
    assert_eq!(pdb.metadata.generation, Some(2));
    running.stop().await;
}

#[tokio::test]
async fn pods_without_a_scalable_controller_fail_safe() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client, &[DISRUPTION]);

    // Controlled by a ReplicaSet that does not exist: no scale, SyncFailed as upstream.
    for p in ["lost-a", "lost-b"] {
        create_pod(&client, p, "lost", Some(("apps/v1", "ReplicaSet", "gone", "0a0a0a0a-0000-0000-0000-000000000000"))).await;
        set_ready(&client, p, true).await;
    }
    create_pdb(&client, "lost", "lost", json!({"maxUnavailable": 1})).await;
    let s = wait_for("SyncFailed", Duration::from_secs(20), async || {
        pdbs(&client).get("lost").await.unwrap().status.filter(|s| s.conditions.iter().flatten().any(|c| c.reason == "SyncFailed"))
    })
    .await;
    let (status, _, message) = condition(&s);
    assert_eq!(status, "False");
    assert!(message.starts_with("found no controllers for pod \"lost-"), "{message}");
    assert_eq!(s.disruptions_allowed.unwrap_or(0), 0);
    let ev = wait_for("CalculateExpectedPodCountFailed", Duration::from_secs(10), async || events(&client, "lost", "CalculateExpectedPodCountFailed").await.into_iter().next()).await;
    assert_eq!(ev.message.as_deref(), Some(format!("Failed to calculate the number of expected pods: {message}").as_str()));
    // Evictions stop: the budget never observed its generation.
    let refused = pods(&client).evict("lost-a", &DeleteParams::default()).await.expect_err("a failed budget allows nothing");
    assert_eq!(refused.reason(), Some(api::Reason::TooManyRequests), "{refused}");

    // The same pods under an integer minAvailable need no scale: the budget recovers.
    let patch = Patch::Json(json!([{"op": "remove", "path": "/spec/maxUnavailable"}, {"op": "add", "path": "/spec/minAvailable", "value": 1}]));
    pdbs(&client).patch("lost", &PostParams::default(), &patch).await.unwrap();
    let (_, s) = status_becomes(&client, "lost", (2, 1, 2, 1)).await;
    assert_eq!(condition(&s), ("True".into(), "SufficientPods".into(), String::new()));

    // Pods with no controller at all under a percentage are unmanaged: expected 0, nothing allowed, an Event.
    for p in ["bare-a", "bare-b"] {
        create_pod(&client, p, "bare", None).await;
        set_ready(&client, p, true).await;
    }
    create_pdb(&client, "bare", "bare", json!({"minAvailable": "50%"})).await;
    let (_, s) = status_becomes(&client, "bare", (2, 0, 0, 0)).await;
    assert_eq!(condition(&s).1, "InsufficientPods");
    let ev = wait_for("UnmanagedPods", Duration::from_secs(10), async || events(&client, "bare", "UnmanagedPods").await.into_iter().next()).await;
    assert!(ev.message.as_deref().unwrap().starts_with("Pods selected by this PodDisruptionBudget (selector: app=bare) were found to be unmanaged."), "{:?}", ev.message);
    running.stop().await;
}

#[tokio::test]
async fn a_stale_disruption_target_on_a_live_pod_is_reset() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client, &[DISRUPTION]);
    create_pod(&client, "kept", "kept", None).await;
    set_ready(&client, "kept", true).await;
    // Marked for eviction 3 minutes ago, yet neither deleted nor terminating.
    let mut p = pods(&client).get("kept").await.unwrap();
    let long_ago = Time(controller_manager::controller_utils::now() - std::time::Duration::from_secs(180));
    p.status.as_mut().unwrap().conditions.as_mut().unwrap().push(PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("EvictionByEvictionAPI".into()),
        message: Some("Eviction API: evicting".into()),
        last_transition_time: Some(long_ago.clone()),
        ..Default::default()
    });
    pods(&client).replace_status(&p).await.unwrap();
    let c = wait_for("DisruptionTarget reset to False", Duration::from_secs(20), async || {
        let p = pods(&client).get("kept").await.unwrap();
        p.status?.conditions?.into_iter().find(|c| c.type_ == "DisruptionTarget" && c.status == "False")
    })
    .await;
    assert!(c.last_transition_time.is_some_and(|t| t.0 > long_ago.0), "the transition is now");
    let p = pods(&client).get("kept").await.unwrap();
    assert!(p.status.unwrap().conditions.unwrap().iter().any(|c| c.type_ == "Ready" && c.status == "True"), "the other conditions are kept");
    running.stop().await;
}
