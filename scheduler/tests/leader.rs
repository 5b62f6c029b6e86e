//! Two schedulers on one Lease: only the leader binds; killing it hands over.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use testing::TestCluster;
use client::{Api, CancellationToken, PostParams};
use common::{node, pod};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use scheduler::metrics::Metrics;
use scheduler::SchedulerConfig;

fn config() -> SchedulerConfig {
    let mut c = SchedulerConfig::default();
    c.leader_election.lease_duration = Duration::from_secs(3);
    c.leader_election.renew_deadline = Duration::from_secs(2);
    c.leader_election.retry_period = Duration::from_millis(300);
    c
}

async fn wait_bound(pods: &Api<Pod>, name: &str) -> String {
    for _ in 0..300 {
        if let Some(n) = pods.get(name).await.unwrap().spec.and_then(|s| s.node_name) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} not bound");
}

async fn holder(client: &client::Client) -> Option<String> {
    let l = Api::<Lease>::namespaced(client.clone(), "kube-system").get_opt("kube-scheduler").await.unwrap()?;
    l.spec.and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn only_the_leader_binds_and_a_killed_leader_hands_over() {
    let cluster = TestCluster::start().await.unwrap();
    let c = cluster.client.clone();
    let n: Node = serde_json::from_value(node("n1", "64", "64Gi", serde_json::json!({}))).unwrap();
    Api::<Node>::all(c.clone()).create(&PostParams::default(), &n).await.unwrap();
    let pods = Api::<Pod>::namespaced(c.clone(), "default");

    let (ma, mb) = (Arc::new(Metrics::default()), Arc::new(Metrics::default()));
    let a = tokio::spawn(scheduler::leader::run(c.clone(), config(), ma.clone(), "sched-a", CancellationToken::new()));
    while holder(&c).await.as_deref() != Some("sched-a") {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stop_b = CancellationToken::new();
    let b = tokio::spawn(scheduler::leader::run(c.clone(), config(), mb.clone(), "sched-b", stop_b.clone()));

    for i in 0..5 {
        let p: Pod = serde_json::from_value(pod(&format!("p{i}"), "", "", serde_json::json!({}))).unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    for i in 0..5 {
        wait_bound(&pods, &format!("p{i}")).await;
    }
    assert_eq!(ma.scheduled.load(Ordering::Relaxed), 5);
    assert_eq!(mb.scheduled.load(Ordering::Relaxed), 0, "the follower must not bind");
    assert_eq!(mb.is_leader.load(Ordering::Relaxed), 0);

    // Kill the leader: no release, the lease must expire.
    a.abort();
    let _ = a.await;
    for i in 5..10 {
        let p: Pod = serde_json::from_value(pod(&format!("p{i}"), "", "", serde_json::json!({}))).unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    for i in 5..10 {
        wait_bound(&pods, &format!("p{i}")).await;
    }
    assert_eq!(holder(&c).await.as_deref(), Some("sched-b"));
    assert_eq!(mb.scheduled.load(Ordering::Relaxed), 5);
    assert_eq!(ma.scheduled.load(Ordering::Relaxed), 5);
    stop_b.cancel();
    let _ = b.await;
}
