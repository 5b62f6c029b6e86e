//! Storage object in-use protection (upstream's pvcprotection and
//! pvprotection controllers): every claim carries `kubernetes.io/pvc-protection`
//! and every volume `kubernetes.io/pv-protection` (admission adds them on
//! create; these controllers add them to objects that lack them). A deleted
//! claim keeps its finalizer while a scheduled pod uses it; a deleted volume
//! keeps its finalizer while it is Bound.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use api::storage::{PVC_PROTECTION_FINALIZER, PV_PROTECTION_FINALIZER};
use client::controller::{Action, Controller};
use client::informer::InformerEvent;
use client::store::{make_key, split_key, Store};
use client::{Api, Client, ListParams};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::controllers::{ControllerContext, Descriptor};
use crate::informers::NAMESPACE_INDEX;
use crate::Error;

pub const PVC_PROTECTION: Descriptor = Descriptor {
    name: "persistentvolumeclaim-protection-controller",
    aliases: &["pvc-protection"],
    disabled_by_default: false,
    concurrency: None,
    start: start_pvc,
};

pub const PV_PROTECTION: Descriptor = Descriptor {
    name: "persistentvolume-protection-controller",
    aliases: &["pv-protection"],
    disabled_by_default: false,
    concurrency: None,
    start: start_pv,
};

fn has_finalizer(m: &ObjectMeta, f: &str) -> bool {
    m.finalizers.as_ref().is_some_and(|fs| fs.iter().any(|x| x == f))
}

/// The metadata with `f` added or removed; None when nothing changes.
fn with_finalizer(m: &ObjectMeta, f: &str, present: bool) -> Option<ObjectMeta> {
    if has_finalizer(m, f) == present {
        return None;
    }
    let mut m = m.clone();
    let fs = m.finalizers.get_or_insert_with(Vec::new);
    if present {
        fs.push(f.to_string());
    } else {
        fs.retain(|x| x != f);
    }
    Some(m)
}

/// The claims a pod's volumes name, as keys.
fn pod_claim_keys(pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| make_key(ns, &c.claim_name))
        .collect()
}

/// upstream podUsesPVC: only scheduled pods count (the kubelet refuses to
/// start a pod whose claim is being deleted).
pub fn pod_uses_claim(pod: &Pod, claim: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return false };
    if spec.node_name.as_deref().unwrap_or("").is_empty() {
        return false;
    }
    spec.volumes.iter().flatten().any(|v| v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == claim))
}

fn start_pvc(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let claims = ctx.informers.get::<PersistentVolumeClaim>();
        let pods = ctx.informers.get::<Pod>();
        let controller = Controller::new("pvcprotection", &claims).watches(&pods, |ev: &InformerEvent<Pod>| {
            let mut keys = pod_claim_keys(ev.object());
            if let InformerEvent::Updated { old, .. } = ev {
                keys.extend(pod_claim_keys(old).into_iter().filter(|k| !keys.contains(k)).collect::<Vec<_>>());
            }
            keys
        });
        let controller = ctx.metrics.instrument("pvcprotection", controller);
        let state = Arc::new(PvcProtection { client: ctx.client.clone(), claims: claims.store(), pods: pods.store() });
        controller.run(state, |s, key| async move { s.sync(&key).await }, ctx.shutdown.clone()).await;
    })
}

struct PvcProtection {
    client: Client,
    claims: Store<PersistentVolumeClaim>,
    pods: Store<Pod>,
}

impl PvcProtection {
    async fn sync(&self, key: &str) -> Result<Action, Error> {
        let (ns, name) = split_key(key);
        let Some(claim) = self.claims.get(ns, name) else { return Ok(Action::Done) };
        let api = Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), ns);
        let deleting = claim.metadata.deletion_timestamp.is_some();
        if !deleting {
            if let Some(meta) = with_finalizer(&claim.metadata, PVC_PROTECTION_FINALIZER, true) {
                let mut c = (*claim).clone();
                c.metadata = meta;
                api.replace(&c).await?;
            }
            return Ok(Action::Done);
        }
        if !has_finalizer(&claim.metadata, PVC_PROTECTION_FINALIZER) {
            return Ok(Action::Done);
        }
        if self.pods.by_index(NAMESPACE_INDEX, ns).iter().any(|p| pod_uses_claim(p, name)) {
            return Ok(Action::Done);
        }
        // The cache may miss a pod created just now: ask the apiserver before letting go (upstream askAPIServer).
        let live = Api::<Pod>::namespaced(self.client.clone(), ns).list(&ListParams::default()).await?;
        if live.items.iter().any(|p| pod_uses_claim(p, name)) {
            return Ok(Action::Done);
        }
        if let Some(meta) = with_finalizer(&claim.metadata, PVC_PROTECTION_FINALIZER, false) {
            let mut c = (*claim).clone();
            c.metadata = meta;
            match api.replace(&c).await {
                Ok(_) => tracing::info!(claim = %key, "removed the protection finalizer of an unused claim"),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Action::Done)
    }
}

fn start_pv(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let volumes = ctx.informers.get::<PersistentVolume>();
        let controller = ctx.metrics.instrument("pvprotection", Controller::new("pvprotection", &volumes));
        let state = Arc::new(PvProtection { client: ctx.client.clone(), volumes: volumes.store() });
        controller.run(state, |s, key| async move { s.sync(&key).await }, ctx.shutdown.clone()).await;
    })
}

struct PvProtection {
    client: Client,
    volumes: Store<PersistentVolume>,
}

impl PvProtection {
    async fn sync(&self, name: &str) -> Result<Action, Error> {
        let Some(pv) = self.volumes.get("", name) else { return Ok(Action::Done) };
        let deleting = pv.metadata.deletion_timestamp.is_some();
        // upstream isBeingUsed: a Bound volume is in use.
        let bound = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        let want = !deleting || bound;
        if deleting && !has_finalizer(&pv.metadata, PV_PROTECTION_FINALIZER) {
            return Ok(Action::Done);
        }
        let Some(meta) = with_finalizer(&pv.metadata, PV_PROTECTION_FINALIZER, want) else { return Ok(Action::Done) };
        let mut v = (*pv).clone();
        v.metadata = meta;
        match Api::<PersistentVolume>::all(self.client.clone()).replace(&v).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_scheduled_pods_use_a_claim() {
        let mut pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}))
        .unwrap();
        assert!(!pod_uses_claim(&pod, "data"));
        pod.spec.as_mut().unwrap().node_name = Some("n1".into());
        assert!(pod_uses_claim(&pod, "data"));
        assert!(!pod_uses_claim(&pod, "other"));
        assert_eq!(pod_claim_keys(&pod), ["ns/data"]);
    }

    #[test]
    fn finalizers_added_and_removed_once() {
        let m = ObjectMeta { finalizers: Some(vec!["a".into()]), ..Default::default() };
        let added = with_finalizer(&m, "b", true).unwrap();
        assert_eq!(added.finalizers.as_deref().unwrap(), ["a", "b"]);
        assert!(with_finalizer(&added, "b", true).is_none());
        assert_eq!(with_finalizer(&added, "a", false).unwrap().finalizers.unwrap(), ["b"]);
    }
}
