//! `kubectl get -w`: the table, then one row per change.

mod common;
use common::Kube;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_rows_for_changes() {
    // A hung watch fails the test instead of blocking CI forever.
    tokio::time::timeout(std::time::Duration::from_secs(120), watch_rows()).await.expect("watch test finished");
}

async fn watch_rows() {
    let k = Kube::start().await;
    k.run(&["create", "cm", "first", "--from-literal=a=1"]).await.ok();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl"))
        .args(["get", "configmaps", "-w"])
        .env("KUBECONFIG", &k.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    // The initial table: header and the existing object.
    for _ in 0..2 {
        seen.push(lines.next_line().await.unwrap().unwrap());
    }
    assert!(seen[0].starts_with("NAME    DATA   AGE"), "{seen:?}");
    assert!(seen[1].starts_with("first   1      "), "{seen:?}");
    k.run(&["create", "cm", "second", "--from-literal=a=1", "--from-literal=b=2"]).await.ok();
    let added = lines.next_line().await.unwrap().unwrap();
    assert!(added.starts_with("second   2      "), "{added:?}");
    k.run(&["delete", "cm", "first"]).await.ok();
    let deleted = lines.next_line().await.unwrap().unwrap();
    assert!(deleted.starts_with("first    1      "), "{deleted:?}");
    child.kill().await.unwrap();
}
