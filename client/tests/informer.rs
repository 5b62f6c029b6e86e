//! Informers against a real etcd + apiserver (testing).

use std::time::Duration;

mod common;

use testing::{Etcd, TestCluster};
use common::{retry, KillableApiserver};
use client::informer::{Informer, InformerConfig, InformerEvent};
use client::{Api, DeleteParams, Patch, PostParams};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

/// Guards against a hang; not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn cm(name: &str, labels: serde_json::Value, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": {"v": value}})).unwrap()
}

/// (event, name, data.v) — what a handler would act on.
type Seen = (&'static str, String, String);

fn describe(ev: &InformerEvent<ConfigMap>) -> Seen {
    let name = ev.object().metadata.name.clone().unwrap_or_default();
    let v = ev.object().data.as_ref().and_then(|d| d.get("v")).cloned().unwrap_or_default();
    let kind = match ev {
        InformerEvent::Added(_) => "Added",
        InformerEvent::Updated { .. } => "Updated",
        InformerEvent::Deleted(_) => "Deleted",
    };
    (kind, name, v)
}

async fn next<K>(rx: &mut UnboundedReceiver<InformerEvent<K>>) -> InformerEvent<K> {
    tokio::time::timeout(PATIENCE, rx.recv()).await.expect("an informer event").expect("informer still running")
}

async fn next_n(rx: &mut UnboundedReceiver<InformerEvent<ConfigMap>>, n: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(describe(&next(rx).await));
    }
    out
}

fn seen(kind: &'static str, name: &str, v: &str) -> Seen {
    (kind, name.to_string(), v.to_string())
}

fn start(informer: &Informer<ConfigMap>) -> tokio::task::JoinHandle<()> {
    let i = informer.clone();
    tokio::spawn(async move { i.run().await })
}

#[tokio::test]
async fn informer_sees_creates_updates_and_deletes_matching_its_selector() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let api = Api::<ConfigMap>::namespaced(cluster.client.clone(), "default");
    api.create(&PostParams::default(), &cm("pre", json!({"app": "test", "color": "red"}), "0")).await?;

    let informer = Informer::new(api.clone(), InformerConfig::default().labels("app=test"))
        .with_index("color", |c: &ConfigMap| c.metadata.labels.as_ref().and_then(|l| l.get("color")).cloned().into_iter().collect());
    let store = informer.store();
    let mut events = informer.subscribe();
    let task = start(&informer);
    store.wait_synced().await;
    assert!(informer.has_synced());
    assert_eq!(next_n(&mut events, 1).await, [seen("Added", "pre", "0")]);

    // Created first: if the selector leaked it, it would arrive before "a".
    api.create(&PostParams::default(), &cm("other", json!({"app": "else"}), "x")).await?;
    api.create(&PostParams::default(), &cm("a", json!({"app": "test", "color": "blue"}), "1")).await?;
    let patch = Patch::Merge(json!({"data": {"v": "2"}, "metadata": {"labels": {"color": "red"}}}));
    api.patch("a", &PostParams::default(), &patch).await?;
    api.delete("a", &DeleteParams::default()).await?;

    let mut got = Vec::new();
    for _ in 0..3 {
        let ev = next(&mut events).await;
        if let InformerEvent::Updated { old, new } = &ev {
            assert_eq!(old.data.as_ref().unwrap()["v"], "1", "Updated carries the previous state");
            assert_eq!(new.data.as_ref().unwrap()["v"], "2");
        }
        got.push(describe(&ev));
    }
    assert_eq!(got, [seen("Added", "a", "1"), seen("Updated", "a", "2"), seen("Deleted", "a", "2")]);
    assert!(store.get("default", "a").is_none());
    assert!(store.get("default", "other").is_none(), "outside the label selector");
    assert_eq!(store.get("default", "pre").unwrap().data.as_ref().unwrap()["v"], "0");
    assert_eq!(store.by_index("color", "red").len(), 1);
    assert!(store.by_index("color", "blue").is_empty());
    task.abort();
    Ok(())
}

#[tokio::test]
async fn informer_lists_in_pages() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let api = Api::<ConfigMap>::namespaced(cluster.client.clone(), "default");
    for i in 0..7 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), json!({"page": "yes"}), "v")).await?;
    }
    let informer = Informer::new(api.clone(), InformerConfig::default().labels("page=yes").page_size(2));
    let store = informer.store();
    let task = start(&informer);
    store.wait_synced().await;
    let mut keys = store.keys();
    keys.sort();
    assert_eq!(keys, (0..7).map(|i| format!("default/c{i}")).collect::<Vec<_>>());
    task.abort();
    Ok(())
}

/// The kubelet's view: pods with `spec.nodeName=<node>`; a pod bound to the
/// node later enters the selection as Added.
#[tokio::test]
async fn informer_field_selector_follows_pods_onto_a_node() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let pods = Api::<Pod>::namespaced(cluster.client.clone(), "default");
    let pod = |name: &str, node: Option<&str>| -> Pod {
        let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
        if let Some(n) = node {
            spec["nodeName"] = json!(n);
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    };
    pods.create(&PostParams::default(), &pod("on-n1", Some("n1"))).await?;
    pods.create(&PostParams::default(), &pod("on-n2", Some("n2"))).await?;
    pods.create(&PostParams::default(), &pod("pending", None)).await?;

    let informer = Informer::new(Api::<Pod>::all(cluster.client.clone()), InformerConfig::default().fields("spec.nodeName=n1"));
    let store = informer.store();
    let mut events = informer.subscribe();
    let i = informer.clone();
    let task = tokio::spawn(async move { i.run().await });
    store.wait_synced().await;
    let first = next(&mut events).await;
    assert!(matches!(&first, InformerEvent::Added(p) if p.metadata.name.as_deref() == Some("on-n1")));
    assert_eq!(store.len(), 1);

    pods.bind("pending", "n1").await?;
    match next(&mut events).await {
        InformerEvent::Added(p) => {
            assert_eq!(p.metadata.name.as_deref(), Some("pending"));
            assert_eq!(p.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
        }
        other => panic!("expected Added for the bound pod, got {other:?}"),
    }
    assert!(store.get("default", "on-n2").is_none());
    task.abort();
    Ok(())
}

#[tokio::test]
async fn informer_resumes_after_an_apiserver_restart_without_losing_events() -> anyhow::Result<()> {
    let etcd = Etcd::start().await?;
    let mut server = KillableApiserver::start(&etcd).await?;
    let api = Api::<ConfigMap>::namespaced(server.client().await?, "default");
    api.create(&PostParams::default(), &cm("a", json!({}), "1")).await?;
    let informer = Informer::new(api.clone(), InformerConfig::default());
    let mut events = informer.subscribe();
    let task = start(&informer);
    informer.wait_synced().await;
    assert_eq!(next_n(&mut events, 1).await, [seen("Added", "a", "1")]);

    // While the informer's apiserver is down, another one changes things.
    server.kill();
    let side = KillableApiserver::start(&etcd).await?;
    let side_api = Api::<ConfigMap>::namespaced(side.client().await?, "default");
    side_api.create(&PostParams::default(), &cm("b", json!({}), "1")).await?;
    side_api.patch("a", &PostParams::default(), &Patch::Merge(json!({"data": {"v": "2"}}))).await?;
    drop(side);
    server.restart().await?;
    let c = cm("c", json!({}), "1");
    let pp = PostParams::default();
    retry(|| api.create(&pp, &c)).await?;

    // Watch order (b, then a, then c): a relist would have produced key order (a, b).
    assert_eq!(next_n(&mut events, 3).await, [seen("Added", "b", "1"), seen("Updated", "a", "2"), seen("Added", "c", "1")]);
    assert_eq!(informer.store().len(), 3);
    task.abort();
    Ok(())
}

#[tokio::test]
async fn informer_relists_after_expired_and_emits_the_difference() -> anyhow::Result<()> {
    let etcd = Etcd::start().await?;
    let mut server = KillableApiserver::start(&etcd).await?;
    let api = Api::<ConfigMap>::namespaced(server.client().await?, "default");
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &cm(name, json!({}), "1")).await?;
    }
    let informer = Informer::new(api.clone(), InformerConfig::default());
    let mut events = informer.subscribe();
    let task = start(&informer);
    informer.wait_synced().await;
    next_n(&mut events, 3).await;
    let a_rv = informer.store().get("default", "a").unwrap().metadata.resource_version.clone();

    // While the informer's apiserver is down: delete a, change b, create d,
    // then compact etcd so the informer's resourceVersion cannot be watched from.
    server.kill();
    let side = KillableApiserver::start(&etcd).await?;
    let side_api = Api::<ConfigMap>::namespaced(side.client().await?, "default");
    side_api.delete("a", &DeleteParams::default()).await?;
    side_api.patch("b", &PostParams::default(), &Patch::Merge(json!({"data": {"v": "2"}}))).await?;
    side_api.create(&PostParams::default(), &cm("d", json!({}), "1")).await?;
    drop(side);
    let storage = apiserver::storage::Storage::connect(std::slice::from_ref(&etcd.endpoint)).await?;
    storage.compact(storage.current_revision().await?).await?;
    server.restart().await?;

    let mut got = Vec::new();
    for _ in 0..3 {
        let ev = next(&mut events).await;
        if let InformerEvent::Deleted(o) = &ev {
            // A relist knows only the last state it had, not the deletion.
            assert_eq!(o.metadata.resource_version, a_rv, "Deleted comes from the relist diff");
        }
        got.push(describe(&ev));
    }
    got.sort();
    assert_eq!(got, [seen("Added", "d", "1"), seen("Deleted", "a", "1"), seen("Updated", "b", "2")]);
    let mut keys = informer.store().keys();
    keys.sort();
    assert_eq!(keys, ["default/b", "default/c", "default/d"]);

    // And it keeps watching after the relist.
    let e = cm("e", json!({}), "1");
    let pp = PostParams::default();
    retry(|| api.create(&pp, &e)).await?;
    assert_eq!(next_n(&mut events, 1).await, [seen("Added", "e", "1")]);
    task.abort();
    Ok(())
}

#[tokio::test]
async fn subscriptions_end_when_the_informer_stops() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let api = Api::<ConfigMap>::namespaced(cluster.client.clone(), "default");
    let informer = Informer::new(api, InformerConfig::default());
    let mut events = informer.subscribe();
    let task = start(&informer);
    informer.wait_synced().await;
    task.abort();
    let _ = task.await;
    assert!(tokio::time::timeout(PATIENCE, events.recv()).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn periodic_resync_redelivers_cached_objects_as_updates() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let api = Api::<ConfigMap>::namespaced(cluster.client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", json!({}), "1")).await?;
    let informer = Informer::new(api, InformerConfig::default().resync(Duration::from_millis(200)));
    let mut events = informer.subscribe();
    let task = informer.spawn();
    assert_eq!(next_n(&mut events, 1).await, [seen("Added", "a", "1")]);
    for _ in 0..2 {
        match next(&mut events).await {
            InformerEvent::Updated { old, new } => assert!(std::sync::Arc::ptr_eq(&old, &new), "a resync is an update to itself"),
            other => panic!("expected a resync Updated, got {other:?}"),
        }
    }
    task.abort();
    Ok(())
}

#[tokio::test]
async fn dynamic_informer_follows_a_kind_known_at_run_time() -> anyhow::Result<()> {
    use client::dynamic::DynamicObject;
    let cluster = TestCluster::start().await?;
    let resource = client::ApiResourceRef::of::<ConfigMap>();
    let api = Api::<DynamicObject>::for_resource(cluster.client.clone(), resource, Some("default"));
    let informer = Informer::new(api, InformerConfig::default().labels("dyn=yes"));
    let mut events = informer.subscribe();
    let task = informer.spawn();
    informer.wait_synced().await;
    let typed = Api::<ConfigMap>::namespaced(cluster.client.clone(), "default");
    typed.create(&PostParams::default(), &cm("d", json!({"dyn": "yes"}), "7")).await?;
    match next(&mut events).await {
        InformerEvent::Added(o) => {
            assert_eq!(o.metadata.name.as_deref(), Some("d"));
            assert_eq!(o.rest["data"]["v"], "7");
        }
        other => panic!("expected Added, got {other:?}"),
    }
    assert!(informer.store().get("default", "d").is_some());
    task.abort();
    Ok(())
}
