//! Pod volumes: what each volume is on this node (`setup`, one module per type)
//! and how a container's volumeMounts become bind mounts in its OCI spec
//! (`mounts`). Per-pod data lives under `<pod-dir>/volumes/<plugin>/<name>` as
//! upstream's. Nothing is mounted in the host's mount table: disk volumes are
//! plain directories bind-mounted by libcontainer inside the container's mount
//! namespace; tmpfs volumes (secret, projected, emptyDir medium Memory) are
//! mounted in the pod's own mount namespace, held by its pause process
//! (`kubelet-shim tmpfs`), which every container's shim starts from; the kubelet
//! writes into them through `/proc/<pause>/root`. They vanish with the pod.

pub mod atomic_writer;
pub mod config_map;
pub mod downward_api;
pub mod empty_dir;
pub mod host_path;
pub mod persistent_volume_claim;
pub mod projected;
pub mod secret;

use crate::context::Kubelet;
use crate::expansion::{expand, mapping_for};
use crate::runtime::shim_state::SandboxState;
use crate::runtime::spec::Mount;
use atomic_writer::Payload;
use k8s_openapi::api::core::v1::{Container, Pod, Volume as VolumeSpec};
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

pub const EMPTY_DIR: &str = "kubernetes.io~empty-dir";
pub const CONFIG_MAP: &str = "kubernetes.io~configmap";
pub const SECRET: &str = "kubernetes.io~secret";
pub const DOWNWARD_API: &str = "kubernetes.io~downward-api";
pub const PROJECTED: &str = "kubernetes.io~projected";

/// One set-up volume.
#[derive(Debug, Clone)]
pub struct Volume {
    /// The path bind-mounted into containers (in the pod's mount namespace).
    pub path: PathBuf,
    /// The same directory as the kubelet reaches it (through the pause's root
    /// for tmpfs volumes).
    pub access: PathBuf,
    pub read_only: bool,
}

/// The first key of a volume source's JSON that is not `name` (or one of `skip`):
/// the volume's type as the manifest spells it.
pub fn source_kind(v: &serde_json::Value, skip: &[&str]) -> Option<String> {
    v.as_object()?.keys().find(|k| *k != "name" && !skip.contains(&k.as_str())).cloned()
}

fn plugin_dir(pod_dir: &Path, plugin: &str, name: &str) -> PathBuf {
    pod_dir.join("volumes").join(plugin).join(name)
}

/// tmpfs volumes of the pod: (directory, size in bytes).
pub fn tmpfs_volumes(pod: &Pod, pod_dir: &Path, allocatable: &std::collections::BTreeMap<String, String>) -> Vec<(PathBuf, Option<i64>)> {
    let vols = pod.spec.iter().flat_map(|s| s.volumes.iter().flatten());
    vols.filter_map(|v| {
        if let Some(e) = v.empty_dir.as_ref().filter(|e| empty_dir::is_memory(e)) {
            Some((plugin_dir(pod_dir, EMPTY_DIR, &v.name), empty_dir::tmpfs_size(e, allocatable)))
        } else if v.secret.is_some() {
            Some((plugin_dir(pod_dir, SECRET, &v.name), None))
        } else if v.projected.is_some() {
            Some((plugin_dir(pod_dir, PROJECTED, &v.name), None))
        } else {
            None
        }
    })
    .collect()
}

/// Does the pod need a mount namespace of its own (for tmpfs volumes)?
pub fn needs_mount_ns(pod: &Pod) -> bool {
    pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()).any(|v| {
        v.secret.is_some() || v.projected.is_some() || v.empty_dir.as_ref().is_some_and(empty_dir::is_memory)
    })
}

/// `dir` as the pause process sees it.
fn through(sandbox: &SandboxState, dir: &Path) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root{}", sandbox.pid, dir.display()))
}

/// Is something mounted at `p` (a different device than its parent)?
fn is_mount_point(p: &Path) -> bool {
    match (std::fs::metadata(p), std::fs::metadata(p.join(".."))) {
        (Ok(a), Ok(b)) => a.dev() != b.dev(),
        _ => false,
    }
}

/// Mount a tmpfs at `dir` in the pause's mount namespace (once).
async fn ensure_tmpfs(kl: &Kubelet, sandbox: Option<&SandboxState>, dir: &Path, size: Option<i64>) -> Result<PathBuf, String> {
    let sb = sandbox.filter(|s| s.namespaces.iter().any(|k| k == "mnt")).ok_or("the pod has no mount namespace for tmpfs volumes")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let access = through(sb, dir);
    if is_mount_point(&access) {
        return Ok(access);
    }
    let out = tokio::process::Command::new(&kl.runtime.shim)
        .arg("tmpfs")
        .arg(sb.pid.to_string())
        .arg(dir)
        .arg(size.unwrap_or(0).to_string())
        .env_clear()
        .output()
        .await
        .map_err(|e| format!("running kubelet-shim tmpfs: {e}"))?;
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if answer != "ok" {
        return Err(format!("mounting tmpfs: {}", answer.trim_start_matches("err ")));
    }
    Ok(access)
}

fn write(access: &Path, payload: &Payload) -> Result<(), String> {
    atomic_writer::write(access, payload).map(|_| ()).map_err(|e| format!("writing {}: {e}", access.display()))
}

/// Set up every volume of the pod (idempotent; run on every sync, so ConfigMap,
/// Secret and pod-field changes reach the files). Errors are upstream's
/// FailedMount text: `MountVolume.SetUp failed for volume "v" : <why>`.
pub async fn setup(kl: &Kubelet, pod: &Pod, pod_dir: &Path, ips: &crate::downward::PodIps, sandbox: Option<&SandboxState>) -> Result<HashMap<String, Volume>, String> {
    let mut out = HashMap::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let vol = setup_one(kl, pod, pod_dir, ips, sandbox, v)
            .await
            .map_err(|e| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name))?;
        out.insert(v.name.clone(), vol);
    }
    Ok(out)
}

async fn setup_one(kl: &Kubelet, pod: &Pod, pod_dir: &Path, ips: &crate::downward::PodIps, sandbox: Option<&SandboxState>, v: &VolumeSpec) -> Result<Volume, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let wait = Duration::from_secs(10);
    let disk = |plugin: &str| {
        let p = plugin_dir(pod_dir, plugin, &v.name);
        Volume { path: p.clone(), access: p, read_only: false }
    };
    if let Some(e) = &v.empty_dir {
        if empty_dir::is_memory(e) {
            let path = plugin_dir(pod_dir, EMPTY_DIR, &v.name);
            let access = ensure_tmpfs(kl, sandbox, &path, empty_dir::tmpfs_size(e, &kl.allocatable)).await?;
            return Ok(Volume { path, access, read_only: false });
        }
        let vol = disk(EMPTY_DIR);
        if !vol.path.exists() {
            std::fs::create_dir_all(&vol.path).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&vol.path, std::fs::Permissions::from_mode(0o777)).map_err(|e| e.to_string())?;
        }
        return Ok(vol);
    }
    if let Some(h) = &v.host_path {
        host_path::check_type(&h.path, h.type_.as_deref())?;
        return Ok(Volume { path: h.path.clone().into(), access: h.path.clone().into(), read_only: false });
    }
    if let Some(c) = &v.config_map {
        let optional = c.optional == Some(true);
        let cm = match kl.objects.config_maps.get(ns, &c.name, wait).await {
            Ok(cm) => Some(cm),
            Err(e) if e.is_not_found() && optional => None,
            Err(e) => return Err(e.to_string()),
        };
        let vol = disk(CONFIG_MAP);
        write(&vol.access, &config_map::payload(cm.as_deref(), c.items.as_ref(), c.default_mode, optional)?)?;
        return Ok(Volume { read_only: true, ..vol });
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let optional = s.optional == Some(true);
        let sec = match kl.objects.secrets.get(ns, &name, wait).await {
            Ok(s) => Some(s),
            Err(e) if e.is_not_found() && optional => None,
            Err(e) => return Err(e.to_string()),
        };
        let path = plugin_dir(pod_dir, SECRET, &v.name);
        let access = ensure_tmpfs(kl, sandbox, &path, None).await?;
        write(&access, &secret::payload(sec.as_deref(), s.items.as_ref(), s.default_mode, optional)?)?;
        return Ok(Volume { path, access, read_only: true });
    }
    if let Some(d) = &v.downward_api {
        let vol = disk(DOWNWARD_API);
        write(&vol.access, &downward_api::payload(pod, ips, &kl.allocatable, d.items.as_deref().unwrap_or_default(), d.default_mode)?)?;
        return Ok(Volume { read_only: true, ..vol });
    }
    if let Some(p) = &v.projected {
        let (mut cms, mut secrets) = (HashMap::new(), HashMap::new());
        for s in p.sources.iter().flatten() {
            if let Some(c) = &s.config_map {
                match kl.objects.config_maps.get(ns, &c.name, wait).await {
                    Ok(o) => cms.insert(c.name.clone(), Some(o)),
                    Err(e) if e.is_not_found() && c.optional == Some(true) => cms.insert(c.name.clone(), None),
                    Err(e) => return Err(e.to_string()),
                };
            }
            if let Some(c) = &s.secret {
                match kl.objects.secrets.get(ns, &c.name, wait).await {
                    Ok(o) => secrets.insert(c.name.clone(), Some(o)),
                    Err(e) if e.is_not_found() && c.optional == Some(true) => secrets.insert(c.name.clone(), None),
                    Err(e) => return Err(e.to_string()),
                };
            }
        }
        let payload = projected::payload(pod, ips, &kl.allocatable, p, &projected::Read { config_maps: &cms, secrets: &secrets })?;
        let path = plugin_dir(pod_dir, PROJECTED, &v.name);
        let access = ensure_tmpfs(kl, sandbox, &path, None).await?;
        write(&access, &payload)?;
        return Ok(Volume { path, access, read_only: true });
    }
    if let Some(c) = &v.persistent_volume_claim {
        let path = persistent_volume_claim::host_path(&kl.client, ns, &c.claim_name).await?;
        return Ok(Volume { path: path.clone().into(), access: path.into(), read_only: c.read_only == Some(true) });
    }
    if v.git_repo.is_some() {
        // Upstream 1.33 ships the plugin disabled (GitRepoVolumeDriver) and refuses it.
        return Err("git repo volume plugin has been disabled; if necessary, it may be re-enabled by enabling the feature gate GitRepoVolumeDriver".into());
    }
    let kind = serde_json::to_value(v).ok().and_then(|j| source_kind(&j, &[])).unwrap_or_else(|| "unknown".into());
    Err(format!("{kind} volumes are not supported by this node"))
}

/// `rel` resolved inside `base` with symlinks followed, never leaving it;
/// returns the resolved relative path.
fn resolve_in(base: &Path, rel: &str) -> Result<PathBuf, String> {
    let escape = || format!("subpath {rel:?} not within volume path {:?}", base.display().to_string());
    let mut out = PathBuf::new();
    let mut pending: VecDeque<std::ffi::OsString> = Path::new(rel).components().map(|c| c.as_os_str().to_owned()).collect();
    let mut hops = 0;
    while let Some(c) = pending.pop_front() {
        if c == "." || c.is_empty() {
            continue;
        }
        if c == ".." {
            if !out.pop() {
                return Err(escape());
            }
            continue;
        }
        if c == "/" {
            return Err(escape());
        }
        let cand = out.join(&c);
        match std::fs::symlink_metadata(base.join(&cand)) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                let target = std::fs::read_link(base.join(&cand)).map_err(|e| e.to_string())?;
                if hops > 40 || target.is_absolute() {
                    return Err(escape());
                }
                for t in target.components().rev() {
                    pending.push_front(t.as_os_str().to_owned());
                }
            }
            _ => out = cand,
        }
    }
    Ok(out)
}

fn check_sub_path(p: &str, field: &str) -> Result<(), String> {
    if Path::new(p).is_absolute() {
        return Err(format!("{field} {p:?} must be a relative path"));
    }
    if Path::new(p).components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("{field} {p:?} must not contain '..'"));
    }
    Ok(())
}

/// The bind mounts for container `c`'s volumeMounts (subPath and subPathExpr,
/// readOnly, mountPropagation). `env` is the container's resolved environment
/// (subPathExpr expands `$(VAR)` against it).
pub fn mounts(c: &Container, vols: &HashMap<String, Volume>, env: &[(String, String)]) -> Result<Vec<Mount>, String> {
    let vars: HashMap<String, String> = env.iter().cloned().collect();
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let v = vols.get(&m.name).ok_or_else(|| format!("cannot find volume {:?} to mount into container {:?}", m.name, c.name))?;
        let propagation = match m.mount_propagation.as_deref() {
            None | Some("None") => "rprivate",
            Some("HostToContainer") => "rslave",
            Some(other) => return Err(format!("mountPropagation {other} of volumeMount {:?} is not supported by this node", m.name)),
        };
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (_, Some(expr)) if !expr.is_empty() => {
                let ctx = [&vars];
                let s = expand(expr, mapping_for(&ctx));
                check_sub_path(&s, "subPathExpr").map_err(|e| format!("failed to prepare subPath for volumeMount {:?} of container {:?}: {e}", m.name, c.name))?;
                s
            }
            (Some(s), _) => {
                check_sub_path(s, "subPath").map_err(|e| format!("failed to prepare subPath for volumeMount {:?} of container {:?}: {e}", m.name, c.name))?;
                s.clone()
            }
            _ => String::new(),
        };
        let source = if sub.is_empty() {
            v.path.clone()
        } else {
            let fail = |e: String| format!("failed to prepare subPath for volumeMount {:?} of container {:?}: {e}", m.name, c.name);
            let rel = resolve_in(&v.access, &sub).map_err(fail)?;
            let target = v.access.join(&rel);
            if std::fs::symlink_metadata(&target).is_err() {
                // As upstream: a missing subPath is created as a directory.
                let mode = std::fs::metadata(&v.access).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o755);
                std::fs::create_dir_all(&target).map_err(|e| fail(e.to_string()))?;
                let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode));
            }
            v.path.join(rel)
        };
        out.push(Mount {
            source,
            destination: m.mount_path.clone(),
            read_only: m.read_only == Some(true) || v.read_only,
            propagation: propagation.into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_paths_resolve_through_symlinks_inside_the_volume_only() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path();
        std::fs::create_dir_all(b.join("..2026_01_01/dir")).unwrap();
        std::fs::write(b.join("..2026_01_01/conf"), "x").unwrap();
        std::os::unix::fs::symlink("..2026_01_01", b.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/conf", b.join("conf")).unwrap();
        std::os::unix::fs::symlink("/etc", b.join("abs")).unwrap();
        std::os::unix::fs::symlink("../..", b.join("up")).unwrap();
        assert_eq!(resolve_in(b, "conf").unwrap(), Path::new("..2026_01_01/conf"));
        assert_eq!(resolve_in(b, "..data/dir/new").unwrap(), Path::new("..2026_01_01/dir/new"));
        assert!(resolve_in(b, "abs/passwd").is_err());
        assert!(resolve_in(b, "up/x").is_err());
    }

    #[test]
    fn mounts_honour_sub_paths_read_only_and_propagation() {
        let d = tempfile::tempdir().unwrap();
        let vol = Volume { path: "/pods/u/volumes/v".into(), access: d.path().to_path_buf(), read_only: false };
        let vols: HashMap<String, Volume> = [("data".to_string(), vol)].into();
        let c: Container = serde_json::from_value(serde_json::json!({"name": "c", "volumeMounts": [
            {"name": "data", "mountPath": "/a"},
            {"name": "data", "mountPath": "/b", "subPathExpr": "logs/$(POD)", "readOnly": true},
            {"name": "data", "mountPath": "/c", "mountPropagation": "HostToContainer"},
        ]}))
        .unwrap();
        let env = vec![("POD".to_string(), "p1".to_string())];
        let m = mounts(&c, &vols, &env).unwrap();
        assert_eq!(m[0].source, Path::new("/pods/u/volumes/v"));
        assert_eq!((m[1].source.as_path(), m[1].read_only), (Path::new("/pods/u/volumes/v/logs/p1"), true));
        assert!(d.path().join("logs/p1").is_dir(), "missing subPaths are created");
        assert_eq!(m[2].propagation, "rslave");
        let bad: Container = serde_json::from_value(serde_json::json!({"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "../etc"}]})).unwrap();
        assert!(mounts(&bad, &vols, &env).unwrap_err().contains("must not contain '..'"));
        let missing: Container = serde_json::from_value(serde_json::json!({"name": "c", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]})).unwrap();
        assert_eq!(mounts(&missing, &vols, &env).unwrap_err(), "cannot find volume \"nope\" to mount into container \"c\"");
    }
}
