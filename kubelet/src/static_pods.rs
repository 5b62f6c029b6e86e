//! Static pods: manifests in `--pod-manifest-path`, run without the apiserver and
//! mirrored to it as mirror pods (annotation kubernetes.io/config.mirror).

use crate::pod_workers::{PodWorkers, CONFIG_SOURCE};
use client::{Api, DeleteParams, PostParams};
use k8s_openapi::api::core::v1::{Node, Pod};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

pub const CONFIG_MIRROR: &str = "kubernetes.io/config.mirror";
pub const CONFIG_HASH: &str = "kubernetes.io/config.hash";

/// Read every manifest (.yaml, .yml, .json) as a static pod bound to `node`.
pub fn read_manifests(dir: &Path, node: &str) -> Vec<Pod> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    paths.sort();
    for p in paths {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml" | "json") {
            continue;
        }
        let Ok(text) = std::fs::read(&p) else { continue };
        let pod = match decode_pod(&text) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(file = %p.display(), error = %e, "bad static pod manifest");
                continue;
            }
        };
        out.push(make_static(pod, &text, node));
    }
    out
}

/// A manifest as upstream's file source reads it (tryDecodeSinglePod):
/// YAML 1.1 scalars via client::yaml, so `defaultMode: 0644` is octal.
fn decode_pod(text: &[u8]) -> Result<Pod, String> {
    let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
    let json = client::yaml::to_json(text).map_err(|e| e.to_string())?;
    serde_json::from_value(json).map_err(|e| e.to_string())
}

/// Upstream's naming: `<name>-<node>`, UID from a hash of the manifest and node.
pub fn make_static(mut pod: Pod, source: &[u8], node: &str) -> Pod {
    let mut h = Sha256::new();
    h.update(source);
    h.update(node.as_bytes());
    let hash = hex::encode(&h.finalize()[..16]);
    let name = format!("{}-{}", pod.metadata.name.clone().unwrap_or_default(), node);
    pod.metadata.name = Some(name);
    pod.metadata.namespace.get_or_insert_with(|| "default".into());
    pod.metadata.uid = Some(hash.clone());
    let a = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    a.insert(CONFIG_SOURCE.into(), "file".into());
    a.insert(CONFIG_HASH.into(), hash);
    a.insert("kubernetes.io/config.seen".into(), chrono::Utc::now().to_rfc3339());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(node.to_string());
    pod
}

fn hash_of(p: &Pod) -> Option<String> {
    p.metadata.annotations.as_ref()?.get(CONFIG_HASH).cloned()
}

pub fn is_mirror(p: &Pod) -> bool {
    p.metadata.annotations.as_ref().map(|a| a.contains_key(CONFIG_MIRROR)).unwrap_or(false)
}

/// Make sure the apiserver holds a mirror pod for `pod` (recreating a stale or deleted one).
pub async fn ensure_mirror(client: &client::Client, pod: &Pod, node: &str) -> Result<(), client::Error> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let hash = hash_of(pod).unwrap_or_default();
    if let Some(existing) = api.get_opt(&name).await? {
        let current = existing.metadata.annotations.as_ref().and_then(|a| a.get(CONFIG_MIRROR)).cloned();
        if current.as_deref() == Some(hash.as_str()) && existing.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        let mut dp = DeleteParams::immediate();
        dp.precondition_uid = existing.metadata.uid.clone();
        let _ = api.delete(&name, &dp).await;
    }
    let mut mirror = pod.clone();
    mirror.metadata.uid = None;
    mirror.metadata.resource_version = None;
    mirror.status = None;
    mirror.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(CONFIG_MIRROR.into(), hash);
    if let Ok(n) = Api::<Node>::all(client.clone()).get(node).await {
        mirror.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: node.into(),
            uid: n.metadata.uid.unwrap_or_default(),
            controller: Some(true),
            ..Default::default()
        }]);
    }
    match api.create(&PostParams::default(), &mirror).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Poll the manifest directory (upstream: every 20 s) and keep workers and mirrors in step.
pub async fn run(
    dir: std::path::PathBuf,
    node: String,
    client: client::Client,
    workers: Arc<PodWorkers>,
    every: std::time::Duration,
    stop: client::CancellationToken,
) {
    let mut known: HashMap<String, Pod> = HashMap::new();
    loop {
        let pods = read_manifests(&dir, &node);
        let mut seen = HashMap::new();
        for p in pods {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            if !known.contains_key(&uid) {
                workers.update(Arc::new(p.clone()));
            }
            if let Err(e) = ensure_mirror(&client, &p, &node).await {
                tracing::warn!(pod = ?p.metadata.name, error = %e, "mirror pod");
            }
            seen.insert(uid, p);
        }
        for (uid, old) in &known {
            if !seen.contains_key(uid) {
                workers.gone(uid);
                // Its mirror goes too, unless a new manifest took the name.
                let name = old.metadata.name.clone().unwrap_or_default();
                if !seen.values().any(|p| p.metadata.name.as_deref() == Some(name.as_str())) {
                    let api: Api<Pod> = Api::namespaced(client.clone(), old.metadata.namespace.as_deref().unwrap_or("default"));
                    let _ = api.delete(&name, &DeleteParams::immediate()).await;
                }
            }
        }
        known = seen;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_read_as_upstream_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        // YAML 1.1, as the kubelet's file source: 0644 is octal, `yes` a boolean.
        std::fs::write(
            dir.path().join("web.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n    stdin: yes\n  volumes:\n  - name: v\n    configMap:\n      name: cm\n      defaultMode: 0644\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
        let pods = read_manifests(dir.path(), "node-1");
        assert_eq!(pods.len(), 1, "the malformed manifest is skipped");
        let pod = &pods[0];
        assert_eq!(pod.metadata.name.as_deref(), Some("web-node-1"));
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.volumes.as_ref().unwrap()[0].config_map.as_ref().unwrap().default_mode, Some(420));
        assert_eq!(spec.containers[0].stdin, Some(true));
        assert_eq!(spec.node_name.as_deref(), Some("node-1"));
    }
}
