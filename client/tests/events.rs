//! The event recorder against a real apiserver.

use testing::TestCluster;
use client::events::{EventRecorder, EventType};
use client::{Api, ListParams, PostParams};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node};
use serde_json::json;

async fn events_about(client: &client::Client, ns: &str, name: &str) -> Vec<Event> {
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    let mut items = Api::<Event>::namespaced(client.clone(), ns).list(&lp).await.unwrap().items;
    items.sort_by_key(|e| e.message.clone());
    // "(combined ..." sorts before "all good" and "attempt ...".
    items
}

#[tokio::test]
async fn recorder_creates_events_and_aggregates_repeats() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client.clone(), "default");
    let cm: ConfigMap = cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "web"}}))?).await?;
    let recorder = EventRecorder::new(cluster.client.clone(), "test-controller", Some("host-1"));

    recorder.publish(&cm, EventType::Normal, "Synced", "all good");
    recorder.flush().await;
    let evs = events_about(&cluster.client, "default", "web").await;
    assert_eq!(evs.len(), 1);
    let ev = &evs[0];
    let name = ev.metadata.name.clone().unwrap();
    let suffix = name.strip_prefix("web.").expect("named <object>.<suffix>");
    assert!(!suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_hexdigit()), "hex suffix: {name}");
    assert_eq!(ev.reason.as_deref(), Some("Synced"));
    assert_eq!(ev.message.as_deref(), Some("all good"));
    assert_eq!(ev.type_.as_deref(), Some("Normal"));
    assert_eq!(ev.count, Some(1));
    assert_eq!(ev.first_timestamp, ev.last_timestamp);
    let source = ev.source.clone().unwrap();
    assert_eq!((source.component.as_deref(), source.host.as_deref()), (Some("test-controller"), Some("host-1")));
    let o = &ev.involved_object;
    assert_eq!(o.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(o.api_version.as_deref(), Some("v1"));
    assert_eq!(o.namespace.as_deref(), Some("default"));
    assert_eq!(o.uid, cm.metadata.uid);
    assert_eq!(o.resource_version, cm.metadata.resource_version);

    // Two repeats bump the same Event; a different message is a new one.
    recorder.publish(&cm, EventType::Normal, "Synced", "all good");
    recorder.publish(&cm, EventType::Normal, "Synced", "all good");
    recorder.publish(&cm, EventType::Warning, "Synced", "not so good");
    recorder.flush().await;
    let evs = events_about(&cluster.client, "default", "web").await;
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].metadata.name.as_deref(), Some(name.as_str()));
    assert_eq!(evs[0].count, Some(3));
    assert!(evs[0].last_timestamp.as_ref().unwrap().0 >= evs[0].first_timestamp.as_ref().unwrap().0);
    assert_eq!((evs[1].count, evs[1].type_.as_deref()), (Some(1), Some("Warning")));
    Ok(())
}

#[tokio::test]
async fn events_about_cluster_scoped_objects_live_in_default() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let nodes = Api::<Node>::all(cluster.client.clone());
    let node: Node = nodes.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "n1"}}))?).await?;
    let recorder = EventRecorder::new(cluster.client.clone(), "kubelet", Some("n1"));
    recorder.publish(&node, EventType::Normal, "NodeReady", "Node n1 status is now: NodeReady");
    recorder.flush().await;
    let evs = events_about(&cluster.client, "default", "n1").await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].involved_object.kind.as_deref(), Some("Node"));
    assert_eq!(evs[0].involved_object.namespace, None);
    Ok(())
}

#[tokio::test]
async fn similar_events_fold_into_one_combined_event() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client.clone(), "default");
    let cm: ConfigMap = cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "flaky"}}))?).await?;
    let recorder = EventRecorder::new(cluster.client.clone(), "test-controller", None);
    for i in 0..12 {
        recorder.publish(&cm, EventType::Warning, "SyncFailed", format!("attempt {i:02} failed"));
    }
    recorder.flush().await;
    let evs = events_about(&cluster.client, "default", "flaky").await;
    assert_eq!(evs.len(), 10, "9 distinct events, then one combined");
    let combined = &evs[0];
    assert_eq!(combined.message.as_deref(), Some("(combined from similar events): attempt 11 failed"));
    assert_eq!(combined.count, Some(3));
    assert!(evs[1..].iter().all(|e| e.count == Some(1) && !e.message.as_deref().unwrap().starts_with("(combined")));
    Ok(())
}
