//! Container lifecycle as upstream's kuberuntime: postStart and preStop hooks
//! (exec and httpGet, with FailedPostStartHook / FailedPreStopHook events and
//! upstream's messages), killing a container within its grace period (preStop
//! first, then SIGTERM, then SIGKILL), and the termination message.

use crate::context::Kubelet;
use crate::probes::actions::{self, NetTarget, Outcome};
use crate::runtime::shim_state::ShimState;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};
use std::path::Path;
use std::time::{Duration, Instant};

/// Upstream's minimum grace for the stop that follows a preStop hook.
const MIN_GRACE: Duration = Duration::from_secs(2);

/// Run one hook handler; Err is upstream's event message.
async fn run_hook(kl: &Kubelet, pod: &Pod, c: &Container, h: &LifecycleHandler, net: &NetTarget, init_pid: i32, limit: Duration) -> Result<(), String> {
    let who = format!("for Container {:?} in Pod {:?}", c.name, crate::events::format_pod(pod));
    if let Some(e) = &h.exec {
        let cmd = e.command.clone().unwrap_or_default();
        let shown = format!("[{}]", cmd.join(" "));
        // upstream: CRI ExecSync's "command '<cmd>' exited with <code>: <stderr>"
        // (stdout and stderr arrive combined here, so the stderr part is empty)
        // and the output as the message.
        return match actions::run_in_container(&kl.runtime.shim, init_pid, &cmd, limit).await {
            Ok((_, actions::Exited::Code(0))) => Ok(()),
            Ok((out, actions::Exited::Code(code))) => {
                Err(format!("Exec lifecycle hook ({shown}) {who} failed - error: command '{}' exited with {code}: , message: {out:?}", cmd.join(" ")))
            }
            Ok((out, actions::Exited::Timeout)) => Err(format!(
                "Exec lifecycle hook ({shown}) {who} failed - error: command '{}' timed out after {}, message: {out:?}",
                cmd.join(" "),
                crate::events::go_duration(limit)
            )),
            Err(e) => Err(format!("Exec lifecycle hook ({shown}) {who} failed - error: {e}, message: \"\"")),
        };
    }
    if let Some(g) = &h.http_get {
        let path = g.path.clone().unwrap_or_default();
        return match actions::http(net, c, g, limit).await {
            Outcome::Success(_) => Ok(()),
            Outcome::Failure(e) | Outcome::Error(e) => Err(format!("HTTP lifecycle hook ({path}) {who} failed - error: {e}, message: \"\"")),
        };
    }
    if let Some(s) = &h.sleep {
        tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64).min(limit)).await;
        return Ok(());
    }
    Err(format!("Lifecycle hook {who} has no supported handler (tcpSocket hooks are deprecated and not run)"))
}

/// Run the postStart hook of a just started container. Err: the event message;
/// the caller kills the container (upstream's PostStartHookError).
pub async fn post_start(kl: &Kubelet, pod: &Pod, c: &Container, net: &NetTarget, init_pid: i32) -> Result<(), String> {
    let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else { return Ok(()) };
    let r = run_hook(kl, pod, c, h, net, init_pid, Duration::from_secs(300)).await;
    if let Err(msg) = &r {
        kl.events.hook_failed(pod, &c.name, "FailedPostStartHook", msg);
    }
    r
}

/// Stop one running container as upstream's killContainer: its preStop hook,
/// bounded by the grace period, then SIGTERM with what is left of it (at least
/// 2 s after a hook), then SIGKILL.
pub async fn kill(kl: &Kubelet, pod: &Pod, c: Option<&Container>, s: &ShimState, net: &NetTarget, grace: Duration) {
    let started = Instant::now();
    let mut grace = grace;
    if let Some(h) = c.and_then(|c| c.lifecycle.as_ref()).and_then(|l| l.pre_stop.as_ref()) {
        let c = c.unwrap();
        match tokio::time::timeout(grace, run_hook(kl, pod, c, h, net, s.pid, grace)).await {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => kl.events.hook_failed(pod, &c.name, "FailedPreStopHook", &msg),
            Err(_) => {
                let msg = format!("PreStopHook failed to complete within {}", crate::events::go_duration(grace));
                kl.events.hook_failed(pod, &c.name, "FailedPreStopHook", &msg);
            }
        }
        grace = grace.saturating_sub(started.elapsed()).max(MIN_GRACE);
    }
    kl.runtime.stop(s, grace).await;
}

/// Upstream caps a termination message at 4096 bytes, a log fallback at 80
/// lines / 2048 bytes.
const MAX_MESSAGE: usize = 4096;
const FALLBACK_LINES: usize = 80;
const FALLBACK_BYTES: usize = 2048;

/// The message of a finished attempt: the termination-log file, else (policy
/// FallbackToLogsOnError and a failure) the tail of its log.
pub fn termination_message(c: &Container, file: &Path, log: &Path, exit_code: Option<i32>) -> Option<String> {
    if let Ok(b) = std::fs::read(file) {
        if !b.is_empty() {
            return Some(String::from_utf8_lossy(&b[..b.len().min(MAX_MESSAGE)]).to_string());
        }
    }
    let fallback = c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError");
    if !fallback || exit_code == Some(0) {
        return None;
    }
    let text = std::fs::read_to_string(log).ok()?;
    let mut out = String::new();
    for line in text.lines() {
        if let Some((_, _, partial, content)) = crate::runtime::cri_log::parse_line(line) {
            out.push_str(content);
            if !partial {
                out.push('\n');
            }
        }
    }
    let lines: Vec<&str> = out.lines().collect();
    let mut tail = lines[lines.len().saturating_sub(FALLBACK_LINES)..].join("\n");
    if out.ends_with('\n') && !tail.is_empty() {
        tail.push('\n');
    }
    if tail.len() > FALLBACK_BYTES {
        let mut cut = tail.len() - FALLBACK_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail = tail[cut..].to_string();
    }
    (!tail.is_empty()).then_some(tail)
}
