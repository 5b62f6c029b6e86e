//! The namespace controller (upstream's pkg/controller/namespace): a
//! namespace being deleted has everything in it deleted (every namespaced
//! kind discovery lists with list and deletecollection), its status
//! conditions say how that goes, and once nothing is left its `kubernetes`
//! finalizer is removed through namespaces/<name>/finalize, which lets the
//! apiserver remove the namespace.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use client::controller::{Action, Controller};
use client::dynamic::PartialObjectMetadata;
use client::{Api, ApiResourceRef, Client, DeleteParams, ListParams, Patch, PostParams};
use k8s_openapi::api::core::v1::Namespace;
use serde_json::{json, Value};

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::Error;

pub const NAMESPACE: Descriptor = Descriptor {
    name: "namespace-controller",
    aliases: &["namespace"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-namespace-syncs",
        default: 10,
        help: "The number of namespace objects that are allowed to sync concurrently. Larger number = more responsive namespace termination, but more CPU (and network) load",
    }),
    start,
};

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";
/// Assumed wait for content with finalizers (upstream's finalizerEstimateSeconds).
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let namespaces = ctx.informers.get::<Namespace>();
        let controller = ctx.metrics.instrument("namespace", Controller::new("namespace", &namespaces).workers(ctx.workers));
        controller.run(Arc::new(ctx.client.clone()), sync, ctx.shutdown.clone()).await;
    })
}

async fn sync(client: Arc<Client>, name: String) -> Result<Action, Error> {
    let api = Api::<Namespace>::all((*client).clone());
    // Other controllers edit a terminating namespace too: work from the latest.
    let Some(ns) = api.get_opt(&name).await? else { return Ok(Action::Done) };
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(Action::Done);
    }
    let phase = ns.status.as_ref().and_then(|s| s.phase.as_deref());
    if phase != Some("Terminating") {
        api.patch_status(&name, &PostParams::default(), &Patch::Merge(json!({"status": {"phase": "Terminating"}}))).await?;
    }
    let finalizers = ns.spec.as_ref().and_then(|s| s.finalizers.clone()).unwrap_or_default();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(Action::Done);
    }
    let estimate = delete_all_content(&client, &ns).await?;
    if estimate > 0 {
        // Upstream's ResourcesRemainingError: look again in about half the estimate.
        tracing::debug!(namespace = %name, estimate, "content remains");
        return Ok(Action::RequeueAfter(Duration::from_secs((estimate / 2) as u64 + 1)));
    }
    let mut finalized = ns.clone();
    finalized.spec.get_or_insert_with(Default::default).finalizers = Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
    match api.finalize(&finalized).await {
        Ok(_) => Ok(Action::Done),
        Err(e) if e.is_not_found() => Ok(Action::Done),
        Err(e) => Err(e.into()),
    }
}

/// What deleting one kind's content found.
#[derive(Default)]
struct Gvr {
    remaining: usize,
    finalizers: BTreeMap<String, usize>,
    estimate: i64,
}

/// Deletes every namespaced kind's objects in `ns` and writes the
/// conditions; returns how many seconds the remaining content may take
/// (0: nothing left).
async fn delete_all_content(client: &Client, ns: &Namespace) -> Result<i64, Error> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let (resources, discovery_err) = match super::garbagecollector::deletable_resources(client).await {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let mut errors = Vec::new();
    let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
    let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
    let mut estimate = 0i64;
    let all = client.discovery().await.map(|d| d.resources).unwrap_or_default();
    for r in resources.iter().filter(|r| r.namespaced) {
        let verbs = all.iter().find(|a| a.group == r.group && a.name == r.plural).map(|a| a.verbs.clone()).unwrap_or_default();
        if !verbs.iter().any(|v| v == "deletecollection") {
            continue;
        }
        match delete_collection(client, r, &name).await {
            Ok(g) => {
                if g.remaining > 0 {
                    remaining.insert(group_resource(r), g.remaining);
                }
                for (f, n) in g.finalizers {
                    *finalizers.entry(f).or_default() += n;
                }
                estimate = estimate.max(g.estimate);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    write_conditions(client, ns, discovery_err.as_deref(), &errors, &remaining, &finalizers).await?;
    if let Some(e) = discovery_err {
        return Err(Error::Other(format!("failed to discover resources for namespace {name}: {e}")));
    }
    if !errors.is_empty() {
        return Err(Error::Other(aggregate(&errors)));
    }
    Ok(estimate)
}

/// "pods" or "deployments.apps", as upstream's GroupResource.String().
fn group_resource(r: &ApiResourceRef) -> String {
    if r.group.is_empty() {
        r.plural.clone()
    } else {
        format!("{}.{}", r.plural, r.group)
    }
}

fn aggregate(errs: &[String]) -> String {
    if errs.len() == 1 {
        errs[0].clone()
    } else {
        format!("[{}]", errs.join(", "))
    }
}

async fn delete_collection(client: &Client, r: &ApiResourceRef, ns: &str) -> Result<Gvr, client::Error> {
    let api = Api::<PartialObjectMetadata>::for_resource(client.clone(), r.clone(), Some(ns));
    // Background: the garbage collector must not add the orphan finalizer to what we delete generically.
    api.delete_collection(&DeleteParams::default().propagation("Background"), &ListParams::default()).await?;
    let left = api.list(&ListParams::default()).await?.items;
    let mut g = Gvr { remaining: left.len(), ..Default::default() };
    for o in &left {
        for f in o.metadata.finalizers.iter().flatten() {
            *g.finalizers.entry(f.clone()).or_default() += 1;
        }
        let est = if o.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
            FINALIZER_ESTIMATE_SECONDS
        } else {
            // A pod in graceful termination: its grace period.
            o.metadata.deletion_grace_period_seconds.unwrap_or(1).max(1)
        };
        g.estimate = g.estimate.max(est);
    }
    Ok(g)
}

/// Upstream's five deletion conditions, each True only while it applies.
fn conditions(discovery_err: Option<&str>, errors: &[String], remaining: &BTreeMap<String, usize>, finalizers: &BTreeMap<String, usize>) -> Vec<(String, bool, String, String)> {
    let mut out = Vec::new();
    out.push(match discovery_err {
        Some(e) => ("NamespaceDeletionDiscoveryFailure".into(), true, "DiscoveryFailed".into(), format!("Discovery failed for some groups, 1 failing: {e}")),
        None => ("NamespaceDeletionDiscoveryFailure".into(), false, "ResourcesDiscovered".into(), "All resources successfully discovered".into()),
    });
    out.push(("NamespaceDeletionGroupVersionParsingFailure".into(), false, "ParsedGroupVersions".into(), "All legacy kube types successfully parsed".into()));
    out.push(if errors.is_empty() {
        ("NamespaceDeletionContentFailure".into(), false, "ContentDeleted".into(), "All content successfully deleted, may be waiting on finalization".into())
    } else {
        ("NamespaceDeletionContentFailure".into(), true, "ContentDeletionFailed".into(), format!("Failed to delete all resource types, {} remaining: {}", errors.len(), aggregate(errors)))
    });
    out.push(if remaining.is_empty() {
        ("NamespaceContentRemaining".into(), false, "ContentRemoved".into(), "All content successfully removed".into())
    } else {
        let list: Vec<String> = remaining.iter().map(|(r, n)| format!("{r} has {n} resource instances")).collect();
        ("NamespaceContentRemaining".into(), true, "SomeResourcesRemain".into(), format!("Some resources are remaining: {}", list.join(", ")))
    });
    out.push(if finalizers.is_empty() {
        ("NamespaceFinalizersRemaining".into(), false, "ContentHasNoFinalizers".into(), "All content-preserving finalizers finished".into())
    } else {
        let list: Vec<String> = finalizers.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect();
        ("NamespaceFinalizersRemaining".into(), true, "SomeFinalizersRemain".into(), format!("Some content in the namespace has finalizers remaining: {}", list.join(", ")))
    });
    out
}

async fn write_conditions(
    client: &Client,
    ns: &Namespace,
    discovery_err: Option<&str>,
    errors: &[String],
    remaining: &BTreeMap<String, usize>,
    finalizers: &BTreeMap<String, usize>,
) -> Result<(), Error> {
    let old: Vec<Value> = ns.status.as_ref().and_then(|s| s.conditions.as_ref()).map(|c| serde_json::to_value(c).unwrap_or_default()).and_then(|v| v.as_array().cloned()).unwrap_or_default();
    let now = Value::from(serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(crate::controller_utils::now())).unwrap_or_default());
    let mut new = Vec::new();
    for (ty, on, reason, message) in conditions(discovery_err, errors, remaining, finalizers) {
        let status = if on { "True" } else { "False" };
        let prev = old.iter().find(|c| c["type"] == ty.as_str());
        let since = match prev {
            Some(p) if p["status"] == status => p.get("lastTransitionTime").cloned().unwrap_or(now.clone()),
            _ => now.clone(),
        };
        new.push(json!({"type": ty, "status": status, "lastTransitionTime": since, "reason": reason, "message": message}));
    }
    // Conditions of other types (set by others) are kept.
    let mut merged: Vec<Value> = old.iter().filter(|c| !new.iter().any(|n| n["type"] == c["type"])).cloned().collect();
    merged.extend(new);
    if merged == old {
        return Ok(());
    }
    let name = ns.metadata.name.clone().unwrap_or_default();
    match Api::<Namespace>::all(client.clone()).patch_status(&name, &PostParams::default(), &Patch::Merge(json!({"status": {"conditions": merged}}))).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_name_what_remains_as_upstream() {
        let remaining = BTreeMap::from([("pods".to_string(), 2), ("deployments.apps".to_string(), 1)]);
        let finalizers = BTreeMap::from([("example.com/hold".to_string(), 2)]);
        let c = conditions(None, &[], &remaining, &finalizers);
        assert_eq!(c.len(), 5);
        assert_eq!(c[3].3, "Some resources are remaining: deployments.apps has 1 resource instances, pods has 2 resource instances");
        assert_eq!((c[3].1, c[3].2.as_str()), (true, "SomeResourcesRemain"));
        assert_eq!(c[4].3, "Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances");
        let done = conditions(None, &[], &BTreeMap::new(), &BTreeMap::new());
        assert!(done.iter().all(|c| !c.1));
        assert_eq!(done[2].3, "All content successfully deleted, may be waiting on finalization");
    }
}
