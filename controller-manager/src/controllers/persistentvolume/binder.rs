//! The PersistentVolume binder (upstream's pv_controller.go): one queue of
//! claims and one of volumes, each worked by one worker as upstream.
//!
//! Claims: an unbound claim gets the volume pre-bound to it or the smallest
//! Available volume that fits (class, size, access modes, volume mode,
//! selector); none found, a claim of a class is provisioned (WaitForFirstConsumer
//! claims only once the scheduler picked a node); without a class it waits
//! with a FailedBinding event. A bound claim whose volume is gone is Lost.
//! Volumes: Available without a claim, Bound with one, Released when their
//! claim is gone; then Retain keeps them, Delete deletes provisioned ones.
//!
//! Writes carry the cached resourceVersion, so a stale decision fails with a
//! Conflict and is retried on fresher objects (upstream's optimistic binding).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::storage::{self as st, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_DYNAMICALLY_PROVISIONED, ANN_SELECTED_NODE};
use client::controller::{Action, Controller};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{make_key, split_key, Store};
use client::workqueue::WorkQueue;
use client::{Api, Client, DeleteParams};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeStatus, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::local_path::{self, LOCAL_PATH_PROVISIONER};
use super::{local_path_options, LocalPathOptions};
use crate::controllers::{ControllerContext, Descriptor};
use crate::controller_utils::now;
use crate::Error;

pub const PV_BINDER: Descriptor = Descriptor {
    name: "persistentvolume-binder-controller",
    aliases: &["persistentvolume-binder"],
    disabled_by_default: false,
    concurrency: None,
    start,
};

/// The events' source, as upstream's.
pub const COMPONENT: &str = "persistentvolume-controller";
/// Upstream's --pvclaimbinder-sync-period: pending claims and released
/// volumes are looked at again this often (a class or volume may have appeared).
const RESYNC: Duration = Duration::from_secs(15);

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let volumes = ctx.informers.get::<PersistentVolume>();
        let claims = ctx.informers.get::<PersistentVolumeClaim>();
        let classes = ctx.informers.get::<StorageClass>();
        let pods = ctx.informers.get::<Pod>();
        // A volume's change concerns the claim it points to.
        let claim_ctrl = Controller::new("claims", &claims).watches(&volumes, |ev: &InformerEvent<PersistentVolume>| {
            let mut keys: Vec<String> = claim_ref_key(ev.object()).into_iter().collect();
            if let InformerEvent::Updated { old, .. } = ev {
                keys.extend(claim_ref_key(old).filter(|k| !keys.contains(k)));
            }
            keys
        });
        // A claim's change concerns its volume and volumes pointing at it; a
        // finished helper pod concerns the volume it was deleting.
        let vstore = volumes.store();
        let volume_ctrl = Controller::new("volumes", &volumes)
            .watches(&claims, move |ev: &InformerEvent<PersistentVolumeClaim>| {
                let c = ev.object();
                let mut keys: Vec<String> = c.spec.as_ref().and_then(|s| s.volume_name.clone()).filter(|n| !n.is_empty()).into_iter().collect();
                let key = make_key(c.metadata.namespace.as_deref().unwrap_or(""), c.metadata.name.as_deref().unwrap_or(""));
                for pv in vstore.list() {
                    if claim_ref_key(&pv).as_deref() == Some(key.as_str()) {
                        keys.extend(pv.metadata.name.clone().filter(|n| !keys.contains(n)));
                    }
                }
                keys
            })
            .watches(&pods, |ev: &InformerEvent<Pod>| local_path::helper_pod_volume(ev.object()).into_iter().collect());
        let claim_ctrl = ctx.metrics.instrument("claims", claim_ctrl);
        let volume_ctrl = ctx.metrics.instrument("volumes", volume_ctrl);
        let binder = Arc::new(Binder {
            client: ctx.client.clone(),
            volumes: volumes.store(),
            claims: claims.store(),
            classes: classes.store(),
            pods: pods.store(),
            recorder: EventRecorder::new(ctx.client.clone(), COMPONENT, None),
            claim_queue: claim_ctrl.queue(),
            volume_queue: volume_ctrl.queue(),
            options: local_path_options(),
        });
        let b = binder.clone();
        tokio::join!(
            claim_ctrl.run(binder, |b, key| async move { b.sync_claim(&key).await }, ctx.shutdown.clone()),
            volume_ctrl.run(b, |b, key| async move { b.sync_volume(&key).await }, ctx.shutdown.clone()),
        );
    })
}

fn claim_ref_key(pv: &PersistentVolume) -> Option<String> {
    let r = pv.spec.as_ref()?.claim_ref.as_ref()?;
    Some(make_key(r.namespace.as_deref().unwrap_or(""), r.name.as_deref()?))
}

fn claim_key(c: &PersistentVolumeClaim) -> String {
    make_key(c.metadata.namespace.as_deref().unwrap_or(""), c.metadata.name.as_deref().unwrap_or(""))
}

fn has_annotation(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> bool {
    m.annotations.as_ref().is_some_and(|a| a.contains_key(key))
}

fn set_annotation(m: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str, value: &str) {
    m.annotations.get_or_insert_with(Default::default).insert(key.to_string(), value.to_string());
}

fn volume_phase(pv: &PersistentVolume) -> &str {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn claim_phase(c: &PersistentVolumeClaim) -> &str {
    c.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn time_now() -> Time {
    // Seconds precision, as the API serializes it.
    Time(k8s_openapi::jiff::Timestamp::from_second(now().as_second()).unwrap_or(now()))
}

/// The claimRef a bound volume carries (upstream reference.GetReference).
fn claim_reference(c: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: c.metadata.namespace.clone(),
        name: c.metadata.name.clone(),
        uid: c.metadata.uid.clone(),
        resource_version: c.metadata.resource_version.clone(),
        field_path: None,
    }
}

pub(super) struct Binder {
    pub(super) client: Client,
    volumes: Store<PersistentVolume>,
    claims: Store<PersistentVolumeClaim>,
    classes: Store<StorageClass>,
    pub(super) pods: Store<Pod>,
    pub(super) recorder: EventRecorder,
    claim_queue: WorkQueue<String>,
    volume_queue: WorkQueue<String>,
    pub(super) options: LocalPathOptions,
}

impl Binder {
    fn pv_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn pvc_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.classes.get("", name)
    }

    /// upstream IsDelayBindingMode: the claim's class binds WaitForFirstConsumer.
    fn delay_binding(&self, claim: &PersistentVolumeClaim) -> bool {
        let class = st::claim_class(claim);
        !class.is_empty() && self.class(class).is_some_and(|c| st::is_wait_for_first_consumer(&c))
    }

    // ---- claims ----

    async fn sync_claim(&self, key: &str) -> Result<Action, Error> {
        let (ns, name) = split_key(key);
        let Some(claim) = self.claims.get(ns, name) else { return Ok(Action::Done) };
        if claim.metadata.deletion_timestamp.is_some() && claim_phase(&claim) != "Bound" {
            // Being deleted: nothing to bind (its volume is reclaimed once it is gone).
            return Ok(Action::Done);
        }
        if has_annotation(&claim.metadata, ANN_BIND_COMPLETED) {
            self.sync_bound_claim(&claim).await
        } else {
            self.sync_unbound_claim(&claim).await
        }
    }

    async fn sync_unbound_claim(&self, claim: &PersistentVolumeClaim) -> Result<Action, Error> {
        let spec = claim.spec.clone().unwrap_or_default();
        let volume_name = spec.volume_name.clone().unwrap_or_default();
        if volume_name.is_empty() {
            // Retroactive default StorageClass: a claim created before any default class existed gets it now.
            if spec.storage_class_name.is_none() && !has_annotation(&claim.metadata, st::ANN_BETA_STORAGE_CLASS) {
                let classes = self.classes.list();
                if let Some(default) = st::default_class(classes.iter().map(|c| c.as_ref())) {
                    let mut c = claim.clone();
                    c.spec.get_or_insert_with(Default::default).storage_class_name = default.metadata.name.clone();
                    self.pvc_api(c.metadata.namespace.as_deref().unwrap_or("")).replace(&c).await?;
                    return Ok(Action::Done);
                }
            }
            let delay = self.delay_binding(claim);
            let volumes = self.volumes.list();
            let found = st::find_matching_volume(claim, volumes.iter().map(|v| v.as_ref()), None, &[], delay).cloned();
            let Some(volume) = found else {
                let class = st::claim_class(claim).to_string();
                if delay && !has_annotation(&claim.metadata, ANN_SELECTED_NODE) {
                    self.event_unbound_delay_binding_claim(claim);
                } else if !class.is_empty() {
                    self.provision_claim(claim, &class).await?;
                } else {
                    self.recorder.publish(claim, EventType::Normal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set");
                }
                self.update_claim_status(claim, "Pending", None).await?;
                return Ok(Action::RequeueAfter(RESYNC));
            };
            self.bind(&volume, claim).await?;
            return Ok(Action::Done);
        }
        // The user asked for a specific volume.
        let Some(volume) = self.volumes.get("", &volume_name) else {
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(Action::RequeueAfter(RESYNC));
        };
        let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        if claim_ref.is_none() {
            if let Err(why) = st::check_volume_satisfies_claim(&volume, claim) {
                let msg = format!("Cannot bind to requested volume {volume_name:?}: {why}");
                self.recorder.publish(claim, EventType::Warning, "VolumeMismatch", msg);
                self.update_claim_status(claim, "Pending", None).await?;
                return Ok(Action::RequeueAfter(RESYNC));
            }
            self.bind(&volume, claim).await?;
        } else if st::is_volume_bound_to_claim(&volume, claim) {
            self.bind(&volume, claim).await?;
        } else {
            self.recorder.publish(claim, EventType::Warning, "FailedBinding", format!("volume {volume_name:?} already bound to a different claim."));
            if has_annotation(&claim.metadata, ANN_BOUND_BY_CONTROLLER) {
                return Err(Error::Other(format!("invalid binding of claim {:?} to volume {volume_name:?}: volume already claimed by {:?}", claim_key(claim), claim_ref_key(&volume).unwrap_or_default())));
            }
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(Action::RequeueAfter(RESYNC));
        }
        Ok(Action::Done)
    }

    /// upstream emitEventForUnboundDelayBindingClaim.
    fn event_unbound_delay_binding_claim(&self, claim: &PersistentVolumeClaim) {
        let ns = claim.metadata.namespace.as_deref().unwrap_or("");
        let name = claim.metadata.name.as_deref().unwrap_or("");
        let mut waiting: Vec<String> = self
            .pods
            .list()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
            .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.as_deref().unwrap_or("").is_empty()))
            .filter(|p| {
                p.spec.as_ref().and_then(|s| s.volumes.as_ref()).is_some_and(|vs| {
                    vs.iter().any(|v| v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == name))
                })
            })
            .map(|p| format!("{ns}/{}", p.metadata.name.as_deref().unwrap_or("")))
            .collect();
        waiting.sort();
        let (reason, msg) = match waiting.as_slice() {
            [] => ("WaitForFirstConsumer", "waiting for first consumer to be created before binding".to_string()),
            [one] => ("WaitForPodScheduled", format!("waiting for pod {one} to be scheduled")),
            many => ("WaitForPodScheduled", format!("waiting for pods {} to be scheduled", many.join(","))),
        };
        self.recorder.publish(claim, EventType::Normal, reason, msg);
    }

    async fn sync_bound_claim(&self, claim: &PersistentVolumeClaim) -> Result<Action, Error> {
        let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap_or_default();
        if volume_name.is_empty() {
            self.claim_lost(claim, "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!").await?;
            return Ok(Action::Done);
        }
        let volume = match self.volumes.get("", &volume_name) {
            Some(v) => v,
            // The cache may lag a volume created just now: ask the apiserver before declaring it lost.
            None => match self.pv_api().get_opt(&volume_name).await? {
                Some(v) => Arc::new(v),
                None => {
                    self.claim_lost(claim, "Bound claim has lost its PersistentVolume. Data on the volume is lost!").await?;
                    return Ok(Action::Done);
                }
            },
        };
        let has_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some();
        if !has_ref || st::is_volume_bound_to_claim(&volume, claim) {
            // Finish (or confirm) the binding: claimRef, phases and the claim's status.
            self.bind(&volume, claim).await?;
            return Ok(Action::Done);
        }
        self.recorder.publish(claim, EventType::Warning, "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly");
        self.update_claim_status(claim, "Lost", None).await?;
        Ok(Action::Done)
    }

    async fn claim_lost(&self, claim: &PersistentVolumeClaim, msg: &str) -> Result<(), Error> {
        if claim_phase(claim) != "Lost" {
            self.recorder.publish(claim, EventType::Warning, "ClaimLost", msg);
        }
        self.update_claim_status(claim, "Lost", None).await
    }

    /// upstream bind: the volume's claimRef, its phase Bound, the claim's
    /// volumeName and annotations, its phase Bound with capacity and modes.
    /// Each step is skipped when already done, so a retry picks up where a
    /// failed write left off.
    async fn bind(&self, volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), Error> {
        let volume = self.bind_volume_to_claim(volume, claim).await?;
        let volume = self.update_volume_phase(&volume, "Bound", None).await?;
        let claim = self.bind_claim_to_volume(claim, &volume).await?;
        self.update_claim_status(&claim, "Bound", Some(&volume)).await?;
        tracing::info!(claim = %claim_key(&claim), volume = volume.metadata.name.as_deref().unwrap_or(""), "bound");
        Ok(())
    }

    async fn bind_volume_to_claim(&self, volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<PersistentVolume, Error> {
        let pre_bound = st::is_volume_bound_to_claim(volume, claim);
        let mut v = volume.clone();
        let mut dirty = false;
        let spec = v.spec.get_or_insert_with(Default::default);
        let r = spec.claim_ref.as_ref();
        if r.is_none_or(|r| r.name != claim.metadata.name || r.namespace != claim.metadata.namespace || r.uid != claim.metadata.uid) {
            spec.claim_ref = Some(claim_reference(claim));
            dirty = true;
        }
        if !pre_bound && !has_annotation(&v.metadata, ANN_BOUND_BY_CONTROLLER) {
            set_annotation(&mut v.metadata, ANN_BOUND_BY_CONTROLLER, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(v);
        }
        Ok(self.pv_api().replace(&v).await?)
    }

    async fn bind_claim_to_volume(&self, claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> Result<PersistentVolumeClaim, Error> {
        let name = volume.metadata.name.clone().unwrap_or_default();
        let mut c = claim.clone();
        let mut dirty = false;
        let spec = c.spec.get_or_insert_with(Default::default);
        if spec.volume_name.as_deref() != Some(name.as_str()) {
            // The claim was not pre-bound by the user to this volume.
            spec.volume_name = Some(name);
            set_annotation(&mut c.metadata, ANN_BOUND_BY_CONTROLLER, "yes");
            dirty = true;
        }
        if !has_annotation(&c.metadata, ANN_BIND_COMPLETED) {
            set_annotation(&mut c.metadata, ANN_BIND_COMPLETED, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(c);
        }
        let ns = c.metadata.namespace.clone().unwrap_or_default();
        Ok(self.pvc_api(&ns).replace(&c).await?)
    }

    /// Sets the claim's phase (and, bound, the volume's capacity and access modes).
    async fn update_claim_status(&self, claim: &PersistentVolumeClaim, phase: &str, volume: Option<&PersistentVolume>) -> Result<(), Error> {
        let mut status = claim.status.clone().unwrap_or_default();
        let before = status.clone();
        status.phase = Some(phase.to_string());
        match volume {
            Some(v) => {
                let spec = v.spec.as_ref();
                status.access_modes = spec.and_then(|s| s.access_modes.clone());
                // Volume expansion (not done here) would keep a larger recorded capacity.
                status.capacity = spec.and_then(|s| s.capacity.clone());
            }
            None if phase != "Bound" => {
                if phase == "Pending" {
                    status = PersistentVolumeClaimStatus { phase: Some(phase.into()), ..Default::default() };
                }
            }
            None => {}
        }
        if status == before {
            return Ok(());
        }
        let mut c = claim.clone();
        c.status = Some(status);
        let ns = c.metadata.namespace.clone().unwrap_or_default();
        self.pvc_api(&ns).replace_status(&c).await?;
        Ok(())
    }

    // ---- volumes ----

    async fn sync_volume(&self, name: &str) -> Result<Action, Error> {
        let Some(volume) = self.volumes.get("", name) else {
            local_path::cleanup(self, name).await?;
            return Ok(Action::Done);
        };
        let Some(claim_ref) = volume.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
            self.update_volume_phase(&volume, "Available", None).await?;
            return Ok(Action::Done);
        };
        if claim_ref.uid.as_deref().unwrap_or("").is_empty() {
            // Pre-bound by the user to a claim that has not bound yet.
            self.update_volume_phase(&volume, "Available", None).await?;
            return Ok(Action::Done);
        }
        let (ns, cname) = (claim_ref.namespace.clone().unwrap_or_default(), claim_ref.name.clone().unwrap_or_default());
        let mut claim = self.claims.get(&ns, &cname);
        if claim.is_none() {
            // The cache may not have a claim created just now: ask the apiserver.
            claim = self.pvc_api(&ns).get_opt(&cname).await?.map(Arc::new);
        }
        // A claim of the same name but another uid is a new claim: ours is gone.
        let claim = claim.filter(|c| c.metadata.uid == claim_ref.uid);
        let Some(claim) = claim else {
            let volume = if !matches!(volume_phase(&volume), "Released" | "Failed") {
                Arc::new(self.update_volume_phase(&volume, "Released", None).await?)
            } else {
                volume
            };
            return self.reclaim_volume(&volume).await;
        };
        let claim_volume = claim.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap_or_default();
        if claim_volume.is_empty() {
            let (cs, vs) = (claim.spec.clone().unwrap_or_default(), volume.spec.clone().unwrap_or_default());
            if st::volume_mode_mismatch(&cs, &vs) {
                let vmsg = format!("Cannot bind PersistentVolume to requested PersistentVolumeClaim {cname:?} due to incompatible volumeMode.");
                self.recorder.publish(volume.as_ref(), EventType::Warning, "VolumeMismatch", vmsg);
                let cmsg = format!("Cannot bind PersistentVolume {name:?} to requested PersistentVolumeClaim due to incompatible volumeMode.");
                self.recorder.publish(claim.as_ref(), EventType::Warning, "VolumeMismatch", cmsg);
                return Ok(Action::Done);
            }
            // The claim sync finishes the binding.
            self.claim_queue.add(claim_key(&claim));
            return Ok(Action::Done);
        }
        if claim_volume == name {
            self.update_volume_phase(&volume, "Bound", None).await?;
            return Ok(Action::Done);
        }
        // The claim got bound to another volume.
        let delete_policy = volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()) == Some("Delete");
        if has_annotation(&volume.metadata, ANN_DYNAMICALLY_PROVISIONED) && delete_policy {
            let volume = if !matches!(volume_phase(&volume), "Released" | "Failed") {
                Arc::new(self.update_volume_phase(&volume, "Released", None).await?)
            } else {
                volume
            };
            return self.reclaim_volume(&volume).await;
        }
        self.unbind_volume(&volume).await?;
        Ok(Action::Done)
    }

    /// upstream unbindVolume: a controller binding is undone, a user's
    /// pre-binding kept (only its uid cleared); the volume is Available again.
    async fn unbind_volume(&self, volume: &PersistentVolume) -> Result<(), Error> {
        let mut v = volume.clone();
        let spec = v.spec.get_or_insert_with(Default::default);
        if has_annotation(&v.metadata, ANN_BOUND_BY_CONTROLLER) {
            spec.claim_ref = None;
            if let Some(a) = v.metadata.annotations.as_mut() {
                a.remove(ANN_BOUND_BY_CONTROLLER);
            }
        } else if let Some(r) = spec.claim_ref.as_mut() {
            r.uid = Some(String::new());
        }
        let v = self.pv_api().replace(&v).await?;
        self.update_volume_phase(&v, "Available", None).await?;
        Ok(())
    }

    /// Sets a volume's phase (and message); returns the volume as written.
    pub(super) async fn update_volume_phase(&self, volume: &PersistentVolume, phase: &str, message: Option<&str>) -> Result<PersistentVolume, Error> {
        let status = volume.status.clone().unwrap_or_default();
        if status.phase.as_deref() == Some(phase) && status.message.as_deref() == message {
            return Ok(volume.clone());
        }
        let mut v = volume.clone();
        let changed = status.phase.as_deref() != Some(phase);
        v.status = Some(PersistentVolumeStatus {
            phase: Some(phase.to_string()),
            message: message.map(str::to_string),
            reason: None,
            last_phase_transition_time: if changed { Some(time_now()) } else { status.last_phase_transition_time },
        });
        Ok(self.pv_api().replace_status(&v).await?)
    }

    /// upstream reclaimVolume, for a Released (or Failed) volume.
    async fn reclaim_volume(&self, volume: &PersistentVolume) -> Result<Action, Error> {
        let policy = volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.clone()).unwrap_or_default();
        let name = volume.metadata.name.clone().unwrap_or_default();
        match policy.as_str() {
            "Retain" => Ok(Action::Done),
            "Recycle" => {
                // No volume plugin here can recycle (upstream deprecated it too).
                if volume_phase(volume) != "Failed" {
                    self.recorder.publish(volume, EventType::Warning, "VolumeFailedRecycle", "No recycler plugin found for the volume!");
                    self.update_volume_phase(volume, "Failed", Some("No recycler plugin found for the volume!")).await?;
                }
                Ok(Action::Done)
            }
            "Delete" => {
                let provisioner = volume.metadata.annotations.as_ref().and_then(|a| a.get(ANN_DYNAMICALLY_PROVISIONED)).cloned().unwrap_or_default();
                if provisioner == LOCAL_PATH_PROVISIONER {
                    return match local_path::delete(self, volume).await? {
                        local_path::Deletion::Done => {
                            let dp = DeleteParams { precondition_uid: volume.metadata.uid.clone(), ..Default::default() };
                            match self.pv_api().delete(&name, &dp).await {
                                Ok(_) => Ok(Action::Done),
                                Err(e) if e.is_not_found() => Ok(Action::Done),
                                Err(e) => Err(e.into()),
                            }
                        }
                        local_path::Deletion::Waiting => Ok(Action::RequeueAfter(Duration::from_secs(5))),
                        local_path::Deletion::Failed(msg) => {
                            self.recorder.publish(volume, EventType::Warning, "VolumeFailedDelete", msg.clone());
                            self.update_volume_phase(volume, "Failed", Some(&msg)).await?;
                            Ok(Action::RequeueAfter(RESYNC))
                        }
                    };
                }
                if !provisioner.is_empty() {
                    // Another (external) provisioner's volume: it deletes it.
                    return Ok(Action::Done);
                }
                let msg = format!("error getting deleter volume plugin for volume {name:?}: no deletable volume plugin matched");
                if volume_phase(volume) != "Failed" {
                    self.recorder.publish(volume, EventType::Warning, "VolumeFailedDelete", msg.clone());
                    self.update_volume_phase(volume, "Failed", Some(&msg)).await?;
                }
                Ok(Action::Done)
            }
            other => {
                let msg = format!("Volume has unrecognized PersistentVolumeReclaimPolicy {other:?}");
                self.recorder.publish(volume, EventType::Warning, "VolumeUnknownReclaimPolicy", msg.clone());
                self.update_volume_phase(volume, "Failed", Some(&msg)).await?;
                Ok(Action::Done)
            }
        }
    }

    // ---- provisioning ----

    /// upstream provisionClaimOperation: the built-in provisioner makes the
    /// volume; any other provisioner is external and only announced.
    async fn provision_claim(&self, claim: &PersistentVolumeClaim, class_name: &str) -> Result<(), Error> {
        let Some(class) = self.class(class_name) else {
            let msg = format!("storageclass.storage.k8s.io {class_name:?} not found");
            self.recorder.publish(claim, EventType::Warning, "ProvisioningFailed", msg);
            return Ok(());
        };
        let claim = self.set_claim_provisioner(claim, &class.provisioner).await?;
        if class.provisioner != LOCAL_PATH_PROVISIONER {
            let msg = format!(
                "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                class.provisioner
            );
            self.recorder.publish(&claim, EventType::Normal, "ExternalProvisioning", msg);
            return Ok(());
        }
        let pv_name = format!("pvc-{}", claim.metadata.uid.as_deref().unwrap_or(""));
        if self.volumes.get("", &pv_name).is_some() || self.pv_api().get_opt(&pv_name).await?.is_some() {
            // Provisioned already; the volume sync binds it.
            return Ok(());
        }
        let selected = claim.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SELECTED_NODE)).cloned();
        let pv = match local_path::provision(self, &claim, &class, &pv_name, selected.as_deref()).await {
            Ok(pv) => pv,
            Err(why) => {
                let msg = format!("failed to provision volume with StorageClass {class_name:?}: {why}");
                self.recorder.publish(&claim, EventType::Warning, "ProvisioningFailed", msg);
                return Ok(());
            }
        };
        match self.pv_api().create(&Default::default(), &pv).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => return Ok(()),
            Err(e) => {
                let msg = format!("failed to provision volume with StorageClass {class_name:?}: {e}");
                self.recorder.publish(&claim, EventType::Warning, "ProvisioningFailed", msg);
                return Err(e.into());
            }
        }
        let msg = format!("Successfully provisioned volume {pv_name} using {LOCAL_PATH_PROVISIONER}");
        self.recorder.publish(&claim, EventType::Normal, "ProvisioningSucceeded", msg);
        tracing::info!(claim = %claim_key(&claim), volume = %pv_name, "provisioned");
        Ok(())
    }

    /// upstream setClaimProvisioner: both storage-provisioner annotations.
    async fn set_claim_provisioner(&self, claim: &PersistentVolumeClaim, provisioner: &str) -> Result<PersistentVolumeClaim, Error> {
        let a = claim.metadata.annotations.clone().unwrap_or_default();
        if a.get(st::ANN_STORAGE_PROVISIONER).map(String::as_str) == Some(provisioner)
            && a.get(st::ANN_BETA_STORAGE_PROVISIONER).map(String::as_str) == Some(provisioner)
        {
            return Ok(claim.clone());
        }
        let mut c = claim.clone();
        set_annotation(&mut c.metadata, st::ANN_STORAGE_PROVISIONER, provisioner);
        set_annotation(&mut c.metadata, st::ANN_BETA_STORAGE_PROVISIONER, provisioner);
        let ns = c.metadata.namespace.clone().unwrap_or_default();
        Ok(self.pvc_api(&ns).replace(&c).await?)
    }

    pub(super) fn requeue_volume(&self, name: &str) {
        self.volume_queue.add(name.to_string());
    }
}
