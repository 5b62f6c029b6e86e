//! Helpers shared by the kubelet's integration tests (they need root).
#![allow(dead_code)]

pub mod grpc_health;
pub mod node;
pub mod pods;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A rootfs with Debian's static busybox and a symlink per applet.
pub fn busybox_rootfs(dir: &Path) {
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    let out = std::process::Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(out.stdout).unwrap().lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet));
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
}

/// A cgroup parent unique to one test under every v1 hierarchy; removed on drop
/// (killing anything left inside first), even when the test fails.
pub struct CgroupParent {
    pub name: String,
}

pub const HIERARCHIES: &[&str] = &["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"];

impl CgroupParent {
    pub fn new() -> Self {
        CgroupParent { name: format!("kubepods-test-{:08x}", rand::random::<u32>()) }
    }

    /// Every existing cgroup directory at or below this parent.
    pub fn leftover_dirs(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for h in HIERARCHIES {
            let root = Path::new("/sys/fs/cgroup").join(h).join(&self.name);
            walk(&root, &mut found);
        }
        found
    }

    /// Cgroup directories below the parent (the containers' own).
    pub fn child_dirs(&self) -> Vec<PathBuf> {
        let mut d = self.leftover_dirs();
        d.retain(|p| p.parent().and_then(|p| p.file_name()).map(|n| n != "cgroup").unwrap_or(true));
        d.retain(|p| p.file_name().map(|n| n.to_string_lossy() != self.name).unwrap_or(true));
        d
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(&e.path(), out);
            }
        }
    }
    out.push(dir.to_path_buf());
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        // Deepest first (walk pushes children before parents).
        for d in self.leftover_dirs() {
            for _ in 0..50 {
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                if procs.trim().is_empty() {
                    break;
                }
                for p in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = std::fs::remove_dir(&d);
        }
    }
}

/// Lines of /proc/self/mountinfo that mention `needle`.
pub fn mounts_under(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// Unmount everything below `dir` (deepest first); used by drop guards.
pub fn unmount_all_under(dir: &Path) {
    let needle = dir.to_string_lossy().to_string();
    let mut points: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(&needle))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let c = std::ffi::CString::new(p).unwrap();
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Poll `f` until it returns Some, or panic after `limit` with `what`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until an Event about the object `name` in `ns` has `reason` and a
/// message `msg` accepts (events are written asynchronously); returns it.
pub async fn wait_event(c: &client::Client, ns: &str, name: &str, reason: &str, msg: impl Fn(&str) -> bool) -> k8s_openapi::api::core::v1::Event {
    let api: client::Api<k8s_openapi::api::core::v1::Event> = client::Api::namespaced(c.clone(), ns);
    let lp = client::ListParams::default().fields(&format!("involvedObject.name={name}"));
    let start = Instant::now();
    loop {
        let list = api.list(&lp).await.unwrap();
        if let Some(e) = list.items.iter().find(|e| e.reason.as_deref() == Some(reason) && msg(e.message.as_deref().unwrap_or(""))) {
            return e.clone();
        }
        if start.elapsed() > Duration::from_secs(90) {
            let seen: Vec<_> = list.items.iter().map(|e| (e.reason.clone(), e.message.clone())).collect();
            panic!("no {reason} event about {name}; events: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
