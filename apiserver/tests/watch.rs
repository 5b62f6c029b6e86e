//! Watches: from the cache, resumed after an apiserver restart, and Expired
//! after compaction.

mod common;

use std::time::Duration;

use client::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use common::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;

async fn next<S: futures::Stream<Item = client::Result<WatchEvent<ConfigMap>>> + Unpin>(s: &mut S) -> WatchEvent<ConfigMap> {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("event within 10s").expect("stream open").unwrap();
        if !matches!(ev, WatchEvent::Bookmark(_)) {
            return ev;
        }
    }
}

fn name(ev: &WatchEvent<ConfigMap>) -> (&'static str, String) {
    match ev {
        WatchEvent::Added(o) => ("ADDED", o.metadata.name.clone().unwrap()),
        WatchEvent::Modified(o) => ("MODIFIED", o.metadata.name.clone().unwrap()),
        WatchEvent::Deleted(o) => ("DELETED", o.metadata.name.clone().unwrap()),
        WatchEvent::Bookmark(_) => ("BOOKMARK", String::new()),
        WatchEvent::Error(e) => ("ERROR", e.0.reason.clone()),
    }
}

#[tokio::test]
async fn watch_sees_changes_and_selector_transitions() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let mut w = Box::pin(api.watch(&WatchParams::default().labels("sel=yes"), &list.resource_version).await.unwrap());
    let mut o = cm("w1");
    api.create(&PostParams::default(), &o).await.unwrap();
    o.metadata.labels = Some([("sel".to_string(), "yes".to_string())].into());
    let got = api.get("w1").await.unwrap();
    o.metadata.resource_version = got.metadata.resource_version.clone();
    let o = api.replace(&o).await.unwrap();
    assert_eq!(name(&next(&mut w).await), ("ADDED", "w1".into()), "entering the selector is ADDED");
    let mut o2 = o.clone();
    o2.metadata.labels = None;
    api.replace(&o2).await.unwrap();
    assert_eq!(name(&next(&mut w).await), ("DELETED", "w1".into()), "leaving the selector is DELETED");
}

#[tokio::test]
async fn initial_events_then_changes_for_rv_zero() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    api.create(&PostParams::default(), &cm("pre")).await.unwrap();
    let mut w = Box::pin(api.watch(&WatchParams::default(), "0").await.unwrap());
    assert_eq!(name(&next(&mut w).await), ("ADDED", "pre".into()));
    api.create(&PostParams::default(), &cm("post")).await.unwrap();
    assert_eq!(name(&next(&mut w).await), ("ADDED", "post".into()));
    api.delete("pre", &Default::default()).await.unwrap();
    match next(&mut w).await {
        WatchEvent::Deleted(o) => {
            assert_eq!(o.metadata.name.as_deref(), Some("pre"));
            assert!(rv(&o).parse::<i64>().unwrap() > 0, "deleted object carries the deletion revision");
        }
        other => panic!("expected DELETED, got {other:?}"),
    }
}

/// A client that saw revision R, then lost the apiserver, resumes from R on
/// the restarted server and sees every change made meanwhile, in order.
#[tokio::test]
async fn watch_resumed_after_apiserver_restart_misses_nothing() {
    let mut c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let base = api.create(&PostParams::default(), &cm("base")).await.unwrap();
    let seen_rv = rv(&base);
    c.stop_apiserver().await;
    // Writes while the apiserver is down go straight to etcd through a second server.
    c.start_apiserver().await.unwrap();
    let client2 = client::Client::connect(&c.addr.to_string()).await.unwrap();
    let api2 = Api::<ConfigMap>::namespaced(client2, "default");
    for i in 0..5 {
        api2.create(&PostParams::default(), &cm(&format!("m{i}"))).await.unwrap();
    }
    api2.delete("m0", &Default::default()).await.unwrap();
    c.stop_apiserver().await;
    c.start_apiserver().await.unwrap();
    let client3 = client::Client::connect(&c.addr.to_string()).await.unwrap();
    let api3 = Api::<ConfigMap>::namespaced(client3, "default");
    let mut w = Box::pin(api3.watch(&WatchParams::default(), &seen_rv).await.unwrap());
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(name(&next(&mut w).await));
    }
    let want: Vec<(&str, String)> = (0..5)
        .map(|i| ("ADDED", format!("m{i}")))
        .chain([("DELETED", "m0".to_string())])
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn compacted_resource_version_is_expired() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let first = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let old_rv = rv(&first);
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("b{i}"))).await.unwrap();
    }
    c.compact().await.unwrap();
    // Restart so that the watch cache's window cannot serve the old revision either.
    let mut c = c;
    c.stop_apiserver().await;
    c.start_apiserver().await.unwrap();
    let client = client::Client::connect(&c.addr.to_string()).await.unwrap();
    let api = Api::<ConfigMap>::namespaced(client, "default");
    let mut w = Box::pin(api.watch(&WatchParams::default(), &old_rv).await.unwrap());
    match next(&mut w).await {
        WatchEvent::Error(e) => {
            assert_eq!(e.0.reason, "Expired");
            assert_eq!(e.0.code, 410);
        }
        other => panic!("expected an Expired error, got {other:?}"),
    }
    // A paginated list at the compacted revision is Expired too.
    let e = api
        .list(&ListParams { resource_version: Some(old_rv.clone()), resource_version_match: Some("Exact".into()), ..Default::default() })
        .await
        .unwrap_err();
    assert!(e.is_expired(), "{e:?}");
}

#[tokio::test]
async fn bookmarks_carry_the_current_revision() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let o = api.create(&PostParams::default(), &cm("x")).await.unwrap();
    let mut w = Box::pin(api.watch(&WatchParams::default().bookmarks(), &rv(&o)).await.unwrap());
    let ev = tokio::time::timeout(Duration::from_secs(10), w.next()).await.unwrap().unwrap().unwrap();
    match ev {
        WatchEvent::Bookmark(r) => assert!(r.parse::<i64>().unwrap() >= rv(&o).parse::<i64>().unwrap()),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}
