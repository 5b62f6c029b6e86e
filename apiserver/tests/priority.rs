//! The Priority admission (upstream plugin/pkg/admission/priority) and the
//! built-in PriorityClasses, on a real etcd.

mod common;

use client::{Api, DeleteParams, ListParams, PostParams};
use common::*;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{json, Value};

fn class(name: &str, value: i32, extra: Value) -> PriorityClass {
    let mut v = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    serde_json::from_value(v).unwrap()
}

fn pod_with(name: &str, spec: Value) -> Pod {
    let mut p = serde_json::to_value(pod(name)).unwrap();
    for (k, v) in spec.as_object().unwrap() {
        p["spec"][k] = v.clone();
    }
    serde_json::from_value(p).unwrap()
}

/// (reason, message) of a refused call.
fn refused<T: std::fmt::Debug>(r: client::Result<T>) -> (String, String) {
    match r {
        Err(client::Error::Api(e)) => (e.0.reason, e.0.message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn system_classes_exist_and_cannot_be_deleted() {
    let c = cluster().await;
    let pcs = Api::<PriorityClass>::all(c.client.clone());
    let node = pcs.get("system-node-critical").await.unwrap();
    assert_eq!(node.value, Some(2_000_001_000));
    assert_eq!(node.preemption_policy.as_deref(), Some("PreemptLowerPriority"));
    assert_eq!(node.description.as_deref(), Some("Used for system critical pods that must not be moved from their current node."));
    assert_eq!(pcs.get("system-cluster-critical").await.unwrap().value, Some(2_000_000_000));

    let (reason, msg) = refused(pcs.delete("system-cluster-critical", &DeleteParams::default()).await);
    assert_eq!(reason, "Forbidden");
    assert_eq!(msg, r#"priorityclasses.scheduling.k8s.io "system-cluster-critical" is forbidden: this is a system priority class and cannot be deleted"#);
    assert!(pcs.get_opt("system-cluster-critical").await.unwrap().is_some());
}

#[tokio::test]
async fn pod_priority_comes_from_its_class() {
    let c = cluster().await;
    let pcs = Api::<PriorityClass>::all(c.client.clone());
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let pp = PostParams::default();
    pcs.create(&pp, &class("polite", 1000, json!({"preemptionPolicy": "Never"}))).await.unwrap();

    let p = pods.create(&pp, &pod_with("a", json!({"priorityClassName": "polite"}))).await.unwrap();
    let spec = p.spec.unwrap();
    assert_eq!((spec.priority, spec.preemption_policy.as_deref()), (Some(1000), Some("Never")));

    let spec = pods.create(&pp, &pod("none")).await.unwrap().spec.unwrap();
    assert_eq!((spec.priority, spec.preemption_policy.as_deref(), spec.priority_class_name), (Some(0), Some("PreemptLowerPriority"), None));

    let spec = pods.create(&pp, &pod_with("crit", json!({"priorityClassName": "system-node-critical"}))).await.unwrap().spec.unwrap();
    assert_eq!(spec.priority, Some(2_000_001_000));

    // A pod may state the priority its class gives, not another one.
    pods.create(&pp, &pod_with("same", json!({"priorityClassName": "polite", "priority": 1000, "preemptionPolicy": "Never"}))).await.unwrap();
    let (reason, msg) = refused(pods.create(&pp, &pod_with("x", json!({"priorityClassName": "polite", "priority": 5}))).await);
    assert_eq!(reason, "Forbidden");
    assert_eq!(msg, r#"pods "x" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"#);
    let (_, msg) = refused(pods.create(&pp, &pod_with("x", json!({"priority": 7}))).await);
    assert_eq!(msg, r#"pods "x" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"#);
    let (_, msg) = refused(pods.create(&pp, &pod_with("x", json!({"priorityClassName": "polite", "preemptionPolicy": "PreemptLowerPriority"}))).await);
    assert_eq!(msg, r#"pods "x" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"#);

    let (reason, msg) = refused(pods.create(&pp, &pod_with("x", json!({"priorityClassName": "foo"}))).await);
    assert_eq!(reason, "Forbidden");
    assert_eq!(msg, r#"pods "x" is forbidden: no PriorityClass with name foo was found"#);
    assert!(pods.get_opt("x").await.unwrap().is_none());

    // An update that leaves priority out keeps it (it is immutable).
    let mut a = pods.get("a").await.unwrap();
    let spec = a.spec.as_mut().unwrap();
    spec.priority = None;
    spec.preemption_policy = None;
    spec.containers[0].image = Some("busybox:1.36".into());
    let spec = pods.replace(&a).await.unwrap().spec.unwrap();
    assert_eq!((spec.priority, spec.preemption_policy.as_deref(), spec.containers[0].image.as_deref()), (Some(1000), Some("Never"), Some("busybox:1.36")));
}

#[tokio::test]
async fn one_global_default_class_gives_pods_without_a_class_its_value() {
    let c = cluster().await;
    let pcs = Api::<PriorityClass>::all(c.client.clone());
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let pp = PostParams::default();
    pcs.create(&pp, &class("base", 7, json!({"globalDefault": true, "preemptionPolicy": "Never"}))).await.unwrap();

    let (reason, msg) = refused(pcs.create(&pp, &class("other", 9, json!({"globalDefault": true}))).await);
    assert_eq!(reason, "Forbidden");
    assert_eq!(msg, r#"priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass base is already marked as default. Only one default can exist"#);
    // Nor may another class become the default by update; the default itself may be updated.
    let mut other = pcs.create(&pp, &class("other", 9, json!({}))).await.unwrap();
    other.global_default = Some(true);
    let (_, msg) = refused(pcs.replace(&other).await);
    assert_eq!(msg, r#"priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass base is already marked as default. Only one default can exist"#);
    let mut base = pcs.get("base").await.unwrap();
    base.description = Some("the default".into());
    pcs.replace(&base).await.unwrap();

    // The admission reads classes from the watch cache, as upstream's from an
    // informer: a consistent list makes sure the cache has caught up.
    pcs.list(&ListParams::default()).await.unwrap();
    let spec = pods.create(&pp, &pod("plain")).await.unwrap().spec.unwrap();
    assert_eq!((spec.priority, spec.priority_class_name.as_deref(), spec.preemption_policy.as_deref()), (Some(7), Some("base"), Some("Never")));
    // A named class still wins over the default.
    let spec = pods.create(&pp, &pod_with("named", json!({"priorityClassName": "other"}))).await.unwrap().spec.unwrap();
    assert_eq!((spec.priority, spec.preemption_policy.as_deref()), (Some(9), Some("PreemptLowerPriority")));

    // Without a default, pods get 0 again.
    pcs.delete("base", &DeleteParams::default()).await.unwrap();
    pcs.list(&ListParams::default()).await.unwrap();
    let spec = pods.create(&pp, &pod("after")).await.unwrap().spec.unwrap();
    assert_eq!((spec.priority, spec.priority_class_name), (Some(0), None));
}
