//! ReplicaSet and ReplicationController (upstream's pkg/controller/replicaset;
//! pkg/controller/replication runs the same code on RCs through an adapter,
//! here the [`ReplicaKind`] trait): keep `spec.replicas` active pods that
//! match the selector, owned through their controller reference.
//!
//! One sync of a key: claim pods (adopt matching orphans, release owned pods
//! that stopped matching), then, if the expectations are satisfied, create
//! the missing pods in slow-start batches (1, 2, 4, ...) or delete the
//! surplus in upstream's order, then write status (replicas,
//! fullyLabeledReplicas, readyReplicas, availableReplicas,
//! observedGeneration, the ReplicaFailure condition). Expectations keep a
//! lagging pod cache from causing a second round of creates; a failed
//! create lowers them, records FailedCreate and returns the error, so the
//! key is retried with backoff.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::owner::{controller_of, controller_ref_for};
use api::Selector;
use client::controller::{Action, Controller, UidTrackingExpectations};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{key_of, split_key, Store};
use client::workqueue::WorkQueue;
use client::{Api, Client, DeleteParams, PostParams, Resource};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController, ReplicationControllerCondition, ReplicationControllerStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::controller_utils::{
    is_namespace_terminating, is_pod_active, is_pod_available, is_pod_ready, pod_from_template, pod_key, pods_to_delete, slow_start_batch, SLOW_START_INITIAL_BATCH_SIZE,
};
use crate::informers::NAMESPACE_INDEX;
use crate::ref_manager::claim_pods;
use crate::Error;

/// Upstream's BurstReplicas: at most this many creates or deletes per sync.
pub const BURST_REPLICAS: usize = 500;

pub const REPLICASET: Descriptor = Descriptor {
    name: "replicaset-controller",
    aliases: &["replicaset"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-replicaset-syncs",
        default: 5,
        help: "The number of replica sets that are allowed to sync concurrently. Larger number = more responsive replica management, but more CPU (and network) load",
    }),
    start: start::<ReplicaSet>,
};

pub const REPLICATION_CONTROLLER: Descriptor = Descriptor {
    name: "replicationcontroller-controller",
    aliases: &["replicationcontroller"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-rc-syncs",
        default: 5,
        help: "The number of replication controllers that are allowed to sync concurrently. Larger number = more responsive replica management, but more CPU (and network) load",
    }),
    start: start::<ReplicationController>,
};

/// What the controller needs of a ReplicaSet or a ReplicationController.
pub trait ReplicaKind: Resource {
    /// The work queue's (and metrics') name, as upstream.
    const QUEUE: &'static str;
    /// The Events' source component.
    const COMPONENT: &'static str;
    fn replicas(&self) -> i32;
    fn selector(&self) -> Result<Selector, String>;
    fn template(&self) -> Option<&PodTemplateSpec>;
    fn min_ready_seconds(&self) -> i32;
    fn replica_status(&self) -> ReplicaStatus;
    fn set_replica_status(&mut self, s: &ReplicaStatus);
}

/// The status both kinds share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaStatus {
    pub replicas: i32,
    pub fully_labeled_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub observed_generation: i64,
    pub conditions: Vec<ReplicaCondition>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaCondition {
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<Time>,
}

/// The condition type for pods that cannot be created or deleted.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

fn nonzero(v: i32) -> Option<i32> {
    (v != 0).then_some(v)
}

impl ReplicaKind for ReplicaSet {
    const QUEUE: &'static str = "replicaset";
    const COMPONENT: &'static str = "replicaset-controller";
    fn replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
    fn selector(&self) -> Result<Selector, String> {
        Selector::from_label_selector(Some(&self.spec.selector)).map_err(|e| e.to_string())
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.template.as_ref()
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.min_ready_seconds.unwrap_or(0)
    }
    fn replica_status(&self) -> ReplicaStatus {
        let s = self.status.clone().unwrap_or_default();
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            conditions: s
                .conditions
                .unwrap_or_default()
                .into_iter()
                .map(|c| ReplicaCondition { type_: c.type_.unwrap_or_default(), status: c.status.unwrap_or_default(), reason: c.reason, message: c.message, last_transition_time: c.last_transition_time })
                .collect(),
        }
    }
    fn set_replica_status(&mut self, s: &ReplicaStatus) {
        let conditions: Vec<ReplicaSetCondition> = s
            .conditions
            .iter()
            .map(|c| ReplicaSetCondition { type_: Some(c.type_.clone()), status: Some(c.status.clone()), reason: c.reason.clone(), message: c.message.clone(), last_transition_time: c.last_transition_time.clone() })
            .collect();
        self.status = Some(ReplicaSetStatus {
            replicas: s.replicas,
            fully_labeled_replicas: nonzero(s.fully_labeled_replicas),
            ready_replicas: nonzero(s.ready_replicas),
            available_replicas: nonzero(s.available_replicas),
            observed_generation: (s.observed_generation != 0).then_some(s.observed_generation),
            conditions: (!conditions.is_empty()).then_some(conditions),
            terminating_replicas: self.status.as_ref().and_then(|st| st.terminating_replicas),
        });
    }
}

impl ReplicaKind for ReplicationController {
    const QUEUE: &'static str = "replicationmanager";
    const COMPONENT: &'static str = "replication-controller";
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn selector(&self) -> Result<Selector, String> {
        // A map selector: every label with its value (an empty one selects everything).
        Ok(Selector::from_set(&self.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default()))
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn replica_status(&self) -> ReplicaStatus {
        let s = self.status.clone().unwrap_or_default();
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            conditions: s
                .conditions
                .unwrap_or_default()
                .into_iter()
                .map(|c| ReplicaCondition { type_: c.type_, status: c.status, reason: c.reason, message: c.message, last_transition_time: c.last_transition_time })
                .collect(),
        }
    }
    fn set_replica_status(&mut self, s: &ReplicaStatus) {
        let conditions: Vec<ReplicationControllerCondition> = s
            .conditions
            .iter()
            .map(|c| ReplicationControllerCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
            .collect();
        self.status = Some(ReplicationControllerStatus {
            replicas: s.replicas,
            fully_labeled_replicas: nonzero(s.fully_labeled_replicas),
            ready_replicas: nonzero(s.ready_replicas),
            available_replicas: nonzero(s.available_replicas),
            observed_generation: (s.observed_generation != 0).then_some(s.observed_generation),
            conditions: (!conditions.is_empty()).then_some(conditions),
        });
    }
}

fn start<R: ReplicaKind>(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let owners = ctx.informers.get::<R>();
        let pods = ctx.informers.get::<Pod>();
        let expectations = UidTrackingExpectations::new();
        let state = Arc::new(Sync_ {
            client: ctx.client.clone(),
            owners: owners.store(),
            pods: pods.store(),
            expectations: expectations.clone(),
            recorder: EventRecorder::new(ctx.client.clone(), R::COMPONENT, None),
            burst_replicas: BURST_REPLICAS,
        });
        let controller = Controller::new(R::QUEUE, &owners).workers(ctx.workers);
        let queue = controller.queue();
        let on_pod = state.clone();
        let controller = controller
            .watches(&pods, move |ev| on_pod.pod_event(ev, &queue))
            // A deleted owner's expectations go with it (a new one of the same name starts clean).
            .watches(&owners, move |ev| {
                if let InformerEvent::Deleted(o) = ev {
                    expectations.delete(&key_of(o.as_ref()));
                }
                Vec::new()
            });
        let controller = ctx.metrics.instrument(R::QUEUE, controller);
        controller.run(state.clone(), sync::<R>, ctx.shutdown.clone()).await;
        state.recorder.flush().await;
    })
}

/// The controller's state, shared by its workers and its pod handler.
struct Sync_<R> {
    client: Client,
    owners: Store<R>,
    pods: Store<Pod>,
    expectations: UidTrackingExpectations,
    recorder: EventRecorder,
    burst_replicas: usize,
}

impl<R: ReplicaKind> Sync_<R> {
    /// The owner a controller reference names, if it is of our kind and the
    /// cached object has its uid (resolveControllerRef).
    fn resolve(&self, namespace: &str, r: &OwnerReference) -> Option<Arc<R>> {
        if r.kind != R::KIND {
            return None;
        }
        self.owners.get(namespace, &r.name).filter(|o| o.metadata().uid.as_deref() == Some(r.uid.as_str()))
    }

    /// Keys of the owners whose (non-empty) selector matches the pod (getPodReplicaSets).
    fn owners_selecting(&self, pod: &Pod) -> Vec<String> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        self.owners
            .by_index(NAMESPACE_INDEX, ns)
            .into_iter()
            .filter(|o| o.selector().is_ok_and(|s| !s.is_empty() && s.matches_opt(pod.metadata.labels.as_ref())))
            .map(|o| key_of(o.as_ref()))
            .collect()
    }

    /// A pod went (or got a deletionTimestamp): its owner observed the deletion.
    fn pod_deleted(&self, pod: &Pod) -> Vec<String> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let Some(owner) = controller_of(&pod.metadata).and_then(|r| self.resolve(ns, r)) else { return Vec::new() };
        let key = key_of(owner.as_ref());
        self.expectations.deletion_observed(&key, &pod_key(pod));
        vec![key]
    }

    /// upstream's addPod / updatePod / deletePod: which owners to sync, and
    /// what the expectations observed.
    fn pod_event(&self, ev: &InformerEvent<Pod>, queue: &WorkQueue<String>) -> Vec<String> {
        match ev {
            InformerEvent::Added(pod) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    // Seen for the first time already being deleted (e.g. after a restart).
                    return self.pod_deleted(pod);
                }
                let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
                if let Some(r) = controller_of(&pod.metadata) {
                    let Some(owner) = self.resolve(ns, r) else { return Vec::new() };
                    let key = key_of(owner.as_ref());
                    self.expectations.creation_observed(&key);
                    return vec![key];
                }
                // An orphan: whoever matches may adopt it.
                self.owners_selecting(pod)
            }
            InformerEvent::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return Vec::new(); // a resync
                }
                let labels_changed = old.metadata.labels != new.metadata.labels;
                if new.metadata.deletion_timestamp.is_some() {
                    let mut keys = self.pod_deleted(new);
                    if labels_changed {
                        keys.extend(self.pod_deleted(old));
                    }
                    return keys;
                }
                let ns = new.metadata.namespace.as_deref().unwrap_or_default();
                let (old_ref, cur_ref) = (controller_of(&old.metadata), controller_of(&new.metadata));
                let ref_changed = old_ref != cur_ref;
                let mut keys = Vec::new();
                if ref_changed {
                    if let Some(o) = old_ref.and_then(|r| self.resolve(ns, r)) {
                        keys.push(key_of(o.as_ref()));
                    }
                }
                if let Some(r) = cur_ref {
                    if let Some(o) = self.resolve(ns, r) {
                        let key = key_of(o.as_ref());
                        // Became ready: check availability once minReadySeconds have passed.
                        let min_ready = o.min_ready_seconds();
                        if min_ready > 0 && !is_pod_ready(old) && is_pod_ready(new) {
                            queue.add_after(key.clone(), Duration::from_secs(min_ready as u64) + Duration::from_secs(1));
                        }
                        keys.push(key);
                    }
                    return keys;
                }
                if labels_changed || ref_changed {
                    keys.extend(self.owners_selecting(new));
                }
                keys
            }
            InformerEvent::Deleted(pod) => self.pod_deleted(pod),
        }
    }

    /// Pods matching the selectors of the owners that share this owner's
    /// controller (a Deployment's ReplicaSets), to rank scale-down victims
    /// by node crowding (getIndirectlyRelatedPods). None without a controller.
    fn related_pods(&self, owner: &R) -> Vec<Arc<Pod>> {
        let Some(ctrl) = controller_of(owner.metadata()) else { return Vec::new() };
        let ns = owner.metadata().namespace.as_deref().unwrap_or_default();
        let selectors: Vec<Selector> = self
            .owners
            .by_index(NAMESPACE_INDEX, ns)
            .into_iter()
            .filter(|o| controller_of(o.metadata()).is_some_and(|r| r.uid == ctrl.uid))
            .filter_map(|o| o.selector().ok())
            .collect();
        let mut seen = HashSet::new();
        self.pods
            .by_index(NAMESPACE_INDEX, ns)
            .into_iter()
            .filter(|p| selectors.iter().any(|s| s.matches_opt(p.metadata.labels.as_ref())))
            .filter(|p| seen.insert(p.metadata.uid.clone()))
            .collect()
    }

    /// Creates or deletes pods toward `spec.replicas` (manageReplicas).
    async fn manage_replicas(&self, pods: &[Arc<Pod>], owner: &R, key: &str) -> Result<(), Error> {
        let diff = pods.len() as i64 - i64::from(owner.replicas());
        if diff < 0 {
            let n = ((-diff) as usize).min(self.burst_replicas);
            // Expect them before creating: the informer may see a pod before create returns.
            self.expectations.expect_creations(key, n);
            tracing::debug!(%key, need = owner.replicas(), creating = n, "too few replicas");
            let template = owner.template().cloned().unwrap_or_default();
            let pod = pod_from_template(&template, owner.metadata(), controller_ref_for(owner));
            let (created, err) = slow_start_batch(n, SLOW_START_INITIAL_BATCH_SIZE, || self.create_pod(owner, &pod)).await;
            // The pods never created will never be observed.
            for _ in created..n {
                self.expectations.creation_observed(key);
            }
            return err.map_or(Ok(()), Err);
        }
        if diff > 0 {
            let n = (diff as usize).min(self.burst_replicas);
            tracing::debug!(%key, need = owner.replicas(), deleting = n, "too many replicas");
            let victims = pods_to_delete(pods, &self.related_pods(owner), n, crate::controller_utils::now());
            self.expectations.expect_deletions(key, victims.iter().map(|p| pod_key(p)).collect());
            let results = futures::future::join_all(victims.iter().map(|p| async move {
                let r = self.delete_pod(owner, p).await;
                if r.is_err() {
                    // The informer will not see this one go.
                    self.expectations.deletion_observed(key, &pod_key(p));
                }
                r
            }))
            .await;
            if let Some(e) = results.into_iter().filter_map(Result::err).find(|e| !e.is_not_found()) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// PodControl.CreatePods: one pod from the template, with Events.
    async fn create_pod(&self, owner: &R, pod: &Pod) -> Result<(), Error> {
        if pod.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            return Err(Error::Other("unable to create pods, no labels".into()));
        }
        let ns = owner.metadata().namespace.as_deref().unwrap_or_default();
        match Api::<Pod>::namespaced(self.client.clone(), ns).create(&PostParams::default(), pod).await {
            Ok(created) => {
                let name = created.metadata.name.unwrap_or_default();
                tracing::debug!(owner = %key_of(owner), pod = %name, "created pod");
                self.recorder.publish(owner, EventType::Normal, "SuccessfulCreate", format!("Created pod: {name}"));
                Ok(())
            }
            // Nothing can be created in a namespace being deleted; the namespace controller cleans up.
            Err(e) if is_namespace_terminating(&e) => Ok(()),
            Err(e) => {
                self.recorder.publish(owner, EventType::Warning, "FailedCreate", format!("Error creating: {e}"));
                Err(e.into())
            }
        }
    }

    /// PodControl.DeletePod, with Events.
    async fn delete_pod(&self, owner: &R, pod: &Pod) -> Result<(), Error> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        match Api::<Pod>::namespaced(self.client.clone(), ns).delete(name, &DeleteParams::default()).await {
            Ok(_) => {
                self.recorder.publish(owner, EventType::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                Ok(())
            }
            Err(e) if e.is_not_found() => Err(e.into()),
            Err(e) => {
                self.recorder.publish(owner, EventType::Warning, "FailedDelete", format!("Error deleting: {e}"));
                Err(Error::Other(format!("unable to delete pods: {e}")))
            }
        }
    }
}

/// One sync of `key` (syncReplicaSet).
async fn sync<R: ReplicaKind>(ctx: Arc<Sync_<R>>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let Some(owner) = ctx.owners.get(ns, name) else {
        ctx.expectations.delete(&key);
        return Ok(Action::Done);
    };
    let needs_sync = ctx.expectations.satisfied(&key);
    let selector = match owner.selector() {
        Ok(s) => s,
        Err(e) => {
            // Validation makes this unreachable; retrying would not help.
            tracing::error!(%key, error = %e, "invalid selector");
            return Ok(Action::Done);
        }
    };
    let active: Vec<Arc<Pod>> = ctx.pods.by_index(NAMESPACE_INDEX, ns).into_iter().filter(|p| is_pod_active(p)).collect();
    let controller_ref = controller_ref_for(owner.as_ref());
    let recheck = || recheck_owner::<R>(&ctx.client, owner.as_ref());
    let (pods, claim_err) = claim_pods(&ctx.client, owner.metadata(), &controller_ref, &selector, active, recheck).await;
    if let Some(e) = claim_err {
        return Err(e);
    }
    let mut manage_err = None;
    if needs_sync && owner.metadata().deletion_timestamp.is_none() {
        manage_err = ctx.manage_replicas(&pods, &owner, &key).await.err();
    }
    let status = calculate_status(owner.as_ref(), &pods, manage_err.as_ref(), crate::controller_utils::now());
    let status = update_status(&ctx.client, owner.as_ref(), status).await?;
    let min_ready = owner.min_ready_seconds();
    if manage_err.is_none() && min_ready > 0 && status.ready_replicas == owner.replicas() && status.available_replicas != owner.replicas() {
        return Ok(Action::RequeueAfter(Duration::from_secs(min_ready as u64)));
    }
    match manage_err {
        Some(e) => Err(e),
        None => Ok(Action::Done),
    }
}

/// Before adopting: the owner, read from the apiserver, is still the same
/// object and not being deleted (RecheckDeletionTimestamp).
async fn recheck_owner<R: ReplicaKind>(client: &Client, owner: &R) -> Result<(), Error> {
    let m = owner.metadata();
    let (ns, name) = (m.namespace.as_deref().unwrap_or_default(), m.name.as_deref().unwrap_or_default());
    let fresh = Api::<R>::namespaced(client.clone(), ns).get(name).await?;
    if fresh.metadata().uid != m.uid {
        return Err(Error::Other(format!(
            "original {} {ns}/{name} is gone: got uid {}, wanted {}",
            R::KIND,
            fresh.metadata().uid.as_deref().unwrap_or_default(),
            m.uid.as_deref().unwrap_or_default()
        )));
    }
    if let Some(t) = &fresh.metadata().deletion_timestamp {
        return Err(Error::Other(format!("{ns}/{name} has just been deleted at {}", t.0)));
    }
    Ok(())
}

/// The status the pods give (calculateStatus).
pub fn calculate_status<R: ReplicaKind>(owner: &R, pods: &[Arc<Pod>], manage_err: Option<&Error>, now: Timestamp) -> ReplicaStatus {
    let mut s = owner.replica_status();
    let template_labels = owner.template().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    let fully = Selector::from_set(&template_labels);
    let min_ready = owner.min_ready_seconds();
    s.fully_labeled_replicas = pods.iter().filter(|p| fully.matches_opt(p.metadata.labels.as_ref())).count() as i32;
    s.ready_replicas = pods.iter().filter(|p| is_pod_ready(p)).count() as i32;
    s.available_replicas = pods.iter().filter(|p| is_pod_available(p, min_ready, now)).count() as i32;
    let failure = s.conditions.iter().position(|c| c.type_ == REPLICA_FAILURE);
    match (manage_err, failure) {
        (Some(e), None) => {
            let diff = pods.len() as i64 - i64::from(owner.replicas());
            let reason = match diff.signum() {
                -1 => Some("FailedCreate".to_string()),
                1 => Some("FailedDelete".to_string()),
                _ => None,
            };
            s.conditions.push(ReplicaCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason,
                message: Some(e.to_string()),
                last_transition_time: Some(Time(now)),
            });
        }
        (None, Some(i)) => {
            s.conditions.remove(i);
        }
        _ => {}
    }
    s.replicas = pods.len() as i32;
    s
}

/// Writes `status` unless nothing changed; on a conflict re-reads the owner
/// and tries once more (updateReplicaSetStatus). Returns the status stored.
async fn update_status<R: ReplicaKind>(client: &Client, owner: &R, mut status: ReplicaStatus) -> Result<ReplicaStatus, Error> {
    let current = owner.replica_status();
    let generation = owner.metadata().generation.unwrap_or(0);
    // `status` started from the current one, so equal means only the counts and conditions were compared.
    if status == current && current.observed_generation == generation {
        return Ok(current);
    }
    status.observed_generation = generation;
    let m = owner.metadata();
    let api = Api::<R>::namespaced(client.clone(), m.namespace.as_deref().unwrap_or_default());
    let mut obj = owner.clone();
    for attempt in 0..2 {
        obj.set_replica_status(&status);
        match api.replace_status(&obj).await {
            Ok(updated) => return Ok(updated.replica_status()),
            Err(e) if attempt == 0 => {
                tracing::debug!(owner = %key_of(owner), error = %e, "status update failed; re-reading");
                obj = api.get(m.name.as_deref().unwrap_or_default()).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 3},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
        }))
        .unwrap()
    }

    fn pod(labels: &[(&str, &str)], ready_since: Option<i64>) -> Arc<Pod> {
        let conditions = ready_since.map(|t| vec![PodCondition { type_: "Ready".into(), status: "True".into(), last_transition_time: Some(Time(Timestamp::from_second(t).unwrap())), ..Default::default() }]);
        Arc::new(Pod {
            metadata: ObjectMeta { labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()), ..Default::default() },
            spec: None,
            status: Some(PodStatus { conditions, ..Default::default() }),
        })
    }

    #[test]
    fn status_counts_labels_readiness_and_availability() {
        let now = Timestamp::from_second(1000).unwrap();
        let pods = vec![
            pod(&[("app", "web"), ("tier", "front")], Some(900)),
            pod(&[("app", "web"), ("tier", "front")], Some(995)),
            pod(&[("app", "web")], None),
        ];
        let s = calculate_status(&rs(3, 10), &pods, None, now);
        assert_eq!((s.replicas, s.fully_labeled_replicas, s.ready_replicas, s.available_replicas), (3, 2, 2, 1));
        assert!(s.conditions.is_empty());
    }

    #[test]
    fn a_failure_sets_replica_failure_once_and_success_clears_it() {
        let now = Timestamp::from_second(1000).unwrap();
        let err = Error::Other("pods \"web-\" is forbidden: no PriorityClass with name nope was found".into());
        let s = calculate_status(&rs(2, 0), &[], Some(&err), now);
        assert_eq!(s.conditions.len(), 1);
        let c = &s.conditions[0];
        assert_eq!((c.type_.as_str(), c.status.as_str(), c.reason.as_deref()), ("ReplicaFailure", "True", Some("FailedCreate")));
        assert_eq!(c.message.as_deref(), Some(err.to_string().as_str()));
        let mut failing = rs(2, 0);
        failing.set_replica_status(&s);
        assert_eq!(failing.replica_status(), s, "status round-trips through the typed object");
        // Still failing: the condition is kept as it was (first transition time).
        let later = Timestamp::from_second(2000).unwrap();
        assert_eq!(calculate_status(&failing, &[], Some(&err), later).conditions, s.conditions);
        // Too many pods failing to go: FailedDelete.
        let del = calculate_status(&rs(0, 0), &[pod(&[("app", "web")], None)], Some(&err), now);
        assert_eq!(del.conditions[0].reason.as_deref(), Some("FailedDelete"));
        assert!(calculate_status(&failing, &[], None, later).conditions.is_empty());
    }

    #[test]
    fn rc_selector_is_a_label_map_and_status_round_trips() {
        let rc: ReplicationController = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "rc", "namespace": "ns"},
            "spec": {"selector": {"app": "db"}, "template": {"metadata": {"labels": {"app": "db"}}}}
        }))
        .unwrap();
        assert_eq!(rc.replicas(), 1, "replicas default to 1");
        let sel = rc.selector().unwrap();
        assert!(sel.matches(&[("app".to_string(), "db".to_string())].into()));
        assert!(!sel.matches(&[("app".to_string(), "web".to_string())].into()));
        let mut rc = rc;
        let s = ReplicaStatus { replicas: 2, ready_replicas: 1, observed_generation: 4, ..Default::default() };
        rc.set_replica_status(&s);
        assert_eq!(rc.replica_status(), s);
        let json = serde_json::to_value(&rc.status).unwrap();
        assert_eq!(json, serde_json::json!({"replicas": 2, "readyReplicas": 1, "observedGeneration": 4}), "zero counts omitted as upstream");
    }
}
