//! The pod a logs/exec/attach/port-forward command is about (upstream's
//! polymorphichelpers AttachablePodForObject / LogsForObject): `NAME` or
//! `pod/NAME` directly; `deploy/x`, `rs/x`, `sts/x`, `ds/x`, `job/x`, `rc/x`,
//! `svc/x` by their selector, picking one pod as upstream's GetFirstPod does.

use client::{Api, ListParams};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{CmdError, CmdResult};

/// What a `TYPE/NAME` argument resolved to.
pub struct Resolved {
    pub pod: Pod,
    /// The object named (a Service: port-forward maps its ports).
    pub object: Option<Value>,
    pub kind: String,
}

/// The label selector of a workload or Service, as a selector string.
pub fn selector_of(obj: &Value, kind: &str) -> CmdResult<String> {
    let sel = &obj["spec"]["selector"];
    let flat = |m: &serde_json::Map<String, Value>| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",");
    let s = match kind {
        "Service" | "ReplicationController" => sel.as_object().map(flat).unwrap_or_default(),
        _ => {
            let ls: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector> = serde_json::from_value(sel.clone()).ok();
            api::selector::format_label_selector(ls.as_ref())
        }
    };
    if s.is_empty() || s == "<none>" {
        return Err(CmdError::msg(format!("cannot attach to {kind}: selector is empty")));
    }
    Ok(s)
}

/// Upstream's ordering for choosing a pod (podutils.ActivePods reversed, as
/// GetFirstPod sorts): assigned before unassigned, Running before Unknown
/// before Pending, ready before not ready, longer ready, fewer restarts, older.
fn rank(p: &Pod) -> impl Ord {
    let st = p.status.as_ref();
    let assigned = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some_and(|n| !n.is_empty());
    let phase = match st.and_then(|s| s.phase.as_deref()) {
        Some("Running") => 0,
        Some("Unknown") => 1,
        Some("Pending") => 2,
        _ => 3,
    };
    let ready_cond = st.and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let ready = ready_cond.is_some_and(|c| c.status == "True");
    let ready_since = ready_cond.and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0.as_second());
    let restarts: i32 = st.and_then(|s| s.container_statuses.as_ref()).map(|c| c.iter().map(|c| c.restart_count).sum()).unwrap_or(0);
    let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()).unwrap_or(i64::MAX);
    let name = p.metadata.name.clone().unwrap_or_default();
    (!assigned, phase, !ready, ready_since.unwrap_or(i64::MAX), restarts, created, name)
}

/// Pods matching `selector` in `ns`, best first.
pub async fn pods_for(ctx: &Ctx, ns: &str, selector: &str) -> CmdResult<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(ctx.client().await?.clone(), ns);
    let mut pods = api.list(&ListParams::default().labels(selector)).await?.items;
    pods.retain(|p| p.metadata.deletion_timestamp.is_none());
    pods.sort_by_key(rank);
    Ok(pods)
}

/// Resolves `arg` (`NAME`, `pod/NAME`, `TYPE/NAME`) to one pod.
pub async fn resolve(ctx: &Ctx, ns: &str, arg: &str) -> CmdResult<Resolved> {
    let client = ctx.client().await?.clone();
    let (ty, name) = match arg.split_once('/') {
        Some((t, n)) => (t, n),
        None => ("pods", arg),
    };
    let d = ctx.discovery().await?;
    let r = d.resolve_one(ty)?.clone();
    if r.kind == "Pod" {
        let pod = Api::<Pod>::namespaced(client, ns).get(name).await?;
        return Ok(Resolved { pod, object: None, kind: r.kind });
    }
    let obj = ctx.api(&r, Some(ns)).await?.get(name).await?;
    let sel = selector_of(&obj, &r.kind)?;
    let pods = pods_for(ctx, ns, &sel).await?;
    let pod = pods.into_iter().next().ok_or_else(|| CmdError::msg(format!("no pods found for {} {name:?}", r.kind.to_lowercase())))?;
    Ok(Resolved { pod, object: Some(obj), kind: r.kind })
}

/// "a, b": every container of the pod (init first), upstream's AllContainerNames.
pub fn all_container_names(p: &Pod) -> String {
    let spec = p.spec.as_ref();
    let init = spec.and_then(|s| s.init_containers.as_ref()).into_iter().flatten();
    let main = spec.into_iter().flat_map(|s| s.containers.iter());
    init.chain(main).map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The container `-c` names, else the pod's default-container annotation, else
/// its first container (telling so on stderr when there was a choice).
pub fn default_container(p: &Pod, given: Option<&str>, quiet: bool) -> String {
    if let Some(c) = given.filter(|c| !c.is_empty()) {
        return c.to_string();
    }
    let spec = p.spec.as_ref();
    let names: Vec<&str> = spec.into_iter().flat_map(|s| s.containers.iter()).map(|c| c.name.as_str()).collect();
    let pod_name = p.metadata.name.as_deref().unwrap_or("");
    if let Some(d) = p.metadata.annotations.as_ref().and_then(|a| a.get("kubectl.kubernetes.io/default-container")) {
        let all = all_container_names(p);
        if all.split(", ").any(|n| n == d) {
            return d.clone();
        }
        crate::context::err(&format!("Default container name {d:?} not found in pod {pod_name}\n"));
    }
    let first = names.first().copied().unwrap_or("").to_string();
    let has_init = spec.and_then(|s| s.init_containers.as_ref()).is_some_and(|v| !v.is_empty());
    if !quiet && (names.len() > 1 || has_init) {
        crate::context::err(&format!("Defaulted container {first:?} out of: {}\n", all_container_names(p)));
    }
    first
}
