//! `kubectl rollout status|history|undo|restart|pause|resume` for
//! deployments (through their ReplicaSets), daemon sets and stateful sets
//! (through their ControllerRevisions), worded as upstream's
//! polymorphichelpers (rollout_status.go, history.go, rollback.go and the
//! pauser/resumer/restarter).

use std::collections::BTreeMap;
use std::time::Duration;

use client::proto::v1::ApiResource;
use client::{ListParams, Patch, PostParams, WatchEvent};
use futures::StreamExt;
use serde_json::{json, Value};

use super::common::{named_objects, FileArgs, Named};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::resources::kind_prefix;
use crate::util::{i, name, s};

const REVISION: &str = "deployment.kubernetes.io/revision";
const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
const POD_TEMPLATE_HASH: &str = "pod-template-hash";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// Deployment annotations a rollback keeps instead of taking the RS's (annotationsToSkip).
const ANNOTATIONS_TO_SKIP: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

#[derive(clap::Subcommand, Debug)]
pub enum RolloutCmd {
    /// Show the status of the rollout
    Status(StatusArgs),
    /// View rollout history
    History(HistoryArgs),
    /// Undo a previous rollout
    Undo(UndoArgs),
    /// Restart a resource
    Restart(Targets),
    /// Mark the provided resource as paused
    Pause(Targets),
    /// Resume a paused resource
    Resume(Targets),
}

#[derive(clap::Args, Debug, Clone)]
pub struct Targets {
    /// TYPE NAME or TYPE/NAME
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub targets: Targets,
    /// Watch the status of the rollout until it's done.
    #[arg(short = 'w', long, default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub watch: bool,
    /// Pin to a specific revision for showing its status. Defaults to 0 (last revision).
    #[arg(long, default_value_t = 0)]
    pub revision: i64,
    /// The length of time to wait before ending watch, zero means never.
    #[arg(long)]
    pub timeout: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub targets: Targets,
    /// See the details, including podTemplate of the revision specified
    #[arg(long, default_value_t = 0)]
    pub revision: i64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct UndoArgs {
    #[command(flatten)]
    pub targets: Targets,
    /// The revision to rollback to. Default to 0 (last revision).
    #[arg(long = "to-revision", default_value_t = 0)]
    pub to_revision: i64,
}

pub async fn run(ctx: &Ctx, c: RolloutCmd) -> CmdResult {
    match c {
        RolloutCmd::Status(a) => status(ctx, a).await,
        RolloutCmd::History(a) => history(ctx, a).await,
        RolloutCmd::Undo(a) => undo(ctx, a).await,
        RolloutCmd::Restart(a) => restart(ctx, a).await,
        RolloutCmd::Pause(a) => pause_resume(ctx, a, true).await,
        RolloutCmd::Resume(a) => pause_resume(ctx, a, false).await,
    }
}

async fn targets(ctx: &Ctx, t: &Targets) -> CmdResult<Vec<Named>> {
    named_objects(ctx, &t.args, &t.files, t.selector.as_deref(), false).await
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Deployment,
    DaemonSet,
    StatefulSet,
}

fn kind_of(r: &ApiResource) -> Option<Kind> {
    if r.group != "apps" {
        return None;
    }
    match r.kind.as_str() {
        "Deployment" => Some(Kind::Deployment),
        "DaemonSet" => Some(Kind::DaemonSet),
        "StatefulSet" => Some(Kind::StatefulSet),
        _ => None,
    }
}

/// "deployments.apps": how upstream names a resource in these errors.
fn group_resource(r: &ApiResource) -> String {
    if r.group.is_empty() {
        r.name.clone()
    } else {
        format!("{}.{}", r.name, r.group)
    }
}

// ---- status ---------------------------------------------------------------

/// The status line, whether the rollout is done, or an error (StatusViewer.Status).
fn status_of(kind: Kind, o: &Value, revision: i64) -> Result<(String, bool), String> {
    let n = name(o);
    let generation = i(o, "/metadata/generation");
    let observed = i(o, "/status/observedGeneration");
    match kind {
        Kind::Deployment => {
            if revision > 0 {
                let rev = o.pointer(&format!("/metadata/annotations/{}", REVISION.replace('/', "~1"))).and_then(Value::as_str).unwrap_or("");
                let rev: i64 = rev.parse().map_err(|e| format!("cannot get the revision of deployment {n:?}: {e}"))?;
                if rev != revision {
                    return Err(format!("desired revision ({revision}) is different from the running revision ({rev})"));
                }
            }
            if generation > observed {
                return Ok(("Waiting for deployment spec update to be observed...\n".into(), false));
            }
            let timed_out = arr_iter(o, "/status/conditions").any(|c| s(c, "/type") == "Progressing" && s(c, "/reason") == "ProgressDeadlineExceeded");
            if timed_out {
                return Err(format!("deployment {n:?} exceeded its progress deadline"));
            }
            let (want, updated, total, available) = (o.pointer("/spec/replicas").and_then(Value::as_i64), i(o, "/status/updatedReplicas"), i(o, "/status/replicas"), i(o, "/status/availableReplicas"));
            if let Some(want) = want.filter(|w| updated < *w) {
                return Ok((format!("Waiting for deployment {n:?} rollout to finish: {updated} out of {want} new replicas have been updated...\n"), false));
            }
            if total > updated {
                return Ok((format!("Waiting for deployment {n:?} rollout to finish: {} old replicas are pending termination...\n", total - updated), false));
            }
            if available < updated {
                return Ok((format!("Waiting for deployment {n:?} rollout to finish: {available} of {updated} updated replicas are available...\n"), false));
            }
            Ok((format!("deployment {n:?} successfully rolled out\n"), true))
        }
        Kind::DaemonSet => {
            if s(o, "/spec/updateStrategy/type") != "RollingUpdate" {
                return Err("rollout status is only available for RollingUpdate strategy type".into());
            }
            if generation > observed {
                return Ok(("Waiting for daemon set spec update to be observed...\n".into(), false));
            }
            let (want, updated, available) = (i(o, "/status/desiredNumberScheduled"), i(o, "/status/updatedNumberScheduled"), i(o, "/status/numberAvailable"));
            if updated < want {
                return Ok((format!("Waiting for daemon set {n:?} rollout to finish: {updated} out of {want} new pods have been updated...\n"), false));
            }
            if available < want {
                return Ok((format!("Waiting for daemon set {n:?} rollout to finish: {available} of {want} updated pods are available...\n"), false));
            }
            Ok((format!("daemon set {n:?} successfully rolled out\n"), true))
        }
        Kind::StatefulSet => {
            if s(o, "/spec/updateStrategy/type") != "RollingUpdate" {
                return Err("rollout status is only available for RollingUpdate strategy type".into());
            }
            if observed == 0 || generation > observed {
                return Ok(("Waiting for statefulset spec update to be observed...\n".into(), false));
            }
            let want = o.pointer("/spec/replicas").and_then(Value::as_i64);
            let ready = i(o, "/status/readyReplicas");
            if let Some(want) = want.filter(|w| ready < *w) {
                return Ok((format!("Waiting for {} pods to be ready...\n", want - ready), false));
            }
            let updated = i(o, "/status/updatedReplicas");
            if o.pointer("/spec/updateStrategy/rollingUpdate").is_some_and(|r| !r.is_null()) {
                if let (Some(want), Some(partition)) = (want, o.pointer("/spec/updateStrategy/rollingUpdate/partition").and_then(Value::as_i64)) {
                    if updated < want - partition {
                        return Ok((format!("Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...\n", want - partition), false));
                    }
                }
                return Ok((format!("partitioned roll out complete: {updated} new pods have been updated...\n"), true));
            }
            let (current_rev, update_rev) = (s(o, "/status/currentRevision"), s(o, "/status/updateRevision"));
            if update_rev != current_rev {
                return Ok((format!("waiting for statefulset rolling update to complete {updated} pods at revision {update_rev}...\n"), false));
            }
            Ok((format!("statefulset rolling update complete {} pods at revision {current_rev}...\n", i(o, "/status/currentReplicas")), true))
        }
    }
}

fn arr_iter<'a>(v: &'a Value, ptr: &str) -> impl Iterator<Item = &'a Value> {
    crate::util::arr(v, ptr).iter()
}

async fn status(ctx: &Ctx, a: StatusArgs) -> CmdResult {
    let timeout = match a.timeout.as_deref() {
        None => Duration::ZERO,
        Some(t) => api::duration::parse(t).map_err(|e| CmdError::msg(format!("invalid argument {t:?} for \"--timeout\" flag: {e}")))?,
    };
    let targets = targets(ctx, &a.targets).await?;
    if targets.len() != 1 {
        return Err(CmdError::msg("rollout status is only supported on individual resources and resource collections are not supported yet"));
    }
    let t = &targets[0];
    let Some(kind) = kind_of(&t.resource) else {
        return Err(CmdError::msg(format!("no status viewer has been implemented for {}", t.resource.kind)));
    };
    let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
    let watch = async {
        let obj = api.get(&t.name).await?;
        let (msg, done) = status_of(kind, &obj, a.revision).map_err(CmdError::msg)?;
        out(&msg);
        if done || !a.watch {
            return Ok(());
        }
        let mut rv = s(&obj, "/metadata/resourceVersion").to_string();
        loop {
            let mut events = api.watch_object(&t.name, &rv).await?;
            while let Some(ev) = events.next().await {
                let o = match ev? {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => o,
                    WatchEvent::Deleted(_) => return Err(CmdError::msg("object has been deleted")),
                    WatchEvent::Bookmark(v) => {
                        rv = v;
                        continue;
                    }
                    WatchEvent::Error(e) => return Err(CmdError::Api(e)),
                };
                rv = s(&o, "/metadata/resourceVersion").to_string();
                let (msg, done) = status_of(kind, &o, a.revision).map_err(CmdError::msg)?;
                out(&msg);
                if done {
                    return Ok(());
                }
            }
            // The server ended the watch: resume from the last version seen.
        }
    };
    if timeout.is_zero() {
        return watch.await;
    }
    match tokio::time::timeout(timeout, watch).await {
        Ok(r) => r,
        Err(_) => Err(CmdError::msg("timed out waiting for the condition")),
    }
}

// ---- history --------------------------------------------------------------

/// One revision of an object: its pod template and change-cause.
struct Revision {
    template: Value,
    change_cause: String,
    /// The RS or ControllerRevision it came from.
    source: Value,
}

fn annotation<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.pointer("/metadata/annotations")?.get(key)?.as_str()
}

fn controlled_by(o: &Value, uid: &str) -> bool {
    crate::util::arr(o, "/metadata/ownerReferences").iter().any(|r| r.get("controller").and_then(Value::as_bool) == Some(true) && s(r, "/uid") == uid)
}

/// The revisions of a Deployment (its ReplicaSets) or of a DaemonSet or
/// StatefulSet (its ControllerRevisions), by number.
async fn revisions(ctx: &Ctx, kind: Kind, obj: &Value) -> CmdResult<BTreeMap<i64, Revision>> {
    let d = ctx.discovery().await?;
    let ns = crate::util::namespace(obj).to_string();
    let uid = s(obj, "/metadata/uid").to_string();
    let (r, _) = match kind {
        Kind::Deployment => (d.by_kind("apps/v1", "ReplicaSet"), ()),
        _ => (d.by_kind("apps/v1", "ControllerRevision"), ()),
    };
    let Some(r) = r else { return Err(CmdError::msg("the server does not serve the history of this kind")) };
    let items = ctx.api(r, Some(&ns)).await?.list(&ListParams::default()).await?.items;
    let mut out = BTreeMap::new();
    for item in items.into_iter().filter(|o| controlled_by(o, &uid)) {
        let (number, template) = match kind {
            Kind::Deployment => {
                let Some(n) = annotation(&item, REVISION).and_then(|v| v.parse::<i64>().ok()) else { continue };
                (n, item.pointer("/spec/template").cloned().unwrap_or(Value::Null))
            }
            _ => {
                // The controller stores the template as a replace patch.
                let mut t = item.pointer("/data/spec/template").cloned().unwrap_or(Value::Null);
                if let Some(m) = t.as_object_mut() {
                    m.remove("$patch");
                }
                (i(&item, "/revision"), t)
            }
        };
        let change_cause = annotation(&item, CHANGE_CAUSE).unwrap_or_default().to_string();
        out.insert(number, Revision { template, change_cause, source: item });
    }
    Ok(out)
}

async fn get_target(ctx: &Ctx, t: &Named) -> CmdResult<(Kind, Value)> {
    let kind = kind_of(&t.resource).ok_or_else(|| CmdError::msg(format!("no history viewer has been implemented for {}", t.resource.kind)))?;
    let obj = ctx.api(&t.resource, t.namespace.as_deref()).await?.get(&t.name).await?;
    Ok((kind, obj))
}

/// DescribePodTemplate's text (printTemplate).
fn print_template(template: &Value) -> String {
    let mut w = crate::describe::W::default();
    crate::describe::workloads::pod_template(&mut w, template);
    w.finish()
}

async fn history(ctx: &Ctx, a: HistoryArgs) -> CmdResult {
    let mut errors = Vec::new();
    for t in targets(ctx, &a.targets).await? {
        let (kind, obj) = match get_target(ctx, &t).await {
            Ok(x) => x,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let revs = revisions(ctx, kind, &obj).await?;
        let body = if revs.is_empty() {
            "No rollout history found.".to_string()
        } else if a.revision > 0 {
            match revs.get(&a.revision) {
                Some(r) => print_template(&r.template),
                None => {
                    errors.push(CmdError::msg("unable to find the specified revision"));
                    continue;
                }
            }
        } else {
            let mut tw = crate::util::TabWriter::with(0, 2);
            tw.row(&["REVISION", "CHANGE-CAUSE"]);
            for (n, r) in &revs {
                let cause = if r.change_cause.is_empty() { "<none>" } else { r.change_cause.as_str() };
                tw.row(&[n.to_string(), cause.to_string()]);
            }
            tw.render()
        };
        let with_revision = if a.revision > 0 { format!("with revision #{}", a.revision) } else { String::new() };
        out(&format!("{}/{} {with_revision}\n{body}\n", kind_prefix(&t.resource), t.name));
    }
    CmdError::aggregate(errors)
}

// ---- undo -----------------------------------------------------------------

/// The template without the pod-template-hash label (for comparisons and rollbacks).
fn without_hash(t: &Value) -> Value {
    let mut t = t.clone();
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    t
}

async fn undo(ctx: &Ctx, a: UndoArgs) -> CmdResult {
    let mut errors = Vec::new();
    for t in targets(ctx, &a.targets).await? {
        match undo_one(ctx, &t, a.to_revision).await {
            Ok(what) => out(&format!("{}/{} {what}\n", kind_prefix(&t.resource), t.name)),
            Err(e) => errors.push(e),
        }
    }
    CmdError::aggregate(errors)
}

fn revision_not_found(r: i64) -> CmdError {
    CmdError::msg(format!("unable to find specified revision {r} in history"))
}

async fn undo_one(ctx: &Ctx, t: &Named, to_revision: i64) -> CmdResult<String> {
    let kind = kind_of(&t.resource).ok_or_else(|| CmdError::msg(format!("no rollbacker has been implemented for {}", t.resource.kind)))?;
    let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
    let obj = api.get(&t.name).await?;
    if to_revision < 0 {
        return Err(revision_not_found(to_revision));
    }
    let revs = revisions(ctx, kind, &obj).await?;
    let target = if to_revision > 0 {
        revs.get(&to_revision).ok_or_else(|| revision_not_found(to_revision))?
    } else {
        // The previous revision: the second highest.
        let mut numbers = revs.keys().rev();
        let (_latest, previous) = (numbers.next(), numbers.next());
        match previous {
            Some(p) => &revs[p],
            None if kind == Kind::Deployment => return Err(CmdError::msg(format!("no rollout history found for deployment {:?}", t.name))),
            None => return Err(CmdError::msg("no last revision to roll back to")),
        }
    };
    let shown = if to_revision > 0 { to_revision } else { *revs.iter().find(|(_, r)| std::ptr::eq(*r, target)).map(|(n, _)| n).unwrap_or(&0) };
    let current = obj.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    if kind == Kind::Deployment && obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Err(CmdError::msg("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"));
    }
    let wanted = without_hash(&target.template);
    if without_hash(&current) == wanted {
        return Ok(format!("skipped rollback (current template already matches revision {shown})"));
    }
    let mut ops = vec![json!({"op": "replace", "path": "/spec/template", "value": wanted})];
    if kind == Kind::Deployment {
        // The RS's annotations (change-cause and the rest) come back, but not the controller's own.
        let mut annotations = serde_json::Map::new();
        for k in ANNOTATIONS_TO_SKIP {
            if let Some(v) = annotation(&obj, k) {
                annotations.insert(k.to_string(), Value::String(v.into()));
            }
        }
        for (k, v) in target.source.pointer("/metadata/annotations").and_then(Value::as_object).into_iter().flatten() {
            if !ANNOTATIONS_TO_SKIP.contains(&k.as_str()) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        ops.push(json!({"op": "replace", "path": "/metadata/annotations", "value": annotations}));
    }
    api.patch(&t.name, &PostParams::default(), &Patch::Json(Value::Array(ops)))
        .await
        .map_err(|e| CmdError::msg(format!("failed restoring revision {shown}: {e}")))?;
    Ok("rolled back".into())
}

// ---- restart, pause, resume -------------------------------------------------

async fn restart(ctx: &Ctx, a: Targets) -> CmdResult {
    let mut errors = Vec::new();
    for t in targets(ctx, &a).await? {
        let r = async {
            let Some(kind) = kind_of(&t.resource) else {
                return Err(CmdError::msg(format!("{} {:?} restarting is not supported", group_resource(&t.resource), t.name)));
            };
            let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
            let obj = api.get(&t.name).await?;
            if kind == Kind::Deployment && obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
                return Err(CmdError::msg(format!("{} {:?} can't restart paused deployment (run rollout resume first)", group_resource(&t.resource), t.name)));
            }
            let now = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
            api.patch(&t.name, &PostParams::default(), &Patch::Strategic(patch)).await?;
            Ok(())
        };
        match r.await {
            Ok(()) => out(&format!("{}/{} restarted\n", kind_prefix(&t.resource), t.name)),
            Err(e) => errors.push(e),
        }
    }
    CmdError::aggregate(errors)
}

async fn pause_resume(ctx: &Ctx, a: Targets, pause: bool) -> CmdResult {
    let mut errors = Vec::new();
    for t in targets(ctx, &a).await? {
        let r = async {
            if kind_of(&t.resource) != Some(Kind::Deployment) {
                let what = if pause { "pausing" } else { "resuming" };
                return Err(CmdError::msg(format!("{} {:?} {what} is not supported", group_resource(&t.resource), t.name)));
            }
            let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
            let obj = api.get(&t.name).await?;
            let paused = obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
            if pause && paused {
                return Err(CmdError::msg(format!("{} {:?} is already paused", group_resource(&t.resource), t.name)));
            }
            if !pause && !paused {
                return Err(CmdError::msg(format!("{} {:?} is not paused", group_resource(&t.resource), t.name)));
            }
            let patch = if pause { json!({"spec": {"paused": true}}) } else { json!({"spec": {"paused": null}}) };
            api.patch(&t.name, &PostParams::default(), &Patch::Strategic(patch)).await?;
            Ok(())
        };
        match r.await {
            Ok(()) => out(&format!("{}/{} {}\n", kind_prefix(&t.resource), t.name, if pause { "paused" } else { "resumed" })),
            Err(e) => errors.push(e),
        }
    }
    CmdError::aggregate(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(generation: i64, status: Value) -> Value {
        json!({"metadata": {"name": "web", "generation": generation, "annotations": {REVISION: "2"}}, "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn deployment_status_lines_are_upstreams() {
        let st = |g, s| status_of(Kind::Deployment, &deploy(g, s), 0);
        assert_eq!(st(2, json!({"observedGeneration": 1})).unwrap(), ("Waiting for deployment spec update to be observed...\n".into(), false));
        assert_eq!(
            st(1, json!({"observedGeneration": 1, "updatedReplicas": 1, "replicas": 4})).unwrap().0,
            "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...\n"
        );
        assert_eq!(
            st(1, json!({"observedGeneration": 1, "updatedReplicas": 3, "replicas": 4})).unwrap().0,
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...\n"
        );
        assert_eq!(
            st(1, json!({"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 1})).unwrap().0,
            "Waiting for deployment \"web\" rollout to finish: 1 of 3 updated replicas are available...\n"
        );
        assert_eq!(st(1, json!({"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3})).unwrap(), ("deployment \"web\" successfully rolled out\n".into(), true));
        let timed_out = json!({"observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
        assert_eq!(st(1, timed_out).unwrap_err(), "deployment \"web\" exceeded its progress deadline");
        assert_eq!(status_of(Kind::Deployment, &deploy(1, json!({})), 3).unwrap_err(), "desired revision (3) is different from the running revision (2)");
    }

    #[test]
    fn daemonset_and_statefulset_status_lines_are_upstreams() {
        let ds = json!({"metadata": {"name": "agent", "generation": 2}, "spec": {"updateStrategy": {"type": "RollingUpdate"}},
            "status": {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}});
        assert_eq!(status_of(Kind::DaemonSet, &ds, 0).unwrap().0, "Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available...\n");
        let sts = json!({"metadata": {"name": "db", "generation": 1}, "spec": {"replicas": 2, "updateStrategy": {"type": "RollingUpdate"}},
            "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1, "currentReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2"}});
        assert_eq!(status_of(Kind::StatefulSet, &sts, 0).unwrap(), ("waiting for statefulset rolling update to complete 1 pods at revision db-2...\n".into(), false));
        let on_delete = json!({"metadata": {"name": "db"}, "spec": {"updateStrategy": {"type": "OnDelete"}}});
        assert_eq!(status_of(Kind::StatefulSet, &on_delete, 0).unwrap_err(), "rollout status is only available for RollingUpdate strategy type");
    }
}
