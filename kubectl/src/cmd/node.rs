//! Node maintenance: `cordon`, `uncordon`, `drain`, `taint`.

use client::{DeleteParams, ListParams, Patch, PostParams};
use serde_json::{json, Value};

use super::common::{named_objects, DryRun, FileArgs};
use crate::context::{err, out, Ctx};
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct CordonArgs {
    /// NODE
    pub nodes: Vec<String>,
    /// Selector (label query) to filter on
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Must be "none", "server", or "client".
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DrainArgs {
    /// NODE
    pub node: String,
    /// Ignore DaemonSet-managed pods.
    #[arg(long = "ignore-daemonsets")]
    pub ignore_daemonsets: bool,
    /// Continue even if there are pods using emptyDir (local data that will be deleted when the node is drained).
    #[arg(long = "delete-emptydir-data")]
    pub delete_emptydir_data: bool,
    /// Continue even if there are pods that do not declare a controller.
    #[arg(long)]
    pub force: bool,
    /// Period of time in seconds given to each pod to terminate gracefully. If negative, the default value specified in the pod will be used.
    #[arg(long = "grace-period", default_value_t = -1, allow_negative_numbers = true)]
    pub grace_period: i64,
    /// Label selector to filter pods on the node
    #[arg(long = "pod-selector")]
    pub pod_selector: Option<String>,
    /// The length of time to wait before giving up, zero means infinite
    #[arg(long)]
    pub timeout: Option<String>,
    /// Must be "none", "server", or "client".
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
    /// Force drain to use delete, even if eviction is supported. This will bypass checking PodDisruptionBudgets, use with caution.
    #[arg(long = "disable-eviction")]
    pub disable_eviction: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct TaintArgs {
    /// NODE|-l SELECTOR|--all KEY_1=VAL_1:TAINT_EFFECT_1 ... (KEY:EFFECT- or KEY- to remove)
    pub args: Vec<String>,
    /// If true, allow taints to be overwritten, otherwise reject taint updates that overwrite existing taints.
    #[arg(long)]
    pub overwrite: bool,
    /// Selector (label query) to filter on
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Select all nodes in the cluster
    #[arg(long)]
    pub all: bool,
}

async fn nodes(ctx: &Ctx, names: &[String], selector: Option<&str>, all: bool) -> CmdResult<Vec<String>> {
    let mut args = vec!["nodes".to_string()];
    args.extend(names.iter().cloned());
    let named = named_objects(ctx, &args, &FileArgs::default(), selector, all).await?;
    Ok(named.into_iter().map(|n| n.name).collect())
}

async fn node_api(ctx: &Ctx) -> CmdResult<client::Api<Value>> {
    let d = ctx.discovery().await?;
    let r = d.resolve_one("nodes")?.clone();
    ctx.api(&r, None).await
}

async fn set_unschedulable(ctx: &Ctx, node: &str, on: bool, dry: DryRun) -> CmdResult<bool> {
    let api = node_api(ctx).await?;
    let cur = api.get(node).await?;
    let was = cur.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
    if was == on {
        return Ok(false);
    }
    if dry != DryRun::Client {
        let v = if on { json!(true) } else { Value::Null };
        let pp = PostParams { dry_run: dry == DryRun::Server, ..Default::default() };
        api.patch(node, &pp, &Patch::Merge(json!({"spec": {"unschedulable": v}}))).await?;
    }
    Ok(true)
}

pub async fn cordon(ctx: &Ctx, a: CordonArgs, on: bool) -> CmdResult {
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    if a.nodes.is_empty() && a.selector.is_none() {
        let verb = if on { "cordon" } else { "uncordon" };
        return Err(CmdError::usage(verb, format!("USAGE: {verb} NODE [flags]")));
    }
    let word = if on { "cordoned" } else { "uncordoned" };
    for n in nodes(ctx, &a.nodes, a.selector.as_deref(), false).await? {
        if set_unschedulable(ctx, &n, on, dry).await? {
            out(&format!("node/{n} {word}{}\n", dry.suffix()));
        } else {
            out(&format!("node/{n} already {word}\n"));
        }
    }
    Ok(())
}

/// Why a pod blocks the drain, or whether it is skipped.
enum PodCheck {
    Evict,
    SkipMirror,
    DaemonSet,
    Blocked(&'static str),
}

fn check_pod(p: &Value, a: &DrainArgs) -> PodCheck {
    if p.pointer("/metadata/annotations/kubernetes.io~1config.mirror").is_some() {
        return PodCheck::SkipMirror;
    }
    let phase = crate::util::s(p, "/status/phase");
    let finished = phase == "Succeeded" || phase == "Failed";
    let controller = crate::util::arr(p, "/metadata/ownerReferences")
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .cloned();
    if let Some(c) = &controller {
        if crate::util::s(c, "/kind") == "DaemonSet" {
            return PodCheck::DaemonSet;
        }
    }
    if controller.is_none() && !a.force && !finished {
        return PodCheck::Blocked("cannot delete Pods that declare no controller (use --force to override)");
    }
    let empty_dir = crate::util::arr(p, "/spec/volumes").iter().any(|v| v.get("emptyDir").is_some());
    if empty_dir && !a.delete_emptydir_data && !finished {
        return PodCheck::Blocked("cannot delete Pods with local storage (use --delete-emptydir-data to override)");
    }
    PodCheck::Evict
}

pub async fn drain(ctx: &Ctx, a: DrainArgs) -> CmdResult {
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    let node = a.node.clone();
    if set_unschedulable(ctx, &node, true, dry).await? {
        out(&format!("node/{node} cordoned{}\n", dry.suffix()));
    } else {
        out(&format!("node/{node} already cordoned\n"));
    }
    let d = ctx.discovery().await?;
    let pods_r = d.resolve_one("pods")?.clone();
    let all = ctx.api(&pods_r, None).await?;
    let lp = ListParams { field_selector: Some(format!("spec.nodeName={node}")), label_selector: a.pod_selector.clone(), ..Default::default() };
    let pods = all.list(&lp).await?.items;
    let mut blocked: Vec<(&'static str, String)> = Vec::new();
    let mut daemonsets = Vec::new();
    let mut evict = Vec::new();
    for p in &pods {
        let id = format!("{}/{}", crate::util::namespace(p), crate::util::name(p));
        match check_pod(p, &a) {
            PodCheck::Evict => evict.push(p),
            PodCheck::SkipMirror => {}
            PodCheck::DaemonSet if a.ignore_daemonsets => daemonsets.push(id),
            PodCheck::DaemonSet => blocked.push(("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)", id)),
            PodCheck::Blocked(why) => blocked.push((why, id)),
        }
    }
    if !blocked.is_empty() {
        let mut reasons: Vec<&str> = blocked.iter().map(|b| b.0).collect();
        reasons.dedup();
        let errs: Vec<String> = reasons
            .iter()
            .map(|r| format!("{r}: {}", blocked.iter().filter(|b| b.0 == *r).map(|b| b.1.clone()).collect::<Vec<_>>().join(", ")))
            .collect();
        // Upstream's aggregate error: one message, or "[a, b]".
        let msg = if errs.len() == 1 { errs[0].clone() } else { format!("[{}]", errs.join(", ")) };
        err(&format!("error: unable to drain node \"{node}\" due to error: {msg}, continuing command...\n"));
        err(&format!("There are pending nodes to be drained:\n {node}\n"));
        return Err(CmdError::msg(msg));
    }
    if !daemonsets.is_empty() {
        err(&format!("Warning: ignoring DaemonSet-managed Pods: {}\n", daemonsets.join(", ")));
    }
    let deadline = match a.timeout.as_deref() {
        Some(t) if !t.is_empty() => {
            let d = api::duration::parse(t).map_err(|e| CmdError::msg(format!("invalid argument {t:?} for \"--timeout\" flag: {e}")))?;
            (!d.is_zero()).then(|| std::time::Instant::now() + d)
        }
        _ => None,
    };
    for p in evict {
        let (ns, name) = (crate::util::namespace(p), crate::util::name(p));
        out(&format!("evicting pod {ns}/{name}\n"));
        if dry == DryRun::Client {
            continue;
        }
        let api = ctx.api(&pods_r, Some(ns)).await?;
        let dp = DeleteParams { grace_period_seconds: (a.grace_period >= 0).then_some(a.grace_period), ..Default::default() };
        if a.disable_eviction {
            match api.delete(name, &dp).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        } else if !evict_pod(ctx, ns, name, &dp, deadline).await? {
            continue;
        }
        while api.get_opt(name).await?.is_some_and(|o| crate::util::s(&o, "/metadata/uid") == crate::util::s(p, "/metadata/uid")) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        out(&format!("pod/{name} {}\n", if a.disable_eviction { "deleted" } else { "evicted" }));
    }
    out(&format!("node/{node} drained{}\n", dry.suffix()));
    Ok(())
}

/// Evicts through pods/eviction, retrying every 5 s while a disruption
/// budget refuses (429) as upstream's drain does. Returns false when the
/// pod is already gone.
async fn evict_pod(ctx: &Ctx, ns: &str, name: &str, dp: &DeleteParams, deadline: Option<std::time::Instant>) -> CmdResult<bool> {
    let pods = client::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(ctx.client().await?.clone(), ns);
    loop {
        match pods.evict(name, dp).await {
            Ok(()) => return Ok(true),
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) if e.reason() == Some(api::Reason::TooManyRequests) => {
                if deadline.is_some_and(|d| std::time::Instant::now() + std::time::Duration::from_secs(5) > d) {
                    return Err(CmdError::msg(format!("error when evicting pods/{name:?} -n {ns:?}: global timeout reached")));
                }
                err(&format!("error when evicting pods/{name:?} -n {ns:?} (will retry after 5s): {e}\n"));
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            Err(e) => return Err(CmdError::msg(format!("error when evicting pods/{name:?} -n {ns:?}: {e}"))),
        }
    }
}

pub async fn taint(ctx: &Ctx, a: TaintArgs) -> CmdResult {
    let mut args = a.args.clone();
    if args.first().map(String::as_str) == Some("nodes") || args.first().map(String::as_str) == Some("node") || args.first().map(String::as_str) == Some("no") {
        args.remove(0);
    }
    let (names, specs): (Vec<String>, Vec<String>) = args.into_iter().partition(|x| !x.contains(':') && !x.contains('=') && !x.ends_with('-'));
    if specs.is_empty() {
        return Err(CmdError::usage("taint", "at least one taint update is required"));
    }
    let (adds, removes) = api::taints::parse_taints(&specs).map_err(|e| CmdError::msg(e.to_string()))?;
    let api = node_api(ctx).await?;
    for n in nodes(ctx, &names, a.selector.as_deref(), a.all).await? {
        let cur = api.get(&n).await?;
        let old: Vec<Value> = crate::util::arr(&cur, "/spec/taints").to_vec();
        let same = |t: &Value, key: &str, effect: &str| crate::util::s(t, "/key") == key && crate::util::s(t, "/effect") == effect;
        if !a.overwrite {
            let exists: Vec<&str> =
                adds.iter().filter(|s| old.iter().any(|t| same(t, &s.key, &s.effect))).map(|s| s.key.as_str()).collect();
            if !exists.is_empty() {
                return Err(CmdError::msg(format!(
                    "node {n} already has {} taint(s) with same effect(s) and --overwrite is false",
                    exists.join(",")
                )));
            }
        }
        // As upstream's reorganizeTaints: new taints first, then the old ones
        // they do not replace; then removals.
        let mut taints: Vec<Value> = adds
            .iter()
            .map(|s| {
                let mut t = json!({"key": s.key, "effect": s.effect});
                if let Some(v) = &s.value {
                    t["value"] = json!(v);
                }
                t
            })
            .collect();
        for o in &old {
            if !taints.iter().any(|t| same(t, crate::util::s(o, "/key"), crate::util::s(o, "/effect"))) {
                taints.push(o.clone());
            }
        }
        let added = old.len() != taints.len();
        let mut deleted = false;
        let mut missing = Vec::new();
        for r in &removes {
            let before = taints.len();
            taints.retain(|t| !(crate::util::s(t, "/key") == r.key && (r.effect.is_empty() || crate::util::s(t, "/effect") == r.effect)));
            deleted = taints.len() != before;
            if !deleted {
                let name = if r.effect.is_empty() { r.key.clone() } else { format!("{}:{}", r.key, r.effect) };
                missing.push(format!("taint \"{name}\" not found"));
            }
        }
        if !missing.is_empty() {
            return Err(CmdError::msg(if missing.len() == 1 { missing.remove(0) } else { format!("[{}]", missing.join(", ")) }));
        }
        let word = if (added && deleted) || a.overwrite {
            "modified"
        } else if added {
            "tainted"
        } else {
            "untainted"
        };
        let v = if taints.is_empty() { Value::Null } else { json!(taints) };
        api.patch(&n, &PostParams::default(), &Patch::Merge(json!({"spec": {"taints": v}}))).await?;
        out(&format!("node/{n} {word}\n"));
    }
    Ok(())
}
