//! The state file the monitor leaves for the kubelet, and its timestamps.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The final state file of a container, in `ShimState`'s JSON form (written here
/// by hand to keep serde out of the monitor; a unit test holds the two together).
pub struct ExitedState<'a> {
    pub shim_pid: i32,
    pub shim_start_ticks: u64,
    pub pid: i32,
    pub started_at: &'a str,
    pub finished_at: &'a str,
    /// Wait status of init as waitpid returned it.
    pub wait_status: i32,
    pub oom_killed: bool,
}

impl ExitedState<'_> {
    pub fn to_json(&self) -> String {
        let st = self.wait_status;
        let (code, signal) = if libc::WIFSIGNALED(st) {
            (128 + libc::WTERMSIG(st), Some(libc::WTERMSIG(st)))
        } else {
            (libc::WEXITSTATUS(st), None)
        };
        let mut s = format!(
            "{{\"status\":\"exited\",\"shimPid\":{},\"shimStartTicks\":{},\"pid\":{}",
            self.shim_pid, self.shim_start_ticks, self.pid
        );
        // Timestamps are ours (digits, '-', ':', '.', 'T', 'Z'): no escaping needed.
        for (k, v) in [("startedAt", self.started_at), ("finishedAt", self.finished_at)] {
            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-:.+".contains(&b)) {
                s.push_str(&format!(",\"{k}\":\"{v}\""));
            }
        }
        s.push_str(&format!(",\"exitCode\":{code}"));
        if let Some(sig) = signal {
            s.push_str(&format!(",\"signal\":{sig}"));
        }
        s.push_str(&format!(",\"oomKilled\":{}}}", self.oom_killed));
        s
    }
}

/// Temp file + rename, so a reader never sees half a state file.
pub(crate) fn save_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// RFC 3339 in UTC with nanoseconds (`2024-05-01T12:00:00.000000001Z`), the form of
/// CRI log lines and of the state file's times.
pub fn rfc3339_nanos(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        d.subsec_nanos()
    )
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_match_chrono() {
        for secs in [0u64, 951_782_400, 1_709_164_800, 1_735_689_599, 4_102_444_800] {
            for nanos in [0u32, 1, 999_999_999] {
                let t = UNIX_EPOCH + Duration::new(secs, nanos);
                let c: chrono::DateTime<chrono::Utc> = t.into();
                assert_eq!(rfc3339_nanos(t), c.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
            }
        }
    }
}
