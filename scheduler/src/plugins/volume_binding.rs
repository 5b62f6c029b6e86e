//! VolumeBinding (upstream's plugins/volumebinding): pods whose claims are
//! not bound yet. Claims of a WaitForFirstConsumer class are bound for the
//! node the pod gets: Filter keeps nodes where each such claim either has an
//! Available volume it fits (local volumes' node affinity included) or its
//! class can provision; bound claims need their volume's node affinity to
//! match. An unbound claim of an Immediate class makes the pod wait for the
//! PV controller. At bind time [`pre_bind`] pre-binds the chosen volumes
//! (claimRef) or asks for provisioning on the node (the claim's
//! selected-node annotation), then waits for the PV controller to bind
//! every claim before the pod is bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api::selector::Labels;
use api::storage::{self as st, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE};
use client::{Api, Client, Patch, PostParams};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim};
use serde_json::json;

use super::VOLUME_BINDING;
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Plugin, Point, Status};
use crate::listers::Listers;
use crate::pod_info::PodInfo;

pub const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
pub const ERR_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const ERR_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const ERR_PV_NOT_EXIST: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/// Upstream's default VolumeBindingArgs.bindTimeoutSeconds.
pub const BIND_TIMEOUT: Duration = Duration::from_secs(600);

const STATE_KEY: &str = "PreFilterVolumeBinding";

pub struct VolumeBinding;

/// A pod's claims, sorted as upstream's getPodVolumeClaims.
#[derive(Default)]
pub struct PodClaims {
    /// Fully bound claims with their volume (None: the volume does not exist).
    pub bound: Vec<(Arc<PersistentVolumeClaim>, Option<Arc<PersistentVolume>>)>,
    /// Unbound claims of a WaitForFirstConsumer class.
    pub delayed: Vec<Arc<PersistentVolumeClaim>>,
    /// Unbound claims of an Immediate class (or pre-bound by volumeName).
    pub immediate: Vec<Arc<PersistentVolumeClaim>>,
}

/// The claim names the pod's volumes refer to (generic ephemeral volumes are `<pod>-<volume>`).
pub fn claim_names(pod: &PodInfo) -> Vec<String> {
    pod.pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                v.ephemeral.as_ref().map(|_| format!("{}-{}", pod.name, v.name))
            }
        })
        .collect()
}

/// upstream isPVCFullyBound.
pub fn fully_bound(c: &PersistentVolumeClaim) -> bool {
    !c.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("").is_empty()
        && c.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(ANN_BIND_COMPLETED))
}

fn delay_binding(listers: &dyn Listers, c: &PersistentVolumeClaim) -> bool {
    let class = st::claim_class(c);
    !class.is_empty() && listers.storage_class(class).is_some_and(|sc| st::is_wait_for_first_consumer(&sc))
}

/// Sorts the pod's claims; Err is the reason the pod cannot be scheduled at all.
pub fn pod_claims(listers: &dyn Listers, pod: &PodInfo) -> Result<PodClaims, String> {
    let mut out = PodClaims::default();
    for name in claim_names(pod) {
        let Some(c) = listers.pvc(&pod.namespace, &name) else { return Err(format!("persistentvolumeclaim {name:?} not found")) };
        if c.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim {name:?} is being deleted"));
        }
        if fully_bound(&c) {
            let pv = c.spec.as_ref().and_then(|s| s.volume_name.as_deref()).and_then(|v| listers.pv(v));
            out.bound.push((c, pv));
        } else if delay_binding(listers, &c) && c.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("").is_empty() {
            out.delayed.push(c);
        } else {
            out.immediate.push(c);
        }
    }
    Ok(out)
}

/// Whether `class` can provision a volume on a node with these labels
/// (upstream checkVolumeProvisions, without storage capacity tracking).
fn can_provision(listers: &dyn Listers, claim: &PersistentVolumeClaim, labels: &Labels, node: &str) -> bool {
    let Some(class) = listers.storage_class(st::claim_class(claim)) else { return false };
    if class.provisioner.is_empty() || class.provisioner == st::NOT_SUPPORTED_PROVISIONER {
        return false;
    }
    let topology_ok = match class.allowed_topologies.as_deref() {
        None | Some([]) => true,
        Some(terms) => terms.iter().any(|t| t.match_label_expressions.iter().flatten().all(|e| labels.get(&e.key).is_some_and(|v| e.values.contains(v)))),
    };
    // Provisioning already started for another node: that is where the volume will be.
    topology_ok && claim.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SELECTED_NODE)).is_none_or(|n| n == node)
}

/// The volumes chosen for the pod's delayed claims on a node: (claim, Some(volume))
/// to pre-bind, (claim, None) to provision; None when the node cannot serve them.
pub fn find_pod_volumes(
    listers: &dyn Listers,
    delayed: &[Arc<PersistentVolumeClaim>],
    labels: &Labels,
    node: &str,
) -> Option<Vec<(Arc<PersistentVolumeClaim>, Option<Arc<PersistentVolume>>)>> {
    if delayed.is_empty() {
        return Some(Vec::new());
    }
    let pvs = listers.pvs();
    let mut excluded = Vec::new();
    let mut out = Vec::new();
    for c in delayed {
        match st::find_matching_volume(c, pvs.iter().map(|p| p.as_ref()), Some(labels), &excluded, false) {
            Some(pv) => {
                let name = pv.metadata.name.clone().unwrap_or_default();
                let chosen = pvs.iter().find(|p| p.metadata.name.as_deref() == Some(name.as_str())).cloned();
                excluded.push(name);
                out.push((c.clone(), chosen));
            }
            None if can_provision(listers, c, labels, node) => out.push((c.clone(), None)),
            None => return None,
        }
    }
    Some(out)
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        VOLUME_BINDING
    }
    fn points(&self) -> &'static [Point] {
        &[Point::PreFilter, Point::Filter]
    }
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        if claim_names(pod).is_empty() {
            return Status::skip();
        }
        let claims = match pod_claims(&*snap.listers, pod) {
            Ok(c) => c,
            Err(why) => return Status::unresolvable(VOLUME_BINDING, why),
        };
        if !claims.immediate.is_empty() {
            return Status::unresolvable(VOLUME_BINDING, ERR_UNBOUND_IMMEDIATE);
        }
        state.write(STATE_KEY, (claims, snap.listers.clone()));
        Status::success()
    }
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some((claims, listers)) = state.read::<(PodClaims, crate::listers::ListerHandle)>(STATE_KEY) else { return Status::success() };
        let mut reasons = Vec::new();
        for (_, pv) in &claims.bound {
            match pv {
                None => reasons.push(ERR_PV_NOT_EXIST),
                Some(pv) if !st::node_affinity_matches(pv, &node.labels) => reasons.push(ERR_NODE_CONFLICT),
                Some(_) => {}
            }
        }
        if find_pod_volumes(&**listers, &claims.delayed, &node.labels, &node.name).is_none() {
            reasons.push(ERR_BIND_CONFLICT);
        }
        reasons.dedup();
        if reasons.is_empty() {
            return Status::success();
        }
        let mut st = Status::unresolvable(VOLUME_BINDING, reasons[0]);
        st.reasons = reasons.into_iter().map(str::to_string).collect();
        st
    }
}

/// The claimRef a pre-bound volume gets (upstream GetBindVolumeToClaim).
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

/// PreBind (upstream BindPodVolumes): writes the decisions for `node` and
/// waits until the PV controller has bound every claim of the pod. Err is
/// the reason the pod goes back to the queue.
pub async fn pre_bind(client: &Client, listers: &dyn Listers, pod: &PodInfo, node: &str, labels: &Labels, timeout: Duration) -> Result<(), String> {
    let claims = pod_claims(listers, pod)?;
    if claims.delayed.is_empty() {
        return Ok(());
    }
    let decisions = find_pod_volumes(listers, &claims.delayed, labels, node).ok_or_else(|| ERR_BIND_CONFLICT.to_string())?;
    let pvs = Api::<PersistentVolume>::all(client.clone());
    let pvcs = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &pod.namespace);
    for (claim, pv) in &decisions {
        let cname = claim.metadata.name.clone().unwrap_or_default();
        match pv {
            Some(pv) => {
                let ref_ok = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some_and(|r| r.uid == claim.metadata.uid && r.name == claim.metadata.name);
                if !ref_ok {
                    let mut v = (**pv).clone();
                    if !st::is_volume_bound_to_claim(pv, claim) {
                        v.metadata.annotations.get_or_insert_with(Default::default).insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
                    }
                    v.spec.get_or_insert_with(Default::default).claim_ref = Some(claim_reference(claim));
                    pvs.replace(&v).await.map_err(|e| format!("binding volumes: {e}"))?;
                }
            }
            None => {
                let set = claim.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SELECTED_NODE)).map(String::as_str) == Some(node);
                if !set {
                    let patch = Patch::Merge(json!({"metadata": {"annotations": {ANN_SELECTED_NODE: node}, "resourceVersion": claim.metadata.resource_version}}));
                    pvcs.patch(&cname, &PostParams::default(), &patch).await.map_err(|e| format!("binding volumes: {e}"))?;
                }
            }
        }
    }
    // Wait for the PV controller (and the provisioner) to bind them all.
    let deadline = Instant::now() + timeout;
    for (claim, pv) in &decisions {
        let cname = claim.metadata.name.clone().unwrap_or_default();
        loop {
            let c = pvcs.get_opt(&cname).await.map_err(|e| format!("binding volumes: {e}"))?;
            let Some(c) = c else { return Err(format!("binding volumes: persistentvolumeclaim {cname:?} not found")) };
            if fully_bound(&c) {
                break;
            }
            if pv.is_none() && c.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SELECTED_NODE)).is_none() {
                // The provisioner gave up on this node (upstream: it removes the annotation to reschedule).
                return Err(format!("binding volumes: provisioning failed for PVC {cname:?}"));
            }
            if Instant::now() >= deadline {
                return Err("binding volumes: context deadline exceeded".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}
