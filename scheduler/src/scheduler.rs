//! The scheduler: informers feed the cache and the queue; one loop pops
//! pods, runs the profile's framework, assumes the pod on the chosen node
//! and hands the binding to a concurrent binder.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use parking_lot::Mutex;
use serde_json::json;
use tokio::task::JoinSet;

use client::events::{EventRecorder, EventType};
use client::informer::{Informer, InformerConfig, InformerEvent};
use client::store::Store;
use client::{Api, CancellationToken, Client, DeleteParams, Patch, PostParams};

use crate::binder::Binder;
use crate::cache::{Cache, Snapshot};
use crate::config::SchedulerConfig;
use crate::framework::{CycleState, Framework};
use crate::listers::{InformerListers, ListerHandle, BY_NAMESPACE};
use crate::metrics::Metrics;
use crate::pod_info::PodInfo;
use crate::preemption::{self, Outcome};
use crate::queue::{ClusterEvent, QueuedPod, SchedulingQueue};
use crate::schedule_one::{Algorithm, ScheduleError};

/// Marks pods that failed because there were no nodes at all.
const NO_NODES: &str = "NoNodesAvailable";

pub struct Scheduler {
    client: Client,
    config: SchedulerConfig,
    profiles: HashMap<String, Arc<Framework>>,
    cache: Mutex<Cache>,
    queue: SchedulingQueue,
    binder: Binder,
    pub metrics: Arc<Metrics>,
    listers: Mutex<Option<Arc<InformerListers>>>,
    synced: tokio::sync::watch::Sender<bool>,
}

fn is_terminal(p: &Pod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded") | Some("Failed"))
}

fn assigned(p: &Pod) -> bool {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
}

impl Scheduler {
    pub fn new(client: Client, config: SchedulerConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        let profiles = config
            .profiles
            .iter()
            .map(|p| (p.scheduler_name.clone(), Arc::new(p.framework(config.percentage_of_nodes_to_score))))
            .collect();
        Arc::new(Scheduler {
            binder: Binder::new(client.clone()),
            queue: SchedulingQueue::new(config.pod_initial_backoff, config.pod_max_backoff),
            cache: Mutex::new(Cache::new()),
            profiles,
            config,
            client,
            metrics,
            listers: Mutex::new(None),
            synced: tokio::sync::watch::channel(false).0,
        })
    }

    fn responsible(&self, p: &Pod) -> bool {
        let name = p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or(crate::config::DEFAULT_SCHEDULER_NAME);
        self.profiles.contains_key(name)
    }

    fn on_node(&self, ev: InformerEvent<Node>) {
        let mut cache = self.cache.lock();
        match ev {
            InformerEvent::Added(n) => {
                cache.add_node(n);
                drop(cache);
                self.queue.move_all(ClusterEvent::NodeAdd);
            }
            InformerEvent::Updated { old, new } => {
                let changed = old.spec != new.spec || old.metadata.labels != new.metadata.labels || old.status.as_ref().map(|s| &s.allocatable) != new.status.as_ref().map(|s| &s.allocatable);
                cache.update_node(new);
                drop(cache);
                if changed {
                    self.queue.move_all(ClusterEvent::NodeUpdate);
                }
            }
            InformerEvent::Deleted(n) => cache.remove_node(n.metadata.name.as_deref().unwrap_or_default()),
        }
    }

    fn on_pod(&self, ev: InformerEvent<Pod>) {
        // Status-only changes of a pending pod (e.g. our own condition) do not make it fit (upstream isPodUpdated).
        let mut spec_changed = true;
        let (pod, deleted) = match ev {
            InformerEvent::Added(p) => (p, false),
            InformerEvent::Updated { old, new } => {
                spec_changed = old.spec != new.spec || old.metadata.labels != new.metadata.labels || old.metadata.annotations != new.metadata.annotations;
                (new, false)
            }
            InformerEvent::Deleted(p) => (p, true),
        };
        let info = Arc::new(PodInfo::new(pod.clone()));
        if assigned(&pod) {
            let gone = deleted || is_terminal(&pod);
            {
                let mut cache = self.cache.lock();
                if gone {
                    cache.remove_pod(&info.key);
                } else {
                    cache.add_or_update_pod(info.clone());
                }
            }
            self.queue.delete(&info.key);
            self.queue.move_all(if gone { ClusterEvent::AssignedPodDelete } else { ClusterEvent::AssignedPodAdd });
            return;
        }
        if deleted || info.terminating || is_terminal(&pod) {
            self.queue.delete(&info.key);
            // An assumed pod deleted before the bind landed.
            let mut cache = self.cache.lock();
            if cache.is_assumed(&info.key) && deleted {
                let _ = cache.forget_pod(&info.key);
            }
            return;
        }
        if !self.responsible(&pod) || self.cache.lock().pod(&info.key).is_some() {
            return;
        }
        self.queue.add_or_update(info, spec_changed);
    }

    /// Runs until `stop` is cancelled: informers, the queue flusher and the scheduling loop.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut tasks = JoinSet::new();
        let nodes = Informer::new(Api::<Node>::all(self.client.clone()), InformerConfig::default());
        let pods = Informer::new(Api::<Pod>::all(self.client.clone()), InformerConfig::default());
        let pod_store = pods.store();
        // What plugins read besides nodes and pods (upstream's listers).
        let c = &self.client;
        let namespaces = Informer::new(Api::<Namespace>::all(c.clone()), InformerConfig::default());
        let services = Informer::new(Api::<Service>::all(c.clone()), InformerConfig::default()).with_index(BY_NAMESPACE, |s: &Service| vec![s.metadata.namespace.clone().unwrap_or_default()]);
        let rcs = Informer::new(Api::<ReplicationController>::all(c.clone()), InformerConfig::default());
        let rss = Informer::new(Api::<ReplicaSet>::all(c.clone()), InformerConfig::default());
        let sss = Informer::new(Api::<StatefulSet>::all(c.clone()), InformerConfig::default());
        let pdbs = Informer::new(Api::<PodDisruptionBudget>::all(c.clone()), InformerConfig::default());
        let pvcs = Informer::new(Api::<PersistentVolumeClaim>::all(c.clone()), InformerConfig::default());
        let pvs = Informer::new(Api::<PersistentVolume>::all(c.clone()), InformerConfig::default());
        let classes = Informer::new(Api::<StorageClass>::all(c.clone()), InformerConfig::default());
        let listers = InformerListers {
            namespaces: namespaces.store(),
            services: services.store(),
            replication_controllers: rcs.store(),
            replica_sets: rss.store(),
            stateful_sets: sss.store(),
            pdbs: pdbs.store(),
            pvcs: pvcs.store(),
            pvs: pvs.store(),
            storage_classes: classes.store(),
        };
        *self.listers.lock() = Some(Arc::new(listers));
        tasks.spawn(async move { namespaces.run().await });
        tasks.spawn(async move { services.run().await });
        tasks.spawn(async move { rcs.run().await });
        tasks.spawn(async move { rss.run().await });
        tasks.spawn(async move { sss.run().await });
        tasks.spawn(async move { pdbs.run().await });
        // A claim, volume or class that changes may let a pod VolumeBinding rejected fit.
        let (mut pvc_ev, mut pv_ev, mut class_ev) = (pvcs.subscribe(), pvs.subscribe(), classes.subscribe());
        tasks.spawn(async move { pvcs.run().await });
        tasks.spawn(async move { pvs.run().await });
        tasks.spawn(async move { classes.run().await });
        let s = self.clone();
        tasks.spawn(async move {
            loop {
                let got = tokio::select! {
                    e = pvc_ev.recv() => e.map(|_| ()),
                    e = pv_ev.recv() => e.map(|_| ()),
                    e = class_ev.recv() => e.map(|_| ()),
                };
                if got.is_none() {
                    break;
                }
                s.queue.move_all(ClusterEvent::VolumeChange);
            }
        });
        let (mut node_ev, mut pod_ev) = (nodes.subscribe(), pods.subscribe());
        let (ni, pi) = (nodes.clone(), pods.clone());
        tasks.spawn(async move { ni.run().await });
        tasks.spawn(async move { pi.run().await });
        let s = self.clone();
        tasks.spawn(async move {
            while let Some(ev) = node_ev.recv().await {
                s.on_node(ev);
            }
        });
        let s = self.clone();
        tasks.spawn(async move {
            while let Some(ev) = pod_ev.recv().await {
                s.on_pod(ev);
                // Drain what is already there without yielding per event.
                while let Ok(ev) = pod_ev.try_recv() {
                    s.on_pod(ev);
                }
            }
        });
        let s = self.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                s.queue.flush();
                *s.metrics.queue.lock() = s.queue.lengths();
            }
        });
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = async { nodes.wait_synced().await; pods.wait_synced().await; self.wait_listers_synced().await } => {
                tracing::info!(nodes = nodes.store().len(), pods = pod_store.len(), "caches synced; scheduling");
                self.synced.send_replace(true);
                let recorder = EventRecorder::new(self.client.clone(), crate::config::DEFAULT_SCHEDULER_NAME, None);
                let s = self.clone();
                // In the JoinSet so that dropping this future (a killed leader) stops the loop too.
                tasks.spawn(async move { s.schedule_loop(pod_store, recorder).await });
                stop.cancelled().await;
                self.queue.close();
            }
        }
        tasks.abort_all();
    }

    async fn schedule_loop(self: Arc<Self>, pods: Store<Pod>, recorder: EventRecorder) {
        let listers = self.listers.lock().clone().map(|l| ListerHandle(l)).unwrap_or_default();
        let mut snapshot = Snapshot::default();
        snapshot.listers = listers;
        let mut alg = Algorithm::default();
        while let Some(qp) = self.queue.pop().await {
            self.schedule_one(qp, &pods, &recorder, &mut snapshot, &mut alg);
            tokio::task::yield_now().await;
        }
    }

    fn schedule_one(self: &Arc<Self>, mut qp: QueuedPod, pods: &Store<Pod>, recorder: &EventRecorder, snap: &mut Snapshot, alg: &mut Algorithm) {
        let key = qp.pod.key.clone();
        // Skip pods deleted or bound since they were queued.
        match pods.get_by_key(&key) {
            Some(p) if !assigned(&p) && p.metadata.deletion_timestamp.is_none() => {}
            _ => {
                self.queue.done(&key);
                return;
            }
        }
        let Some(fw) = self.profiles.get(&qp.pod.scheduler_name).cloned() else {
            self.queue.done(&key);
            return;
        };
        let cycle = self.queue.scheduling_cycle();
        let start = Instant::now();
        self.cache.lock().update_snapshot(snap);
        let mut state = CycleState::default();
        let result = alg.schedule(&fw, &mut state, &qp.pod, snap);
        self.metrics.attempt_duration.observe(start.elapsed());
        match result {
            Ok(r) => {
                let mut assumed = (*qp.pod).clone();
                assumed.node_name = Some(r.node.clone());
                if let Err(e) = self.cache.lock().assume_pod(Arc::new(assumed), &r.node) {
                    tracing::warn!(pod = %key, error = %e, "assume failed");
                    self.queue.done(&key);
                    return;
                }
                let labels = snap.get(&r.node).map(|n| n.labels.clone()).unwrap_or_default();
                self.spawn_bind(qp, r.node, labels, recorder.clone(), cycle);
            }
            Err(err) => {
                let mut message = err.to_string();
                qp.unschedulable_plugins.clear();
                let mut nominated = None;
                match &err {
                    ScheduleError::Fit(fe) => {
                        qp.unschedulable_plugins.extend(fe.diagnosis.unschedulable_plugins.iter().copied());
                        if fw.has_post_filter() {
                            self.metrics.preemption_attempts.fetch_add(1, Ordering::Relaxed);
                            match preemption::preempt(&fw, &qp.pod, snap, &fe.diagnosis) {
                                Outcome::Preempt(c) => {
                                    self.evict(&qp.pod, &c, recorder);
                                    nominated = Some(c.node);
                                    qp.unschedulable_plugins.insert(crate::plugins::DEFAULT_PREEMPTION);
                                }
                                Outcome::Wait => {
                                    nominated = qp.pod.pod.status.as_ref().and_then(|s| s.nominated_node_name.clone());
                                    qp.unschedulable_plugins.insert(crate::plugins::DEFAULT_PREEMPTION);
                                    let mut fe = fe.clone();
                                    fe.diagnosis.post_filter_msg = Some("preemption: not eligible due to a terminating pod on the nominated node".into());
                                    message = fe.to_string();
                                }
                                Outcome::NotHelpful(m) => {
                                    let mut fe = fe.clone();
                                    fe.diagnosis.post_filter_msg = Some(m);
                                    message = fe.to_string();
                                }
                            }
                        }
                        self.metrics.unschedulable.fetch_add(1, Ordering::Relaxed);
                    }
                    ScheduleError::NoNodes => {
                        qp.unschedulable_plugins.insert(NO_NODES);
                        self.metrics.unschedulable.fetch_add(1, Ordering::Relaxed);
                    }
                    ScheduleError::Internal { .. } => {
                        self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tracing::debug!(pod = %key, %message, "unschedulable");
                recorder.publish(qp.pod.pod.as_ref(), EventType::Warning, "FailedScheduling", message.clone());
                self.update_status(&qp.pod, message, nominated);
                self.queue.add_unschedulable(qp, cycle);
            }
        }
    }

    fn spawn_bind(self: &Arc<Self>, qp: QueuedPod, node: String, node_labels: api::selector::Labels, recorder: EventRecorder, cycle: u64) {
        let s = self.clone();
        tokio::spawn(async move {
            let pod = &qp.pod;
            // PreBind: VolumeBinding's claims bound for this node before the pod is.
            if !crate::plugins::volume_binding::claim_names(pod).is_empty() {
                let listers = s.listers.lock().clone().map(|l| ListerHandle(l)).unwrap_or_default();
                let timeout = crate::plugins::volume_binding::BIND_TIMEOUT;
                if let Err(why) = crate::plugins::volume_binding::pre_bind(&s.client, &*listers, pod, &node, &node_labels, timeout).await {
                    let message = format!("running PreBind plugin \"VolumeBinding\": {why}");
                    tracing::warn!(pod = %pod.key, %node, %message, "prebind failed; requeueing");
                    s.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    let _ = s.cache.lock().forget_pod(&pod.key);
                    recorder.publish(pod.pod.as_ref(), EventType::Warning, "FailedScheduling", message.clone());
                    s.update_status(pod, message, None);
                    let mut qp = qp;
                    qp.unschedulable_plugins.clear();
                    qp.unschedulable_plugins.insert(crate::plugins::VOLUME_BINDING);
                    s.queue.add_unschedulable(qp, cycle);
                    return;
                }
            }
            match s.binder.bind(&pod.namespace, &pod.name, &node).await {
                Ok(()) => {
                    s.metrics.scheduled.fetch_add(1, Ordering::Relaxed);
                    if let Some(first) = qp.initial_attempt {
                        s.metrics.e2e_latency.observe(first.elapsed());
                    }
                    recorder.publish(
                        pod.pod.as_ref(),
                        EventType::Normal,
                        "Scheduled",
                        format!("Successfully assigned {}/{} to {}", pod.namespace, pod.name, node),
                    );
                    s.queue.done(&pod.key);
                }
                Err(e) => {
                    tracing::warn!(pod = %pod.key, %node, error = %e, "binding failed; requeueing");
                    s.metrics.binds_failed.fetch_add(1, Ordering::Relaxed);
                    s.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    let _ = s.cache.lock().forget_pod(&pod.key);
                    if e.is_not_found() {
                        s.queue.done(&pod.key);
                        return;
                    }
                    let mut qp = qp;
                    qp.unschedulable_plugins.clear();
                    s.queue.add_unschedulable(qp, cycle);
                }
            }
        });
    }

    /// Sets the PodScheduled=False condition (and nominatedNodeName) when it changed.
    fn update_status(&self, pod: &PodInfo, message: String, nominated: Option<String>) {
        let st = pod.pod.status.as_ref();
        let current = st.and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let same = current.is_some_and(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable") && c.message.as_deref() == Some(&message));
        let nominated_same = nominated.is_none() || st.and_then(|s| s.nominated_node_name.as_ref()) == nominated.as_ref();
        if same && nominated_same {
            return;
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut status = json!({"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastProbeTime": null, "lastTransitionTime": now,
        }]});
        if let Some(n) = nominated {
            status["nominatedNodeName"] = json!(n);
        }
        let api = Api::<Pod>::namespaced(self.client.clone(), &pod.namespace);
        let name = pod.name.clone();
        tokio::spawn(async move {
            if let Err(e) = api.patch_status(&name, &PostParams::default(), &Patch::Merge(json!({ "status": status }))).await {
                tracing::debug!(pod = %name, error = %e, "status update failed");
            }
        });
    }

    /// Deletes the victims of a preemption, with a Preempted event on each.
    fn evict(&self, preemptor: &PodInfo, c: &preemption::Candidate, recorder: &EventRecorder) {
        self.metrics.preemption_victims.fetch_add(c.victims.len() as u64, Ordering::Relaxed);
        for v in &c.victims {
            let msg = format!("Preempted by pod {} on node {}", preemptor.uid, c.node);
            recorder.publish(v.pod.as_ref(), EventType::Normal, "Preempted", msg);
            let api = Api::<Pod>::namespaced(self.client.clone(), &v.namespace);
            let name = v.name.clone();
            tokio::spawn(async move {
                if let Err(e) = api.delete(&name, &DeleteParams::default()).await {
                    if !e.is_not_found() {
                        tracing::warn!(pod = %name, error = %e, "deleting preemption victim failed");
                    }
                }
            });
        }
    }

    async fn wait_listers_synced(&self) {
        let Some(l) = self.listers.lock().clone() else { return };
        l.wait_synced().await;
    }

    /// Resolves once the informers have synced and the loop runs.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Nodes and pods in the scheduler cache.
    pub fn cache_counts(&self) -> (usize, usize) {
        let c = self.cache.lock();
        (c.node_count(), c.pod_count())
    }

    pub fn queue_lengths(&self) -> crate::queue::Lengths {
        self.queue.lengths()
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }
}
