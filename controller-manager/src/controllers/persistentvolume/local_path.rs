//! The built-in provisioner `ferrokube.io/local-path`, after Rancher's
//! local-path-provisioner: a claim's volume is the directory
//! `<base>/pvc-<uid>_<namespace>_<name>` on the node the scheduler picked
//! (the claim's selected-node annotation), a hostPath PV of type
//! DirectoryOrCreate with node affinity to that node, so the kubelet makes
//! the directory when it mounts it. Deleting the volume (reclaim policy
//! Delete) runs a helper pod on that node that removes the directory; only
//! the node can reach its own disk.

use api::storage::{ANN_BOUND_BY_CONTROLLER, ANN_DYNAMICALLY_PROVISIONED};
use client::{Api, DeleteParams, PostParams};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::json;

use super::binder::Binder;
use crate::controller_utils::now;
use crate::Error;

pub const LOCAL_PATH_PROVISIONER: &str = "ferrokube.io/local-path";
/// The node label the volume's node affinity uses (as Rancher's).
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// Where helper pods run.
const HELPER_NAMESPACE: &str = "kube-system";
/// On helper pods: the volume being deleted (so its change requeues the volume).
const HELPER_LABEL: &str = "storage.ferrokube.io/deleting-volume";

/// The volume a helper pod works for.
pub fn helper_pod_volume(pod: &Pod) -> Option<String> {
    if pod.metadata.namespace.as_deref() != Some(HELPER_NAMESPACE) {
        return None;
    }
    pod.metadata.labels.as_ref()?.get(HELPER_LABEL).cloned()
}

fn helper_pod_name(pv_name: &str) -> String {
    format!("helper-pod-delete-{pv_name}")
}

/// The volume for `claim` on `node`, or why there is none.
pub(super) async fn provision(b: &Binder, claim: &PersistentVolumeClaim, class: &StorageClass, pv_name: &str, node: Option<&str>) -> Result<PersistentVolume, String> {
    // As Rancher's: a node-local volume needs the node, i.e. WaitForFirstConsumer.
    let node = node.ok_or("configuration error, no node was specified")?;
    let spec = claim.spec.clone().unwrap_or_default();
    if spec.volume_mode.as_deref() == Some("Block") {
        return Err("Only support Filesystem volumeMode".into());
    }
    if spec.selector.is_some() {
        return Err("claim.Spec.Selector is not supported".into());
    }
    // The affinity names the node's hostname label (its name when it has none).
    let hostname = match Api::<Node>::all(b.client.clone()).get_opt(node).await {
        Ok(Some(n)) => n.metadata.labels.as_ref().and_then(|l| l.get(HOSTNAME_LABEL)).cloned().unwrap_or_else(|| node.to_string()),
        Ok(None) => return Err(format!("node {node:?} not found")),
        Err(e) => return Err(e.to_string()),
    };
    let (ns, name) = (claim.metadata.namespace.as_deref().unwrap_or(""), claim.metadata.name.as_deref().unwrap_or(""));
    let path = format!("{}/{pv_name}_{ns}_{name}", b.options.base_dir.trim_end_matches('/'));
    let storage = spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).cloned();
    let pv = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "annotations": {ANN_DYNAMICALLY_PROVISIONED: LOCAL_PATH_PROVISIONER, ANN_BOUND_BY_CONTROLLER: "yes"}},
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": spec.access_modes,
            "volumeMode": spec.volume_mode.unwrap_or_else(|| "Filesystem".into()),
            "persistentVolumeReclaimPolicy": class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into()),
            "storageClassName": class.metadata.name,
            "mountOptions": class.mount_options,
            "hostPath": {"path": path, "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}]}},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": name,
                         "uid": claim.metadata.uid, "resourceVersion": claim.metadata.resource_version},
        }
    });
    serde_json::from_value(pv).map_err(|e| e.to_string())
}

/// Where a volume deletion stands.
pub(super) enum Deletion {
    /// The directory is gone (or there was none to remove): delete the PV.
    Done,
    /// The helper pod is on its way.
    Waiting,
    Failed(String),
}

/// The node (hostname label value) and directory of a local-path volume.
fn node_and_path(pv: &PersistentVolume) -> Option<(String, String)> {
    let spec = pv.spec.as_ref()?;
    let path = spec.host_path.as_ref().map(|h| h.path.clone()).or_else(|| spec.local.as_ref().map(|l| l.path.clone()))?;
    let terms = &spec.node_affinity.as_ref()?.required.as_ref()?.node_selector_terms;
    let node = terms.iter().flat_map(|t| t.match_expressions.iter().flatten()).find(|e| e.key == HOSTNAME_LABEL && e.operator == "In")?.values.as_ref()?.first()?.clone();
    Some((node, path))
}

/// The node whose hostname label is `hostname` (the name itself when none carries it).
async fn node_name(b: &Binder, hostname: &str) -> Result<String, Error> {
    let nodes = Api::<Node>::all(b.client.clone()).list(&Default::default()).await?;
    Ok(nodes
        .items
        .iter()
        .find(|n| n.metadata.labels.as_ref().and_then(|l| l.get(HOSTNAME_LABEL)).map(String::as_str) == Some(hostname))
        .and_then(|n| n.metadata.name.clone())
        .unwrap_or_else(|| hostname.to_string()))
}

/// Removes the volume's directory with a helper pod on its node (Rancher's
/// teardown): created on the first call, then watched until it ends.
pub(super) async fn delete(b: &Binder, pv: &PersistentVolume) -> Result<Deletion, Error> {
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let Some((hostname, path)) = node_and_path(pv) else {
        return Ok(Deletion::Failed(format!("failed to delete volume {pv_name}: no path and node affinity on the volume")));
    };
    let base = b.options.base_dir.trim_end_matches('/').to_string();
    let parent = std::path::Path::new(&path).parent().and_then(|p| p.to_str()).unwrap_or("/").to_string();
    // Never run `rm -rf` on something that is not one of our volume directories.
    if parent != base || !std::path::Path::new(&path).file_name().and_then(|f| f.to_str()).is_some_and(|f| f.starts_with("pvc-")) {
        return Ok(Deletion::Failed(format!("failed to delete volume {pv_name}: path {path} is not under the provisioner's directory {base}")));
    }
    let pods = Api::<Pod>::namespaced(b.client.clone(), HELPER_NAMESPACE);
    let helper = helper_pod_name(&pv_name);
    let existing = match b.pods.get(HELPER_NAMESPACE, &helper) {
        Some(p) => Some(p),
        None => pods.get_opt(&helper).await?.map(std::sync::Arc::new),
    };
    let Some(pod) = existing else {
        let node = node_name(b, &hostname).await?;
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": helper, "namespace": HELPER_NAMESPACE, "labels": {HELPER_LABEL: pv_name}},
            "spec": {
                "nodeName": node,
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "tolerations": [{"operator": "Exists"}],
                "priorityClassName": "system-node-critical",
                "containers": [{"name": "helper-pod", "image": b.options.helper_image, "imagePullPolicy": "IfNotPresent",
                                "command": ["rm", "-rf", path],
                                "volumeMounts": [{"name": "data", "mountPath": parent}]}],
                "volumes": [{"name": "data", "hostPath": {"path": parent, "type": "DirectoryOrCreate"}}],
            }
        }))
        .map_err(|e| Error::Other(e.to_string()))?;
        match pods.create(&PostParams::default(), &pod).await {
            Ok(_) => tracing::info!(volume = %pv_name, %node, %path, "deleting the volume's directory with a helper pod"),
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e.into()),
        }
        b.requeue_volume(&pv_name);
        return Ok(Deletion::Waiting);
    };
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
    let started = pod.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()).unwrap_or(now().as_second());
    let timed_out = now().as_second() - started > b.options.helper_timeout.as_secs() as i64;
    if phase == "Succeeded" {
        // The helper pod stays until the volume is gone (see `cleanup`): a
        // re-sync of the terminating volume must not run another one.
        return Ok(Deletion::Done);
    }
    let outcome = match phase {
        "Failed" => Deletion::Failed(format!("failed to delete volume {pv_name}: helper pod {HELPER_NAMESPACE}/{helper} failed")),
        _ if timed_out => Deletion::Failed(format!(
            "failed to delete volume {pv_name}: helper pod {HELPER_NAMESPACE}/{helper} did not finish within {}s",
            b.options.helper_timeout.as_secs()
        )),
        _ => return Ok(Deletion::Waiting),
    };
    // A failed attempt is retried with a fresh pod.
    delete_helper(b, &pv_name).await?;
    Ok(outcome)
}

async fn delete_helper(b: &Binder, pv_name: &str) -> Result<(), Error> {
    let pods = Api::<Pod>::namespaced(b.client.clone(), HELPER_NAMESPACE);
    let dp = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    match pods.delete(&helper_pod_name(pv_name), &dp).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Once a volume is gone: its helper pod, if any, goes too.
pub(super) async fn cleanup(b: &Binder, pv_name: &str) -> Result<(), Error> {
    if b.pods.get(HELPER_NAMESPACE, &helper_pod_name(pv_name)).is_none() {
        return Ok(());
    }
    delete_helper(b, pv_name).await
}
