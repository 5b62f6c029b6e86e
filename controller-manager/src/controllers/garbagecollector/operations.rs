//! The garbage collector's workers (upstream's attemptToDeleteItem and
//! attemptToOrphanWorker) and the API calls they make. Every decision reads
//! the object and its owners from the apiserver: the graph only says what
//! to look at.

use std::sync::Arc;

use client::dynamic::PartialObjectMetadata;
use client::{Api, ApiResourceRef, DeleteParams, Patch, PostParams};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{json, Value};

use super::graph::{Change, Identity, Node, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use super::Gc;
use crate::Error;

/// What to do with a queue item after a successful attempt.
enum Outcome {
    Forget,
    /// Look again later (a virtual node that exists but was not observed yet).
    Requeue,
}

/// Retries of a read-modify-write that lost a race.
const CONFLICT_RETRIES: usize = 5;

pub async fn delete_worker(gc: Arc<Gc>) {
    let queue = gc.attempt_to_delete.clone();
    while let Some(uid) = queue.get().await {
        match attempt_to_delete(&gc, &uid).await {
            Ok(Outcome::Forget) => queue.forget(&uid),
            Ok(Outcome::Requeue) => queue.add_rate_limited(uid.clone()),
            Err(e) => {
                tracing::warn!(%uid, error = %e, "garbage collector: attemptToDelete failed; will retry");
                queue.add_rate_limited(uid.clone());
            }
        }
        queue.done(&uid);
    }
}

pub async fn orphan_worker(gc: Arc<Gc>) {
    let queue = gc.attempt_to_orphan.clone();
    while let Some(uid) = queue.get().await {
        match attempt_to_orphan(&gc, &uid).await {
            Ok(()) => queue.forget(&uid),
            Err(e) => {
                tracing::warn!(%uid, error = %e, "garbage collector: orphaning dependents failed; will retry");
                queue.add_rate_limited(uid.clone());
            }
        }
        queue.done(&uid);
    }
}

fn resource(gc: &Gc, api_version: &str, kind: &str) -> Result<ApiResourceRef, Error> {
    gc.mapper.read().resource_for(api_version, kind).ok_or_else(|| Error::Other(format!("unable to get REST mapping for {api_version}/{kind}")))
}

fn api_for(gc: &Gc, id: &Identity) -> Result<Api<PartialObjectMetadata>, Error> {
    let r = resource(gc, &id.api_version, &id.kind)?;
    let ns = if r.namespaced { id.namespace.clone() } else { None };
    Ok(Api::for_resource(gc.client.clone(), r, ns.as_deref()))
}

/// The object `id` names, read from the apiserver (None when gone).
async fn get_object(gc: &Gc, id: &Identity) -> Result<Option<PartialObjectMetadata>, Error> {
    Ok(api_for(gc, id)?.get_opt(&id.name).await?)
}

fn has_finalizer(o: &PartialObjectMetadata, f: &str) -> bool {
    o.metadata.finalizers.as_ref().is_some_and(|fs| fs.iter().any(|x| x == f))
}

async fn attempt_to_delete(gc: &Gc, uid: &str) -> Result<Outcome, Error> {
    let Some(node) = gc.graph.lock().nodes.get(uid).cloned() else { return Ok(Outcome::Forget) };
    // Being deleted is a one-way trip: its dependents are handled when it is gone.
    if node.being_deleted && !node.deleting_dependents {
        return Ok(Outcome::Forget);
    }
    let latest = match get_object(gc, &node.identity).await? {
        Some(o) if o.metadata.uid.as_deref() == Some(uid) => o,
        _ => {
            tracing::debug!(item = %node.identity, "item not found, generating a virtual delete event");
            let _ = gc.changes.send(Change::VirtualDelete(node.identity.clone()));
            return Ok(Outcome::Forget);
        }
    };
    if node.deleting_dependents {
        process_deleting_dependents(gc, &node).await?;
        return Ok(Outcome::Forget);
    }
    let owners = latest.metadata.owner_references.clone().unwrap_or_default();
    if owners.is_empty() {
        return Ok(if node.observed { Outcome::Forget } else { Outcome::Requeue });
    }
    let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    for r in &owners {
        match is_dangling(gc, r, &node.identity).await {
            Ok((true, _)) => dangling.push(r.clone()),
            Ok((false, Some(owner))) if owner.metadata.deletion_timestamp.is_some() && has_finalizer(&owner, FOREGROUND_FINALIZER) => {
                waiting.push(r.clone())
            }
            Ok((false, _)) => solid.push(r.clone()),
            // A cluster-scoped object cannot have a namespaced owner: retrying will not help.
            Err(OwnerLookup::NamespacedOwnerOfClusterScoped) => return Ok(Outcome::Forget),
            Err(OwnerLookup::Failed(e)) => return Err(e),
        }
    }
    tracing::debug!(item = %node.identity, solid = solid.len(), dangling = dangling.len(), waiting = waiting.len(), "classified ownerReferences");
    let has_dependents = !node.dependents.is_empty();
    if !solid.is_empty() {
        if dangling.is_empty() && waiting.is_empty() {
            return Ok(Outcome::Forget);
        }
        // A live owner remains: only drop the references to the others.
        let gone: Vec<String> = dangling.iter().chain(waiting.iter()).map(|r| r.uid.clone()).collect();
        remove_owner_refs(gc, &node.identity, &gone).await?;
    } else if !waiting.is_empty() && has_dependents {
        // An owner waits for us and we have dependents of our own: go in the foreground too.
        let cycle = {
            let g = gc.graph.lock();
            node.dependents.iter().any(|d| g.nodes.get(d).is_some_and(|n| n.deleting_dependents))
        };
        if cycle {
            unblock_owner_refs(gc, &node.identity).await?;
        }
        delete_object(gc, &node.identity, "Foreground").await?;
    } else {
        let policy = if has_finalizer(&latest, ORPHAN_FINALIZER) {
            "Orphan"
        } else if has_finalizer(&latest, FOREGROUND_FINALIZER) {
            "Foreground"
        } else {
            "Background"
        };
        tracing::info!(item = %node.identity, propagation = policy, "garbage collector: deleting object whose owners are gone");
        delete_object(gc, &node.identity, policy).await?;
    }
    Ok(if node.observed { Outcome::Forget } else { Outcome::Requeue })
}

enum OwnerLookup {
    NamespacedOwnerOfClusterScoped,
    Failed(Error),
}

/// Whether the owner `r` of `item` is gone: a live GET of its name, and
/// a different uid counts as gone (upstream's isDangling). Returns the owner when it exists.
async fn is_dangling(gc: &Gc, r: &OwnerReference, item: &Identity) -> Result<(bool, Option<PartialObjectMetadata>), OwnerLookup> {
    if gc.graph.lock().absent.contains(&r.uid) {
        return Ok((true, None));
    }
    let res = resource(gc, &r.api_version, &r.kind).map_err(OwnerLookup::Failed)?;
    if item.namespace.is_none() && res.namespaced {
        tracing::warn!(item = %item, owner = %r.kind, "item is cluster-scoped, but refers to a namespaced owner");
        return Err(OwnerLookup::NamespacedOwnerOfClusterScoped);
    }
    let ns = if res.namespaced { item.namespace.as_deref() } else { None };
    let owner = Api::<PartialObjectMetadata>::for_resource(gc.client.clone(), res, ns).get_opt(&r.name).await.map_err(|e| OwnerLookup::Failed(e.into()))?;
    match owner {
        Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => Ok((false, Some(o))),
        _ => {
            gc.graph.lock().mark_absent(&r.uid);
            Ok((true, None))
        }
    }
}

/// An owner deleted in the foreground: delete its blocking dependents; once
/// none remain, remove its foregroundDeletion finalizer.
async fn process_deleting_dependents(gc: &Gc, node: &Node) -> Result<(), Error> {
    let blocking = gc.graph.lock().blocking_dependents(&node.identity.uid);
    if blocking.is_empty() {
        tracing::info!(item = %node.identity, "garbage collector: removing the foregroundDeletion finalizer; no blocking dependents left");
        return remove_finalizer(gc, &node.identity, FOREGROUND_FINALIZER).await;
    }
    for d in blocking.iter().filter(|d| !d.deleting_dependents) {
        gc.attempt_to_delete.add(d.identity.uid.clone());
    }
    Ok(())
}

async fn attempt_to_orphan(gc: &Gc, uid: &str) -> Result<(), Error> {
    let (owner, dependents) = {
        let g = gc.graph.lock();
        let Some(owner) = g.nodes.get(uid).cloned() else { return Ok(()) };
        let deps: Vec<Identity> = owner.dependents.iter().filter_map(|d| g.nodes.get(d)).map(|n| n.identity.clone()).collect();
        (owner, deps)
    };
    let results = futures::future::join_all(dependents.iter().map(|d| remove_owner_refs(gc, d, std::slice::from_ref(&owner.identity.uid)))).await;
    let failed: Vec<String> = results.into_iter().filter_map(|r| r.err()).map(|e| e.to_string()).collect();
    if !failed.is_empty() {
        return Err(Error::Other(format!("failed to orphan dependents of owner {}, got errors: {}", owner.identity, failed.join("; "))));
    }
    tracing::info!(owner = %owner.identity, dependents = dependents.len(), "garbage collector: dependents orphaned; removing the orphan finalizer");
    remove_finalizer(gc, &owner.identity, ORPHAN_FINALIZER).await
}

fn rv_of(o: &PartialObjectMetadata) -> Value {
    o.metadata.resource_version.clone().map(Value::from).unwrap_or(Value::Null)
}

/// Read-modify-write of one object's metadata by a merge patch pinned to the
/// version read, retried on conflict. `edit` returns the metadata patch, or
/// None when nothing needs to change.
async fn patch_metadata(gc: &Gc, id: &Identity, edit: impl Fn(&PartialObjectMetadata) -> Option<Value>) -> Result<(), Error> {
    let api = api_for(gc, id)?;
    for _ in 0..CONFLICT_RETRIES {
        let Some(latest) = api.get_opt(&id.name).await? else { return Ok(()) };
        if latest.metadata.uid.as_deref() != Some(id.uid.as_str()) {
            return Ok(());
        }
        let Some(mut meta) = edit(&latest) else { return Ok(()) };
        meta["resourceVersion"] = rv_of(&latest);
        match api.patch(&id.name, &PostParams::default(), &Patch::Merge(json!({"metadata": meta}))).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Other(format!("cannot update {}: too many conflicts", id)))
}

async fn remove_owner_refs(gc: &Gc, id: &Identity, owner_uids: &[String]) -> Result<(), Error> {
    patch_metadata(gc, id, |o| {
        let refs = o.metadata.owner_references.clone().unwrap_or_default();
        let kept: Vec<OwnerReference> = refs.iter().filter(|r| !owner_uids.contains(&r.uid)).cloned().collect();
        if kept.len() == refs.len() {
            return None;
        }
        let kept = if kept.is_empty() { Value::Null } else { serde_json::to_value(kept).expect("serializes") };
        Some(json!({"ownerReferences": kept}))
    })
    .await
}

async fn unblock_owner_refs(gc: &Gc, id: &Identity) -> Result<(), Error> {
    patch_metadata(gc, id, |o| {
        let mut refs = o.metadata.owner_references.clone().unwrap_or_default();
        if !refs.iter().any(|r| r.block_owner_deletion == Some(true)) {
            return None;
        }
        refs.iter_mut().for_each(|r| r.block_owner_deletion = Some(false));
        Some(json!({"ownerReferences": refs}))
    })
    .await
}

async fn remove_finalizer(gc: &Gc, id: &Identity, finalizer: &str) -> Result<(), Error> {
    patch_metadata(gc, id, |o| {
        let fs = o.metadata.finalizers.clone().unwrap_or_default();
        if !fs.iter().any(|f| f == finalizer) {
            return None;
        }
        let kept: Vec<String> = fs.into_iter().filter(|f| f != finalizer).collect();
        Some(json!({"finalizers": if kept.is_empty() { Value::Null } else { json!(kept) }}))
    })
    .await
}

/// Deletes `id` (only that uid) with `policy` as its propagation.
async fn delete_object(gc: &Gc, id: &Identity, policy: &str) -> Result<(), Error> {
    let dp = DeleteParams { precondition_uid: Some(id.uid.clone()), propagation_policy: Some(policy.into()), ..Default::default() };
    match api_for(gc, id)?.delete(&id.name, &dp).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}
