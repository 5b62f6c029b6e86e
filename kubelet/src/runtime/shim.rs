//! The per-container shim (the containerd-shim pattern). libcontainer deadlocks in
//! multi-threaded callers and mutates its caller (dumpable, oom_score_adj, cwd), so
//! the kubelet never calls it itself: it runs `kubelet-shim start`, which
//!
//! 1. forks; the parent waits for a one-line answer (`ok <pid>` / `err <msg>`) and
//!    exits, so the kubelet gets a synchronous result;
//! 2. the child calls setsid (it survives the kubelet), becomes a child subreaper,
//!    creates and starts the container with libcontainer, its stdout/stderr on pipes;
//! 3. then execs `kubelet-monitor` (the kubelet-monitor crate, built static by
//!    build.rs and embedded here; written out to `<root-dir>/bin/` on first use):
//!    execve keeps the children, the subreaper flag and the pipes, and the
//!    long-lived process holds none of libcontainer's code or heap.
//!
//! Before libcontainer runs, the shim moves into a mount namespace of its own and
//! mounts the container's rootfs overlay there (`private_rootfs`).
//!
//! `kubelet-shim sandbox` starts a pod's pause process (`shim_sandbox`).
//! Everything here is single-threaded and uses plain syscalls.

use kubelet_monitor::MonitorArgs;
use super::shim_state::{now_rfc3339, process_start_ticks, ShimState, ShimStatus};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const USAGE: &str = "usage:
  kubelet-shim start <container-id> <bundle-dir> <libcontainer-root> <state-file> <log-file>
      create and start the container of <bundle-dir>/config.json; print `ok <pid>` or `err <msg>`
  kubelet-shim sandbox <state-file> <libcontainer-root> <hostname> <net|ipc|uts|pid>...
      start the pod's pause process in the named new namespaces (lo up, hostname set);
      write <state-file> and print `ok <pid>` or `err <msg>`
  kubelet-shim tmpfs <pause-pid> <dir> <size-bytes>
      mount a tmpfs (mode 1777, size 0 = kernel default) at <dir> in the pause's
      mount namespace; print `ok` or `err <msg>`
  kubelet-shim exec <init-pid> <timeout-seconds> <arg>...
      run a command in the running container whose init is <init-pid> (its cgroups,
      namespaces, credentials and environment); its output on stdout, then on stderr
      `exit <code>`, `timeout` or `err <msg>`
  kubelet-shim exec-stream <init-pid> <tty:0|1> <arg>...
      the same, interactive: the command gets this process's stdin/stdout/stderr
      (a pty slave when tty is 1) and dies with it; `exit <code>` or `err <msg>` on fd 3
  (the long-lived half of `start` is kubelet-monitor, embedded in this binary)";

/// Entry point of the `kubelet-shim` binary.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("start") if args.len() == 7 => start(&args[2..]),
        Some("tmpfs") if args.len() == 5 => match tmpfs(&args[2], &args[3], &args[4]) {
            Ok(()) => {
                println!("ok");
                0
            }
            Err(e) => {
                println!("err {e}");
                1
            }
        },
        Some("exec") if args.len() >= 5 => super::shim_exec::run(&args[2..]),
        Some("exec-stream") if args.len() >= 5 => super::shim_exec::run_stream(&args[2..]),
        Some("sandbox") if args.len() >= 5 => match super::shim_sandbox::run(&args[2..]) {
            Ok(s) => {
                println!("ok {}", s.pid);
                0
            }
            Err(e) => {
                println!("err {e}");
                1
            }
        },
        _ => {
            eprintln!("{USAGE}");
            2
        }
    }
}

pub(super) fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

pub(super) fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(errno());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

// ---------------------------------------------------------------- start

fn start(a: &[String]) -> i32 {
    let (rd, wr) = match pipe() {
        Ok(p) => p,
        Err(e) => {
            println!("err pipe: {e}");
            return 1;
        }
    };
    match unsafe { libc::fork() } {
        -1 => {
            println!("err fork: {}", errno());
            1
        }
        0 => {
            drop(rd);
            unsafe { libc::setsid() };
            daemon(a, wr)
        }
        child => {
            drop(wr);
            let mut answer = String::new();
            let _ = std::fs::File::from(rd).read_to_string(&mut answer);
            let mut st = 0;
            // The daemon outlives us; only reap it if it already died.
            unsafe { libc::waitpid(child, &mut st, libc::WNOHANG) };
            if answer.is_empty() {
                answer = "err shim died before answering".into();
            }
            print!("{}", answer.trim_end());
            println!();
            i32::from(!answer.starts_with("ok "))
        }
    }
}

/// The forked daemon: create + start with libcontainer, then exec the monitor.
fn daemon(a: &[String], ready: OwnedFd) -> i32 {
    let (id, bundle, root, state_file, log_file) = (&a[0], &a[1], &a[2], &a[3], &a[4]);
    let state_path = Path::new(state_file);
    let shim_pid = std::process::id() as i32;
    let mut state = ShimState {
        status: ShimStatus::Running,
        shim_pid,
        shim_start_ticks: process_start_ticks(shim_pid).unwrap_or(0),
        pid: 0,
        started_at: None,
        finished_at: None,
        exit_code: None,
        signal: None,
        oom_killed: false,
        error: None,
    };
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        libc::close(null);
    }
    let fail = |mut state: ShimState, ready: OwnedFd, msg: String| -> i32 {
        // Best effort: remove what a half-done create left behind.
        if let Ok(mut c) = libcontainer::container::Container::load(Path::new(root).join(id)) {
            let _ = c.delete(true);
        }
        state.status = ShimStatus::Failed;
        state.error = Some(msg.clone());
        let _ = state.save(state_path);
        let _ = std::fs::File::from(ready).write_all(format!("err {msg}\n").as_bytes());
        reap_all();
        1
    };
    let spec = match read_bundle(Path::new(bundle)) {
        Ok(b) => b,
        Err(e) => return fail(state, ready, format!("reading spec: {e}")),
    };
    if let Err(e) = private_rootfs(&spec) {
        return fail(state, ready, format!("preparing the rootfs: {e}"));
    }
    let monitor = match install_monitor(Path::new(root)) {
        Ok(p) => p,
        Err(e) => return fail(state, ready, format!("installing {}: {e}", kubelet_monitor::BINARY)),
    };
    let ((out_r, out_w), (err_r, err_w)) = match (pipe(), pipe()) {
        (Ok(o), Ok(e)) => (o, e),
        _ => return fail(state, ready, format!("pipe: {}", errno())),
    };
    let started = libcontainer::container::builder::ContainerBuilder::new(
        id.clone(),
        libcontainer::syscall::syscall::SyscallType::default(),
    )
    .with_root_path(root)
    .map(|b| b.with_stdout(out_w).with_stderr(err_w))
    .and_then(|b| b.as_init(bundle).with_systemd(false).with_detach(true).build())
    .and_then(|mut c| c.start().map(|_| c));
    let container = match started {
        Ok(c) => c,
        Err(e) => return fail(state, ready, format!("{e}")),
    };
    state.pid = container.pid().map(|p| p.as_raw()).unwrap_or(0);
    state.started_at = Some(now_rfc3339());
    if let Err(e) = state.save(state_path) {
        return fail(state, ready, format!("writing state: {e}"));
    }
    drop(container);
    // Hand over to the monitor binary; the fds must survive execve.
    for fd in [&ready, &out_r, &err_r] {
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
    }
    let args = MonitorArgs {
        id: id.clone(),
        lc_root: root.into(),
        state_file: state_file.into(),
        log_file: log_file.into(),
        init: state.pid,
        cgroup: spec.cgroups_path.clone(),
        shim_start_ticks: state.shim_start_ticks,
        started_at: state.started_at.clone().unwrap_or_default(),
        ready_fd: ready.as_raw_fd(),
        out_fd: out_r.as_raw_fd(),
        err_fd: err_r.as_raw_fd(),
    };
    let err = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(&monitor).args(args.to_args()).current_dir("/"),
    );
    // exec failed: the container runs but nobody would watch it; kill it.
    unsafe { libc::kill(state.pid, libc::SIGKILL) };
    fail(state, ready, format!("exec {}: {err}", monitor.display()))
}

/// The static kubelet-monitor executable (built by build.rs).
static MONITOR: &[u8] = include_bytes!(env!("KUBELET_MONITOR_BIN"));

/// Write the embedded monitor out, once per content, to `<root>/../bin/` (next to
/// libcontainer's state root: `<root-dir>/bin` for the kubelet) and return its path.
/// Concurrent shims each write a temp file and rename it into place.
pub(super) fn install_monitor(lc_root: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = lc_root.parent().unwrap_or(lc_root).join("bin");
    let path = dir.join(format!("{}-{}", kubelet_monitor::BINARY, env!("KUBELET_MONITOR_ID")));
    if std::fs::metadata(&path).map(|m| m.len() == MONITOR.len() as u64).unwrap_or(false) {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", kubelet_monitor::BINARY, std::process::id()));
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o755).open(&tmp)?;
    f.write_all(MONITOR)?;
    // Closed before anyone can exec it (an open writer would give ETXTBSY).
    drop(f);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Enter the mount namespace at `ns` (single-threaded callers only).
fn enter_mount_ns(ns: &Path) -> std::io::Result<()> {
    let f = std::fs::File::open(ns)?;
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
        return Err(errno());
    }
    Ok(())
}

/// `tmpfs <pause-pid> <dir> <size>`: a tmpfs volume in the pod's mount namespace.
fn tmpfs(pid: &str, dir: &str, size: &str) -> Result<(), String> {
    let size: u64 = size.parse().map_err(|_| format!("bad size {size:?}"))?;
    enter_mount_ns(Path::new(&format!("/proc/{pid}/ns/mnt"))).map_err(|e| format!("entering the pod's mount namespace: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let mut opts = "mode=1777".to_string();
    if size > 0 {
        opts.push_str(&format!(",size={size}"));
    }
    let target = CString::new(dir).map_err(|e| e.to_string())?;
    let opts = CString::new(opts).map_err(|e| e.to_string())?;
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    if unsafe { libc::mount(c"tmpfs".as_ptr(), target.as_ptr(), c"tmpfs".as_ptr(), flags, opts.as_ptr().cast()) } != 0 {
        return Err(format!("mount tmpfs on {dir}: {}", errno()));
    }
    Ok(())
}

/// What the shim needs from the bundle's config.json.
struct Bundle {
    /// linux.cgroupsPath (the monitor removes it in every hierarchy).
    cgroups_path: String,
    root: PathBuf,
    /// Options of the overlay to mount at `root` (see `spec::ROOTFS_OVERLAY`).
    overlay: Option<String>,
    /// The pod's mount namespace to start from (see `spec::POD_MOUNT_NS`).
    pod_mount_ns: Option<PathBuf>,
}

fn read_bundle(bundle: &Path) -> std::io::Result<Bundle> {
    let invalid = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle.join("config.json"))?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let cgroups_path = spec["linux"]["cgroupsPath"].as_str().ok_or_else(|| invalid("linux.cgroupsPath must be set"))?;
    let root = spec["root"]["path"].as_str().ok_or_else(|| invalid("root.path must be set"))?;
    Ok(Bundle {
        cgroups_path: cgroups_path.to_string(),
        root: bundle.join(root),
        overlay: spec["annotations"][super::spec::ROOTFS_OVERLAY].as_str().map(str::to_string),
        pod_mount_ns: spec["annotations"][super::spec::POD_MOUNT_NS].as_str().map(PathBuf::from),
    })
}

/// Give the shim (and so the container and the monitor) a mount namespace of its
/// own and mount the rootfs overlay there: the mount never shows in the host's
/// mount table (whose size every mountinfo read pays for), and it goes away with
/// the last process of the container's monitor.
fn private_rootfs(b: &Bundle) -> std::io::Result<()> {
    // Start from the pod's mount namespace (its tmpfs volumes), then copy it.
    if let Some(ns) = &b.pod_mount_ns {
        enter_mount_ns(ns).map_err(|e| std::io::Error::other(format!("entering the pod's mount namespace {}: {e}", ns.display())))?;
    }
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(errno());
        }
        // Receive the host's later mounts, send none back.
        if libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null()) != 0 {
            return Err(errno());
        }
    }
    if let Some(opts) = &b.overlay {
        let target = CString::new(b.root.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
        let opts = CString::new(opts.as_str()).map_err(std::io::Error::other)?;
        let r = unsafe { libc::mount(c"overlay".as_ptr(), target.as_ptr(), c"overlay".as_ptr(), 0, opts.as_ptr().cast()) };
        if r != 0 {
            return Err(std::io::Error::other(format!("mounting the rootfs overlay: {}", errno())));
        }
    }
    Ok(())
}

fn reap_all() {
    let mut st = 0;
    while unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) } > 0 {}
}
