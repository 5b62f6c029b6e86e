//! `ferrokube up`, `status` and `down` with the real binaries.

use client::{Api, PostParams};
use e2e::Cluster;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};

fn pids(workdir: &std::path::Path) -> Vec<u32> {
    let st: serde_json::Value = serde_json::from_slice(&std::fs::read(workdir.join("state.json")).unwrap()).unwrap();
    st["components"].as_array().unwrap().iter().map(|c| c["pid"].as_u64().unwrap() as u32).collect()
}

#[tokio::test]
async fn up_serves_the_api_and_down_removes_everything() {
    let cluster = Cluster::up().expect("ferrokube up");
    let out = cluster.ferrokube(&["status"]).unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{status}");
    for c in ["etcd", "kube-apiserver"] {
        assert!(status.lines().any(|l| l.starts_with(c) && l.ends_with("ok")), "{c} healthy in:\n{status}");
    }
    // A second `up` in the same workdir is refused.
    let again = cluster.ferrokube(&["up"]).unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    let c = cluster.client().await.unwrap();
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "e2e"}})).unwrap();
    Api::<Namespace>::all(c.clone()).create(&PostParams::default(), &ns).await.unwrap();
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}, "data": {"a": "b"}})).unwrap();
    Api::<ConfigMap>::namespaced(c.clone(), "e2e").create(&PostParams::default(), &cm).await.unwrap();

    let started = pids(cluster.workdir.path());
    let out = cluster.ferrokube(&["down"]).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for pid in started {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z"), "pid {pid} still running");
    }
    assert!(!cluster.workdir.path().join("state.json").exists());
    assert!(!cluster.kubeconfig().exists());
}
