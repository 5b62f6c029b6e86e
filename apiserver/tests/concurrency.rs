//! Optimistic concurrency under contention, against a real etcd.

mod common;

use std::collections::HashSet;

use client::{Api, PostParams};
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use serde_json::json;

/// 50 clients each read the object and write back their own key with the
/// resourceVersion they read: every write either lands or gets Conflict,
/// and every landed write is in the final object (none lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_updates_land_once_or_conflict() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    api.create(&PostParams::default(), &cm("hot")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut o = api.get("hot").await.unwrap();
            o.data.get_or_insert_with(Default::default).insert(format!("w{i}"), "1".into());
            match api.replace(&o).await {
                Ok(_) => Some(i),
                Err(e) if e.is_conflict() => None,
                Err(e) => panic!("unexpected error: {e:?}"),
            }
        }));
    }
    let mut landed = Vec::new();
    for t in tasks {
        if let Some(i) = t.await.unwrap() {
            landed.push(i);
        }
    }
    assert!(!landed.is_empty(), "at least the first writer lands");
    let fin = api.get("hot").await.unwrap();
    let data = fin.data.unwrap();
    // Each landed update read the state left by the previous one, so all are present.
    for i in &landed {
        assert!(data.contains_key(&format!("w{i}")), "landed update w{i} lost: {data:?}");
    }
    let written = data.keys().filter(|k| k.starts_with('w')).count();
    assert_eq!(written, landed.len(), "only landed updates are visible");
}

/// 200 concurrent creates of NodePort Services: all succeed, and no ClusterIP
/// or NodePort is handed out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_service_creates_get_unique_ips_and_ports() {
    // A small range makes collisions between random picks likely.
    let c = TestCluster::start_with(|cfg| {
        cfg.service_cluster_ip_range = "10.0.0.0/23".into();
        cfg.service_node_port_range = "30000-30299".into();
    })
    .await
    .unwrap();
    let api = Api::<Service>::namespaced(c.client.clone(), "default");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let svc: Service = serde_json::from_value(json!({
                "metadata": {"name": format!("s{i}")},
                "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]}
            }))
            .unwrap();
            api.create(&PostParams::default(), &svc).await
        }));
    }
    let (mut ips, mut ports) = (HashSet::new(), HashSet::new());
    for t in tasks {
        let s = t.await.unwrap().expect("every create succeeds");
        let spec = s.spec.unwrap();
        assert!(ips.insert(spec.cluster_ip.clone().unwrap()), "duplicate ClusterIP {:?}", spec.cluster_ip);
        assert_eq!(spec.cluster_ips.unwrap(), vec![spec.cluster_ip.unwrap()]);
        let np = spec.ports.unwrap()[0].node_port.unwrap();
        assert!((30000..=30299).contains(&np));
        assert!(ports.insert(np), "duplicate NodePort {np}");
    }
    assert_eq!((ips.len(), ports.len()), (200, 200));
    // The listed Services agree with what the creates returned.
    let listed = api.list(&Default::default()).await.unwrap().items;
    let listed_ips: HashSet<String> = listed.iter().filter_map(|s| s.spec.as_ref()?.cluster_ip.clone()).collect();
    assert!(ips.is_subset(&listed_ips));
}
