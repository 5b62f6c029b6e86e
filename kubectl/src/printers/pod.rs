//! The pod row: READY, STATUS (with upstream's reasons), RESTARTS, and the
//! wide IP/NODE/NOMINATED NODE/READINESS GATES columns (printers.go printPod).

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::Value;

use api::duration::human_duration;

pub const HEADERS: &[&str] = &["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
pub const WIDE: &[&str] = &["IP", "NODE", "NOMINATED NODE", "READINESS GATES"];

fn restartable(c: Option<&Container>) -> bool {
    c.and_then(|c| c.restart_policy.as_deref()) == Some("Always")
}

/// k8s-openapi's Time as a chrono time (through its RFC 3339 form).
fn time_of(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Option<DateTime<Utc>> {
    serde_json::to_value(t).ok().and_then(|v| v.as_str().and_then(crate::printers::age::parse_time))
}

fn since(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    human_duration((now - t).num_seconds())
}

/// Cells after NAME: READY, STATUS, RESTARTS, AGE (+ wide).
pub fn cells(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let pod: Pod = serde_json::from_value(v.clone()).unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let meta = &pod.metadata;

    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut total = spec.containers.len();
    let mut ready = 0;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_restartable_restart: Option<DateTime<Utc>> = None;

    let phase = status.phase.clone().unwrap_or_default();
    let mut reason = phase.clone();
    if let Some(r) = status.reason.clone().filter(|r| !r.is_empty()) {
        reason = r;
    }
    let conditions = status.conditions.clone().unwrap_or_default();
    if conditions.iter().any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated")) {
        reason = "SchedulingGated".into();
    }

    let init_specs = spec.init_containers.clone().unwrap_or_default();
    total += init_specs.iter().filter(|c| restartable(Some(c))).count();
    let init_spec = |name: &str| init_specs.iter().find(|c| c.name == name);

    let later = |cur: Option<DateTime<Utc>>, t: Option<DateTime<Utc>>| match (cur, t) {
        (Some(a), Some(b)) if b > a => Some(b),
        (None, Some(b)) => Some(b),
        (a, _) => a,
    };

    let mut initializing = false;
    let init_statuses = status.init_container_statuses.clone().unwrap_or_default();
    for (i, c) in init_statuses.iter().enumerate() {
        restarts += c.restart_count as i64;
        let last_term = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()).and_then(|t| t.finished_at.as_ref()).and_then(time_of);
        last_restart = later(last_restart, last_term);
        let is_restartable = restartable(init_spec(&c.name));
        if is_restartable {
            restartable_restarts += c.restart_count as i64;
            last_restartable_restart = later(last_restartable_restart, last_term);
        }
        let state = c.state.clone().unwrap_or_default();
        if let Some(t) = state.terminated.as_ref().filter(|t| t.exit_code == 0) {
            let _ = t;
            continue;
        }
        if is_restartable && c.started == Some(true) {
            if c.ready {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = &state.terminated {
            reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None if t.signal.unwrap_or(0) != 0 => format!("Init:Signal:{}", t.signal.unwrap_or(0)),
                None => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(r) =
            state.waiting.as_ref().and_then(|w| w.reason.clone()).filter(|r| !r.is_empty() && r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{}/{}", i, init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions.iter().any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        let statuses = status.container_statuses.clone().unwrap_or_default();
        for c in statuses.iter().rev() {
            restarts += c.restart_count as i64;
            let last_term =
                c.last_state.as_ref().and_then(|s| s.terminated.as_ref()).and_then(|t| t.finished_at.as_ref()).and_then(time_of);
            last_restart = later(last_restart, last_term);
            let state = c.state.clone().unwrap_or_default();
            let waiting_reason = state.waiting.as_ref().and_then(|w| w.reason.clone()).filter(|r| !r.is_empty());
            if let Some(r) = waiting_reason {
                reason = r;
            } else if let Some(t) = &state.terminated {
                reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_string(),
                    None if t.signal.unwrap_or(0) != 0 => format!("Signal:{}", t.signal.unwrap_or(0)),
                    None => format!("ExitCode:{}", t.exit_code),
                };
            } else if c.ready && state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if pod_ready { "Running".into() } else { "NotReady".into() };
        }
    }

    let terminal = phase == "Succeeded" || phase == "Failed";
    if meta.deletion_timestamp.is_some() && status.reason.as_deref() == Some("NodeLost") {
        reason = "Unknown".into();
    } else if meta.deletion_timestamp.is_some() && !terminal {
        reason = "Terminating".into();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(t, now)),
        _ => restarts.to_string(),
    };
    let age = crate::printers::age::age_at(v.pointer("/metadata/creationTimestamp").and_then(Value::as_str), now);
    let mut cells = vec![format!("{ready}/{total}"), reason, restarts_str, age];
    if wide {
        let none = |s: Option<String>| s.filter(|s| !s.is_empty()).unwrap_or_else(|| "<none>".into());
        let ip = status.pod_ips.as_ref().and_then(|ips| ips.first()).map(|p| p.ip.clone());
        let gates = spec.readiness_gates.clone().unwrap_or_default();
        let gates_str = if gates.is_empty() {
            "<none>".to_string()
        } else {
            let t = gates
                .iter()
                .filter(|g| conditions.iter().find(|c| c.type_ == g.condition_type).is_some_and(|c| c.status == "True"))
                .count();
            format!("{t}/{}", gates.len())
        };
        cells.extend([none(ip), none(spec.node_name.clone()), none(status.nominated_node_name.clone()), gates_str]);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        crate::printers::age::parse_time("2024-01-01T00:10:00Z").unwrap()
    }

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "p", "creationTimestamp": "2024-01-01T00:00:00Z"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}, "status": status})
    }

    #[test]
    fn statuses_like_upstream() {
        let c = |s: Value| cells(&pod(s), false, now());
        assert_eq!(c(json!({"phase": "Pending"})), ["0/1", "Pending", "0", "10m"]);
        assert_eq!(
            c(json!({"phase": "Pending", "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]})),
            ["0/1", "ContainerCreating", "0", "10m"]
        );
        assert_eq!(
            c(json!({"phase": "Running", "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": true, "restartCount": 0,
                "state": {"running": {"startedAt": "2024-01-01T00:00:01Z"}}}]})),
            ["1/1", "Running", "0", "10m"]
        );
        assert_eq!(
            c(json!({"phase": "Running", "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-01-01T00:08:00Z"}}}]})),
            ["0/1", "CrashLoopBackOff", "4 (2m ago)", "10m"]
        );
        assert_eq!(
            c(json!({"phase": "Succeeded", "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})),
            ["0/1", "Completed", "0", "10m"]
        );
        assert_eq!(
            c(json!({"phase": "Running", "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 1,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})),
            ["0/1", "OOMKilled", "1", "10m"]
        );
    }

    #[test]
    fn terminating_and_init_and_wide() {
        let mut p = pod(json!({"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}));
        p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:09:00Z");
        p["spec"]["nodeName"] = json!("node-1");
        assert_eq!(cells(&p, true, now()), ["0/1", "Terminating", "0", "10m", "10.0.0.5", "node-1", "<none>", "<none>"]);
        let mut p = pod(json!({"phase": "Pending", "initContainerStatuses": [{"name": "i", "image": "b", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"running": {}}}]}));
        p["spec"]["initContainers"] = json!([{"name": "i", "image": "b"}]);
        assert_eq!(cells(&p, false, now())[1], "Init:0/1");
    }
}
