//! Deployments, replica sets, replication controllers, stateful sets,
//! daemon sets, jobs and cron jobs, with their pod template.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::pod::{containers, tolerations, volumes};
use super::{annotations, controller, events, labels, rfc1123z, Evs, W};
use crate::printers::kinds::selector_string;
use crate::util::{arr, format_labels, i, s};

/// DescribePodTemplate.
pub fn pod_template(w: &mut W, t: &Value) {
    w.w(0, "Pod Template:\n");
    labels(w, "  Labels", t.pointer("/metadata/labels"));
    if t.pointer("/metadata/annotations").and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
        annotations(w, "  Annotations", t.pointer("/metadata/annotations"));
    }
    if !s(t, "/spec/serviceAccountName").is_empty() {
        w.w(1, &format!("Service Account:\t{}\n", s(t, "/spec/serviceAccountName")));
    }
    let inits = arr(t, "/spec/initContainers");
    if !inits.is_empty() {
        containers(w, "Init Containers", inits, &[], "  ");
    }
    containers(w, "Containers", arr(t, "/spec/containers"), &[], "  ");
    volumes(w, arr(t, "/spec/volumes"), "  ");
    if !s(t, "/spec/priorityClassName").is_empty() {
        w.w(1, &format!("Priority Class Name:\t{}\n", s(t, "/spec/priorityClassName")));
    }
    labels(w, "  Node-Selectors", t.pointer("/spec/nodeSelector"));
    tolerations(w, "  Tolerations", arr(t, "/spec/tolerations"));
}

fn selector(v: &Value) -> String {
    match selector_string(v.pointer("/spec/selector")).as_str() {
        "<none>" => String::new(),
        x => x.to_string(),
    }
}

fn int_or_string(v: Option<&Value>, default: &str) -> String {
    match v {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => default.to_string(),
    }
}

fn conditions_with_reason(w: &mut W, v: &Value) {
    let conds = arr(v, "/status/conditions");
    if !conds.is_empty() {
        w.w(0, "Conditions:\n  Type\tStatus\tReason\n");
        w.w(1, "----\t------\t------\n");
        for c in conds {
            w.w(1, &format!("{} \t{}\t{}\n", s(c, "/type"), s(c, "/status"), s(c, "/reason")));
        }
    }
}

fn rs_list(rss: &[&Value]) -> String {
    if rss.is_empty() {
        return "<none>".into();
    }
    rss.iter()
        .map(|r| format!("{} ({}/{} replicas created)", crate::util::name(r), i(r, "/status/replicas"), i(r, "/spec/replicas")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `owned`: the replica sets this deployment controls.
pub fn deployment(d: &Value, owned: &[Value], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(d)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(d)));
    w.w(0, &format!("CreationTimestamp:\t{}\n", rfc1123z(s(d, "/metadata/creationTimestamp"))));
    labels(&mut w, "Labels", d.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", d.pointer("/metadata/annotations"));
    w.w(0, &format!("Selector:\t{}\n", selector(d)));
    w.w(
        0,
        &format!(
            "Replicas:\t{} desired | {} updated | {} total | {} available | {} unavailable\n",
            i(d, "/spec/replicas"),
            i(d, "/status/updatedReplicas"),
            i(d, "/status/replicas"),
            i(d, "/status/availableReplicas"),
            i(d, "/status/unavailableReplicas")
        ),
    );
    w.w(0, &format!("StrategyType:\t{}\n", s(d, "/spec/strategy/type")));
    w.w(0, &format!("MinReadySeconds:\t{}\n", i(d, "/spec/minReadySeconds")));
    if let Some(ru) = d.pointer("/spec/strategy/rollingUpdate").filter(|x| !x.is_null()) {
        w.w(
            0,
            &format!(
                "RollingUpdateStrategy:\t{} max unavailable, {} max surge\n",
                int_or_string(ru.get("maxUnavailable"), "25%"),
                int_or_string(ru.get("maxSurge"), "25%")
            ),
        );
    }
    pod_template(&mut w, d.pointer("/spec/template").unwrap_or(&Value::Null));
    conditions_with_reason(&mut w, d);
    if !owned.is_empty() {
        // The new RS has the Deployment's template (FindNewReplicaSet: the oldest such).
        let without_hash = |t: Option<&Value>| {
            let mut t = t.cloned().unwrap_or(Value::Null);
            if let Some(l) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
                l.remove("pod-template-hash");
            }
            t
        };
        let template = without_hash(d.pointer("/spec/template"));
        let mut candidates: Vec<&Value> = owned.iter().filter(|r| without_hash(r.pointer("/spec/template")) == template).collect();
        candidates.sort_by_key(|r| (s(r, "/metadata/creationTimestamp").to_string(), crate::util::name(r).to_string()));
        let newest = candidates.first().copied();
        let new: Vec<&Value> = newest.into_iter().collect();
        let old: Vec<&Value> = owned.iter().filter(|r| Some(*r) != newest && i(r, "/spec/replicas") > 0).collect();
        w.w(0, &format!("OldReplicaSets:\t{}\n", rs_list(&old)));
        w.w(0, &format!("NewReplicaSet:\t{}\n", rs_list(&new)));
    }
    events(&mut w, evs, now);
    w.finish()
}

/// Pod phase counts: (running, waiting, succeeded, failed).
pub fn pod_counts(pods: &[Value]) -> (usize, usize, usize, usize) {
    let c = |p: &str| pods.iter().filter(|x| s(x, "/status/phase") == p).count();
    (c("Running"), c("Pending"), c("Succeeded"), c("Failed"))
}

pub fn replicaset(rs: &Value, pods: &[Value], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(rs)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(rs)));
    w.w(0, &format!("Selector:\t{}\n", selector(rs)));
    labels(&mut w, "Labels", rs.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", rs.pointer("/metadata/annotations"));
    if let Some(c) = controller(rs) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    w.w(0, &format!("Replicas:\t{} current / {} desired\n", i(rs, "/status/replicas"), i(rs, "/spec/replicas")));
    let (r, wt, sc, f) = pod_counts(pods);
    w.w(0, &format!("Pods Status:\t{r} Running / {wt} Waiting / {sc} Succeeded / {f} Failed\n"));
    pod_template(&mut w, rs.pointer("/spec/template").unwrap_or(&Value::Null));
    conditions_with_reason(&mut w, rs);
    events(&mut w, evs, now);
    w.finish()
}

/// Upstream's describeReplicationController.
pub fn replicationcontroller(rc: &Value, pods: &[Value], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(rc)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(rc)));
    w.w(0, &format!("Selector:\t{}\n", format_labels(rc.pointer("/spec/selector"))));
    labels(&mut w, "Labels", rc.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", rc.pointer("/metadata/annotations"));
    w.w(0, &format!("Replicas:\t{} current / {} desired\n", i(rc, "/status/replicas"), i(rc, "/spec/replicas")));
    let (r, wt, sc, f) = pod_counts(pods);
    w.w(0, &format!("Pods Status:\t{r} Running / {wt} Waiting / {sc} Succeeded / {f} Failed\n"));
    pod_template(&mut w, rc.pointer("/spec/template").unwrap_or(&Value::Null));
    conditions_with_reason(&mut w, rc);
    events(&mut w, evs, now);
    w.finish()
}

pub fn statefulset(ss: &Value, pods: &[Value], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(ss)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(ss)));
    w.w(0, &format!("CreationTimestamp:\t{}\n", rfc1123z(s(ss, "/metadata/creationTimestamp"))));
    w.w(0, &format!("Selector:\t{}\n", selector(ss)));
    labels(&mut w, "Labels", ss.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", ss.pointer("/metadata/annotations"));
    w.w(0, &format!("Replicas:\t{} desired | {} total\n", i(ss, "/spec/replicas"), i(ss, "/status/replicas")));
    w.w(0, &format!("Update Strategy:\t{}\n", s(ss, "/spec/updateStrategy/type")));
    if let Some(p) = ss.pointer("/spec/updateStrategy/rollingUpdate/partition").and_then(Value::as_i64) {
        w.w(1, &format!("Partition:\t{p}\n"));
    }
    let (r, wt, sc, f) = pod_counts(pods);
    w.w(0, &format!("Pods Status:\t{r} Running / {wt} Waiting / {sc} Succeeded / {f} Failed\n"));
    pod_template(&mut w, ss.pointer("/spec/template").unwrap_or(&Value::Null));
    let claims = arr(ss, "/spec/volumeClaimTemplates");
    if claims.is_empty() {
        w.w(0, "Volume Claims:\t<none>\n");
    } else {
        w.w(0, "Volume Claims:\n");
        for c in claims {
            w.w(1, &format!("Name:\t{}\n", crate::util::name(c)));
            w.w(1, &format!("StorageClass:\t{}\n", s(c, "/spec/storageClassName")));
            labels(&mut w, "  Labels", c.pointer("/metadata/labels"));
            annotations(&mut w, "  Annotations", c.pointer("/metadata/annotations"));
            w.w(1, &format!("Capacity:\t{}\n", match s(c, "/spec/resources/requests/storage") { "" => "<default>", x => x }));
            let modes: Vec<&str> = arr(c, "/spec/accessModes").iter().filter_map(Value::as_str).collect();
            w.w(1, &format!("Access Modes:\t{}\n", modes.join(", ")));
        }
    }
    events(&mut w, evs, now);
    w.finish()
}

pub fn daemonset(ds: &Value, pods: &[Value], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(ds)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(ds)));
    w.w(0, &format!("Selector:\t{}\n", selector(ds)));
    w.w(0, &format!("Node-Selector:\t{}\n", crate::util::format_labels(ds.pointer("/spec/template/spec/nodeSelector"))));
    labels(&mut w, "Labels", ds.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", ds.pointer("/metadata/annotations"));
    let st = |f: &str| i(ds, &format!("/status/{f}"));
    w.w(0, &format!("Desired Number of Nodes Scheduled: {}\n", st("desiredNumberScheduled")));
    w.w(0, &format!("Current Number of Nodes Scheduled: {}\n", st("currentNumberScheduled")));
    w.w(0, &format!("Number of Nodes Scheduled with Up-to-date Pods: {}\n", st("updatedNumberScheduled")));
    w.w(0, &format!("Number of Nodes Scheduled with Available Pods: {}\n", st("numberAvailable")));
    w.w(0, &format!("Number of Nodes Misscheduled: {}\n", st("numberMisscheduled")));
    let (r, wt, sc, f) = pod_counts(pods);
    w.w(0, &format!("Pods Status:\t{r} Running / {wt} Waiting / {sc} Succeeded / {f} Failed\n"));
    pod_template(&mut w, ds.pointer("/spec/template").unwrap_or(&Value::Null));
    events(&mut w, evs, now);
    w.finish()
}

pub fn job(j: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(j)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(j)));
    w.w(0, &format!("Selector:\t{}\n", selector(j)));
    labels(&mut w, "Labels", j.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", j.pointer("/metadata/annotations"));
    if let Some(c) = controller(j) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    if let Some(p) = j.pointer("/spec/parallelism").and_then(Value::as_i64) {
        w.w(0, &format!("Parallelism:\t{p}\n"));
    }
    match j.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => w.w(0, &format!("Completions:\t{c}\n")),
        None => w.w(0, "Completions:\t<unset>\n"),
    }
    if !s(j, "/spec/completionMode").is_empty() {
        w.w(0, &format!("Completion Mode:\t{}\n", s(j, "/spec/completionMode")));
    }
    if let Some(b) = j.pointer("/spec/suspend").and_then(Value::as_bool) {
        w.w(0, &format!("Suspend:\t{b}\n"));
    }
    if let Some(b) = j.pointer("/spec/backoffLimit").and_then(Value::as_i64) {
        w.w(0, &format!("Backoff Limit:\t{b}\n"));
    }
    if let Some(t) = j.pointer("/spec/ttlSecondsAfterFinished").and_then(Value::as_i64) {
        w.w(0, &format!("TTL Seconds After Finished:\t{t}\n"));
    }
    let (start, end) = (s(j, "/status/startTime"), s(j, "/status/completionTime"));
    if !start.is_empty() {
        w.w(0, &format!("Start Time:\t{}\n", rfc1123z(start)));
    }
    if !end.is_empty() {
        w.w(0, &format!("Completed At:\t{}\n", rfc1123z(end)));
    }
    if let (Some(a), Some(b)) = (crate::printers::age::parse_time(start), crate::printers::age::parse_time(end)) {
        w.w(0, &format!("Duration:\t{}\n", api::duration::human_duration((b - a).num_seconds())));
    }
    if let Some(d) = j.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64) {
        w.w(0, &format!("Active Deadline Seconds:\t{d}s\n"));
    }
    let (act, suc, fail) = (i(j, "/status/active"), i(j, "/status/succeeded"), i(j, "/status/failed"));
    match j.pointer("/status/ready").and_then(Value::as_i64) {
        Some(r) => w.w(0, &format!("Pods Statuses:\t{act} Active ({r} Ready) / {suc} Succeeded / {fail} Failed\n")),
        None => w.w(0, &format!("Pods Statuses:\t{act} Active / {suc} Succeeded / {fail} Failed\n")),
    }
    pod_template(&mut w, j.pointer("/spec/template").unwrap_or(&Value::Null));
    events(&mut w, evs, now);
    w.finish()
}

/// "<unset>" for a missing integer, else the integer with `unit`.
fn int_or_unset(v: &Value, ptr: &str, unit: &str) -> String {
    v.pointer(ptr).and_then(Value::as_i64).map_or("<unset>".to_string(), |n| format!("{n}{unit}"))
}

/// Upstream's describeCronJob (with describeJobTemplate and printActiveJobs).
pub fn cronjob(cj: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(cj)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(cj)));
    labels(&mut w, "Labels", cj.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", cj.pointer("/metadata/annotations"));
    w.w(0, &format!("Schedule:\t{}\n", s(cj, "/spec/schedule")));
    w.w(0, &format!("Concurrency Policy:\t{}\n", s(cj, "/spec/concurrencyPolicy")));
    let suspend = match cj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    w.w(0, &format!("Suspend:\t{suspend}\n"));
    w.w(0, &format!("Time Zone:\t{}\n", cj.pointer("/spec/timeZone").and_then(Value::as_str).unwrap_or("<unset>")));
    w.w(0, &format!("Successful Job History Limit:\t{}\n", int_or_unset(cj, "/spec/successfulJobsHistoryLimit", "")));
    w.w(0, &format!("Failed Job History Limit:\t{}\n", int_or_unset(cj, "/spec/failedJobsHistoryLimit", "")));
    w.w(0, &format!("Starting Deadline Seconds:\t{}\n", int_or_unset(cj, "/spec/startingDeadlineSeconds", "s")));
    let jt = cj.pointer("/spec/jobTemplate").unwrap_or(&Value::Null);
    match jt.pointer("/spec/selector").filter(|v| !v.is_null()) {
        Some(_) => w.w(0, &format!("Selector:\t{}\n", selector(jt))),
        None => w.w(0, "Selector:\t<unset>\n"),
    }
    w.w(0, &format!("Parallelism:\t{}\n", int_or_unset(jt, "/spec/parallelism", "")));
    w.w(0, &format!("Completions:\t{}\n", int_or_unset(jt, "/spec/completions", "")));
    if let Some(d) = jt.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64) {
        w.w(0, &format!("Active Deadline Seconds:\t{d}s\n"));
    }
    pod_template(&mut w, jt.pointer("/spec/template").unwrap_or(&Value::Null));
    match s(cj, "/status/lastScheduleTime") {
        "" => w.w(0, "Last Schedule Time:\t<unset>\n"),
        t => w.w(0, &format!("Last Schedule Time:\t{}\n", rfc1123z(t))),
    }
    let active: Vec<&str> = arr(cj, "/status/active").iter().map(|r| s(r, "/name")).collect();
    w.w(0, &format!("Active Jobs:\t{}\n", if active.is_empty() { "<none>".to_string() } else { active.join(", ") }));
    events(&mut w, evs, now);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
    }

    /// DescribePodTemplate's lines; the last tab-aligned block runs on into
    /// whatever follows it, so `pad` is that block's width.
    fn template_text(pad: usize) -> String {
        let cell = |k: &str| format!("{k:<pad$}");
        format!(
            "Pod Template:\n  Labels:  app=web\n  Containers:\n   web:\n{}nginx\n{}<none>\n{}<none>\n{}<none>\n{}<none>\n{}<none>\n{}<none>\n{}<none>\n",
            cell("    Image:"),
            cell("    Port:"),
            cell("    Host Port:"),
            cell("    Environment:"),
            cell("    Mounts:"),
            cell("  Volumes:"),
            cell("  Node-Selectors:"),
            cell("  Tolerations:")
        )
    }

    #[test]
    fn replicationcontroller_like_upstream() {
        let rc = json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}, "spec": {"replicas": 2, "selector": {"app": "web"}, "template": template()},
            "status": {"replicas": 2}});
        let pods = [json!({"status": {"phase": "Running"}}), json!({"status": {"phase": "Pending"}})];
        assert_eq!(
            replicationcontroller(&rc, &pods, Some(&mut []), chrono::Utc::now()),
            format!(
                "Name:         web\nNamespace:    default\nSelector:     app=web\nLabels:       app=web\nAnnotations:  <none>\nReplicas:     2 current / 2 desired\n\
                 Pods Status:  1 Running / 1 Waiting / 0 Succeeded / 0 Failed\n{}Events:            <none>\n",
                template_text(19)
            )
        );
    }

    #[test]
    fn cronjob_like_upstream() {
        let cj = json!({"metadata": {"name": "tick", "namespace": "default"}, "spec": {"schedule": "*/5 * * * *", "concurrencyPolicy": "Allow", "suspend": false,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1, "jobTemplate": {"spec": {"template": template()}}},
            "status": {"lastScheduleTime": "2024-01-02T03:04:05Z", "active": [{"name": "tick-1"}, {"name": "tick-2"}]}});
        assert_eq!(
            cronjob(&cj, Some(&mut []), chrono::Utc::now()),
            format!(
                "Name:                          tick\nNamespace:                     default\nLabels:                        <none>\nAnnotations:                   <none>\n\
                 Schedule:                      */5 * * * *\nConcurrency Policy:            Allow\nSuspend:                       False\n\
                 Time Zone:                     <unset>\nSuccessful Job History Limit:  3\nFailed Job History Limit:      1\n\
                 Starting Deadline Seconds:     <unset>\nSelector:                      <unset>\nParallelism:                   <unset>\n\
                 Completions:                   <unset>\n{}Last Schedule Time:  Tue, 02 Jan 2024 03:04:05 +0000\nActive Jobs:         tick-1, tick-2\n\
                 Events:              <none>\n",
                template_text(21)
            )
        );
    }
}
