//! Pod and container securityContext as upstream's kubelet and containerd turn
//! it into the OCI process: user and groups (runAsUser/runAsGroup,
//! supplementalGroups, fsGroup), the runAsNonRoot check with upstream's
//! messages, capabilities (containerd's default set, add/drop, privileged),
//! no_new_privs, a read-only rootfs, procMount, namespaced sysctls and the
//! seccomp profile (`crate::seccomp`).
//! What the node cannot honour is reported (`unsupported`), never dropped.

use crate::runtime::spec::{Security, DEFAULT_CAPS};
use k8s_openapi::api::core::v1::{Container, Pod};

/// Every capability this kernel knows, minus CAP_SYS_RESOURCE (this machine's
/// bounding set lacks it; requesting it fails the container): privileged.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
    "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/// Upstream's safe (namespaced, allowed by default) sysctls.
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The process identity and confinement of one container.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub uid: u32,
    pub gid: u32,
    pub security: Security,
    /// Fields set but not honoured here, for a Warning event naming them.
    pub unsupported: Vec<String>,
}

fn cap_name(c: &str) -> String {
    let c = c.to_uppercase();
    if c.starts_with("CAP_") { c } else { format!("CAP_{c}") }
}

/// Upstream's Waiting reasons for a container whose settings cannot be applied.
pub const CONFIG_ERROR: &str = "CreateContainerConfigError";
pub const CREATE_ERROR: &str = "CreateContainerError";

/// Resolve the container's security settings; Localhost seccomp profiles are
/// read below `seccomp_root`. Err: upstream's reason and message
/// (CreateContainerConfigError for runAsNonRoot and forbidden sysctls,
/// CreateContainerError for a seccomp profile the runtime cannot load).
pub fn resolve(pod: &Pod, c: &Container, image_user: &str, seccomp_root: &std::path::Path) -> Result<Resolved, (&'static str, String)> {
    resolve_config(pod, c, image_user, seccomp_root).map_err(|m| (CONFIG_ERROR, m))?
}

fn resolve_config(pod: &Pod, c: &Container, image_user: &str, seccomp_root: &std::path::Path) -> Result<Result<Resolved, (&'static str, String)>, String> {
    let spec = pod.spec.clone().unwrap_or_default();
    let psc = spec.security_context.clone().unwrap_or_default();
    let sc = c.security_context.clone().unwrap_or_default();
    let mut unsupported = Vec::new();

    // User: the spec's, else the image's USER (uid[:gid], numeric only here).
    let (img_user, img_group) = image_user.split_once(':').map_or((image_user, None), |(u, g)| (u, Some(g)));
    let img_uid: Option<u32> = img_user.parse().ok();
    let run_as_user = sc.run_as_user.or(psc.run_as_user);
    let uid = run_as_user.map(|u| u as u32).or(img_uid);
    let pod_name = crate::events::format_pod(pod);
    if sc.run_as_non_root.or(psc.run_as_non_root) == Some(true) {
        // upstream's verifyRunAsNonRoot.
        match (run_as_user, uid) {
            (Some(0), _) => return Err(format!("container's runAsUser breaks non-root policy (pod: {pod_name:?}, container: {})", c.name)),
            (None, None) if !img_user.is_empty() => {
                return Err(format!(
                    "container has runAsNonRoot and image has non-numeric user ({img_user}), cannot verify user is non-root (pod: {pod_name:?}, container: {})",
                    c.name
                ))
            }
            (_, None | Some(0)) => return Err(format!("container has runAsNonRoot and image will run as root (pod: {pod_name:?}, container: {})", c.name)),
            _ => {}
        }
    }
    if uid.is_none() && !img_user.is_empty() {
        unsupported.push(format!("image user {img_user:?} (only numeric users are resolved; running as root)"));
    }
    let gid = sc.run_as_group.or(psc.run_as_group).map(|g| g as u32).or(img_group.and_then(|g| g.parse().ok())).unwrap_or(0);

    let mut groups: Vec<u32> = psc.supplemental_groups.iter().flatten().map(|g| *g as u32).collect();
    if let Some(fs) = psc.fs_group {
        groups.push(fs as u32);
    }
    groups.sort_unstable();
    groups.dedup();

    let privileged = sc.privileged == Some(true);
    let mut caps: Vec<String> = if privileged { ALL_CAPS.iter().map(|s| s.to_string()).collect() } else { DEFAULT_CAPS.iter().map(|s| s.to_string()).collect() };
    if !privileged {
        if let Some(cs) = &sc.capabilities {
            let drop: Vec<String> = cs.drop.iter().flatten().map(|c| cap_name(c)).collect();
            if drop.iter().any(|d| d == "CAP_ALL") {
                caps.clear();
            }
            caps.retain(|c| !drop.contains(c));
            for a in cs.add.iter().flatten().map(|c| cap_name(c)) {
                if a == "CAP_ALL" {
                    caps = ALL_CAPS.iter().map(|s| s.to_string()).collect();
                } else if a == "CAP_SYS_RESOURCE" {
                    unsupported.push("securityContext.capabilities.add SYS_RESOURCE (not in this node's bounding set)".into());
                } else if !caps.contains(&a) {
                    caps.push(a);
                }
            }
        }
    }
    // upstream: no_new_privs unless privileged or allowPrivilegeEscalation is unset/true.
    let no_new_privileges = !privileged && sc.allow_privilege_escalation == Some(false);

    let mut sysctls = std::collections::BTreeMap::new();
    for s in psc.sysctls.iter().flatten() {
        if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
            return Err(format!("forbidden sysctl: {:?} not allowlisted", s.name));
        }
        if s.name.starts_with("net.") && spec.host_network == Some(true) {
            return Err(format!("sysctl {:?} not allowed with host net enabled", s.name));
        }
        sysctls.insert(s.name.clone(), s.value.clone());
    }

    // As containerd: privileged containers run without a seccomp filter.
    let seccomp = if privileged { Ok(None) } else { crate::seccomp::oci(crate::seccomp::profile(pod, c), &caps, seccomp_root) };
    let seccomp = match seccomp {
        Ok(s) => s,
        Err(m) => return Ok(Err((CREATE_ERROR, m))),
    };
    if sc.app_armor_profile.as_ref().or(psc.app_armor_profile.as_ref()).is_some_and(|p| p.type_ != "Unconfined") {
        unsupported.push("securityContext.appArmorProfile (AppArmor is not enabled on this node)".into());
    }
    if spec.host_users == Some(false) {
        unsupported.push("spec.hostUsers false (no user namespaces on this node)".into());
    }

    Ok(Ok(Resolved {
        uid: uid.unwrap_or(0),
        gid,
        security: Security {
            additional_gids: groups,
            caps,
            no_new_privileges,
            readonly_rootfs: sc.read_only_root_filesystem == Some(true),
            privileged,
            unmasked_proc: sc.proc_mount.as_deref() == Some("Unmasked"),
            sysctls,
            seccomp,
            devices: if privileged { host_devices() } else { Vec::new() },
        },
        unsupported,
    }))
}

/// The host's device nodes, for a privileged container (containerd's
/// WithHostDevices, runc's HostDevices): everything below /dev except the
/// pts, shm, mqueue and fd directories, symlinks, the console and ptmx (the
/// runtime makes its own /dev/pts, ptmx link and console).
pub fn host_devices() -> Vec<serde_json::Value> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    fn walk(dir: &std::path::Path, out: &mut Vec<serde_json::Value>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else { continue };
            let name = e.file_name().to_string_lossy().to_string();
            let ft = md.file_type();
            if ft.is_dir() {
                if !["pts", "shm", "mqueue", "fd", ".lxc", ".lxd-mounts", ".udev"].contains(&name.as_str()) {
                    walk(&p, out);
                }
                continue;
            }
            if dir == std::path::Path::new("/dev") && (name == "console" || name == "ptmx") {
                continue;
            }
            let kind = if ft.is_char_device() { "c" } else if ft.is_block_device() { "b" } else { continue };
            let rdev = md.rdev();
            out.push(serde_json::json!({"path": p, "type": kind, "major": libc::major(rdev), "minor": libc::minor(rdev),
                "fileMode": md.mode() & 0o777, "uid": md.uid(), "gid": md.gid()}));
        }
    }
    let mut out = Vec::new();
    walk(std::path::Path::new("/dev"), &mut out);
    out
}

/// upstream's SetVolumeOwnership: every file of the volume gets group fsGroup,
/// group rw (and x for directories, with setgid so new files inherit the group).
/// With fsGroupChangePolicy OnRootMismatch nothing is walked when the volume's
/// root already has that group and those bits (upstream's skipPermissionChange);
/// Always (the default) walks every time.
pub fn set_volume_ownership(dir: &std::path::Path, fs_group: u32, change_policy: Option<&str>) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if change_policy == Some("OnRootMismatch") {
        if let Ok(md) = std::fs::metadata(dir) {
            let bits = if md.is_dir() { 0o2070 } else { 0o060 };
            if md.gid() == fs_group && md.mode() & bits == bits {
                return;
            }
        }
    }
    fn walk(p: &std::path::Path, gid: u32) {
        let Ok(md) = std::fs::symlink_metadata(p) else { return };
        if md.file_type().is_symlink() {
            return;
        }
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default();
        if md.gid() != gid {
            unsafe { libc::lchown(c.as_ptr(), u32::MAX, gid) };
        }
        let mut mode = md.mode() & 0o7777;
        let want = if md.is_dir() { mode | 0o2070 } else { mode | 0o060 };
        if want != mode {
            mode = want;
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        }
        if md.is_dir() {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                walk(&e.path(), gid);
            }
        }
    }
    walk(dir, fs_group);
}
