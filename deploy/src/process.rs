//! Starting components as detached processes and stopping them by PID.

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Where and with what a component starts besides its arguments.
#[derive(Default)]
pub struct Placement<'a> {
    /// The network namespace to run in (entered between fork and exec).
    pub netns: Option<&'a File>,
    /// A descriptor the child inherits under the same number (e.g. a listener).
    pub keep_fd: Option<RawFd>,
}

/// Starts `bin args` in its own session, logging to `log` (appended, so a
/// restart keeps the earlier lines); returns its PID.
pub fn spawn(bin: &Path, args: &[String], log: &Path, place: &Placement) -> anyhow::Result<u32> {
    let out = File::options().create(true).append(true).open(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(bin);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    let netns = place.netns.map(|f| f.as_raw_fd());
    let keep = place.keep_fd;
    // A new session: the component outlives this command and ignores its terminal's signals.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if let Some(fd) = netns {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(fd) = keep {
                // Clear close-on-exec in the child only.
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
    Ok(child.id())
}

/// Whether `pid` is alive and still runs `bin` (PIDs get reused).
pub fn alive(pid: u32, bin: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie (state Z) has exited.
    let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
    !zombie && String::from_utf8_lossy(argv0).ends_with(bin)
}

/// SIGTERM, wait up to `grace`, then SIGKILL. Only if the PID still runs `bin`.
pub fn stop(pid: u32, bin: &str, grace: Duration) {
    if !alive(pid, bin) {
        return;
    }
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        reap(pid);
        if !alive(pid, bin) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(100));
    reap(pid);
}

fn reap(pid: u32) {
    let mut status = 0;
    unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
}

/// The resident set size of `pid`, in KiB (0 when gone).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `pid` and every process below it (parents read from /proc/*/stat).
pub fn tree(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // After "(comm)": state, then ppid.
            let ppid = stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        all.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    all
}

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// GETs `path` from `addr` inside network namespace `netns` (None: this
/// one); the HTTP status code if it answered.
pub fn http_get(netns: Option<&str>, addr: SocketAddr, path: &str) -> Option<u16> {
    let path = path.to_string();
    crate::netns::run_in(netns, move || get(addr, &path)).ok().flatten()
}

fn get(addr: SocketAddr, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `bin args` to completion (placed like `spawn`), logging to `log`; whether it succeeded.
pub fn run(bin: &Path, args: &[String], log: &Path, place: &Placement) -> anyhow::Result<bool> {
    let out = File::options().create(true).append(true).open(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(bin);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    if let Some(fd) = place.netns.map(|f| f.as_raw_fd()) {
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    Ok(cmd.status().with_context(|| format!("running {}", bin.display()))?.success())
}

/// Mount points at or below `dir` in this mount namespace, in mount order.
pub fn mounts_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        // mountinfo escapes space, tab, newline and backslash as octal.
        .map(|p| std::path::PathBuf::from(p.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")))
        .filter(|p| p.starts_with(dir))
        .collect()
}
