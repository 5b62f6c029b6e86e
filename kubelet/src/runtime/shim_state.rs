//! The shim's state file: the one channel from a (possibly detached) shim to the
//! kubelet. Written atomically (temp file + rename) so a reader never sees half.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ShimStatus {
    /// The container's init process is alive.
    Running,
    /// The init process exited; exit fields are set.
    Exited,
    /// Creating or starting the container failed; `error` says why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShimState {
    pub status: ShimStatus,
    /// PID of the shim daemon (parent and subreaper of the container).
    pub shim_pid: i32,
    /// Start time of the shim in clock ticks since boot (field 22 of /proc/pid/stat):
    /// together with the pid it identifies the shim across kubelet restarts.
    pub shim_start_ticks: u64,
    /// Host PID of the container's init process (0 if it never started).
    pub pid: i32,
    /// RFC 3339 with nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Exit code as Kubernetes reports it: the code, or 128+signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ShimState {
    pub fn load(path: &Path) -> std::io::Result<ShimState> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("state serializes"))?;
        std::fs::rename(&tmp, path)
    }
}

/// A pod's sandbox: its pause process (`kubelet-shim sandbox`), whose namespaces
/// the pod's containers join. `<pod-dir>/sandbox.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxState {
    pub pid: i32,
    /// With the pid, identifies the pause process across kubelet restarts.
    pub start_ticks: u64,
    /// The namespaces it holds: net, ipc, uts, pid.
    pub namespaces: Vec<String>,
}

impl SandboxState {
    pub fn load(path: &Path) -> std::io::Result<SandboxState> {
        serde_json::from_slice(&std::fs::read(path)?).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("state serializes"))?;
        std::fs::rename(&tmp, path)
    }

    /// Is the pause process still the one recorded?
    pub fn alive(&self) -> bool {
        self.pid > 0 && process_start_ticks(self.pid) == Some(self.start_ticks)
    }

    /// Path of one of its namespaces, e.g. `/proc/<pid>/ns/net`.
    pub fn ns_path(&self, kind: &str) -> Option<std::path::PathBuf> {
        self.namespaces.iter().any(|k| k == kind).then(|| format!("/proc/{}/ns/{kind}", self.pid).into())
    }
}

/// RFC 3339 timestamp with nanoseconds, as CRI logs and Kubernetes status use.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Start time of a process in clock ticks since boot, or None if it is gone
/// (zombies count as gone: they wait only for their parent to reap them).
pub fn process_start_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    if rest.starts_with(['Z', 'X']) {
        return None;
    }
    // `rest` starts at field 3 (state); starttime is field 22.
    rest.split(' ').nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let s = ShimState {
            status: ShimStatus::Exited,
            shim_pid: 7,
            shim_start_ticks: 9,
            pid: 8,
            started_at: Some(now_rfc3339()),
            finished_at: None,
            exit_code: Some(137),
            signal: Some(9),
            oom_killed: true,
            error: None,
        };
        s.save(&p).unwrap();
        assert_eq!(ShimState::load(&p).unwrap(), s);
    }

    #[test]
    fn start_ticks_of_self() {
        let me = std::process::id() as i32;
        assert!(process_start_ticks(me).is_some());
        assert_eq!(process_start_ticks(me), process_start_ticks(me));
    }

    fn parsed(wait_status: i32, oom: bool) -> ShimState {
        let e = kubelet_monitor::ExitedState {
            shim_pid: 7,
            shim_start_ticks: 9,
            pid: 8,
            started_at: "2024-05-01T12:00:00.000000001Z",
            finished_at: "2024-05-01T12:00:01.5Z",
            wait_status,
            oom_killed: oom,
        };
        serde_json::from_str(&e.to_json()).unwrap()
    }

    #[test]
    fn monitor_exit_state_reads_as_shim_state() {
        // The monitor writes this JSON by hand (it has no serde): keep the two in step.
        // exit(3): wait status 3 << 8.
        let s = parsed(3 << 8, false);
        assert_eq!(
            s,
            ShimState {
                status: ShimStatus::Exited,
                shim_pid: 7,
                shim_start_ticks: 9,
                pid: 8,
                started_at: Some("2024-05-01T12:00:00.000000001Z".into()),
                finished_at: Some("2024-05-01T12:00:01.5Z".into()),
                exit_code: Some(3),
                signal: None,
                oom_killed: false,
                error: None,
            }
        );
        // Killed by SIGKILL: wait status 9.
        let s = parsed(libc::SIGKILL, true);
        assert_eq!((s.exit_code, s.signal, s.oom_killed), (Some(137), Some(9), true));
    }
}
