//! `kubelet-monitor`: the long-lived half of a container's shim, in a binary of its
//! own. `kubelet-shim start` creates and starts the container with libcontainer, then
//! execs this (execve keeps the children, the subreaper flag and the pipes). This
//! crate depends on libc alone (no libcontainer, tokio, serde or chrono), so one
//! monitor per container costs little more than libc's pages. The kubelet uses it
//! as a library for the shared pieces: the arguments, the CRI log format and the
//! state file the monitor writes.
//!
//! The monitor copies the container's stdout/stderr into a CRI-format log, forwards
//! kill requests (SIGTERM to it = SIGTERM to the container's init; SIGUSR1 = SIGKILL
//! to every process of the container's cgroup), reaps as the container's subreaper,
//! and when init is gone removes the container's cgroups and libcontainer state
//! directory (what libcontainer's delete does for a stopped container without
//! hooks), then records the exit status and OOM kills in the state file.
//!
//! `kubelet-monitor pause` is a pod's sandbox process (upstream's pause): it holds
//! the pod's network, IPC and UTS namespaces (and with shareProcessNamespace is
//! PID 1 of the pod's PID namespace), reaping orphans until told to stop.

pub mod cri_log;
mod monitor;
mod pause;
mod state;

pub use state::{rfc3339_nanos, ExitedState};
use std::os::fd::RawFd;
use std::path::PathBuf;

/// File name of the monitor binary (kubelet-shim writes it out as `<name>-<content id>`).
pub const BINARY: &str = "kubelet-monitor";

/// Everything the shim hands over to the monitor (as command-line arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorArgs {
    /// libcontainer's container ID and state root (`<root>/<id>` is removed at the end).
    pub id: String,
    pub lc_root: PathBuf,
    pub state_file: PathBuf,
    pub log_file: PathBuf,
    /// Host PID of the container's init process.
    pub init: i32,
    /// The container's cgroup, relative to each hierarchy's root (linux.cgroupsPath).
    pub cgroup: String,
    /// Start time of the shim process (it keeps its PID across the exec).
    pub shim_start_ticks: u64,
    pub started_at: String,
    /// Inherited fds: the shim's answer pipe, and the container's stdout and stderr.
    pub ready_fd: RawFd,
    pub out_fd: RawFd,
    pub err_fd: RawFd,
}

impl MonitorArgs {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "monitor".into(),
            self.id.clone(),
            self.lc_root.display().to_string(),
            self.state_file.display().to_string(),
            self.log_file.display().to_string(),
            self.init.to_string(),
            self.cgroup.clone(),
            self.shim_start_ticks.to_string(),
            self.started_at.clone(),
            self.ready_fd.to_string(),
            self.out_fd.to_string(),
            self.err_fd.to_string(),
        ]
    }

    /// Parses what `to_args` wrote, without the leading `monitor`.
    pub fn parse(a: &[String]) -> Result<MonitorArgs, String> {
        if a.len() != 11 {
            return Err(format!("monitor: expected 11 arguments, got {}", a.len()));
        }
        let num = |i: usize, what: &str| a[i].parse::<i64>().map_err(|_| format!("monitor: {what} must be a number, got {:?}", a[i]));
        Ok(MonitorArgs {
            id: a[0].clone(),
            lc_root: a[1].clone().into(),
            state_file: a[2].clone().into(),
            log_file: a[3].clone().into(),
            init: num(4, "init pid")? as i32,
            cgroup: a[5].clone(),
            shim_start_ticks: num(6, "shim start ticks")? as u64,
            started_at: a[7].clone(),
            ready_fd: num(8, "ready fd")? as RawFd,
            out_fd: num(9, "stdout fd")? as RawFd,
            err_fd: num(10, "stderr fd")? as RawFd,
        })
    }
}

/// Entry point of the `kubelet-monitor` binary.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("monitor") => match MonitorArgs::parse(&args[2..]) {
            Ok(m) => monitor::run(m),
            Err(e) => {
                eprintln!("{e}");
                2
            }
        },
        Some("pause") if args.len() == 2 => pause::run(),
        _ => {
            eprintln!("usage: kubelet-monitor monitor ... (started by kubelet-shim start) | kubelet-monitor pause");
            2
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_round_trip() {
        let a = MonitorArgs {
            id: "uid-c-0".into(),
            lc_root: "/r/libcontainer".into(),
            state_file: "/r/state.json".into(),
            log_file: "/l/0.log".into(),
            init: 42,
            cgroup: "/kubepods/besteffort/poduid/uid-c-0".into(),
            shim_start_ticks: 123_456,
            started_at: "2024-05-01T12:00:00.000000001Z".into(),
            ready_fd: 3,
            out_fd: 4,
            err_fd: 5,
        };
        assert_eq!(MonitorArgs::parse(&a.to_args()[1..]), Ok(a));
        assert!(MonitorArgs::parse(&["x".to_string()]).unwrap_err().contains("expected 11 arguments"));
    }
}
