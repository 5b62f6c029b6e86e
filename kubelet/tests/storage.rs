//! Persistent storage end to end on one real node: a real apiserver and
//! etcd, the scheduler and the PV controllers in-process, and a real kubelet
//! running containers. A claim of the default class (WaitForFirstConsumer,
//! local-path) is provisioned on the node its pod lands on, the pod writes
//! to it, the data survive the pod, and deleting the claim removes the
//! directory through the helper pod on that node. Needs root.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{Api, DeleteParams, PostParams};
use common::node::TestNode;
use common::*;
use controller_manager::controllers::persistentvolume::{self, LocalPathOptions, PVC_PROTECTION, PV_BINDER, PV_PROTECTION};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use serde_json::{json, Value};
use testing::TestCluster;

const LONG: Duration = Duration::from_secs(90);

async fn wait_pod(api: &Api<Pod>, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = Value::Null;
    loop {
        if let Ok(Some(p)) = api.get_opt(name).await {
            last = serde_json::to_value(&p).unwrap();
            if f(&last) {
                return last;
            }
        }
        assert!(start.elapsed() < LONG, "timed out waiting for {what}; last: {}", serde_json::to_string_pretty(&last["status"]).unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

fn pod(name: &str, script: &str) -> Pod {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}))
    .unwrap()
}

/// The stdout lines of the pod's container (CRI log format).
fn log_lines(node: &TestNode, pod: &Value) -> Vec<String> {
    let (name, uid) = (pod["metadata"]["name"].as_str().unwrap(), pod["metadata"]["uid"].as_str().unwrap());
    let log = std::fs::read_to_string(node.logs().join(format!("default_{name}_{uid}/c/0.log"))).unwrap_or_default();
    log.lines().filter_map(|l| l.splitn(4, ' ').nth(3).map(str::to_string)).collect()
}

async fn delete_pod(api: &Api<Pod>, name: &str) {
    api.delete(name, &DeleteParams::default()).await.unwrap();
    let start = Instant::now();
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(start.elapsed() < LONG, "pod {name} was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_default_class_claim_is_provisioned_where_its_pod_lands_and_outlives_the_pod() {
    let base = tempfile::tempdir().unwrap();
    persistentvolume::set_local_path_options(LocalPathOptions { base_dir: base.path().to_str().unwrap().to_string(), ..Default::default() });
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let client = tc.client.clone();
    let stop = client::CancellationToken::new();
    let registry = daemon::metrics::Registry::new();
    let metrics = controller_manager::metrics::ControllerMetrics::new(&registry);
    let controllers = tokio::spawn(controller_manager::controllers::run(
        client.clone(),
        vec![(PV_BINDER, 1), (PV_PROTECTION, 1), (PVC_PROTECTION, 1)],
        metrics,
        stop.clone(),
    ));
    let sched = scheduler::Scheduler::new(client.clone(), scheduler::SchedulerConfig::default(), Arc::new(scheduler::metrics::Metrics::default()));
    let sched_task = tokio::spawn(sched.run(stop.clone()));

    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    // No class named: the default `standard` (WaitForFirstConsumer, local-path).
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Mi"}}}}))
    .unwrap();
    pvcs.create(&PostParams::default(), &claim).await.unwrap();
    wait_event(&client, "default", "data", "WaitForFirstConsumer", |m| m == "waiting for first consumer to be created before binding").await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("writer", "echo written-by-writer > /data/file && cat /data/file")).await.unwrap();
    let done = wait_pod(&pods, "writer", "writer Succeeded", |p| phase(p) == "Succeeded").await;
    assert_eq!(done["spec"]["nodeName"], name.as_str());
    let c = pvcs.get("data").await.unwrap();
    assert_eq!(c.metadata.annotations.as_ref().unwrap()["volume.kubernetes.io/selected-node"], name);
    assert_eq!(c.status.as_ref().unwrap().phase.as_deref(), Some("Bound"));
    let pv_name = c.spec.as_ref().unwrap().volume_name.clone().unwrap();
    let pv = Api::<PersistentVolume>::all(client.clone()).get(&pv_name).await.unwrap();
    let dir = std::path::PathBuf::from(pv.spec.as_ref().unwrap().host_path.as_ref().unwrap().path.clone());
    assert_eq!(dir, base.path().join(format!("{pv_name}_default_data")));
    // The kubelet made the directory when it mounted the volume; the pod wrote into it.
    assert_eq!(std::fs::read_to_string(dir.join("file")).unwrap(), "written-by-writer\n");
    assert_eq!(log_lines(&node, &done), ["written-by-writer"]);
    delete_pod(&pods, "writer").await;

    // A new pod on the same claim reads what the first one wrote.
    pods.create(&PostParams::default(), &pod("reader", "cat /data/file")).await.unwrap();
    let read = wait_pod(&pods, "reader", "reader Succeeded", |p| phase(p) == "Succeeded").await;
    assert_eq!(log_lines(&node, &read), ["written-by-writer"]);
    delete_pod(&pods, "reader").await;

    // Reclaim policy Delete: the helper pod removes the directory on the node, then the volume goes.
    pvcs.delete("data", &DeleteParams::default()).await.unwrap();
    let pvs = Api::<PersistentVolume>::all(client.clone());
    let start = Instant::now();
    while pvs.get_opt(&pv_name).await.unwrap().is_some() {
        assert!(start.elapsed() < LONG, "volume {pv_name} was not deleted; kubelet log tail: {}", node.kubelet_log().lines().rev().take(20).collect::<Vec<_>>().join("\n"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!dir.exists(), "the directory was removed by the helper pod");
    assert!(base.path().exists(), "only the volume's directory");

    stop.cancel();
    let _ = controllers.await;
    let _ = sched_task.await;
    drop(node);
}
