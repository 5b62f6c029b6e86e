//! /healthz and /metrics of a scheduler that has scheduled a pod.

mod common;

use common::{node, pod, Env};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn healthz_and_metrics() {
    let env = Env::start(vec![node("n", "1", "1Gi", json!({}))]).await;
    let srv = scheduler::server::serve("127.0.0.1:0".parse().unwrap(), env.metrics.clone(), env.stop.clone()).await.unwrap();
    let addr = srv.addr;
    assert!(get(addr, "/healthz").await.ends_with("\r\n\r\nok"));
    env.schedule(pod("ok", "500m", "", json!({}))).await;
    env.create_pod(pod("stuck", "2", "", json!({}))).await;
    env.wait_unschedulable("stuck").await;
    let mut m = String::new();
    // The queue gauge is refreshed periodically: wait for it to show the stuck pod.
    for _ in 0..100 {
        m = get(addr, "/metrics").await;
        if m.contains("scheduler_pending_pods{queue=\"unschedulable\"} 1") || m.contains("scheduler_pending_pods{queue=\"backoff\"} 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(m.contains("scheduler_schedule_attempts_total{result=\"scheduled\"} 1"), "{m}");
    assert!(m.contains("scheduler_schedule_attempts_total{result=\"unschedulable\"}"), "{m}");
    assert!(m.contains("scheduler_e2e_scheduling_duration_seconds_count 1"), "{m}");
    assert!(m.contains("scheduler_pending_pods{queue=\"unschedulable\"} 1") || m.contains("scheduler_pending_pods{queue=\"backoff\"} 1"), "{m}");
    env.stop().await;
    tokio::time::timeout(std::time::Duration::from_secs(5), srv.wait()).await.expect("server stops with the scheduler");
}
