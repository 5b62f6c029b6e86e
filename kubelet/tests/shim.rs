//! The shim on its own: real containers through libcontainer, no apiserver.
//! Needs root.

mod common;

use common::*;
use kubelet::runtime::shim_state::{SandboxState, ShimState, ShimStatus};
use kubelet::runtime::spec::{self, ContainerConfig, Ns, Resources};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SHIM: &str = env!("CARGO_BIN_EXE_kubelet-shim");
const LONG: Duration = Duration::from_secs(60);

struct Env {
    dir: tempfile::TempDir,
    cg: CgroupParent,
    rootfs: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        busybox_rootfs(&rootfs);
        Env { dir, cg: CgroupParent::new(), rootfs }
    }

    /// A container whose rootfs is an overlay on the busybox tree, mounted by the
    /// shim in its own mount namespace (as the kubelet has it).
    fn config(&self, id: &str, args: &[&str]) -> ContainerConfig {
        let b = self.dir.path().join(id);
        for d in ["merged", "upper", "work"] {
            std::fs::create_dir_all(b.join(d)).unwrap();
        }
        let overlay = format!("lowerdir={},upperdir={},workdir={}", self.rootfs.display(), b.join("upper").display(), b.join("work").display());
        ContainerConfig {
            rootfs: b.join("merged"),
            rootfs_overlay: Some(overlay),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            hostname: Some("shim-test".into()),
            net: Ns::New,
            ipc: Ns::New,
            uts: Ns::New,
            pid: Ns::New,
            cgroups_path: format!("/{}/{id}", self.cg.name),
            resources: Resources::default(),
            oom_score_adj: 0,
            mounts: vec![],
            pod_mount_ns: None,
            security: Default::default(),
        }
    }

    /// Write the bundle and run `kubelet-shim start`; returns (state file, log file).
    fn start(&self, id: &str, cfg: &ContainerConfig) -> (PathBuf, PathBuf) {
        let bundle = self.dir.path().join(id);
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(bundle.join("config.json"), spec::build(cfg).to_string()).unwrap();
        let state = bundle.join("state.json");
        let log = bundle.join("0.log");
        let out = Command::new(SHIM)
            .args(["start", id])
            .arg(&bundle)
            .arg(self.dir.path().join("lc"))
            .arg(&state)
            .arg(&log)
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success() && answer.starts_with("ok "), "shim start failed: {answer}");
        (state, log)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        unmount_all_under(self.dir.path());
    }
}

fn wait_exited(state: &Path) -> ShimState {
    wait_for(LONG, "container exit", || {
        ShimState::load(state).ok().filter(|s| s.status == ShimStatus::Exited)
    })
}

#[test]
fn echo_exits_with_code_and_cri_log() {
    let env = Env::new();
    let cfg = env.config("echo", &["sh", "-c", "echo hello; echo oops >&2; hostname; exit 3"]);
    let (state, log) = env.start("echo", &cfg);
    let s = wait_exited(&state);
    assert_eq!(s.exit_code, Some(3));
    assert_eq!(s.signal, None);
    assert!(!s.oom_killed);
    assert!(s.started_at.is_some() && s.finished_at.is_some());
    let text = std::fs::read_to_string(&log).unwrap();
    let entries: Vec<_> = text.lines().map(|l| kubelet::runtime::cri_log::parse_line(l).unwrap()).collect();
    let content: Vec<_> = entries.iter().map(|e| (e.1, e.3)).collect();
    assert!(content.contains(&("stdout", "hello")), "{text}");
    assert!(content.contains(&("stderr", "oops")), "{text}");
    assert!(content.contains(&("stdout", "shim-test")), "{text}");
    for e in &entries {
        chrono::DateTime::parse_from_rfc3339(e.0).expect("RFC 3339 timestamp");
        assert!(!e.2, "no partial entries expected");
    }
    // The shim removed the container's cgroups and libcontainer state, and is gone.
    assert!(env.cg.child_dirs().is_empty(), "leaked cgroups: {:?}", env.cg.child_dirs());
    assert!(!env.dir.path().join("lc/echo").exists());
    wait_for(LONG, "shim exit", || (unsafe { libc::kill(s.shim_pid, 0) } != 0).then_some(()));
}

#[test]
fn sigterm_reaches_a_handler_and_sigusr1_kills_all() {
    let env = Env::new();
    let trap = "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.05; done";
    let (state, log) = env.start("term", &env.config("term", &["sh", "-c", trap]));
    let s = ShimState::load(&state).unwrap();
    assert_eq!(s.status, ShimStatus::Running);
    // The rootfs overlay lives in the shim's mount namespace, not the host's.
    assert!(mounts_under(env.dir.path()).is_empty(), "{:?}", mounts_under(env.dir.path()));
    // The shim daemon is its own session leader, not our child.
    assert_eq!(unsafe { libc::getsid(s.shim_pid) }, s.shim_pid);
    // Once the container runs, the long-lived process is the small monitor binary.
    let exe = std::fs::read_link(format!("/proc/{}/exe", s.shim_pid)).unwrap();
    assert!(exe.file_name().unwrap().to_string_lossy().starts_with("kubelet-monitor-"), "{exe:?}");
    wait_for(LONG, "ready line", || std::fs::read_to_string(&log).ok().filter(|t| t.contains("ready")));
    unsafe { libc::kill(s.shim_pid, libc::SIGTERM) };
    let s = wait_exited(&state);
    assert_eq!(s.exit_code, Some(0));
    assert!(std::fs::read_to_string(&log).unwrap().contains("stdout F got-term"));

    // PID 1 without a handler ignores SIGTERM; SIGUSR1 asks the shim for SIGKILL of all.
    let (state, _) = env.start("stubborn", &env.config("stubborn", &["sh", "-c", "sleep 1000 & sleep 1000"]));
    let s = ShimState::load(&state).unwrap();
    unsafe { libc::kill(s.shim_pid, libc::SIGUSR1) };
    let s = wait_exited(&state);
    assert_eq!(s.exit_code, Some(137));
    assert_eq!(s.signal, Some(9));
    assert!(env.cg.child_dirs().is_empty(), "leaked cgroups: {:?}", env.cg.child_dirs());
}

#[test]
fn memory_limit_overrun_is_oom_killed() {
    let env = Env::new();
    let mut cfg = env.config("oom", &["sh", "-c", "tail /dev/zero; echo survived"]);
    cfg.resources.memory_limit = Some(32 << 20);
    let (state, log) = env.start("oom", &cfg);
    let s = wait_exited(&state);
    assert!(s.oom_killed, "{s:?}");
    // The killed process was a child of init: the pipeline form upstream also sees.
    assert!(std::fs::read_to_string(&log).unwrap().contains("survived"));
    assert!(env.cg.child_dirs().is_empty(), "leaked cgroups: {:?}", env.cg.child_dirs());
}

/// A pause process, killed on drop (even when the test fails).
struct Pause(SandboxState);

impl std::ops::Deref for Pause {
    type Target = SandboxState;
    fn deref(&self) -> &SandboxState {
        &self.0
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        if self.0.alive() {
            unsafe { libc::kill(self.0.pid, libc::SIGKILL) };
        }
    }
}

/// `kubelet-shim sandbox`: the pod's pause process and its namespaces.
fn sandbox(env: &Env, kinds: &[&str]) -> Pause {
    let file = env.dir.path().join("sandbox.json");
    let out = Command::new(SHIM)
        .arg("sandbox")
        .arg(&file)
        .arg(env.dir.path().join("lc"))
        .arg("my-pod")
        .args(kinds)
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && answer.starts_with("ok "), "sandbox failed: {answer}");
    let sb = SandboxState::load(&file).unwrap();
    assert!(sb.alive());
    let sb = Pause(sb);
    // The pause is the monitor binary in pause mode.
    let exe = std::fs::read_link(format!("/proc/{}/exe", sb.pid)).unwrap();
    assert!(exe.file_name().unwrap().to_string_lossy().starts_with("kubelet-monitor-"), "{exe:?}");
    assert_eq!(std::fs::read_to_string(format!("/proc/{}/cmdline", sb.pid)).unwrap().split('\0').nth(1), Some("pause"));
    sb
}

/// Kill the pause process and wait until it is gone.
fn stop_sandbox(sb: &SandboxState) {
    unsafe { libc::kill(sb.pid, libc::SIGTERM) };
    wait_for(LONG, "pause exit", || (!sb.alive()).then_some(()));
}

impl Env {
    /// A container config that joins the sandbox's namespaces.
    fn join(&self, sb: &SandboxState, id: &str, args: &[&str]) -> ContainerConfig {
        let mut c = self.config(id, args);
        c.hostname = None;
        let ns = |k: &str| sb.ns_path(k).map(Ns::Path).unwrap_or(Ns::New);
        (c.net, c.ipc, c.uts, c.pid) = (ns("net"), ns("ipc"), ns("uts"), ns("pid"));
        c
    }
}

#[test]
fn sandbox_namespaces_are_shared_by_containers() {
    let env = Env::new();
    let sb = sandbox(&env, &["net", "ipc", "uts"]);
    let (srv_state, srv_log) = env.start(
        "server",
        // `nc -l` alone quits at stdin EOF before late data; -e hands the connection to a reader.
        &env.join(&sb, "server", &["sh", "-c", "readlink /proc/self/ns/ipc; exec nc -l -p 9999 -e sh -c 'head -n1 >&2'"]),
    );
    wait_for(LONG, "server start", || std::fs::read_to_string(&srv_log).ok().filter(|t| t.contains("ipc:")));
    let (cli_state, cli_log) = env.start(
        "client",
        &env.join(&sb, "client", &["sh", "-c", "hostname; readlink /proc/self/ns/ipc; until echo hi-over-localhost | nc 127.0.0.1 9999; do sleep 0.1; done"]),
    );
    let c = wait_exited(&cli_state);
    assert_eq!(c.exit_code, Some(0));
    let s = wait_exited(&srv_state);
    assert_eq!(s.exit_code, Some(0));
    let srv = std::fs::read_to_string(&srv_log).unwrap();
    assert!(srv.contains("stderr F hi-over-localhost"), "{srv}");
    let cli = std::fs::read_to_string(&cli_log).unwrap();
    assert!(cli.contains("stdout F my-pod"), "hostname from the sandbox: {cli}");
    // Both containers are in the pause's IPC namespace (SysV IPC is shared).
    let ipc = std::fs::read_link(sb.ns_path("ipc").unwrap()).unwrap();
    let ipc = format!("stdout F {}", ipc.display());
    assert!(cli.contains(&ipc) && srv.contains(&ipc), "{ipc} in {cli} and {srv}");
    stop_sandbox(&sb);
    assert!(mounts_under(env.dir.path()).is_empty(), "{:?}", mounts_under(env.dir.path()));
}

#[test]
fn shared_pid_namespace_has_pause_as_init() {
    let env = Env::new();
    let sb = sandbox(&env, &["net", "ipc", "uts", "pid"]);
    let (a_state, _) = env.start("sleeper", &env.join(&sb, "sleeper", &["sleep", "1000"]));
    let (b_state, b_log) = env.start("looker", &env.join(&sb, "looker", &["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args"]));
    let b = wait_exited(&b_state);
    assert_eq!(b.exit_code, Some(0));
    let log = std::fs::read_to_string(&b_log).unwrap();
    assert!(log.contains("/kubelet-monitor-") && log.contains(" pause"), "pause is PID 1: {log}");
    assert!(log.contains("sleep 1000"), "the other container's process is visible: {log}");
    // PID 1 of the namespace gone: every process in it is killed.
    stop_sandbox(&sb);
    let a = wait_exited(&a_state);
    assert_eq!(a.signal, Some(9));
    assert!(env.cg.child_dirs().is_empty(), "leaked cgroups: {:?}", env.cg.child_dirs());
}
