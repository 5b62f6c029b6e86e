//! The monitor's loop: logs, signals, reaping, and the container's cleanup.

use crate::cri_log::CriStream;
use crate::state::{rfc3339_nanos, save_atomically, ExitedState};
use crate::MonitorArgs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// Block `sigs` and return a signalfd that reads them.
fn signalfd(sigs: &[i32]) -> std::io::Result<OwnedFd> {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(errno());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The signal numbers waiting on a non-blocking signalfd.
fn read_signals(fd: &OwnedFd) -> Vec<i32> {
    let mut out = Vec::new();
    let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let sz = std::mem::size_of::<libc::signalfd_siginfo>();
    while unsafe { libc::read(fd.as_raw_fd(), &mut si as *mut _ as *mut libc::c_void, sz) } == sz as isize {
        out.push(si.ssi_signo as i32);
    }
    out
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

fn fs_type(p: &Path) -> Option<i64> {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok()?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0).then_some(st.f_type as i64)
}

/// The cgroup hierarchies: each cgroup (v1) or cgroup2 filesystem mounted under
/// /sys/fs/cgroup, or /sys/fs/cgroup itself on a pure v2 host. Found with statfs:
/// /proc/self/mountinfo grows with every pod and costs O(mounts) to generate.
fn cgroup_mounts() -> Vec<PathBuf> {
    const CGROUP: i64 = 0x0027_e0eb;
    const CGROUP2: i64 = 0x6367_7270;
    let base = Path::new("/sys/fs/cgroup");
    if fs_type(base) == Some(CGROUP2) {
        return vec![base.to_path_buf()];
    }
    let Ok(rd) = std::fs::read_dir(base) else { return Vec::new() };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        // Co-mounted controllers have symlinks (cpu -> cpu,cpuacct): count each mount once.
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| matches!(fs_type(p), Some(CGROUP | CGROUP2)))
        .collect();
    out.sort();
    out
}

/// The container's memory cgroup (v1 memory hierarchy, else the v2 unified one).
fn memory_cgroup(mounts: &[PathBuf], rel: &str) -> PathBuf {
    let rel = rel.trim_start_matches('/');
    let v1 = Path::new("/sys/fs/cgroup/memory");
    match mounts.iter().find(|m| m.as_path() == v1) {
        Some(m) => m.join(rel),
        None => Path::new("/sys/fs/cgroup").join(rel),
    }
}

fn cgroup_pids(dir: &Path) -> Vec<i32> {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    procs.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

struct Monitor {
    init: i32,
    memcg: PathBuf,
    init_status: Option<i32>,
}

impl Monitor {
    /// SIGKILL every process of the container's cgroup, then init itself.
    fn kill_all(&mut self) {
        for _ in 0..100 {
            let pids = cgroup_pids(&self.memcg);
            if pids.is_empty() {
                break;
            }
            for p in pids {
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(2));
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

/// Remove the container's cgroup in every hierarchy (killing stragglers) and
/// libcontainer's state directory for it.
fn delete_container(mounts: &[PathBuf], rel: &str, lc_root: &Path, id: &str) {
    for m in mounts {
        let dir = m.join(rel.trim_start_matches('/'));
        if !dir.is_dir() {
            continue;
        }
        let mut delay = Duration::from_millis(10);
        for _ in 0..5 {
            for p in cgroup_pids(&dir) {
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            if std::fs::remove_dir(&dir).is_ok() {
                break;
            }
            std::thread::sleep(delay);
            delay *= 2;
        }
    }
    if !id.is_empty() && !id.contains('/') {
        let _ = std::fs::remove_dir_all(lc_root.join(id));
    }
}

pub fn run(a: MonitorArgs) -> i32 {
    let fd = |n: RawFd| unsafe { OwnedFd::from_raw_fd(n) };
    let (ready, out_r, err_r) = (fd(a.ready_fd), fd(a.out_fd), fd(a.err_fd));
    // Signals arrive through a signalfd, installed before we say `ok`.
    let sigs = [libc::SIGCHLD, libc::SIGTERM, libc::SIGUSR1, libc::SIGINT, libc::SIGHUP, libc::SIGPIPE];
    let sigfd = match signalfd(&sigs) {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::File::from(ready).write_all(format!("err signalfd: {e}\n").as_bytes());
            unsafe { libc::kill(a.init, libc::SIGKILL) };
            return 1;
        }
    };
    for f in [&out_r, &err_r] {
        unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let _ = std::fs::File::from(ready).write_all(format!("ok {}\n", a.init).as_bytes());

    let mounts = cgroup_mounts();
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&a.log_file).ok();
    let mut streams = [(Some(out_r), CriStream::new("stdout")), (Some(err_r), CriStream::new("stderr"))];
    let mut m = Monitor { init: a.init, memcg: memory_cgroup(&mounts, &a.cgroup), init_status: None };
    reap(a.init, &mut m.init_status);
    let mut buf = vec![0u8; 32 * 1024];
    let mut exited_at: Option<Instant> = None;
    loop {
        if m.init_status.is_some() && exited_at.is_none() {
            exited_at = Some(Instant::now());
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
        let mut pfds = [libc::pollfd { fd: sigfd.as_raw_fd(), events: libc::POLLIN, revents: 0 }; 3];
        for (i, (f, _)) in streams.iter().enumerate() {
            pfds[i + 1].fd = f.as_ref().map_or(-1, |f| f.as_raw_fd());
        }
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if errno().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if pfds[0].revents != 0 {
            for s in read_signals(&sigfd) {
                match s {
                    libc::SIGTERM | libc::SIGINT if m.init_status.is_none() => unsafe {
                        libc::kill(a.init, libc::SIGTERM);
                    },
                    libc::SIGUSR1 => m.kill_all(),
                    _ => {}
                }
            }
            reap(a.init, &mut m.init_status);
        }
        for (i, (f, s)) in streams.iter_mut().enumerate() {
            if pfds[i + 1].revents == 0 {
                continue;
            }
            let Some(fd) = f else { continue };
            let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if r > 0 {
                if let Some(l) = log.as_mut() {
                    let _ = s.feed(&buf[..r as usize], &rfc3339_nanos(SystemTime::now()), l);
                }
            } else if r == 0 || errno().kind() != std::io::ErrorKind::Interrupted {
                *f = None;
            }
        }
    }
    let ts = rfc3339_nanos(SystemTime::now());
    if let Some(l) = log.as_mut() {
        for (_, s) in streams.iter_mut() {
            let _ = s.finish(&ts, l);
        }
    }
    let oom = m.oom_killed();
    // Remove cgroups and libcontainer's state before announcing the exit, so a
    // kubelet that sees `exited` can rely on the container being gone.
    delete_container(&mounts, &a.cgroup, &a.lc_root, &a.id);
    let state = ExitedState {
        shim_pid: std::process::id() as i32,
        shim_start_ticks: a.shim_start_ticks,
        pid: a.init,
        started_at: &a.started_at,
        finished_at: &ts,
        wait_status: m.init_status.unwrap_or(0),
        oom_killed: oom,
    };
    let _ = save_atomically(&a.state_file, state.to_json().as_bytes());
    let mut st = 0;
    while unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) } > 0 {}
    0
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_mounts_match_mountinfo() {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mut want: Vec<PathBuf> = info
            .lines()
            .filter_map(|l| {
                let (pre, post) = l.split_once(" - ")?;
                let fstype = post.split(' ').next()?;
                let mp = pre.split(' ').nth(4)?;
                (matches!(fstype, "cgroup" | "cgroup2") && mp.starts_with("/sys/fs/cgroup")).then(|| PathBuf::from(mp))
            })
            .collect();
        want.sort();
        want.dedup();
        assert!(!want.is_empty(), "no cgroup mounts on this host");
        assert_eq!(cgroup_mounts(), want);
    }
}
