//! The Deployment controller (with the ReplicaSet controller) against a real
//! etcd and apiserver. No scheduler or kubelet: a small task in each test
//! plays the kubelet, binding every pod, marking it Running and Ready (while
//! its switch is on) and finishing graceful deletions.

mod common;
use common::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::informer::{Informer, InformerConfig, InformerEvent};
use client::{Api, Client, DeleteParams, ListParams, Patch, PostParams};
use controller_manager::controllers::{self, deployment::util, deployment::DEPLOYMENT, replicaset::REPLICASET};
use controller_manager::metrics::ControllerMetrics;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use testing::TestCluster;

const NS: &str = "default";

struct Running {
    shutdown: client::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Whether the fake kubelet makes pods Ready.
    ready: Arc<AtomicBool>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

fn start(client: &Client) -> Running {
    let shutdown = client::CancellationToken::new();
    let ready = Arc::new(AtomicBool::new(true));
    let controllers = spawn_controllers(client, &shutdown);
    let kubelet = tokio::spawn(fake_kubelet(client.clone(), ready.clone()));
    Running { shutdown, tasks: vec![controllers, kubelet], ready }
}

fn spawn_controllers(client: &Client, shutdown: &client::CancellationToken) -> tokio::task::JoinHandle<()> {
    let registry = daemon::metrics::Registry::new();
    let metrics = ControllerMetrics::new(&registry);
    tokio::spawn(controllers::run(client.clone(), vec![(REPLICASET, 3), (DEPLOYMENT, 3)], metrics, shutdown.clone()))
}

impl Running {
    /// Stops the controllers (caches, queues and all) and starts fresh ones, as a restarted kube-controller-manager.
    async fn restart_controllers(&mut self, client: &Client) {
        self.shutdown.cancel();
        let old = self.tasks.remove(0);
        old.await.unwrap();
        self.shutdown = client::CancellationToken::new();
        self.tasks.insert(0, spawn_controllers(client, &self.shutdown));
    }
}

/// Binds pods, makes them Running (+Ready while `ready`), and completes graceful deletions.
async fn fake_kubelet(client: Client, ready: Arc<AtomicBool>) {
    let api = Api::<Pod>::namespaced(client.clone(), NS);
    let informer = Informer::new(api.clone(), InformerConfig::default());
    let mut events = informer.subscribe();
    let _task = informer.spawn();
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    loop {
        let pod = tokio::select! {
            ev = events.recv() => match ev {
                Some(InformerEvent::Added(p)) | Some(InformerEvent::Updated { new: p, .. }) => Some(p),
                Some(InformerEvent::Deleted(_)) => None,
                None => return,
            },
            // Pods left unready while the switch was off get another look.
            _ = tick.tick() => {
                for p in informer.store().list() {
                    handle_pod(&api, &p, ready.load(Ordering::SeqCst)).await;
                }
                None
            }
        };
        if let Some(p) = pod {
            handle_pod(&api, &p, ready.load(Ordering::SeqCst)).await;
        }
    }
}

async fn handle_pod(api: &Api<Pod>, pod: &Pod, ready: bool) {
    let name = pod.metadata.name.as_deref().unwrap();
    if pod.metadata.deletion_timestamp.is_some() {
        let _ = api.delete(name, &DeleteParams::default().grace_period(0)).await;
        return;
    }
    let is_ready = pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some();
    if is_ready || (!ready && bound) {
        return;
    }
    if !bound && api.bind(name, "n1").await.is_err() {
        return;
    }
    let Ok(mut p) = api.get(name).await else { return };
    let now = Time(controller_manager::controller_utils::now());
    let status = if ready { "True" } else { "False" };
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition { type_: "Ready".into(), status: status.into(), last_transition_time: Some(now), ..Default::default() }]),
        ..Default::default()
    });
    let _ = api.replace_status(&p).await;
}


fn deployment(name: &str, replicas: i32, image: &str, strategy: serde_json::Value, extra: serde_json::Value) -> Deployment {
    let mut spec = serde_json::json!({
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "strategy": strategy,
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}
    });
    spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": NS}, "spec": spec})).unwrap()
}

fn rolling(surge: serde_json::Value, unavailable: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
}

/// The Deployment's ReplicaSets (controlled by its uid), by name.
async fn replica_sets(client: &Client, uid: &str) -> BTreeMap<String, ReplicaSet> {
    let all = Api::<ReplicaSet>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    all.into_iter().filter(|rs| api::owner::is_controlled_by(&rs.metadata, uid)).map(|rs| (rs.metadata.name.clone().unwrap(), rs)).collect()
}

fn annotation(rs: &ReplicaSet, key: &str) -> Option<String> {
    rs.metadata.annotations.as_ref()?.get(key).cloned()
}

fn image_of(rs: &ReplicaSet) -> String {
    rs.spec.template.as_ref().unwrap().spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

fn condition(d: &Deployment, ty: &str) -> Option<DeploymentCondition> {
    d.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_.as_deref() == Some(ty)).cloned()
}

/// Complete: all replicas updated and available, the spec observed.
async fn wait_complete(client: &Client, name: &str, replicas: i32) -> Deployment {
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    wait_for(&format!("{name} complete with {replicas}"), Duration::from_secs(60), async || {
        let d = api.get(name).await.unwrap();
        let s = d.status.clone().unwrap_or_default();
        let n = Some(replicas).filter(|r| *r != 0);
        let progressed = condition(&d, "Progressing").is_some_and(|c| c.reason.as_deref() == Some("NewReplicaSetAvailable"));
        (s.updated_replicas == n && s.replicas == n && s.available_replicas == n && s.observed_generation == d.metadata.generation && progressed).then_some(d)
    })
    .await
}

async fn set_image(client: &Client, name: &str, image: &str) {
    let patch = Patch::Strategic(serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}));
    Api::<Deployment>::namespaced(client.clone(), NS).patch(name, &PostParams::default(), &patch).await.unwrap();
}

async fn patch_spec(client: &Client, name: &str, spec: serde_json::Value) {
    let patch = Patch::Merge(serde_json::json!({ "spec": spec }));
    Api::<Deployment>::namespaced(client.clone(), NS).patch(name, &PostParams::default(), &patch).await.unwrap();
}

async fn event_messages(client: &Client, name: &str, reason: &str) -> Vec<String> {
    let lp = ListParams { field_selector: Some(format!("involvedObject.name={name}")), ..Default::default() };
    let evs = Api::<Event>::namespaced(client.clone(), NS).list(&lp).await.unwrap().items;
    evs.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).filter_map(|e| e.message).collect()
}

fn is_ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What a watch saw during a rollout.
#[derive(Default, Debug)]
struct Extremes {
    /// Most pods not being deleted at once.
    max_pods: usize,
    /// Fewest ready pods not being deleted, once `armed`.
    min_ready: Option<usize>,
    /// Most replicas the ReplicaSets asked for at once.
    max_rs_replicas: i32,
    /// Recreate: a moment with pods of two templates at once.
    mixed_templates: bool,
}

/// Watches pods and ReplicaSets and records [`Extremes`] after every event.
fn observe(client: &Client) -> (Arc<Mutex<Extremes>>, Vec<tokio::task::JoinHandle<()>>) {
    let pods = Informer::new(Api::<Pod>::namespaced(client.clone(), NS), InformerConfig::default());
    let rss = Informer::new(Api::<ReplicaSet>::namespaced(client.clone(), NS), InformerConfig::default());
    let seen = Arc::new(Mutex::new(Extremes::default()));
    let (mut pod_events, mut rs_events) = (pods.subscribe(), rss.subscribe());
    let tasks = vec![pods.spawn(), rss.spawn()];
    let (pod_store, rs_store) = (pods.store(), rss.store());
    let s = seen.clone();
    let watcher = tokio::spawn(async move {
        pod_store.wait_synced().await;
        rs_store.wait_synced().await;
        loop {
            tokio::select! {
                ev = pod_events.recv() => if ev.is_none() { return },
                ev = rs_events.recv() => if ev.is_none() { return },
            }
            let live: Vec<_> = pod_store.list().into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
            let ready = live.iter().filter(|p| is_ready(p)).count();
            let hashes: std::collections::BTreeSet<String> =
                pod_store.list().iter().filter_map(|p| p.metadata.labels.as_ref()?.get(util::POD_TEMPLATE_HASH).cloned()).collect();
            let rs_sum: i32 = rs_store.list().iter().map(|r| r.spec.replicas.unwrap_or(0)).sum();
            let mut s = s.lock().unwrap();
            s.max_pods = s.max_pods.max(live.len());
            s.min_ready = Some(s.min_ready.map_or(ready, |m| m.min(ready)));
            s.max_rs_replicas = s.max_rs_replicas.max(rs_sum);
            s.mixed_templates |= hashes.len() > 1;
        }
    });
    let mut all = tasks;
    all.push(watcher);
    (seen, all)
}

#[tokio::test]
async fn rolling_update_keeps_within_surge_and_availability_and_keeps_history() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    let mut d = deployment("web", 3, "busybox:1", rolling(serde_json::json!(1), serde_json::json!(0)), serde_json::json!({"revisionHistoryLimit": 2}));
    d.metadata.annotations = Some([("kubernetes.io/change-cause".to_string(), "create web".to_string())].into());
    let d = api.create(&PostParams::default(), &d).await.unwrap();
    let uid = d.metadata.uid.clone().unwrap();

    let done = wait_complete(&client, "web", 3).await;
    let rss = replica_sets(&client, &uid).await;
    assert_eq!(rss.len(), 1);
    let (first_name, first) = rss.iter().next().unwrap();
    let hash = first.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(first_name, &format!("web-{hash}"), "named <deployment>-<pod-template-hash>");
    assert!((6..=10).contains(&hash.len()) && hash.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)), "{hash}");
    assert_eq!(first.spec.selector.match_labels.as_ref().unwrap()["pod-template-hash"], hash);
    assert_eq!(first.spec.template.as_ref().unwrap().metadata.as_ref().unwrap().labels.as_ref().unwrap()["pod-template-hash"], hash);
    assert_eq!(annotation(first, util::REVISION).as_deref(), Some("1"));
    assert_eq!(annotation(first, util::DESIRED_REPLICAS).as_deref(), Some("3"));
    assert_eq!(annotation(first, util::MAX_REPLICAS).as_deref(), Some("4"));
    assert_eq!(annotation(first, util::CHANGE_CAUSE).as_deref(), Some("create web"), "the change-cause is copied to the RS");
    assert_eq!(done.metadata.annotations.as_ref().unwrap()[util::REVISION], "1");
    let avail = condition(&done, "Available").unwrap();
    assert_eq!((avail.status.as_deref(), avail.reason.as_deref()), (Some("True"), Some("MinimumReplicasAvailable")));
    assert_eq!(avail.message.as_deref(), Some("Deployment has minimum availability."));
    let prog = condition(&done, "Progressing").unwrap();
    assert_eq!(prog.message, Some(format!("ReplicaSet \"web-{hash}\" has successfully progressed.")));
    let pods = Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p.metadata.labels.as_ref().unwrap()["pod-template-hash"] == hash));
    let scaled = event_messages(&client, "web", "ScalingReplicaSet").await;
    assert_eq!(scaled, [format!("Scaled up replica set web-{hash} from 0 to 3")]);

    // A new image: a second RS, rolled one pod at a time (maxSurge 1, maxUnavailable 0).
    let (seen, watch_tasks) = observe(&client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    set_image(&client, "web", "busybox:2").await;
    let done = wait_complete(&client, "web", 3).await;
    let rss = replica_sets(&client, &uid).await;
    assert_eq!(rss.len(), 2);
    let new = rss.values().find(|r| image_of(r) == "busybox:2").unwrap();
    let new_name = new.metadata.name.clone().unwrap();
    assert_eq!(annotation(new, util::REVISION).as_deref(), Some("2"));
    assert_eq!(new.spec.replicas, Some(3));
    assert_eq!(rss[first_name].spec.replicas, Some(0), "the old RS is scaled to zero and kept");
    assert_eq!(done.metadata.annotations.as_ref().unwrap()[util::REVISION], "2");
    {
        let s = seen.lock().unwrap();
        assert!(s.max_pods <= 4, "never more than replicas+maxSurge pods: {s:?}");
        assert!(s.max_rs_replicas <= 4, "never more than replicas+maxSurge replicas asked for: {s:?}");
        assert!(s.min_ready.unwrap() >= 3, "never fewer than replicas-maxUnavailable ready: {s:?}");
    }
    let scaled = event_messages(&client, "web", "ScalingReplicaSet").await;
    assert!(scaled.contains(&format!("Scaled up replica set {new_name} from 0 to 1")), "{scaled:?}");
    assert!(scaled.contains(&format!("Scaled down replica set {first_name} from 3 to 2")), "{scaled:?}");
    assert!(scaled.contains(&format!("Scaled down replica set {first_name} from 1 to 0")), "{scaled:?}");
    for t in watch_tasks {
        t.abort();
    }

    // Two more revisions: with revisionHistoryLimit 2 the oldest RS goes.
    set_image(&client, "web", "busybox:3").await;
    wait_complete(&client, "web", 3).await;
    set_image(&client, "web", "busybox:4").await;
    wait_complete(&client, "web", 3).await;
    let rss = wait_for("history trimmed to 2 old RSs", Duration::from_secs(20), async || {
        Some(replica_sets(&client, &uid).await).filter(|r| r.len() == 3)
    })
    .await;
    let mut revisions: Vec<(String, String)> = rss.values().map(|r| (annotation(r, util::REVISION).unwrap(), image_of(r))).collect();
    revisions.sort();
    assert_eq!(revisions, [("2".into(), "busybox:2".into()), ("3".into(), "busybox:3".into()), ("4".into(), "busybox:4".into())]);

    // Rolling back = the template of revision 3 again: that RS becomes revision 5 and remembers 3.
    set_image(&client, "web", "busybox:3").await;
    let done = wait_complete(&client, "web", 3).await;
    let rss = replica_sets(&client, &uid).await;
    let back = rss.values().find(|r| image_of(r) == "busybox:3").unwrap();
    assert_eq!(annotation(back, util::REVISION).as_deref(), Some("5"));
    assert_eq!(annotation(back, util::REVISION_HISTORY).as_deref(), Some("3"));
    assert_eq!(back.spec.replicas, Some(3));
    assert_eq!(done.metadata.annotations.as_ref().unwrap()[util::REVISION], "5");
    assert_eq!(rss.len(), 3, "no new RS for a template that has one");
    running.stop().await;
}

#[tokio::test]
async fn recreate_removes_every_old_pod_before_creating_new_ones() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    let d = api.create(&PostParams::default(), &deployment("db", 2, "busybox:1", serde_json::json!({"type": "Recreate"}), serde_json::json!({}))).await.unwrap();
    wait_complete(&client, "db", 2).await;
    let (seen, watch_tasks) = observe(&client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!seen.lock().unwrap().mixed_templates);
    set_image(&client, "db", "busybox:2").await;
    wait_complete(&client, "db", 2).await;
    let rss = replica_sets(&client, d.metadata.uid.as_deref().unwrap()).await;
    assert_eq!(rss.len(), 2);
    let replicas: HashMap<String, i32> = rss.values().map(|r| (image_of(r), r.spec.replicas.unwrap())).collect();
    assert_eq!(replicas, HashMap::from([("busybox:1".to_string(), 0), ("busybox:2".to_string(), 2)]));
    let s = seen.lock().unwrap();
    assert!(!s.mixed_templates, "old and new pods never coexist: {s:?}");
    assert!(s.max_pods <= 2, "{s:?}");
    for t in watch_tasks {
        t.abort();
    }
    drop(s);
    running.stop().await;
}

#[tokio::test]
async fn pause_resume_and_proportional_scaling_mid_rollout() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    let d = api.create(&PostParams::default(), &deployment("app", 10, "busybox:1", rolling(serde_json::json!(3), serde_json::json!(2)), serde_json::json!({}))).await.unwrap();
    let uid = d.metadata.uid.clone().unwrap();
    wait_complete(&client, "app", 10).await;

    // Paused: a template change makes no new RS.
    patch_spec(&client, "app", serde_json::json!({"paused": true})).await;
    let paused = wait_for("DeploymentPaused", Duration::from_secs(10), async || {
        let d = api.get("app").await.unwrap();
        condition(&d, "Progressing").filter(|c| c.reason.as_deref() == Some("DeploymentPaused"))
    })
    .await;
    assert_eq!((paused.status.as_deref(), paused.message.as_deref()), (Some("Unknown"), Some("Deployment is paused")));
    set_image(&client, "app", "busybox:2").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replica_sets(&client, &uid).await.len(), 1, "no rollout while paused");

    // Resumed with new pods that never become ready: the rollout stops at
    // 13 replicas (maxSurge 3), 8 of them old (maxUnavailable 2).
    running.ready.store(false, Ordering::SeqCst);
    patch_spec(&client, "app", serde_json::json!({"paused": false})).await;
    wait_for("DeploymentResumed or progress", Duration::from_secs(10), async || {
        let d = api.get("app").await.unwrap();
        condition(&d, "Progressing").filter(|c| c.reason.as_deref() != Some("DeploymentPaused"))
    })
    .await;
    let sizes = |rss: &BTreeMap<String, ReplicaSet>| -> BTreeMap<String, i32> { rss.values().map(|r| (image_of(r), r.spec.replicas.unwrap())).collect() };
    let stuck = wait_for("new 5 / old 8", Duration::from_secs(30), async || {
        let rss = replica_sets(&client, &uid).await;
        Some(rss).filter(|r| sizes(r) == BTreeMap::from([("busybox:1".to_string(), 8), ("busybox:2".to_string(), 5)]))
    })
    .await;
    let old_name = stuck.values().find(|r| image_of(r) == "busybox:1").unwrap().metadata.name.clone().unwrap();
    let new_name = stuck.values().find(|r| image_of(r) == "busybox:2").unwrap().metadata.name.clone().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sizes(&replica_sets(&client, &uid).await), sizes(&stuck), "stable while new pods are unready");

    // Scale 10 -> 15 mid-rollout: 5 more spread in proportion (old 8*18/13 -> 11, new 5*18/13 -> 7).
    patch_spec(&client, "app", serde_json::json!({"replicas": 15})).await;
    let rss = wait_for("proportional scale-up", Duration::from_secs(20), async || {
        let rss = replica_sets(&client, &uid).await;
        Some(rss).filter(|r| sizes(r).values().sum::<i32>() == 18)
    })
    .await;
    assert_eq!(sizes(&rss), BTreeMap::from([("busybox:1".to_string(), 11), ("busybox:2".to_string(), 7)]));
    for r in rss.values() {
        assert_eq!((annotation(r, util::DESIRED_REPLICAS).as_deref(), annotation(r, util::MAX_REPLICAS).as_deref()), (Some("15"), Some("18")));
    }
    let scaled = event_messages(&client, "app", "ScalingReplicaSet").await;
    assert!(scaled.contains(&format!("Scaled up replica set {old_name} from 8 to 11")), "{scaled:?}");
    assert!(scaled.contains(&format!("Scaled up replica set {new_name} from 5 to 7")), "{scaled:?}");

    // Pods become ready: the rollout finishes at 15.
    running.ready.store(true, Ordering::SeqCst);
    wait_complete(&client, "app", 15).await;
    let rss = replica_sets(&client, &uid).await;
    assert_eq!(sizes(&rss), BTreeMap::from([("busybox:1".to_string(), 0), ("busybox:2".to_string(), 15)]));
    running.stop().await;
}

#[tokio::test]
async fn a_rollout_without_progress_exceeds_its_deadline() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    running.ready.store(false, Ordering::SeqCst);
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    api.create(&PostParams::default(), &deployment("slow", 2, "busybox:1", rolling(serde_json::json!(1), serde_json::json!(0)), serde_json::json!({"progressDeadlineSeconds": 3})))
        .await
        .unwrap();
    let d = wait_for("ProgressDeadlineExceeded", Duration::from_secs(30), async || {
        let d = api.get("slow").await.unwrap();
        condition(&d, "Progressing").filter(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded")).map(|_| d)
    })
    .await;
    let rs_name = replica_sets(&client, d.metadata.uid.as_deref().unwrap()).await.into_keys().next().unwrap();
    let c = condition(&d, "Progressing").unwrap();
    assert_eq!(c.status.as_deref(), Some("False"));
    assert_eq!(c.message, Some(format!("ReplicaSet {rs_name:?} has timed out progressing.")));
    let a = condition(&d, "Available").unwrap();
    assert_eq!((a.status.as_deref(), a.reason.as_deref()), (Some("False"), Some("MinimumReplicasUnavailable")));

    // Progress again (pods become ready): the condition recovers.
    running.ready.store(true, Ordering::SeqCst);
    wait_complete(&client, "slow", 2).await;
    running.stop().await;
}

#[tokio::test]
async fn a_restarted_controller_manager_finishes_the_rollout_within_bounds() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let mut running = start(&client);
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    let d = api.create(&PostParams::default(), &deployment("svc", 4, "busybox:1", rolling(serde_json::json!(1), serde_json::json!(0)), serde_json::json!({}))).await.unwrap();
    let uid = d.metadata.uid.clone().unwrap();
    wait_complete(&client, "svc", 4).await;
    let (seen, watch_tasks) = observe(&client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    set_image(&client, "svc", "busybox:2").await;
    // Restart while the rollout is under way (the new RS exists, old pods remain).
    wait_for("the new RS", Duration::from_secs(20), async || (replica_sets(&client, &uid).await.len() == 2).then_some(())).await;
    running.restart_controllers(&client).await;
    wait_complete(&client, "svc", 4).await;
    let rss = replica_sets(&client, &uid).await;
    assert_eq!(rss.len(), 2, "one RS per template, no duplicate after the restart");
    let pods = Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    let live: Vec<_> = pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
    assert_eq!(live.len(), 4, "no extra pods");
    let s = seen.lock().unwrap();
    assert!(s.max_pods <= 5 && s.max_rs_replicas <= 5 && s.min_ready.unwrap() >= 4, "{s:?}");
    drop(s);
    for t in watch_tasks {
        t.abort();
    }
    running.stop().await;
}
