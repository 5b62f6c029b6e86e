//! Adoption and release of pods by their controller (upstream's
//! PodControllerRefManager.ClaimPods, controller_ref_manager.go).
//!
//! A controller owns the active pods whose controller reference has its
//! uid and that match its selector. It adopts matching orphans (adds its
//! controller reference) and releases owned pods that no longer match
//! (removes it). Both are patches pinned to the pod's resourceVersion, so a
//! stale cache yields a Conflict and a retry, never a lost update.

use std::sync::Arc;

use api::owner::{controller_of, remove_owner};
use api::Selector;
use client::{Api, Client, Patch, PostParams, Resource};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::Error;

/// Claims `pods` for the controller `owner` (whose reference to itself is
/// `controller_ref`). `can_adopt` is asked once, before the first adoption:
/// upstream re-reads the owner from the apiserver there, so an owner that
/// was just deleted adopts nothing. Returns the pods owned afterwards and
/// the first error (the others are logged).
pub async fn claim_pods<F, Fut>(
    client: &Client,
    owner: &ObjectMeta,
    controller_ref: &OwnerReference,
    selector: &Selector,
    pods: Vec<Arc<Pod>>,
    can_adopt: F,
) -> (Vec<Arc<Pod>>, Option<Error>)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    claim(client, owner, controller_ref, selector, pods, can_adopt).await
}

/// [`claim_pods`] for any namespaced kind (ClaimReplicaSets, ClaimControllerRevisions).
pub async fn claim<K, F, Fut>(
    client: &Client,
    owner: &ObjectMeta,
    controller_ref: &OwnerReference,
    selector: &Selector,
    pods: Vec<Arc<K>>,
    can_adopt: F,
) -> (Vec<Arc<K>>, Option<Error>)
where
    K: Resource,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let uid = owner.uid.as_deref().unwrap_or_default();
    let mut claimed = Vec::new();
    let mut errors: Vec<Error> = Vec::new();
    let mut can_adopt = Some(can_adopt);
    let mut adopt_refused: Option<String> = None;
    for pod in pods {
        let matches = selector.matches_opt(pod.metadata().labels.as_ref());
        if let Some(r) = controller_of(pod.metadata()) {
            if r.uid != uid {
                continue; // someone else's
            }
            if matches {
                claimed.push(pod);
                continue;
            }
            if owner.deletion_timestamp.is_some() {
                continue; // being deleted: let the garbage collector have them
            }
            match release(client, pod.as_ref(), uid).await {
                Ok(()) => {}
                Err(e) => errors.push(e),
            }
            continue;
        }
        // An orphan.
        if owner.deletion_timestamp.is_some() || !matches || pod.metadata().deletion_timestamp.is_some() {
            continue;
        }
        if pod.metadata().namespace != owner.namespace {
            continue;
        }
        if let Some(check) = can_adopt.take() {
            if let Err(e) = check().await {
                adopt_refused = Some(e.to_string());
            }
        }
        if let Some(why) = &adopt_refused {
            errors.push(Error::Other(format!("can't adopt {} {}/{}: {why}", K::KIND, ns(pod.as_ref()), name(pod.as_ref()))));
            continue;
        }
        match adopt(client, pod.as_ref(), controller_ref).await {
            Ok(Some(p)) => claimed.push(Arc::new(p)),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    for e in errors.iter().skip(1) {
        tracing::warn!(owner = ?owner.name, error = %e, "claiming pods");
    }
    (claimed, errors.into_iter().next())
}

fn ns<K: Resource>(p: &K) -> &str {
    p.metadata().namespace.as_deref().unwrap_or_default()
}
fn name<K: Resource>(p: &K) -> &str {
    p.metadata().name.as_deref().unwrap_or_default()
}

/// Adds the controller reference. None when the pod is gone.
async fn adopt<K: Resource>(client: &Client, pod: &K, controller_ref: &OwnerReference) -> Result<Option<K>, Error> {
    let mut refs = pod.metadata().owner_references.clone().unwrap_or_default();
    refs.push(controller_ref.clone());
    tracing::info!(kind = K::KIND, object = %format!("{}/{}", ns(pod), name(pod)), owner = %controller_ref.name, "adopting orphan");
    match patch_owner_refs(client, pod, refs).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes references to `owner_uid`. A pod that is gone, or that the
/// apiserver refuses to change (Invalid: e.g. being deleted), needs nothing.
async fn release<K: Resource>(client: &Client, pod: &K, owner_uid: &str) -> Result<(), Error> {
    let mut meta = pod.metadata().clone();
    remove_owner(&mut meta, owner_uid);
    tracing::info!(kind = K::KIND, object = %format!("{}/{}", ns(pod), name(pod)), "releasing an object that no longer matches its controller's selector");
    match patch_owner_refs(client, pod, meta.owner_references.unwrap_or_default()).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.is_invalid() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn patch_owner_refs<K: Resource>(client: &Client, pod: &K, refs: Vec<OwnerReference>) -> client::Result<K> {
    let patch = serde_json::json!({"metadata": {
        "ownerReferences": refs,
        // Pinned: a pod changed since the cache saw it answers Conflict.
        "resourceVersion": pod.metadata().resource_version,
    }});
    Api::<K>::namespaced(client.clone(), ns(pod)).patch(name(pod), &PostParams::default(), &Patch::Merge(patch)).await
}
