//! Pod-level cgroups: `<cgroup-root>/<qos>/pod<uid>` in every v1 hierarchy (or the
//! unified one on a pure cgroup2 host). Containers' own cgroups live below and are
//! created and removed by libcontainer in the shim.

use std::path::{Path, PathBuf};

const V1: &[&str] = &["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"];
const BASE: &str = "/sys/fs/cgroup";

/// Mounted hierarchies we manage (v1 controllers present on this host, or "" for v2).
fn hierarchies() -> Vec<PathBuf> {
    let v1: Vec<PathBuf> = V1.iter().map(|h| Path::new(BASE).join(h)).filter(|p| p.join("cgroup.procs").exists()).collect();
    if v1.is_empty() {
        vec![PathBuf::from(BASE)]
    } else {
        v1
    }
}

/// `/<root>/<qos>/pod<uid>` relative to each hierarchy's root.
pub fn pod_cgroup(root: &str, qos: crate::qos::Qos, uid: &str) -> String {
    format!("/{}/{}/pod{}", root.trim_matches('/'), crate::qos::cgroup_dir(qos), uid)
}

#[derive(Debug, Default, Clone)]
pub struct PodLimits {
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub memory_limit: Option<i64>,
}

/// Create the pod cgroup (and parents) and apply pod-level limits.
pub fn ensure_pod(rel: &str, limits: &PodLimits) -> std::io::Result<()> {
    for h in hierarchies() {
        let dir = h.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(&dir)?;
        // cpuset children start empty: inherit the parents' cpus and mems.
        if h.ends_with("cpuset") {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let mut chain = Vec::new();
                let mut d = dir.clone();
                while d != h {
                    chain.push(d.clone());
                    d = d.parent().unwrap().to_path_buf();
                }
                for d in chain.iter().rev() {
                    let cur = std::fs::read_to_string(d.join(f)).unwrap_or_default();
                    if cur.trim().is_empty() {
                        let parent = std::fs::read_to_string(d.parent().unwrap().join(f)).unwrap_or_default();
                        let _ = std::fs::write(d.join(f), parent.trim());
                    }
                }
            }
        }
        let name = h.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if name == "cpu" {
            if let Some(s) = limits.cpu_shares {
                std::fs::write(dir.join("cpu.shares"), s.to_string())?;
            }
            if let Some(q) = limits.cpu_quota {
                std::fs::write(dir.join("cpu.cfs_quota_us"), q.to_string())?;
            }
        }
        if name == "memory" {
            if let Some(m) = limits.memory_limit {
                std::fs::write(dir.join("memory.limit_in_bytes"), m.to_string())?;
            }
        }
    }
    Ok(())
}

/// Remove the pod cgroup everywhere (its container cgroups must be gone; any
/// leftover child directories are removed too, deepest first).
pub fn remove_pod(rel: &str) {
    for h in hierarchies() {
        let dir = h.join(rel.trim_start_matches('/'));
        remove_tree(&dir);
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Remove the QoS-level and root cgroups if they are empty (used by `down`).
pub fn remove_root_if_empty(root: &str) {
    for q in ["guaranteed", "burstable", "besteffort"] {
        for h in hierarchies() {
            let _ = std::fs::remove_dir(h.join(root.trim_matches('/')).join(q));
        }
    }
    for h in hierarchies() {
        let _ = std::fs::remove_dir(h.join(root.trim_matches('/')));
    }
}
