//! StatefulSet (upstream's pkg/controller/statefulset): pods `<set>-<ordinal>`
//! with a stable identity (hostname, subdomain = serviceName, the pod-name and
//! pod-index labels) and one PersistentVolumeClaim per volumeClaimTemplate
//! and ordinal (`<template>-<set>-<ordinal>`) that outlives its pod.
//!
//! One sync: claim pods and ControllerRevisions, find or make the current
//! and update revisions, then (as updateStatefulSet) recreate failed pods,
//! create missing ordinals, delete condemned ones highest first and roll
//! pods that are not at the update revision, highest ordinal first, down to
//! the partition and at most maxUnavailable at a time. OrderedReady does one
//! step at a time and waits for each pod to be Running and Ready; Parallel
//! does them all. Then status and history truncation. Pod names are fixed, so
//! a lagging cache at worst meets AlreadyExists: no expectations needed.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::owner::{controller_of, controller_ref_for};
use api::Selector;
use client::controller::{Action, Controller};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{key_of, split_key, Store};
use client::{Api, Client, DeleteParams, Patch, PostParams};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::controller_utils::{is_pod_available, is_pod_ready, now, pod_from_template};
use crate::history::{self, sort_revisions};
use crate::informers::NAMESPACE_INDEX;
use crate::ref_manager::{claim, claim_pods};
use crate::Error;

pub const STATEFULSET: Descriptor = Descriptor {
    name: "statefulset-controller",
    aliases: &["statefulset"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-statefulset-syncs",
        default: 5,
        help: "The number of statefulset objects that are allowed to sync concurrently. Larger number = more responsive statefulsets, but more CPU (and network) load",
    }),
    start,
};

/// The pod label with the pod's name (apps.StatefulSetPodNameLabel).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The pod label with the ordinal (apps.PodIndexLabel).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The pod label naming its ControllerRevision (apps.ControllerRevisionHashLabelKey).
pub const REVISION_LABEL: &str = "controller-revision-hash";

const COMPONENT: &str = "statefulset-controller";

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let sets = ctx.informers.get::<StatefulSet>();
        let pods = ctx.informers.get::<Pod>();
        let claims = ctx.informers.get::<PersistentVolumeClaim>();
        let revisions = ctx.informers.get::<ControllerRevision>();
        let state = Arc::new(Sync_ {
            client: ctx.client.clone(),
            sets: sets.store(),
            pods: pods.store(),
            claims: claims.store(),
            revisions: revisions.store(),
            recorder: EventRecorder::new(ctx.client.clone(), COMPONENT, None),
        });
        let sets_store = sets.store();
        let controller = Controller::new("statefulset", &sets)
            .workers(ctx.workers)
            .watches(&pods, move |ev| pod_keys(&sets_store, ev))
            .owns(&revisions)
            .watches(&claims, |_| Vec::new());
        let controller = ctx.metrics.instrument("statefulset", controller);
        controller.run(state.clone(), sync, ctx.shutdown.clone()).await;
        state.recorder.flush().await;
    })
}

/// The sets a pod change concerns: its controller's, or for an orphan every
/// set whose selector matches it (it may be adopted).
fn pod_keys(sets: &Store<StatefulSet>, ev: &InformerEvent<Pod>) -> Vec<String> {
    let mut keys = Vec::new();
    let objs: Vec<&Pod> = match ev {
        InformerEvent::Updated { old, new } => vec![old.as_ref(), new.as_ref()],
        other => vec![other.object().as_ref()],
    };
    for pod in objs {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let found: Vec<String> = match controller_of(&pod.metadata) {
            Some(r) if r.kind == "StatefulSet" => {
                sets.get(ns, &r.name).filter(|s| s.metadata.uid.as_deref() == Some(r.uid.as_str())).map(|s| key_of(s.as_ref())).into_iter().collect()
            }
            Some(_) => Vec::new(),
            None => sets
                .by_index(NAMESPACE_INDEX, ns)
                .into_iter()
                .filter(|s| selector(s).is_ok_and(|sel| !sel.is_empty() && sel.matches_opt(pod.metadata.labels.as_ref())))
                .map(|s| key_of(s.as_ref()))
                .collect(),
        };
        for k in found {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

struct Sync_ {
    client: Client,
    sets: Store<StatefulSet>,
    pods: Store<Pod>,
    claims: Store<PersistentVolumeClaim>,
    revisions: Store<ControllerRevision>,
    recorder: EventRecorder,
}

fn selector(set: &StatefulSet) -> Result<Selector, String> {
    Selector::from_label_selector(Some(&set.spec.selector)).map_err(|e| e.to_string())
}

/// `web-3` → ("web", 3) (getParentNameAndOrdinal).
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, ord) = pod_name.rsplit_once('-')?;
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ord.parse().ok()?))
}

fn set_name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0)
}

fn replicas(set: &StatefulSet) -> i32 {
    set.spec.replicas.unwrap_or(1)
}

fn monotonic(set: &StatefulSet) -> bool {
    set.spec.pod_management_policy.as_deref() != Some("Parallel")
}

fn on_delete(set: &StatefulSet) -> bool {
    set.spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("OnDelete")
}

fn partition(set: &StatefulSet) -> i32 {
    set.spec.update_strategy.as_ref().and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.partition).unwrap_or(0)
}

/// `<template>-<set>-<ordinal>` (getPersistentVolumeClaimName).
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{set}-{ordinal}")
}

fn pod_revision(pod: &Pod) -> &str {
    pod.metadata.labels.as_ref().and_then(|l| l.get(REVISION_LABEL)).map(String::as_str).unwrap_or_default()
}

fn is_created(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|p| !p.is_empty())
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_pod_ready(pod)
}

/// Running, available for minReadySeconds and not being deleted (isHealthy with availability).
fn is_healthy(pod: &Pod, min_ready: i32) -> bool {
    phase(pod) == "Running" && is_pod_available(pod, min_ready, now()) && !is_terminating(pod)
}

/// The claims of the pod with `ordinal` (getPersistentVolumeClaims): the
/// templates, named per ordinal, labelled with the selector's matchLabels.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let match_labels = set.spec.selector.match_labels.clone().unwrap_or_default();
    set.spec
        .volume_claim_templates
        .iter()
        .flatten()
        .map(|t| {
            let mut c = t.clone();
            let tname = t.metadata.name.clone().unwrap_or_default();
            c.metadata = ObjectMeta {
                name: Some(claim_name(&tname, set_name(set), ordinal)),
                namespace: set.metadata.namespace.clone(),
                labels: Some(t.metadata.labels.clone().unwrap_or_default().into_iter().chain(match_labels.clone()).collect()),
                annotations: t.metadata.annotations.clone(),
                ..Default::default()
            };
            c.status = None;
            c
        })
        .collect()
}

/// The pod with `ordinal` from `template` (newStatefulSetPod): identity,
/// storage (claim volumes replace template volumes of the same name) and
/// the revision label.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let mut pod = pod_from_template(template, &set.metadata, controller_ref_for(set));
    let name = format!("{}-{ordinal}", set_name(set));
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(name.clone());
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = set.spec.service_name.clone().filter(|s| !s.is_empty());
    let mut volumes: Vec<Volume> = spec.volumes.take().unwrap_or_default();
    for t in set.spec.volume_claim_templates.iter().flatten() {
        let tname = t.metadata.name.clone().unwrap_or_default();
        volumes.retain(|v| v.name != tname);
        volumes.push(Volume {
            name: tname.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim_name(&tname, set_name(set), ordinal), read_only: None }),
            ..Default::default()
        });
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    pod
}

/// The revisions a sync works with.
struct Revisions {
    all: Vec<Arc<ControllerRevision>>,
    current: ControllerRevision,
    update: ControllerRevision,
    collision_count: i32,
}

impl Sync_ {
    /// getStatefulSetRevisions: the update revision is the set's template
    /// (an equal older revision is reused with the next number), the current
    /// one is status.currentRevision's, else the update revision.
    async fn revisions(&self, set: &StatefulSet, mut all: Vec<Arc<ControllerRevision>>) -> Result<Revisions, Error> {
        sort_revisions(&mut all);
        let mut collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        let next = history::next_revision(&all);
        let cref = controller_ref_for(set);
        let candidate = history::new_revision(&set.metadata, cref.clone(), &set.spec.template, next, Some(collision_count));
        let equal: Vec<&Arc<ControllerRevision>> = all.iter().filter(|r| history::equal_revision(r, &candidate)).collect();
        let update = match equal.last() {
            Some(eq) if all.last().map(|l| &l.metadata.name) == Some(&eq.metadata.name) => (***eq).clone(),
            Some(eq) => history::update_revision_number(&self.client, eq, next).await?,
            None => history::create_revision(&self.client, &set.metadata, &cref, &set.spec.template, next, &mut collision_count).await?,
        };
        let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
        let current = all.iter().find(|r| r.metadata.name == current_name && current_name.is_some()).map(|r| (**r).clone()).unwrap_or_else(|| update.clone());
        Ok(Revisions { all, current, update, collision_count })
    }

    /// Makes the pod's claims that do not exist (createPersistentVolumeClaims).
    async fn create_claims(&self, set: &StatefulSet, pod: &Pod, ordinal: i32) -> Result<(), Error> {
        let ns = set.metadata.namespace.as_deref().unwrap_or_default();
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        for c in claims_for(set, ordinal) {
            let name = c.metadata.name.clone().unwrap_or_default();
            if let Some(existing) = self.claims.get(ns, &name) {
                if existing.metadata.deletion_timestamp.is_some() {
                    return Err(Error::Other(format!("pvc {name} is being deleted")));
                }
                continue;
            }
            match Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), ns).create(&PostParams::default(), &c).await {
                Ok(_) => self.recorder.publish(set, EventType::Normal, "SuccessfulCreate", format!("create Claim {name} Pod {pod_name} in StatefulSet {} success", set_name(set))),
                Err(e) if e.is_already_exists() => {}
                Err(e) => {
                    self.recorder.publish(
                        set,
                        EventType::Warning,
                        "FailedCreate",
                        format!("create Claim {name} for Pod {pod_name} in StatefulSet {} failed error: {e}", set_name(set)),
                    );
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    async fn create_pod(&self, set: &StatefulSet, pod: &Pod, ordinal: i32) -> Result<(), Error> {
        self.create_claims(set, pod, ordinal).await?;
        let ns = set.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        match Api::<Pod>::namespaced(self.client.clone(), ns).create(&PostParams::default(), pod).await {
            Ok(_) => {
                self.recorder.publish(set, EventType::Normal, "SuccessfulCreate", format!("create Pod {name} in StatefulSet {} successful", set_name(set)));
                Ok(())
            }
            Err(e) if e.is_already_exists() => Ok(()), // the cache lags
            Err(e) => {
                self.recorder.publish(set, EventType::Warning, "FailedCreate", format!("create Pod {name} in StatefulSet {} failed error: {e}", set_name(set)));
                Err(e.into())
            }
        }
    }

    async fn delete_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let ns = set.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        match Api::<Pod>::namespaced(self.client.clone(), ns).delete(name, &DeleteParams::default()).await {
            Ok(_) => {
                self.recorder.publish(set, EventType::Normal, "SuccessfulDelete", format!("delete Pod {name} in StatefulSet {} successful", set_name(set)));
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => {
                self.recorder.publish(set, EventType::Warning, "FailedDelete", format!("delete Pod {name} in StatefulSet {} failed error: {e}", set_name(set)));
                Err(e.into())
            }
        }
    }

    /// Sets the claims' owner references as the retention policy wants
    /// (updateClaimOwnerRefForSetAndPod): whenDeleted=Delete → owned by the
    /// set; whenScaled=Delete → owned by the pod once it is scaled away.
    async fn update_claim_owners(&self, set: &StatefulSet, pod: &Pod, ordinal: i32, in_range: bool) -> Result<(), Error> {
        let pol = set.spec.persistent_volume_claim_retention_policy.clone().unwrap_or_default();
        let when_deleted = pol.when_deleted.as_deref() == Some("Delete");
        let when_scaled = pol.when_scaled.as_deref() == Some("Delete");
        let ns = set.metadata.namespace.as_deref().unwrap_or_default();
        let set_ref = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: set_name(set).into(),
            uid: set.metadata.uid.clone().unwrap_or_default(),
            ..Default::default()
        };
        let pod_ref = OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            ..Default::default()
        };
        let want_set = when_deleted && !(when_scaled && !in_range);
        let want_pod = when_scaled && !in_range && !pod_ref.uid.is_empty();
        for c in claims_for(set, ordinal) {
            let Some(cur) = self.claims.get(ns, c.metadata.name.as_deref().unwrap_or_default()) else { continue };
            let refs = cur.metadata.owner_references.clone().unwrap_or_default();
            let mut new: Vec<OwnerReference> = refs.iter().filter(|r| r.uid != set_ref.uid && !(r.kind == "Pod" && r.name == pod_ref.name)).cloned().collect();
            if want_set {
                new.push(set_ref.clone());
            }
            if want_pod {
                new.push(pod_ref.clone());
            }
            let same = new.len() == refs.len() && new.iter().all(|n| refs.iter().any(|r| r.uid == n.uid));
            if same {
                continue;
            }
            let patch = serde_json::json!({"metadata": {"ownerReferences": new, "resourceVersion": cur.metadata.resource_version}});
            let api = Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), ns);
            match api.patch(cur.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Adds missing identity labels to an existing pod (updateIdentity).
    async fn fix_identity(&self, pod: &Pod, ordinal: i32) -> Result<(), Error> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        if labels.get(POD_NAME_LABEL) == Some(&name) && labels.get(POD_INDEX_LABEL) == Some(&ordinal.to_string()) {
            return Ok(());
        }
        let patch = serde_json::json!({"metadata": {"labels": {POD_NAME_LABEL: name, POD_INDEX_LABEL: ordinal.to_string()}}});
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        match Api::<Pod>::namespaced(self.client.clone(), ns).patch(&name, &PostParams::default(), &Patch::Merge(patch)).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// updateStatefulSet: one round of creates, deletes and updates; returns
    /// whether the set must be looked at again after minReadySeconds.
    async fn update_set(&self, set: &StatefulSet, revs: &Revisions, pods: &[Arc<Pod>]) -> Result<(), Error> {
        let current_set = {
            let mut s = set.clone();
            if let Some(t) = history::template_of(&revs.current) {
                s.spec.template = t;
            }
            s
        };
        let (current, update) = (&revs.current, &revs.update);
        let current_name = current.metadata.name.clone().unwrap_or_default();
        let update_name = update.metadata.name.clone().unwrap_or_default();
        let start = start_ordinal(set);
        let n = replicas(set).max(0) as usize;
        let min_ready = set.spec.min_ready_seconds.unwrap_or(0);
        let mono = monotonic(set);
        let mut slots: Vec<Option<Arc<Pod>>> = vec![None; n];
        let mut condemned: Vec<(i32, Arc<Pod>)> = Vec::new();
        for p in pods {
            let Some((_, ord)) = p.metadata.name.as_deref().and_then(parent_and_ordinal) else { continue };
            if ord >= start && ((ord - start) as usize) < n {
                slots[(ord - start) as usize] = Some(p.clone());
            } else {
                condemned.push((ord, p.clone()));
            }
        }
        condemned.sort_by(|a, b| b.0.cmp(&a.0));
        let status_current_replicas = set.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0);
        // Which revision a missing ordinal gets (newVersionedStatefulSetPod).
        let versioned = |ordinal: i32| -> Pod {
            let below = match set.spec.update_strategy.as_ref().and_then(|s| s.rolling_update.as_ref()) {
                _ if on_delete(&current_set) => false,
                None => ordinal < start + status_current_replicas,
                Some(_) => ordinal < start + partition(&current_set),
            };
            if below && current_name != update_name {
                new_pod(&current_set, &current_set.spec.template, ordinal, &current_name)
            } else {
                new_pod(set, &set.spec.template, ordinal, &update_name)
            }
        };
        // The first unhealthy pod (in range by ordinal, then condemned highest first).
        let first_unhealthy: Option<String> = slots
            .iter()
            .flatten()
            .chain(condemned.iter().map(|(_, p)| p))
            .find(|p| !is_healthy(p, min_ready))
            .and_then(|p| p.metadata.name.clone());

        for (i, slot) in slots.iter().enumerate() {
            let ordinal = start + i as i32;
            match slot {
                None => {
                    let pod = versioned(ordinal);
                    self.create_pod(set, &pod, ordinal).await?;
                    if mono {
                        return Ok(()); // wait for it to be Running and Ready
                    }
                    continue;
                }
                Some(p) => {
                    let ph = phase(p);
                    if (ph == "Failed" || ph == "Succeeded") && !is_terminating(p) {
                        let what = if ph == "Failed" { "failed" } else { "succeeded" };
                        self.recorder.publish(
                            set,
                            EventType::Warning,
                            if ph == "Failed" { "RecreatingFailedPod" } else { "RecreatingTerminatedPod" },
                            format!("StatefulSet {}/{} is recreating {what} Pod {}", set.metadata.namespace.as_deref().unwrap_or_default(), set_name(set), p.metadata.name.as_deref().unwrap_or_default()),
                        );
                        self.delete_pod(set, p).await?;
                        if mono {
                            return Ok(());
                        }
                        continue;
                    }
                    if !is_created(p) && mono {
                        return Ok(());
                    }
                    if is_terminating(p) {
                        if mono {
                            return Ok(()); // wait for it to go before making its successor
                        }
                        continue;
                    }
                    if mono && !is_healthy(p, min_ready) {
                        return Ok(());
                    }
                    self.create_claims(set, p, ordinal).await?;
                    self.fix_identity(p, ordinal).await?;
                    self.update_claim_owners(set, p, ordinal, true).await?;
                }
            }
        }

        // Condemned pods go highest ordinal first.
        for (ordinal, p) in &condemned {
            if is_terminating(p) {
                if mono {
                    return Ok(());
                }
                continue;
            }
            if mono && !is_healthy(p, min_ready) && first_unhealthy.as_ref() != p.metadata.name.as_ref() {
                return Ok(());
            }
            self.update_claim_owners(set, p, *ordinal, false).await?;
            self.delete_pod(set, p).await?;
            if mono {
                return Ok(());
            }
        }

        if on_delete(set) {
            return Ok(());
        }
        // Rolling update: highest ordinal first, down to the partition, at most
        // maxUnavailable unavailable at once.
        let max_unavailable = set
            .spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_unavailable.clone())
            .unwrap_or(IntOrString::Int(1));
        let max_unavailable = api::intstr::scaled_value(&max_unavailable, n as i32, false).unwrap_or(1).max(1) as usize;
        let update_min = partition(set).max(0) as usize;
        let unavailable = slots.iter().filter(|s| s.as_ref().is_none_or(|p| !is_healthy(p, min_ready))).count();
        if unavailable >= max_unavailable {
            return Ok(());
        }
        let mut to_delete = Vec::new();
        for target in (update_min..n).rev() {
            let Some(p) = &slots[target] else { continue };
            if pod_revision(p) != update_name && !is_terminating(p) {
                to_delete.push(p.clone());
            }
            if to_delete.len() >= max_unavailable - unavailable {
                break;
            }
        }
        for p in to_delete {
            tracing::info!(set = %key_of(set), pod = ?p.metadata.name, "pod of StatefulSet is terminating for update");
            self.delete_pod(set, &p).await?;
        }
        Ok(())
    }

    /// Deletes the oldest revisions no pod uses beyond revisionHistoryLimit (truncateHistory).
    async fn truncate_history(&self, set: &StatefulSet, pods: &[Arc<Pod>], revs: &Revisions) -> Result<(), Error> {
        let mut live: HashSet<String> = pods.iter().map(|p| pod_revision(p).to_string()).collect();
        live.extend(revs.current.metadata.name.clone());
        live.extend(revs.update.metadata.name.clone());
        let history: Vec<&Arc<ControllerRevision>> = revs.all.iter().filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default())).collect();
        let limit = set.spec.revision_history_limit.unwrap_or(10).max(0) as usize;
        if history.len() <= limit {
            return Ok(());
        }
        let ns = set.metadata.namespace.as_deref().unwrap_or_default();
        let api = Api::<ControllerRevision>::namespaced(self.client.clone(), ns);
        for r in &history[..history.len() - limit] {
            match api.delete(r.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// The status the pods give (computeReplicaStatus + completeRollingUpdate).
pub fn compute_status(set: &StatefulSet, pods: &[Arc<Pod>], current: &str, update: &str, collision_count: i32) -> StatefulSetStatus {
    let min_ready = set.spec.min_ready_seconds.unwrap_or(0);
    let now = now();
    let (mut replicas, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    for p in pods {
        if is_created(p) {
            replicas += 1;
        }
        if is_running_and_ready(p) {
            ready += 1;
            if is_pod_available(p, min_ready, now) {
                available += 1;
            }
        }
        if is_created(p) && !is_terminating(p) {
            if pod_revision(p) == current {
                cur += 1;
            }
            if pod_revision(p) == update {
                upd += 1;
            }
        }
    }
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        replicas,
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        current_replicas: Some(cur),
        updated_replicas: Some(upd),
        current_revision: Some(current.to_string()),
        update_revision: Some(update.to_string()),
        collision_count: Some(collision_count),
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
    };
    if !on_delete(set) && upd == replicas && ready == replicas {
        status.current_replicas = Some(upd);
        status.current_revision = Some(update.to_string());
    }
    status
}

async fn sync(ctx: Arc<Sync_>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let Some(set) = ctx.sets.get(ns, name) else { return Ok(Action::Done) };
    let sel = match selector(&set) {
        Ok(s) if !s.is_empty() => s,
        _ => {
            ctx.recorder.publish(set.as_ref(), EventType::Warning, "SelectorParseError", "invalid or empty selector".to_string());
            return Ok(Action::Done);
        }
    };
    let cref = controller_ref_for(set.as_ref());
    // Only pods named like the set's members can be its pods (isMemberOf).
    let members: Vec<Arc<Pod>> = ctx
        .pods
        .by_index(NAMESPACE_INDEX, ns)
        .into_iter()
        .filter(|p| p.metadata.name.as_deref().and_then(parent_and_ordinal).is_some_and(|(parent, _)| parent == name))
        .collect();
    let recheck = || recheck_set(&ctx.client, set.as_ref());
    let (pods, err) = claim_pods(&ctx.client, &set.metadata, &cref, &sel, members, recheck).await;
    if let Some(e) = err {
        return Err(e);
    }
    let recheck = || recheck_set(&ctx.client, set.as_ref());
    let (revisions, err) = claim(&ctx.client, &set.metadata, &cref, &sel, ctx.revisions.by_index(NAMESPACE_INDEX, ns), recheck).await;
    if let Some(e) = err {
        return Err(e);
    }
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::Done);
    }
    let revs = ctx.revisions(&set, revisions).await?;
    let result = ctx.update_set(&set, &revs, &pods).await;
    let status = compute_status(
        &set,
        &pods,
        revs.current.metadata.name.as_deref().unwrap_or_default(),
        revs.update.metadata.name.as_deref().unwrap_or_default(),
        revs.collision_count,
    );
    update_status(&ctx.client, &set, status.clone()).await?;
    result?;
    ctx.truncate_history(&set, &pods, &revs).await?;
    let min_ready = set.spec.min_ready_seconds.unwrap_or(0);
    if min_ready > 0 && status.available_replicas != status.ready_replicas {
        return Ok(Action::RequeueAfter(Duration::from_secs(min_ready as u64)));
    }
    Ok(Action::Done)
}

async fn recheck_set(client: &Client, set: &StatefulSet) -> Result<(), Error> {
    let ns = set.metadata.namespace.as_deref().unwrap_or_default();
    let fresh = Api::<StatefulSet>::namespaced(client.clone(), ns).get(set_name(set)).await?;
    if fresh.metadata.uid != set.metadata.uid {
        return Err(Error::Other(format!("original StatefulSet {ns}/{} is gone", set_name(set))));
    }
    if fresh.metadata.deletion_timestamp.is_some() {
        return Err(Error::Other(format!("{ns}/{} has just been deleted", set_name(set))));
    }
    Ok(())
}

/// Writes the status unless unchanged; one retry on a conflict.
async fn update_status(client: &Client, set: &StatefulSet, status: StatefulSetStatus) -> Result<(), Error> {
    if set.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api = Api::<StatefulSet>::namespaced(client.clone(), set.metadata.namespace.as_deref().unwrap_or_default());
    let mut obj = set.clone();
    for attempt in 0..2 {
        obj.status = Some(status.clone());
        match api.replace_status(&obj).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(_) if attempt == 0 => obj = api.get(set_name(set)).await?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> StatefulSet {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 2},
            "spec": {"replicas": 3, "serviceName": "nginx", "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx",
                    "volumeMounts": [{"name": "data", "mountPath": "/d"}]}], "volumes": [{"name": "data", "emptyDir": {}}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}
        }))
        .unwrap()
    }

    #[test]
    fn pods_get_identity_storage_and_revision() {
        let s = set();
        let p = new_pod(&s, &s.spec.template, 2, "web-abc");
        assert_eq!(p.metadata.name.as_deref(), Some("web-2"));
        assert_eq!(p.metadata.generate_name, None);
        let l = p.metadata.labels.as_ref().unwrap();
        assert_eq!((l[POD_NAME_LABEL].as_str(), l[POD_INDEX_LABEL].as_str(), l[REVISION_LABEL].as_str(), l["app"].as_str()), ("web-2", "2", "web-abc", "web"));
        let spec = p.spec.unwrap();
        assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some("web-2"), Some("nginx")));
        let vols = spec.volumes.unwrap();
        assert_eq!(vols.len(), 1, "the claim replaces the template volume of the same name");
        assert_eq!(vols[0].persistent_volume_claim.as_ref().unwrap().claim_name, "data-web-2");
        let c = &claims_for(&s, 2)[0];
        assert_eq!(c.metadata.name.as_deref(), Some("data-web-2"));
        assert_eq!(c.metadata.labels.as_ref().unwrap(), &BTreeMap::from([("app".to_string(), "web".to_string()), ("tier".to_string(), "db".to_string())]));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web-x"), None);
    }

    #[test]
    fn status_counts_and_completes_a_rollout() {
        let s = set();
        let mk = |name: &str, rev: &str, ready: bool| {
            let mut p = new_pod(&s, &s.spec.template, parent_and_ordinal(name).unwrap().1, rev);
            p.status = Some(serde_json::from_value(serde_json::json!({"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]})).unwrap());
            Arc::new(p)
        };
        let pods = vec![mk("web-0", "old", true), mk("web-1", "new", true), mk("web-2", "new", false)];
        let st = compute_status(&s, &pods, "old", "new", 0);
        assert_eq!((st.replicas, st.ready_replicas, st.current_replicas, st.updated_replicas), (3, Some(2), Some(1), Some(2)));
        assert_eq!(st.current_revision.as_deref(), Some("old"));
        let done = vec![mk("web-0", "new", true), mk("web-1", "new", true), mk("web-2", "new", true)];
        let st = compute_status(&s, &done, "old", "new", 0);
        assert_eq!((st.current_revision.as_deref(), st.current_replicas, st.observed_generation), (Some("new"), Some(3), Some(2)));
    }
}
