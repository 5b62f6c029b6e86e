//! Hollow nodes against a real etcd + apiserver: Nodes registered Ready with
//! capacity, Leases renewed, bound pods reported Running and Ready with
//! addresses, pods being deleted finalized.

use std::time::{Duration, Instant};

use client::{Api, DeleteParams, PostParams};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;
use testing::hollow::{HollowConfig, HollowNodes};
use testing::TestCluster;

async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hollow_nodes_register_heartbeat_and_run_pods() {
    let tc = TestCluster::start().await.expect("test cluster");
    let config = HollowConfig { lease_renew: Duration::from_millis(300), ..Default::default() };
    let names = vec!["hollow-0".to_string(), "hollow-1".to_string()];
    let fleet = HollowNodes::start(tc.client.clone(), names.clone(), config).await.expect("hollow nodes");

    // Registered Ready, with capacity = allocatable and distinct addresses.
    let nodes: Api<Node> = Api::all(tc.client.clone());
    let mut addrs = Vec::new();
    for n in &names {
        let node = nodes.get(n).await.expect("node");
        let status = node.status.expect("status");
        let ready = status.conditions.unwrap_or_default().into_iter().find(|c| c.type_ == "Ready").expect("Ready condition");
        assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("True", Some("KubeletReady")));
        let alloc = status.allocatable.expect("allocatable");
        assert_eq!(alloc["cpu"].0, "4");
        assert_eq!(alloc["pods"].0, "110");
        assert_eq!(status.capacity.expect("capacity"), alloc);
        let ip = status.addresses.unwrap_or_default().into_iter().find(|a| a.type_ == "InternalIP").expect("InternalIP").address;
        addrs.push(ip);
        assert_eq!(node.metadata.labels.unwrap_or_default()["kubernetes.io/hostname"], *n);
    }
    assert_ne!(addrs[0], addrs[1]);

    // The Lease is held by the node and its renewTime moves.
    let leases: Api<Lease> = Api::namespaced(tc.client.clone(), "kube-node-lease");
    let first = leases.get("hollow-1").await.expect("lease").spec.expect("lease spec");
    assert_eq!(first.holder_identity.as_deref(), Some("hollow-1"));
    assert_eq!(first.lease_duration_seconds, Some(40));
    let first_renew = first.renew_time.clone().expect("renewTime");
    wait_for("lease renewal", || {
        let leases = leases.clone();
        let first_renew = first_renew.clone();
        async move { leases.get("hollow-1").await.ok()?.spec?.renew_time.filter(|t| *t != first_renew) }
    })
    .await;

    // A pod bound to a hollow node runs: Running, Ready, pod and host IPs.
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"nodeName": "hollow-1",
                 "initContainers": [{"name": "init", "image": "busybox"}],
                 "containers": [{"name": "c", "image": "busybox"}, {"name": "d", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.expect("create pod");
    let running = wait_for("pod Running and Ready", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("web").await.ok()?;
            let s = p.status.clone()?;
            let ready = s.conditions.as_ref()?.iter().any(|c| c.type_ == "Ready" && c.status == "True");
            (s.phase.as_deref() == Some("Running") && ready).then_some(p)
        }
    })
    .await;
    let s = running.status.unwrap();
    assert_eq!(s.host_ip.as_deref(), Some(addrs[1].as_str()));
    assert!(s.pod_ip.is_some());
    let cs = s.container_statuses.unwrap();
    assert_eq!(cs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c", "d"]);
    assert!(cs.iter().all(|c| c.ready && c.state.as_ref().and_then(|s| s.running.as_ref()).is_some()));
    let init = s.init_container_statuses.unwrap();
    assert_eq!(init[0].state.as_ref().unwrap().terminated.as_ref().unwrap().reason.as_deref(), Some("Completed"));

    // A pod for a node outside the fleet is left alone.
    let other: Pod = serde_json::from_value(json!({
        "metadata": {"name": "elsewhere"},
        "spec": {"nodeName": "real-node", "containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &other).await.expect("create pod");

    // Graceful deletion: the hollow node finalizes it, as a kubelet would.
    pods.delete("web", &DeleteParams::default()).await.expect("delete pod");
    wait_for("pod finalized", || {
        let pods = pods.clone();
        async move { pods.get_opt("web").await.ok()?.is_none().then_some(()) }
    })
    .await;
    let untouched = pods.get("elsewhere").await.expect("other pod");
    assert_ne!(untouched.status.and_then(|s| s.phase).as_deref(), Some("Running"));

    fleet.stop().await;
}
