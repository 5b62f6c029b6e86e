//! The OCI runtime spec (config.json) the kubelet writes into a container's bundle.
//! Built as JSON: it is a plain data document, and the JSON form reads like the
//! spec itself.

use serde_json::{json, Value};
use std::path::PathBuf;

/// Where a container gets one of its namespaces from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ns {
    /// The host's (hostNetwork / hostIPC / hostPID).
    Host,
    /// A fresh one for this container.
    New,
    /// Join the namespace pinned at this path (the pod sandbox).
    Path(PathBuf),
}

/// Annotation holding the options of the overlay that kubelet-shim mounts as the
/// container's rootfs, inside its own mount namespace (never the host's).
pub const ROOTFS_OVERLAY: &str = "ferrokube.io/rootfs-overlay";

/// Annotation naming the pod's mount namespace (`/proc/<pause>/ns/mnt`, which
/// holds its tmpfs volumes): kubelet-shim starts from a copy of it.
pub const POD_MOUNT_NS: &str = "ferrokube.io/pod-mount-ns";

/// cgroup limits derived from the container's resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub memory_limit: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
    /// rprivate (mountPropagation None) or rslave (HostToContainer).
    pub propagation: String,
}

#[derive(Debug, Clone)]
pub struct ContainerConfig {
    pub rootfs: PathBuf,
    /// `lowerdir=...,upperdir=...,workdir=...`: the shim mounts the rootfs (ROOTFS_OVERLAY).
    pub rootfs_overlay: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub hostname: Option<String>,
    pub net: Ns,
    pub ipc: Ns,
    pub uts: Ns,
    pub pid: Ns,
    /// Relative to each hierarchy's root, e.g. `/kubepods/besteffort/pod<uid>/<id>`.
    pub cgroups_path: String,
    pub resources: Resources,
    pub oom_score_adj: i32,
    pub mounts: Vec<Mount>,
    /// See POD_MOUNT_NS.
    pub pod_mount_ns: Option<PathBuf>,
    pub security: Security,
}

/// The process confinement of a container (`security::resolve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// supplementalGroups and fsGroup.
    pub additional_gids: Vec<u32>,
    /// bounding = effective = permitted.
    pub caps: Vec<String>,
    pub no_new_privileges: bool,
    pub readonly_rootfs: bool,
    /// All devices, /sys read-write, nothing masked.
    pub privileged: bool,
    /// procMount Unmasked: no masked or read-only /proc paths.
    pub unmasked_proc: bool,
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// The OCI `linux.seccomp` filter (`crate::seccomp`); None = unconfined.
    pub seccomp: Option<Value>,
    /// OCI `linux.devices` beyond the default set (privileged: the host's).
    pub devices: Vec<Value>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            additional_gids: vec![],
            caps: DEFAULT_CAPS.iter().map(|s| s.to_string()).collect(),
            no_new_privileges: false,
            readonly_rootfs: false,
            privileged: false,
            unmasked_proc: false,
            sysctls: Default::default(),
            seccomp: None,
            devices: Vec::new(),
        }
    }
}

/// Docker's default capability set (what Kubernetes containers get by default).
/// Never CAP_SYS_RESOURCE: this host's bounding set lacks it.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn namespace(kind: &str, ns: &Ns) -> Option<Value> {
    match ns {
        Ns::Host => None,
        Ns::New => Some(json!({ "type": kind })),
        Ns::Path(p) => Some(json!({ "type": kind, "path": p })),
    }
}

pub fn build(c: &ContainerConfig) -> Value {
    let mut namespaces: Vec<Value> = vec![json!({ "type": "mount" })];
    namespaces.extend(namespace("network", &c.net));
    namespaces.extend(namespace("ipc", &c.ipc));
    namespaces.extend(namespace("uts", &c.uts));
    namespaces.extend(namespace("pid", &c.pid));

    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    // sysfs can only be mounted by a process in a network namespace it owns.
    if c.net == Ns::Host {
        mounts.push(json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}));
    } else {
        let mode = if c.security.privileged { "rw" } else { "ro" };
        mounts.push(json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", mode]}));
    }
    for m in &c.mounts {
        let mut opts = vec!["rbind", m.propagation.as_str()];
        if m.read_only {
            opts.push("ro");
        }
        mounts.push(json!({"destination": m.destination, "type": "bind", "source": m.source, "options": opts}));
    }

    let mut resources = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    let r = &c.resources;
    let mut cpu = serde_json::Map::new();
    if let Some(s) = r.cpu_shares {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(q) = r.cpu_quota {
        cpu.insert("quota".into(), json!(q));
        cpu.insert("period".into(), json!(r.cpu_period.unwrap_or(100_000)));
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(m) = r.memory_limit {
        resources["memory"] = json!({ "limit": m });
    }
    // The default devices runc allows (null, zero, full, tty, random, urandom, ptmx, pts).
    let allow = |t: &str, maj: i64, min: Option<i64>| json!({"allow": true, "type": t, "major": maj, "minor": min, "access": "rwm"});
    let devs = resources["devices"].as_array_mut().unwrap();
    for (maj, min) in [(1, 3), (1, 5), (1, 7), (5, 0), (1, 8), (1, 9), (5, 2)] {
        devs.push(allow("c", maj, Some(min)));
    }
    devs.push(allow("c", 136, None));
    if c.security.privileged {
        resources["devices"] = json!([{ "allow": true, "access": "rwm" }]);
    }

    let sec = &c.security;
    let caps = &sec.caps;
    let (masked, readonly) = if sec.privileged || sec.unmasked_proc {
        (json!([]), json!([]))
    } else {
        (
            json!(["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]),
            json!(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]),
        )
    };
    let mut annotations = serde_json::Map::new();
    if let Some(o) = &c.rootfs_overlay {
        annotations.insert(ROOTFS_OVERLAY.into(), json!(o));
    }
    if let Some(ns) = &c.pod_mount_ns {
        annotations.insert(POD_MOUNT_NS.into(), json!(ns));
    }
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": c.uid, "gid": c.gid, "additionalGids": sec.additional_gids },
            "args": c.args,
            "env": c.env,
            "cwd": c.cwd,
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "oomScoreAdj": c.oom_score_adj,
        },
        "root": { "path": c.rootfs, "readonly": sec.readonly_rootfs },
        "hostname": c.hostname,
        "annotations": annotations,
        "mounts": mounts,
        "linux": {
            "cgroupsPath": c.cgroups_path,
            "resources": resources,
            "namespaces": namespaces,
            "maskedPaths": masked,
            "readonlyPaths": readonly,
            "sysctl": sec.sysctls,
        },
    });
    // Written only when true: libcontainer loads a seccomp filter while it
    // still holds CAP_SYS_ADMIN only if the field is absent (present and false,
    // it loads it after dropping capabilities, and the load fails).
    if sec.no_new_privileges {
        spec["process"]["noNewPrivileges"] = json!(true);
    }
    if let Some(f) = &sec.seccomp {
        spec["linux"]["seccomp"] = f.clone();
    }
    if !sec.devices.is_empty() {
        spec["linux"]["devices"] = json!(sec.devices);
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ContainerConfig {
        ContainerConfig {
            rootfs: "/r".into(),
            rootfs_overlay: Some("lowerdir=/l,upperdir=/u,workdir=/w".into()),
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            hostname: Some("p".into()),
            net: Ns::Path("/ns/net".into()),
            ipc: Ns::New,
            uts: Ns::Host,
            pid: Ns::New,
            cgroups_path: "/kubepods/x".into(),
            resources: Resources { cpu_shares: Some(102), cpu_quota: Some(50_000), cpu_period: None, memory_limit: Some(1 << 20) },
            oom_score_adj: 1000,
            mounts: vec![],
            pod_mount_ns: None,
            security: Security::default(),
        }
    }

    #[test]
    fn spec_has_namespaces_resources_and_no_sys_resource() {
        let s = build(&cfg());
        let ns = s["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.contains(&json!({"type": "network", "path": "/ns/net"})));
        assert!(ns.contains(&json!({"type": "ipc"})));
        assert!(!ns.iter().any(|n| n["type"] == "uts"));
        assert_eq!(s["linux"]["resources"]["cpu"], json!({"shares": 102, "quota": 50000, "period": 100000}));
        assert_eq!(s["linux"]["resources"]["memory"]["limit"], 1 << 20);
        assert!(!s.to_string().contains("CAP_SYS_RESOURCE"));
        assert_eq!(s["annotations"][ROOTFS_OVERLAY], "lowerdir=/l,upperdir=/u,workdir=/w");
        // The spec must parse as libcontainer's own type.
        let _: libcontainer::oci_spec::runtime::Spec = serde_json::from_value(s).unwrap();
    }
}
