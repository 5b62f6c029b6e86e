//! The namespace controller (with the garbage collector) against a real
//! etcd and apiserver: deleting a namespace deletes its content, reports
//! upstream's conditions while content remains, and finally leaves nothing
//! under it in etcd.

mod common;
use common::*;

use std::time::Duration;

use client::{Api, Client, DeleteParams, Patch, PostParams};
use controller_manager::controllers::{self, garbagecollector::GARBAGE_COLLECTOR, namespace::NAMESPACE};
use controller_manager::metrics::ControllerMetrics;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service};
use testing::TestCluster;

const NS: &str = "team";


macro_rules! obj {
    ($($v:tt)+) => { serde_json::from_value(serde_json::json!($($v)+)).unwrap() };
}

/// etcd keys of objects in namespace `ns`, and the namespace's own key.
async fn keys_under(cluster: &TestCluster, ns: &str) -> Vec<String> {
    let page = cluster.store().storage().list("/registry/", None, 0, 0).await.unwrap();
    page.items
        .into_iter()
        .map(|s| s.key)
        .filter(|k| k == &format!("/registry/namespaces/{ns}") || k.split('/').nth(3) == Some(ns))
        .collect()
}

#[tokio::test]
async fn deleting_a_namespace_deletes_everything_in_it_then_the_namespace() {
    let cluster = TestCluster::start().await.unwrap();
    let client: Client = cluster.client.clone();
    let shutdown = client::CancellationToken::new();
    let metrics = ControllerMetrics::new(&daemon::metrics::Registry::new());
    let task = tokio::spawn(controllers::run(client.clone(), vec![(NAMESPACE, 2), (GARBAGE_COLLECTOR, 5)], metrics, shutdown.clone()));
    let pp = PostParams::default();
    let namespaces = Api::<Namespace>::all(client.clone());
    namespaces.create(&pp, &obj!({"metadata": {"name": NS}})).await.unwrap();

    let pods = Api::<Pod>::namespaced(client.clone(), NS);
    pods.create(&pp, &obj!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).await.unwrap();
    // This one holds the namespace until its finalizer goes.
    pods.create(&pp, &obj!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).await.unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), NS).create(&pp, &obj!({"metadata": {"name": "cm"}, "data": {"a": "b"}})).await.unwrap();
    Api::<Secret>::namespaced(client.clone(), NS).create(&pp, &obj!({"metadata": {"name": "s"}, "stringData": {"a": "b"}})).await.unwrap();
    Api::<Service>::namespaced(client.clone(), NS).create(&pp, &obj!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}})).await.unwrap();
    Api::<Deployment>::namespaced(client.clone(), NS)
        .create(&pp, &obj!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}))
        .await
        .unwrap();
    assert!(keys_under(&cluster, NS).await.len() >= 7);

    let (ns, gone) = namespaces.delete(NS, &DeleteParams::default()).await.unwrap();
    assert!(!gone);
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    // New content is refused while it terminates.
    let e = Api::<ConfigMap>::namespaced(client.clone(), NS).create(&pp, &obj!({"metadata": {"name": "late"}})).await.unwrap_err();
    assert_eq!(e.reason(), Some(api::Reason::Forbidden));

    // Everything but the held pod goes; the conditions say what remains and why.
    let conds = wait_for("conditions naming the held pod", Duration::from_secs(20), async || {
        let ns = namespaces.get(NS).await.unwrap();
        let conds = ns.status.and_then(|s| s.conditions).unwrap_or_default();
        let remaining = conds.iter().find(|c| c.type_ == "NamespaceContentRemaining")?;
        (remaining.status == "True").then_some(conds)
    })
    .await;
    let by_type = |t: &str| conds.iter().find(|c| c.type_ == t).unwrap().clone();
    let remaining = by_type("NamespaceContentRemaining");
    assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
    assert_eq!(remaining.message.as_deref(), Some("Some resources are remaining: pods has 1 resource instances"));
    let fins = by_type("NamespaceFinalizersRemaining");
    assert_eq!((fins.status.as_str(), fins.reason.as_deref()), ("True", Some("SomeFinalizersRemain")));
    assert_eq!(fins.message.as_deref(), Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"));
    let discovered = by_type("NamespaceDeletionDiscoveryFailure");
    assert_eq!((discovered.status.as_str(), discovered.reason.as_deref()), ("False", Some("ResourcesDiscovered")));
    let content = by_type("NamespaceDeletionContentFailure");
    assert_eq!((content.status.as_str(), content.reason.as_deref()), ("False", Some("ContentDeleted")));
    let ns = namespaces.get(NS).await.unwrap();
    assert_eq!(ns.spec.unwrap().finalizers.unwrap(), ["kubernetes"], "not finalized while content remains");
    assert_eq!(keys_under(&cluster, NS).await, ["/registry/namespaces/team".to_string(), "/registry/pods/team/held".to_string()]);

    pods.patch("held", &pp, &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}}))).await.unwrap();
    wait_for("the namespace removed", Duration::from_secs(30), async || namespaces.get_opt(NS).await.unwrap().is_none().then_some(())).await;
    assert_eq!(keys_under(&cluster, NS).await, Vec::<String>::new(), "nothing left in etcd under the namespace");

    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn finalize_changes_only_spec_finalizers() {
    let cluster = TestCluster::start().await.unwrap();
    let namespaces = Api::<Namespace>::all(cluster.client.clone());
    namespaces.create(&PostParams::default(), &obj!({"metadata": {"name": "f"}})).await.unwrap();
    let mut ns = namespaces.get("f").await.unwrap();
    ns.spec.as_mut().unwrap().finalizers = Some(vec!["kubernetes".into(), "example.com/mine".into()]);
    ns.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let out = namespaces.finalize(&ns).await.unwrap();
    assert_eq!(out.spec.unwrap().finalizers.unwrap(), ["kubernetes", "example.com/mine"]);
    assert!(!out.metadata.labels.unwrap_or_default().contains_key("x"));
    // A plain update cannot change them.
    let mut ns = namespaces.get("f").await.unwrap();
    ns.spec.as_mut().unwrap().finalizers = Some(vec![]);
    let out = namespaces.replace(&ns).await.unwrap();
    assert_eq!(out.spec.unwrap().finalizers.unwrap().len(), 2);
    // Status writes while it terminates do not remove it; finalizing the last one does.
    namespaces.delete("f", &DeleteParams::default()).await.unwrap();
    namespaces.patch_status("f", &PostParams::default(), &Patch::Merge(serde_json::json!({"status": {"conditions": [{"type": "X", "status": "True"}]}}))).await.unwrap();
    assert!(namespaces.get_opt("f").await.unwrap().is_some());
    let mut ns = namespaces.get("f").await.unwrap();
    ns.spec.as_mut().unwrap().finalizers = Some(vec![]);
    namespaces.finalize(&ns).await.unwrap();
    assert!(namespaces.get_opt("f").await.unwrap().is_none());
}
