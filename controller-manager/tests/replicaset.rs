//! The ReplicaSet and ReplicationController controllers against a real etcd
//! and apiserver, with no scheduler and no kubelet: pods are created and
//! stay Pending unless a test binds them or writes their status.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use client::{Api, Client, ListParams, Patch, PostParams};
use controller_manager::controllers::{replicaset::REPLICASET, replicaset::REPLICATION_CONTROLLER};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod, PodCondition, PodStatus, ReplicationController};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use testing::TestCluster;

fn start(client: &Client) -> Running {
    start_controllers(client, vec![(REPLICASET, 5), (REPLICATION_CONTROLLER, 5)])
}

const NS: &str = "default";





fn replicaset(name: &str, replicas: i32, labels: serde_json::Value, template_extra: serde_json::Value) -> ReplicaSet {
    let mut spec = serde_json::json!({"containers": [{"name": "c", "image": "busybox"}]});
    spec.as_object_mut().unwrap().extend(template_extra.as_object().cloned().unwrap_or_default());
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": spec}}
    }))
    .unwrap()
}

/// Active (not being deleted) pods controlled by the object with `uid`.
async fn owned_pods(client: &Client, uid: &str) -> Vec<Pod> {
    let pods = Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    pods.into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| api::owner::is_controlled_by(&p.metadata, uid))
        .collect()
}

fn names(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter().map(|p| p.metadata.name.clone().unwrap()).collect()
}

async fn events(client: &Client, name: &str, reason: &str) -> Vec<Event> {
    let lp = ListParams { field_selector: Some(format!("involvedObject.name={name}")), ..Default::default() };
    let evs = Api::<Event>::namespaced(client.clone(), NS).list(&lp).await.unwrap().items;
    evs.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).collect()
}

async fn set_replicas(client: &Client, name: &str, n: i32) {
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": n}}));
    Api::<ReplicaSet>::namespaced(client.clone(), NS).patch(name, &PostParams::default(), &patch).await.unwrap();
}

/// Binds `pod` to a node and writes its phase and readiness, as a kubelet would.
async fn run_pod(client: &Client, pod: &Pod, phase: &str, ready: bool) {
    let api = Api::<Pod>::namespaced(client.clone(), NS);
    let name = pod.metadata.name.as_deref().unwrap();
    api.bind(name, "n1").await.unwrap();
    let mut p = api.get(name).await.unwrap();
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(controller_manager::controller_utils::now());
    let status = if ready { "True" } else { "False" };
    p.status = Some(PodStatus {
        phase: Some(phase.into()),
        conditions: Some(vec![PodCondition { type_: "Ready".into(), status: status.into(), last_transition_time: Some(now), ..Default::default() }]),
        ..Default::default()
    });
    api.replace_status(&p).await.unwrap();
}

#[tokio::test]
async fn replicaset_creates_replaces_scales_down_in_order_and_reports_status() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let rs_api = Api::<ReplicaSet>::namespaced(client.clone(), NS);
    let rs = rs_api.create(&PostParams::default(), &replicaset("web", 3, serde_json::json!({"app": "web"}), serde_json::json!({}))).await.unwrap();
    let uid = rs.metadata.uid.clone().unwrap();

    let pods = wait_for("3 pods", Duration::from_secs(20), async || Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 3)).await;
    for p in &pods {
        let r = api::owner::controller_of(&p.metadata).unwrap();
        assert_eq!((r.kind.as_str(), r.api_version.as_str(), r.name.as_str(), r.block_owner_deletion), ("ReplicaSet", "apps/v1", "web", Some(true)));
        assert!(p.metadata.name.as_deref().unwrap().starts_with("web-"));
    }
    let st = wait_for("status of 3", Duration::from_secs(10), async || {
        let rs = rs_api.get("web").await.unwrap();
        rs.status.filter(|s| s.replicas == 3 && s.observed_generation == rs.metadata.generation)
    })
    .await;
    assert_eq!((st.fully_labeled_replicas, st.ready_replicas, st.available_replicas), (Some(3), None, None));
    wait_for("3 SuccessfulCreate events", Duration::from_secs(10), async || Some(events(&client, "web", "SuccessfulCreate").await).filter(|e| e.len() == 3)).await;

    // A deleted pod is replaced.
    let gone = pods[0].metadata.name.clone().unwrap();
    Api::<Pod>::namespaced(client.clone(), NS).delete(&gone, &Default::default()).await.unwrap();
    let pods = wait_for("a replacement", Duration::from_secs(20), async || {
        Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 3 && !names(p).contains(&gone))
    })
    .await;

    // Scale down 3 -> 1: the unscheduled pod goes first, then the pending one; the ready one stays.
    let (unscheduled, pending, ready) = (&pods[0], &pods[1], &pods[2]);
    run_pod(&client, pending, "Pending", false).await;
    run_pod(&client, ready, "Running", true).await;
    wait_for("ready counted", Duration::from_secs(10), async || rs_api.get("web").await.unwrap().status.filter(|s| s.ready_replicas == Some(1))).await;
    set_replicas(&client, "web", 1).await;
    let left = wait_for("scaled to 1", Duration::from_secs(20), async || Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 1)).await;
    assert_eq!(left[0].metadata.name, ready.metadata.name, "the running, ready pod is kept");
    let api = Api::<Pod>::namespaced(client.clone(), NS);
    assert!(api.get_opt(unscheduled.metadata.name.as_deref().unwrap()).await.unwrap().is_none(), "an unscheduled pod is deleted at once");
    let bound = api.get(pending.metadata.name.as_deref().unwrap()).await.unwrap();
    assert!(bound.metadata.deletion_timestamp.is_some(), "a bound pod is deleted gracefully");

    let rs = wait_for("status after scale-down", Duration::from_secs(10), async || {
        let rs = rs_api.get("web").await.unwrap();
        Some(rs.clone()).filter(|_| rs.status.as_ref().is_some_and(|s| s.replicas == 1 && s.observed_generation == rs.metadata.generation))
    })
    .await;
    let st = rs.status.unwrap();
    assert_eq!((st.ready_replicas, st.available_replicas, st.fully_labeled_replicas), (Some(1), Some(1), Some(1)));
    assert_eq!(rs.metadata.generation, Some(2));
    wait_for("2 SuccessfulDelete events", Duration::from_secs(10), async || Some(events(&client, "web", "SuccessfulDelete").await).filter(|e| e.len() >= 2)).await;

    // And it stays at 1: the graceful deletion does not read as a missing replica.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(owned_pods(&client, &uid).await.len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn orphans_are_adopted_and_pods_that_stop_matching_are_released() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let pods_api = Api::<Pod>::namespaced(client.clone(), NS);
    let orphan: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "orphan", "namespace": NS, "labels": {"app": "db"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods_api.create(&PostParams::default(), &orphan).await.unwrap();
    let running = start(&client);
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &replicaset("db", 2, serde_json::json!({"app": "db"}), serde_json::json!({})))
        .await
        .unwrap();
    let uid = rs.metadata.uid.clone().unwrap();
    let pods = wait_for("2 pods", Duration::from_secs(20), async || Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 2)).await;
    assert!(names(&pods).contains("orphan"), "the matching orphan is adopted: {:?}", names(&pods));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pods_api.list(&ListParams::default()).await.unwrap().items.len(), 2, "adopted, so only one pod was created");

    // Relabel the adopted pod: it is released and replaced.
    let patch = Patch::Merge(serde_json::json!({"metadata": {"labels": {"app": "debug"}}}));
    pods_api.patch("orphan", &PostParams::default(), &patch).await.unwrap();
    let pods = wait_for("a replacement for the released pod", Duration::from_secs(20), async || {
        Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 2 && !names(p).contains("orphan"))
    })
    .await;
    assert_eq!(pods.len(), 2);
    let released = wait_for("released", Duration::from_secs(10), async || {
        Some(pods_api.get("orphan").await.unwrap()).filter(|p| p.metadata.owner_references.as_ref().is_none_or(|r| r.is_empty()))
    })
    .await;
    assert_eq!(released.metadata.labels.unwrap()["app"], "debug");
    running.stop().await;
}

#[tokio::test]
async fn failed_creates_report_an_event_and_a_condition_and_back_off() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let rs_api = Api::<ReplicaSet>::namespaced(client.clone(), NS);
    // Valid for the ReplicaSet; its pods are refused by Priority admission.
    let rs = replicaset("bad", 3, serde_json::json!({"app": "bad"}), serde_json::json!({"priorityClassName": "nope"}));
    rs_api.create(&PostParams::default(), &rs).await.unwrap();
    let started = Instant::now();

    let cond = wait_for("ReplicaFailure", Duration::from_secs(20), async || {
        rs_api.get("bad").await.unwrap().status.and_then(|s| s.conditions).and_then(|c| c.into_iter().find(|c| c.type_.as_deref() == Some("ReplicaFailure")))
    })
    .await;
    assert_eq!((cond.status.as_deref(), cond.reason.as_deref()), (Some("True"), Some("FailedCreate")));
    assert!(cond.message.as_deref().unwrap().contains("no PriorityClass with name nope was found"), "{cond:?}");
    let ev = wait_for("FailedCreate event", Duration::from_secs(10), async || events(&client, "bad", "FailedCreate").await.into_iter().next()).await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert!(ev.message.as_deref().unwrap().starts_with("Error creating: "), "{:?}", ev.message);
    assert!(ev.message.as_deref().unwrap().contains("no PriorityClass with name nope was found"));

    // No hot loop: retries back off exponentially (5 ms, 10 ms, ... doubling), and
    // slow start tries one pod per sync, not three.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(started.elapsed())).await;
    let errors = running.metric("controller_reconcile_errors_total{name=\"replicaset\"}");
    assert!((2.0..=14.0).contains(&errors), "failed syncs in 3 s: {errors}");
    let ev = events(&client, "bad", "FailedCreate").await;
    let attempts: i32 = ev.iter().map(|e| e.count.unwrap_or(1)).sum();
    assert!(attempts <= errors as i32 + 1, "one create per failed sync: {attempts} creates, {errors} failed syncs");
    assert!(Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items.is_empty());

    // Once the class exists, the retry succeeds and the condition goes.
    let pc: PriorityClass = serde_json::from_value(serde_json::json!({"metadata": {"name": "nope"}, "value": 10})).unwrap();
    Api::<PriorityClass>::all(client.clone()).create(&PostParams::default(), &pc).await.unwrap();
    let uid = rs_api.get("bad").await.unwrap().metadata.uid.unwrap();
    wait_for("3 pods after the fix", Duration::from_secs(30), async || Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 3)).await;
    wait_for("condition cleared", Duration::from_secs(10), async || {
        let conds = rs_api.get("bad").await.unwrap().status.and_then(|s| s.conditions).unwrap_or_default();
        conds.iter().all(|c| c.type_.as_deref() != Some("ReplicaFailure")).then_some(())
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn replication_controller_basics() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let rc_api = Api::<ReplicationController>::namespaced(client.clone(), NS);
    let rc: ReplicationController = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "legacy", "namespace": NS},
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
            "template": {"metadata": {"labels": {"app": "legacy"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    let rc = rc_api.create(&PostParams::default(), &rc).await.unwrap();
    let uid = rc.metadata.uid.clone().unwrap();
    let pods = wait_for("2 pods", Duration::from_secs(20), async || Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 2)).await;
    let r = api::owner::controller_of(&pods[0].metadata).unwrap();
    assert_eq!((r.kind.as_str(), r.api_version.as_str()), ("ReplicationController", "v1"));
    let gone = pods[0].metadata.name.clone().unwrap();
    Api::<Pod>::namespaced(client.clone(), NS).delete(&gone, &Default::default()).await.unwrap();
    wait_for("a replacement", Duration::from_secs(20), async || Some(owned_pods(&client, &uid).await).filter(|p| p.len() == 2 && !names(p).contains(&gone))).await;
    let st = wait_for("status", Duration::from_secs(10), async || {
        let rc = rc_api.get("legacy").await.unwrap();
        rc.status.filter(|s| s.replicas == 2 && s.observed_generation == rc.metadata.generation)
    })
    .await;
    assert_eq!(st.fully_labeled_replicas, Some(2));
    wait_for("SuccessfulCreate events", Duration::from_secs(10), async || Some(events(&client, "legacy", "SuccessfulCreate").await).filter(|e| e.len() >= 3)).await;
    running.stop().await;
}

/// The real binary, killed with SIGKILL at arbitrary moments while it
/// creates pods, never leaves more pods than replicas.
#[tokio::test]
async fn killing_and_restarting_the_controller_manager_never_makes_extra_pods() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let rs_api = Api::<ReplicaSet>::namespaced(client.clone(), NS);
    let spawn = |port: u16| -> KillOnDrop {
        KillOnDrop(Command::new(env!("CARGO_BIN_EXE_kube-controller-manager"))
            .args(["--master", &cluster.addr.to_string(), "--controllers", "replicaset"])
            .args(["--leader-elect-lease-duration", "2s", "--leader-elect-renew-deadline", "1500ms", "--leader-elect-retry-period", "200ms"])
            // Slow enough that each kill lands while pods are still being created.
            .args(["--kube-api-qps", "50", "--kube-api-burst", "10", "--secure-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap())
    };
    let mut rs = replicaset("big", 60, serde_json::json!({"app": "big"}), serde_json::json!({}));
    rs = rs_api.create(&PostParams::default(), &rs).await.unwrap();
    let uid = rs.metadata.uid.clone().unwrap();
    let mut seen_counts = Vec::new();
    for (i, delay_ms) in [150u64, 400, 40, 700, 250].into_iter().enumerate() {
        let port = testing::free_port();
        let mut child = spawn(port);
        if i == 0 {
            // It serves /healthz and /metrics while it works.
            let body = wait_for("/healthz", Duration::from_secs(10), async || http_get(port, "/healthz").await).await;
            assert_eq!(body, "ok");
        }
        // Wait until this process has started creating (it may first wait out the dead leader's lease).
        let before = owned_pods(&client, &uid).await.len();
        if before < 60 {
            wait_for("progress", Duration::from_secs(20), async || Some(owned_pods(&client, &uid).await.len()).filter(|n| *n > before)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.0.kill().unwrap(); // SIGKILL, mid-work
        child.0.wait().unwrap();
        let n = owned_pods(&client, &uid).await.len();
        assert!(n <= 60, "{n} pods after kill {i}");
        seen_counts.push(n);
    }
    eprintln!("pods after each SIGKILL: {seen_counts:?}");
    assert!(seen_counts.iter().any(|n| *n < 60), "no kill landed mid-creation: {seen_counts:?}");
    let port = testing::free_port();
    let child = spawn(port);
    // It leads once the killed leader's lease expires; then it has had its chance to over-create.
    let leader = "leader_election_master_status{name=\"kube-controller-manager\"} 1";
    wait_for("leadership", Duration::from_secs(20), async || http_get(port, "/metrics").await.filter(|m| m.contains(leader))).await;
    wait_for("60 pods", Duration::from_secs(60), async || Some(owned_pods(&client, &uid).await.len()).filter(|n| *n == 60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    assert_eq!(all.len(), 60, "exactly the replicas, after kills at {seen_counts:?} pods");
    // Its metrics, per controller.
    let m = http_get(port, "/metrics").await.unwrap();
    assert!(m.contains("workqueue_adds_total{name=\"replicaset\"}"), "{m}");
    assert!(m.contains("workqueue_depth{name=\"replicaset\"} 0"), "{m}");
    assert!(m.contains("workqueue_work_duration_seconds_count{name=\"replicaset\"}"), "{m}");
    drop(child);
}

/// The binary, killed (SIGKILL) when the test ends, also when an assertion fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    out.starts_with("HTTP/1.1 200").then(|| out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}
