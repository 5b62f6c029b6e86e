//! `kubelet-shim sandbox`: start a pod's pause process (`kubelet-monitor pause`) in
//! new network, IPC, UTS and (shareProcessNamespace) PID namespaces. Containers
//! join them through `/proc/<pause>/ns/*`. A process, not bind-mounted namespace
//! files: per-pod mounts would make every /proc/self/mountinfo read (libcontainer
//! reads it a dozen times per container start) grow with the number of pods.
//!
//! The shim forks the pause-to-be, which unshares the namespaces (forking once
//! more for a PID namespace, whose first child is its PID 1), sets the hostname,
//! brings `lo` up and execs the monitor binary. A close-on-exec pipe tells the shim
//! whether that worked; it then writes the sandbox state file and prints `ok <pid>`.

use super::shim::{errno, install_monitor, pipe};
use super::shim_state::{process_start_ticks, SandboxState};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

pub const KINDS: &[&str] = &["net", "ipc", "uts", "pid", "mnt"];

fn clone_flag(kind: &str) -> Option<libc::c_int> {
    Some(match kind {
        "net" => libc::CLONE_NEWNET,
        "ipc" => libc::CLONE_NEWIPC,
        "uts" => libc::CLONE_NEWUTS,
        "pid" => libc::CLONE_NEWPID,
        "mnt" => libc::CLONE_NEWNS,
        _ => return None,
    })
}

/// `sandbox <state-file> <libcontainer-root> <hostname> <kind>...`
pub fn run(a: &[String]) -> Result<SandboxState, String> {
    let (state_file, lc_root, hostname) = (Path::new(&a[0]), Path::new(&a[1]), a[2].as_str());
    let kinds: Vec<&str> = a[3..].iter().map(String::as_str).collect();
    let mut flags = 0;
    for k in &kinds {
        flags |= clone_flag(k).ok_or_else(|| format!("unknown namespace {k:?} (want one of {KINDS:?})"))?;
    }
    let monitor = install_monitor(lc_root).map_err(|e| format!("installing {}: {e}", kubelet_monitor::BINARY))?;
    let exe = std::ffi::CString::new(monitor.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    let (rd, wr) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(format!("fork: {}", errno()));
    }
    if child == 0 {
        drop(rd);
        let mut report = std::fs::File::from(wr);
        let msg = match pause_child(flags, &kinds, hostname, &exe, &mut report) {
            Ok(()) => String::new(),
            Err(e) => format!("err {e}\n"),
        };
        let _ = report.write_all(msg.as_bytes());
        unsafe { libc::_exit(1) };
    }
    drop(wr);
    let mut answer = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut answer);
    // The child is the pause itself, or (PID namespace) its parent, which exits.
    let mut st = 0;
    unsafe { libc::waitpid(child, &mut st, libc::WNOHANG) };
    if let Some(e) = answer.lines().find_map(|l| l.strip_prefix("err ")) {
        return Err(e.to_string());
    }
    let pid = match answer.lines().find_map(|l| l.strip_prefix("pid ")) {
        Some(p) => p.trim().parse().map_err(|_| format!("bad pause pid {p:?}"))?,
        None => child,
    };
    let start_ticks = process_start_ticks(pid).ok_or_else(|| "the pause process died at once".to_string())?;
    let state = SandboxState { pid, start_ticks, namespaces: kinds.iter().map(|k| k.to_string()).collect() };
    state.save(state_file).map_err(|e| format!("writing {}: {e}", state_file.display()))?;
    Ok(state)
}

/// In the forked child: unshare, set up, exec pause. Returns only on error (the
/// successful exec closes `report`, which is close-on-exec).
fn pause_child(flags: libc::c_int, kinds: &[&str], hostname: &str, exe: &std::ffi::CStr, report: &mut std::fs::File) -> Result<(), String> {
    unsafe { libc::setsid() };
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(format!("unshare: {}", errno()));
    }
    if kinds.contains(&"pid") {
        // Only our next child enters the new PID namespace (as its PID 1).
        match unsafe { libc::fork() } {
            -1 => return Err(format!("fork: {}", errno())),
            0 => {}
            grandchild => {
                let _ = report.write_all(format!("pid {grandchild}\n").as_bytes());
                unsafe { libc::_exit(0) };
            }
        }
    }
    // The pod's mount namespace (tmpfs volumes): receives the host's mounts,
    // sends none back.
    if kinds.contains(&"mnt")
        && unsafe { libc::mount(std::ptr::null(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_SLAVE, std::ptr::null()) } != 0
    {
        return Err(format!("making / a slave mount: {}", errno()));
    }
    if kinds.contains(&"uts") && unsafe { libc::sethostname(hostname.as_ptr().cast(), hostname.len()) } != 0 {
        return Err(format!("sethostname: {}", errno()));
    }
    if kinds.contains(&"net") {
        loopback_up().map_err(|e| format!("bringing lo up: {e}"))?;
    }
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        libc::close(null);
        libc::chdir(c"/".as_ptr());
        let argv = [exe.as_ptr(), c"pause".as_ptr(), std::ptr::null()];
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
    }
    Err(format!("exec {}: {}", exe.to_string_lossy(), errno()))
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
