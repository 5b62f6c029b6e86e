//! The kubelet's side of the runtime: pod directories and sandboxes, container
//! bundles and rootfs mounts, spawning shims and watching them through pidfds.
//! Nothing here calls libcontainer; the shim does.
//!
//! Layout under `<root-dir>`:
//! `pods/<uid>/pod.json` (last seen spec, to clean up pods deleted while down),
//! `pods/<uid>/sandbox.json` (the pause process holding the pod's namespaces),
//! `pods/<uid>/etc/{hosts,hostname,resolv.conf}`, `pods/<uid>/containers/<name>/<attempt>/`
//! (bundle: config.json, rootfs dir (the overlay is mounted in the shim's own mount
//! namespace), upper/work dirs, the shim's state.json), `libcontainer/` (its state
//! root), `bin/` (the monitor executable).

use super::shim_state::{process_start_ticks, SandboxState, ShimState, ShimStatus};
use super::spec::{self, ContainerConfig, Mount, Ns, Resources};
use crate::images::store::{ImageRecord, ImageStore};
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Shim(String),
}

pub struct Runtime {
    pub root: PathBuf,
    pub logs: PathBuf,
    pub shim: PathBuf,
    pub images: Arc<ImageStore>,
}

/// One run of a container: attempt number = restart count.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub n: u32,
    pub dir: PathBuf,
    pub state: Option<ShimState>,
}

impl Attempt {
    pub fn running(&self) -> bool {
        self.state.as_ref().map(|s| s.status == ShimStatus::Running).unwrap_or(false)
    }
}

/// The pod-level settings every container of a pod shares.
#[derive(Debug, Clone)]
pub struct PodContext {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub hostname: String,
    pub host_network: bool,
    pub host_ipc: bool,
    pub host_pid: bool,
    /// shareProcessNamespace: the containers share the pause's PID namespace.
    pub share_pid: bool,
    /// The pod has tmpfs volumes: its sandbox holds a mount namespace for them.
    pub mount_ns: bool,
    pub cgroup: String,
}

/// What `ensure_sandbox` found or did.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// None when the pod uses only host namespaces.
    pub state: Option<SandboxState>,
    /// A new pause process replaced a dead one: containers still running are in
    /// the old namespaces and must be restarted (upstream's SandboxChanged).
    pub replaced: bool,
}

/// What to run in one container attempt.
#[derive(Debug, Clone)]
pub struct ContainerRun {
    pub name: String,
    pub attempt: u32,
    pub image: ImageRecord,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub resources: Resources,
    pub oom_score_adj: i32,
    /// The volume mounts (volumes::mounts).
    pub mounts: Vec<Mount>,
    pub security: spec::Security,
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("no NUL in paths")
}

fn umount(p: &Path) {
    unsafe { libc::umount2(cstr(p).as_ptr(), libc::MNT_DETACH) };
}

/// Is the shim recorded in `s` still the same live process?
pub fn shim_alive(s: &ShimState) -> bool {
    s.shim_pid > 0 && process_start_ticks(s.shim_pid) == Some(s.shim_start_ticks)
}

impl Runtime {
    pub fn pods_dir(&self) -> PathBuf {
        self.root.join("pods")
    }
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods_dir().join(uid)
    }
    fn lc_root(&self) -> PathBuf {
        self.root.join("libcontainer")
    }
    pub fn log_dir(&self, p: &PodContext) -> PathBuf {
        self.logs.join(format!("{}_{}_{}", p.namespace, p.name, p.uid))
    }
    pub fn log_path(&self, p: &PodContext, container: &str, attempt: u32) -> PathBuf {
        self.log_dir(p).join(container).join(format!("{attempt}.log"))
    }

    /// UIDs of every pod with state on disk.
    pub fn pods_on_disk(&self) -> Vec<String> {
        std::fs::read_dir(self.pods_dir())
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
            .unwrap_or_default()
    }

    fn sandbox_file(&self, uid: &str) -> PathBuf {
        self.pod_dir(uid).join("sandbox.json")
    }

    /// The pod's pause process, if it has one and it is alive.
    pub fn sandbox(&self, uid: &str) -> Option<SandboxState> {
        SandboxState::load(&self.sandbox_file(uid)).ok().filter(|s| s.alive())
    }

    /// Make sure the pod's pause process runs (unless it only uses host
    /// namespaces) and write its /etc files. An alive sandbox is kept.
    pub async fn ensure_sandbox(&self, p: &PodContext, pod_json: &[u8]) -> Result<Sandbox, RuntimeError> {
        let dir = self.pod_dir(&p.uid);
        std::fs::create_dir_all(dir.join("etc"))?;
        std::fs::write(dir.join("pod.json"), pod_json)?;
        let hosts = format!(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n127.0.1.1\t{}\n",
            p.hostname
        );
        std::fs::write(dir.join("etc/hosts"), hosts)?;
        std::fs::write(dir.join("etc/hostname"), format!("{}\n", p.hostname))?;

        let mut kinds = Vec::new();
        if !p.host_network {
            kinds.extend(["net", "uts"]);
        }
        if !p.host_ipc {
            kinds.push("ipc");
        }
        if p.share_pid && !p.host_pid {
            kinds.push("pid");
        }
        if p.mount_ns {
            kinds.push("mnt");
        }
        if kinds.is_empty() {
            return Ok(Sandbox { state: None, replaced: false });
        }
        let file = self.sandbox_file(&p.uid);
        let old = SandboxState::load(&file).ok();
        if let Some(s) = old.as_ref().filter(|s| s.alive()) {
            return Ok(Sandbox { state: Some(s.clone()), replaced: false });
        }
        let out = tokio::process::Command::new(&self.shim)
            .arg("sandbox")
            .arg(&file)
            .arg(self.lc_root())
            .arg(&p.hostname)
            .args(&kinds)
            .env_clear()
            .output()
            .await?;
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !answer.starts_with("ok ") {
            return Err(RuntimeError::Shim(format!("sandbox: {}", answer.trim_start_matches("err "))));
        }
        Ok(Sandbox { state: Some(SandboxState::load(&file)?), replaced: old.is_some() })
    }

    /// Stop the pod's pause process (its namespaces go with it).
    pub async fn stop_sandbox(&self, uid: &str) {
        let Some(s) = self.sandbox(uid) else { return };
        let fd = pidfd(s.pid);
        if s.alive() {
            unsafe { libc::kill(s.pid, libc::SIGKILL) };
        }
        if let Some(fd) = &fd {
            let _ = tokio::time::timeout(Duration::from_secs(10), wait_pidfd(fd)).await;
        }
    }

    pub fn attempts(&self, uid: &str, container: &str) -> Vec<Attempt> {
        let base = self.pod_dir(uid).join("containers").join(container);
        let mut v: Vec<Attempt> = std::fs::read_dir(&base)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n: u32 = e.file_name().to_str()?.parse().ok()?;
                        let dir = e.path();
                        let state = ShimState::load(&dir.join("state.json")).ok();
                        Some(Attempt { n, dir, state })
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|a| a.n);
        v
    }

    /// Create the bundle, run `kubelet-shim start`. The returned state is Running.
    pub async fn start_container(&self, p: &PodContext, sandbox: Option<&SandboxState>, c: &ContainerRun) -> Result<ShimState, RuntimeError> {
        let dir = self.pod_dir(&p.uid).join("containers").join(&c.name).join(c.attempt.to_string());
        if dir.exists() {
            self.remove_attempt(&dir);
        }
        for d in ["rootfs", "upper", "work"] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        let lower: Vec<String> = self
            .images
            .lower_dirs(&c.image)
            .map_err(|e| RuntimeError::Shim(e.to_string()))?
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let overlay = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        let pod_dir = self.pod_dir(&p.uid);
        // The pause's namespace, else the host's (host* fields), else a new one.
        let ns = |k: &str, host: bool| match sandbox.and_then(|s| s.ns_path(k)) {
            Some(path) => Ns::Path(path),
            None if host => Ns::Host,
            None => Ns::New,
        };
        let cfg = ContainerConfig {
            rootfs: dir.join("rootfs"),
            rootfs_overlay: Some(overlay),
            args: c.args.clone(),
            env: c.env.clone(),
            cwd: c.cwd.clone(),
            uid: c.uid,
            gid: c.gid,
            hostname: None,
            net: ns("net", p.host_network),
            ipc: ns("ipc", p.host_ipc),
            uts: ns("uts", p.host_network),
            pid: ns("pid", p.host_pid),
            cgroups_path: format!("{}/{}", p.cgroup, container_id(&p.uid, &c.name, c.attempt)),
            resources: c.resources.clone(),
            oom_score_adj: c.oom_score_adj,
            mounts: [
                Mount { source: pod_dir.join("etc/hosts"), destination: "/etc/hosts".into(), read_only: false, propagation: "rprivate".into() },
                Mount { source: pod_dir.join("etc/hostname"), destination: "/etc/hostname".into(), read_only: false, propagation: "rprivate".into() },
            ]
            .into_iter()
            // Written by network::PodNetwork::write_dns_files (dnsPolicy).
            .chain(pod_dir.join("etc/resolv.conf").exists().then(|| Mount {
                source: pod_dir.join("etc/resolv.conf"),
                destination: "/etc/resolv.conf".into(),
                read_only: false,
                propagation: "rprivate".into(),
            }))
            .chain(c.mounts.iter().cloned())
            .collect(),
            pod_mount_ns: sandbox.and_then(|s| s.ns_path("mnt")),
            security: c.security.clone(),
        };
        std::fs::write(dir.join("config.json"), spec::build(&cfg).to_string())?;
        let log = self.log_path(p, &c.name, c.attempt);
        std::fs::create_dir_all(log.parent().unwrap())?;
        let state_file = dir.join("state.json");
        let out = tokio::process::Command::new(&self.shim)
            .arg("start")
            .arg(container_id(&p.uid, &c.name, c.attempt))
            .arg(&dir)
            .arg(self.lc_root())
            .arg(&state_file)
            .arg(&log)
            .env_clear()
            .output()
            .await?;
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !answer.starts_with("ok ") {
            return Err(RuntimeError::Shim(answer.trim_start_matches("err ").to_string()));
        }
        Ok(ShimState::load(&state_file)?)
    }

    /// Delete one attempt's directory (the unmount is for rootfs mounts made in the
    /// host's mount namespace by kubelets before the shim mounted them privately).
    pub fn remove_attempt(&self, dir: &Path) {
        umount(&dir.join("rootfs"));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Keep only the newest `keep` attempts of a container (for logs and lastState).
    pub fn prune_attempts(&self, uid: &str, container: &str, keep: usize) {
        let a = self.attempts(uid, container);
        if a.len() > keep {
            for old in &a[..a.len() - keep] {
                if !old.running() {
                    self.remove_attempt(&old.dir);
                }
            }
        }
    }

    /// Stop a running attempt: SIGTERM, `grace`, then SIGKILL of everything in it.
    pub async fn stop(&self, s: &ShimState, grace: Duration) {
        if !shim_alive(s) {
            return;
        }
        let fd = pidfd(s.shim_pid);
        unsafe { libc::kill(s.shim_pid, libc::SIGTERM) };
        if let Some(fd) = &fd {
            if tokio::time::timeout(grace, wait_pidfd(fd)).await.is_ok() {
                return;
            }
        }
        if shim_alive(s) {
            unsafe { libc::kill(s.shim_pid, libc::SIGUSR1) };
        }
        match &fd {
            Some(fd) => {
                let _ = tokio::time::timeout(Duration::from_secs(10), wait_pidfd(fd)).await;
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }

    /// Stop every container of a pod and its pause process, and remove everything
    /// it has on this node (pod cgroup, directories; logs stay until the pod is gone
    /// from the API, then go too).
    pub async fn remove_pod(&self, uid: &str, grace: Duration, cgroup: Option<&str>) {
        let dir = self.pod_dir(uid);
        let containers: Vec<String> = std::fs::read_dir(dir.join("containers"))
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
            .unwrap_or_default();
        let mut stops = Vec::new();
        for c in &containers {
            for a in self.attempts(uid, c) {
                if let Some(s) = a.state.filter(|s| s.status == ShimStatus::Running) {
                    stops.push(async move { self.stop(&s, grace).await });
                }
            }
        }
        futures::future::join_all(stops).await;
        self.stop_sandbox(uid).await;
        for c in &containers {
            for a in self.attempts(uid, c) {
                self.remove_attempt(&a.dir);
            }
        }
        // Namespace pins of kubelets that held pods' namespaces with bind mounts.
        for k in ["net", "ipc", "uts"] {
            umount(&dir.join("ns").join(k));
        }
        if let Some(cg) = cgroup {
            crate::cgroups::remove_pod(cg);
        }
        let _ = std::fs::remove_dir_all(&dir);
        // Log directories are named <ns>_<name>_<uid>.
        if let Ok(rd) = std::fs::read_dir(&self.logs) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().ends_with(&format!("_{uid}")) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
}

/// The libcontainer ID of one attempt.
pub fn container_id(uid: &str, name: &str, attempt: u32) -> String {
    format!("{uid}-{name}-{attempt}")
}

pub fn pidfd(pid: i32) -> Option<OwnedFd> {
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Resolves when the process behind `fd` has exited.
pub async fn wait_pidfd(fd: &OwnedFd) {
    let dup = match fd.try_clone() {
        Ok(d) => d,
        Err(_) => return,
    };
    // SAFETY: `dup` is an owned pidfd that lives (inside the AsyncFd) until we return.
    match unsafe { tokio::io::unix::AsyncFd::register(dup) } {
        Ok(afd) => {
            let _ = afd.readable().await;
        }
        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
    }
}

/// Waits for the shim of `s` to exit (immediately if it is gone already).
pub async fn wait_shim_exit(s: &ShimState) {
    wait_exit(s.shim_pid, s.shim_start_ticks).await
}

/// Waits for the process `pid` started at `start_ticks` to exit (immediately if
/// it is gone already).
pub async fn wait_exit(pid: i32, start_ticks: u64) {
    let alive = || pid > 0 && process_start_ticks(pid) == Some(start_ticks);
    if !alive() {
        return;
    }
    if let Some(fd) = pidfd(pid) {
        // The pid may have been reused between the check and pidfd_open.
        if alive() {
            wait_pidfd(&fd).await;
        }
    }
}
