//! The per-container shim (the containerd-shim pattern). libcontainer deadlocks in
//! multi-threaded callers and mutates its caller (dumpable, oom_score_adj, cwd), so
//! the kubelet never calls it itself: it runs `kubelet-shim start`, which
//!
//! 1. forks; the parent waits for a one-line answer (`ok <pid>` / `err <msg>`) and
//!    exits, so the kubelet gets a synchronous result;
//! 2. the child calls setsid (it survives the kubelet), becomes a child subreaper,
//!    creates and starts the container with libcontainer, its stdout/stderr on pipes;
//! 3. then re-executes itself as `kubelet-shim monitor`: execve keeps children,
//!    the subreaper flag and the pipes, and drops libcontainer's pages, so the
//!    long-lived part stays around a megabyte of RSS;
//! 4. the monitor copies the pipes into a CRI-format log, forwards kill requests
//!    (SIGTERM to the shim = SIGTERM to init; SIGUSR1 = SIGKILL to every process of
//!    the container), reaps, records the exit status and OOM kills in the state
//!    file, deletes the libcontainer container (cgroups, state) and exits.
//!
//! `kubelet-shim sandbox` creates a pod's namespaces and pins them as bind mounts.
//! Everything here is single-threaded and uses plain syscalls.

use super::cri_log::CriStream;
use super::shim_state::{now_rfc3339, process_start_ticks, ShimState, ShimStatus};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

const USAGE: &str = "usage:
  kubelet-shim start <container-id> <bundle-dir> <libcontainer-root> <state-file> <log-file>
      create and start the container of <bundle-dir>/config.json; print `ok <pid>` or `err <msg>`
  kubelet-shim sandbox <ns-dir> <hostname> <net|ipc|uts>...
      create the named namespaces, bring up lo, set the hostname, bind-mount them into <ns-dir>
  kubelet-shim monitor ...   (internal: the long-lived half of `start`)";

/// Entry point of the `kubelet-shim` binary.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("start") if args.len() == 7 => start(&args[2..]),
        Some("monitor") if args.len() == 11 => monitor(&args[2..]),
        Some("sandbox") if args.len() >= 5 => match sandbox(&args[2..]) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("sandbox: {e}");
                1
            }
        },
        _ => {
            eprintln!("{USAGE}");
            2
        }
    }
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
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
    let memcg = match memory_cgroup_dir(Path::new(bundle)) {
        Ok(p) => p,
        Err(e) => return fail(state, ready, format!("reading spec: {e}")),
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
    // Hand over to the small monitor image; the fds must survive execve.
    for fd in [&ready, &out_r, &err_r] {
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let args = [
        "monitor".to_string(),
        id.clone(),
        root.clone(),
        state_file.clone(),
        log_file.clone(),
        state.pid.to_string(),
        memcg.display().to_string(),
        ready.as_raw_fd().to_string(),
        out_r.as_raw_fd().to_string(),
        err_r.as_raw_fd().to_string(),
    ];
    let err = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(exe).args(&args).current_dir("/"),
    );
    // exec failed: the container runs but nobody would watch it; kill it.
    unsafe { libc::kill(state.pid, libc::SIGKILL) };
    fail(state, ready, format!("exec monitor: {err}"))
}

/// The container's memory cgroup directory (v1 hierarchy, or the v2 unified one).
fn memory_cgroup_dir(bundle: &Path) -> std::io::Result<PathBuf> {
    let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle.join("config.json"))?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let cg = spec["linux"]["cgroupsPath"]
        .as_str()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "linux.cgroupsPath must be set"))?;
    let v1 = Path::new("/sys/fs/cgroup/memory");
    let base = if v1.is_dir() { v1 } else { Path::new("/sys/fs/cgroup") };
    Ok(base.join(cg.trim_start_matches('/')))
}

fn reap_all() {
    let mut st = 0;
    while unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) } > 0 {}
}

// ---------------------------------------------------------------- monitor

struct Monitor {
    init: i32,
    memcg: PathBuf,
    init_status: Option<i32>,
}

impl Monitor {
    /// SIGKILL every process of the container's cgroup, then init itself.
    fn kill_all(&mut self) {
        for _ in 0..100 {
            let procs = std::fs::read_to_string(self.memcg.join("cgroup.procs")).unwrap_or_default();
            let pids: Vec<i32> = procs.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            reap(self.init, &mut self.init_status);
        }
        if self.init_status.is_none() {
            unsafe { libc::kill(self.init, libc::SIGKILL) };
        }
    }

    fn oom_killed(&self) -> bool {
        // v1: memory.oom_control has `oom_kill N`; v2: memory.events has `oom_kill N`.
        for f in ["memory.oom_control", "memory.events"] {
            if let Ok(text) = std::fs::read_to_string(self.memcg.join(f)) {
                return text
                    .lines()
                    .filter_map(|l| l.strip_prefix("oom_kill "))
                    .any(|n| n.trim().parse::<u64>().unwrap_or(0) > 0);
            }
        }
        false
    }
}

/// Reap every dead child; remember the wait status of `init`.
fn reap(init: i32, init_status: &mut Option<i32>) {
    loop {
        let mut st = 0;
        let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
        if pid == init {
            *init_status = Some(st);
        }
    }
}

fn monitor(a: &[String]) -> i32 {
    let (id, root, state_file, log_file) = (&a[0], &a[1], &a[2], &a[3]);
    let init: i32 = a[4].parse().unwrap_or(0);
    let memcg = PathBuf::from(&a[5]);
    let fd = |s: &String| unsafe { OwnedFd::from_raw_fd(s.parse::<RawFd>().unwrap_or(-1)) };
    let (ready, out_r, err_r) = (fd(&a[6]), fd(&a[7]), fd(&a[8]));
    let state_path = Path::new(state_file);

    // Signals arrive through a signalfd, installed before we say `ok`.
    let sigfd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGCHLD, libc::SIGTERM, libc::SIGUSR1, libc::SIGINT, libc::SIGHUP, libc::SIGPIPE] {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        OwnedFd::from_raw_fd(libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK))
    };
    let _ = std::fs::File::from(ready).write_all(format!("ok {init}\n").as_bytes());

    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log_file).ok();
    let mut streams = [(Some(out_r), CriStream::new("stdout")), (Some(err_r), CriStream::new("stderr"))];
    let mut m = Monitor { init, memcg, init_status: None };
    reap(init, &mut m.init_status);
    let mut buf = vec![0u8; 32 * 1024];
    let mut exited_at: Option<std::time::Instant> = None;
    loop {
        if m.init_status.is_some() && exited_at.is_none() {
            exited_at = Some(std::time::Instant::now());
            // With hostPID, init's children survive it: the container ends with init.
            m.kill_all();
        }
        let open = streams.iter().any(|(f, _)| f.is_some());
        if exited_at.is_some() && !open {
            break;
        }
        let timeout = match exited_at {
            // Give the pipes a moment to drain; a leaked writer must not pin us.
            Some(t) => {
                let left = 2000i64 - t.elapsed().as_millis() as i64;
                if left <= 0 {
                    break;
                }
                left as i32
            }
            None => -1,
        };
        let mut pfds = vec![libc::pollfd { fd: sigfd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        for (f, _) in &streams {
            pfds.push(libc::pollfd {
                fd: f.as_ref().map_or(-1, |f| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if errno().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if pfds[0].revents != 0 {
            let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let sz = std::mem::size_of::<libc::signalfd_siginfo>();
            while unsafe { libc::read(sigfd.as_raw_fd(), &mut si as *mut _ as *mut libc::c_void, sz) } == sz as isize {
                match si.ssi_signo as i32 {
                    libc::SIGTERM | libc::SIGINT if m.init_status.is_none() => unsafe {
                        libc::kill(init, libc::SIGTERM);
                    },
                    libc::SIGUSR1 => m.kill_all(),
                    _ => {}
                }
            }
            reap(init, &mut m.init_status);
        }
        for (i, (f, s)) in streams.iter_mut().enumerate() {
            if pfds[i + 1].revents == 0 {
                continue;
            }
            let Some(fd) = f else { continue };
            let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if r > 0 {
                if let Some(l) = log.as_mut() {
                    let _ = s.feed(&buf[..r as usize], &now_rfc3339(), l);
                }
            } else if r == 0 || errno().kind() != std::io::ErrorKind::Interrupted {
                *f = None;
            }
        }
    }
    let ts = now_rfc3339();
    if let Some(l) = log.as_mut() {
        for (_, s) in streams.iter_mut() {
            let _ = s.finish(&ts, l);
        }
    }
    let st = m.init_status.unwrap_or(0);
    let mut state = ShimState::load(state_path).unwrap_or_else(|_| ShimState {
        status: ShimStatus::Running,
        shim_pid: std::process::id() as i32,
        shim_start_ticks: 0,
        pid: init,
        started_at: None,
        finished_at: None,
        exit_code: None,
        signal: None,
        oom_killed: false,
        error: None,
    });
    state.status = ShimStatus::Exited;
    state.finished_at = Some(ts);
    if libc::WIFSIGNALED(st) {
        state.signal = Some(libc::WTERMSIG(st));
        state.exit_code = Some(128 + libc::WTERMSIG(st));
    } else {
        state.exit_code = Some(libc::WEXITSTATUS(st));
    }
    state.oom_killed = m.oom_killed();
    // Remove cgroups and libcontainer's state before announcing the exit, so a
    // kubelet that sees `exited` can rely on the container being gone.
    if let Ok(mut c) = libcontainer::container::Container::load(Path::new(root).join(id)) {
        let _ = c.delete(true);
    }
    let _ = state.save(state_path);
    reap_all();
    0
}

// ---------------------------------------------------------------- sandbox

fn sandbox(a: &[String]) -> std::io::Result<()> {
    let dir = Path::new(&a[0]);
    let hostname = &a[1];
    let kinds: Vec<&str> = a[2..].iter().map(String::as_str).collect();
    let mut flags = 0;
    for k in &kinds {
        flags |= match *k {
            "net" => libc::CLONE_NEWNET,
            "ipc" => libc::CLONE_NEWIPC,
            "uts" => libc::CLONE_NEWUTS,
            other => return Err(std::io::Error::other(format!("unknown namespace {other}"))),
        };
    }
    std::fs::create_dir_all(dir)?;
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(errno());
    }
    if kinds.contains(&"uts") && unsafe { libc::sethostname(hostname.as_ptr().cast(), hostname.len()) } != 0 {
        return Err(errno());
    }
    if kinds.contains(&"net") {
        loopback_up()?;
    }
    for k in &kinds {
        let target = dir.join(k);
        std::fs::File::create(&target)?;
        let src = CString::new(format!("/proc/self/ns/{k}")).unwrap();
        let dst = CString::new(target.as_os_str().as_encoded_bytes()).unwrap();
        if unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) } != 0 {
            return Err(errno());
        }
    }
    Ok(())
}

/// `ip link set lo up` in the current network namespace.
fn loopback_up() -> std::io::Result<()> {
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(errno());
        }
        let sock = OwnedFd::from_raw_fd(sock);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) != 0 {
            return Err(errno());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) != 0 {
            return Err(errno());
        }
    }
    Ok(())
}
