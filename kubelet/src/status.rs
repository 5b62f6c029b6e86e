//! Pod status as upstream computes it: per-container states, phase, conditions.
//! Built as JSON (the wire form) and compared with the last one sent, so the
//! apiserver only sees a patch when something changed.

use crate::runtime::manager::Attempt;
use crate::runtime::shim_state::ShimStatus;
use serde_json::{json, Value};

/// What the worker knows about one container beyond its attempts on disk.
#[derive(Debug, Clone, Default)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub attempts: Vec<Attempt>,
    /// Set when the container is not running for a reason we chose
    /// (ContainerCreating, CrashLoopBackOff, ErrImagePull, ...).
    pub waiting: Option<Waiting>,
    pub container_id_prefix: String,
    /// Termination messages of finished attempts (by attempt number).
    pub messages: std::collections::HashMap<u32, String>,
}

fn terminated(a: &Attempt, cid: &str, message: Option<&String>) -> Option<Value> {
    let s = a.state.as_ref()?;
    let mut t = terminated_state(a, s, cid)?;
    if let Some(m) = message {
        t["terminated"]["message"] = json!(m);
    }
    Some(t)
}

fn terminated_state(a: &Attempt, s: &crate::runtime::shim_state::ShimState, cid: &str) -> Option<Value> {
    match s.status {
        ShimStatus::Exited => {
            let code = s.exit_code.unwrap_or(0);
            let reason = if s.oom_killed {
                "OOMKilled"
            } else if code == 0 {
                "Completed"
            } else {
                "Error"
            };
            Some(json!({"terminated": {
                "exitCode": code,
                "signal": s.signal,
                "reason": reason,
                "startedAt": s.started_at.as_deref().map(trim_secs),
                "finishedAt": s.finished_at.as_deref().map(trim_secs),
                "containerID": format!("{cid}-{}", a.n),
            }}))
        }
        ShimStatus::Failed => Some(json!({"terminated": {
            "exitCode": 128,
            "reason": "StartError",
            "message": s.error,
            "containerID": format!("{cid}-{}", a.n),
        }})),
        ShimStatus::Running => None,
    }
}

/// Status times are whole seconds upstream (metav1.Time).
pub fn trim_secs(ts: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Err(_) => ts.to_string(),
    }
}

pub fn now_secs() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl ContainerView {
    pub fn latest(&self) -> Option<&Attempt> {
        self.attempts.last()
    }
    pub fn running(&self) -> bool {
        self.latest().map(|a| a.running()).unwrap_or(false)
    }
    pub fn exit_code(&self) -> Option<i32> {
        let s = self.latest()?.state.as_ref()?;
        match s.status {
            ShimStatus::Exited => s.exit_code,
            ShimStatus::Failed => Some(128),
            ShimStatus::Running => None,
        }
    }

    /// `ready` and `started` as the probes say (both only while running).
    pub fn status(&self, ready: bool, started: bool) -> Value {
        let cid = self.container_id_prefix.clone();
        let restart_count = self.latest().map(|a| a.n).unwrap_or(0);
        let (state, last) = match (self.latest(), &self.waiting) {
            (Some(a), None) if a.running() => (
                json!({"running": {"startedAt": a.state.as_ref().and_then(|s| s.started_at.as_deref()).map(trim_secs)}}),
                self.attempts.len().checked_sub(2).and_then(|i| terminated(&self.attempts[i], &cid, self.messages.get(&self.attempts[i].n))),
            ),
            (Some(a), None) => (terminated(a, &cid, self.messages.get(&a.n)).unwrap_or(json!({"waiting": {"reason": "ContainerCreating"}})), None),
            (latest, Some(w)) => {
                let mut wv = json!({"reason": w.reason});
                if !w.message.is_empty() {
                    wv["message"] = json!(w.message);
                }
                (json!({"waiting": wv}), latest.and_then(|a| terminated(a, &cid, self.messages.get(&a.n))))
            }
            (None, None) => (json!({"waiting": {"reason": "ContainerCreating"}}), None),
        };
        let mut v = json!({
            "name": self.name,
            "state": state,
            "lastState": last.unwrap_or(json!({})),
            "ready": ready && self.running(),
            "restartCount": restart_count,
            "image": self.image,
            "imageID": self.image_id,
            "started": started && self.running(),
        });
        if let Some(a) = self.latest().filter(|a| a.state.is_some()) {
            v["containerID"] = json!(format!("{cid}-{}", a.n));
        }
        v
    }
}

/// Upstream's getPhase over regular containers (after init containers finished).
pub fn phase(restart_policy: &str, init_done: bool, init_failed: bool, containers: &[ContainerView]) -> &'static str {
    if init_failed {
        return "Failed";
    }
    if !init_done {
        return "Pending";
    }
    let (mut running, mut waiting, mut failed, mut unknown) = (0, 0, 0, 0);
    for c in containers {
        if c.running() {
            running += 1;
        } else if c.waiting.is_some() {
            // Waiting to start for the first time, or to restart.
            if c.latest().is_some() {
                running += 1;
            } else {
                waiting += 1;
            }
        } else {
            match c.exit_code() {
                Some(0) => {}
                Some(_) => failed += 1,
                None => unknown += 1,
            }
        }
    }
    if waiting > 0 || unknown > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    match restart_policy {
        "Always" => "Running",
        "OnFailure" if failed > 0 => "Running",
        "Never" if failed > 0 => "Failed",
        _ => "Succeeded",
    }
}

/// A condition, keeping the previous lastTransitionTime when the status did not change.
pub fn condition(prev: &Value, ty: &str, ok: bool, reason: Option<&str>) -> Value {
    let status = if ok { "True" } else { "False" };
    let old = prev["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == ty));
    let since = match old {
        Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
        _ => json!(now_secs()),
    };
    let mut c = json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    c
}
