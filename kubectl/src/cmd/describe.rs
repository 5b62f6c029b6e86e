//! `kubectl describe`: fetches the object, the events about it and what the
//! describer needs (owned replica sets, pods, endpoints), then prints.

use client::proto::v1::ApiResource;
use client::ListParams;
use serde_json::Value;

use super::common::{parse_targets, with_type, FileArgs};
use crate::context::{err, out, Ctx};
use crate::describe::{self, network, others, pod, policy, workloads};
use crate::error::{CmdError, CmdResult};
use crate::util::{arr, s};

#[derive(clap::Args, Debug, Clone)]
pub struct DescribeArgs {
    /// (TYPE [NAME_PREFIX] | TYPE/NAME)
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// If present, list the requested object(s) across all namespaces.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    /// If true, display events related to the described object.
    #[arg(long = "show-events", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub show_events: String,
}

pub async fn run(ctx: &Ctx, a: DescribeArgs) -> CmdResult {
    let d = ctx.discovery().await?;
    let ns = ctx.namespace()?;
    let mut objs: Vec<(ApiResource, Value)> = Vec::new();
    let mut errors = Vec::new();
    if !a.files.filename.is_empty() {
        for item in crate::manifest::read(&a.files.filename, a.files.recursive)? {
            let (r, ins) = super::common::map_item(ctx, d, &item)?;
            let api = ctx.api(r, ins.as_deref()).await?;
            match api.get(crate::util::name(&item.obj)).await {
                Ok(o) => objs.push((r.clone(), with_type(r, o))),
                Err(e) => errors.push(e.into()),
            }
        }
    } else {
        if a.args.is_empty() {
            return Err(CmdError::raw("You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete list of supported resources.\n"));
        }
        for t in parse_targets(d, &a.args)? {
            let list_ns = if a.all_namespaces { None } else { Some(ns.as_str()) };
            let api = ctx.api(&t.resource, list_ns).await?;
            if t.names.is_empty() {
                let lp = ListParams { label_selector: a.selector.clone(), ..Default::default() };
                for o in api.list(&lp).await?.items {
                    objs.push((t.resource.clone(), with_type(&t.resource, o)));
                }
                continue;
            }
            let api = ctx.api(&t.resource, Some(&ns)).await?;
            for n in &t.names {
                match api.get(n).await {
                    Ok(o) => objs.push((t.resource.clone(), with_type(&t.resource, o))),
                    Err(e) if e.is_not_found() => {
                        // As upstream: a name that matches no object is tried as a prefix.
                        let all = api.list(&ListParams::default()).await?.items;
                        let matched: Vec<Value> = all.into_iter().filter(|o| crate::util::name(o).starts_with(n.as_str())).collect();
                        if matched.is_empty() {
                            errors.push(e.into());
                        }
                        for o in matched {
                            objs.push((t.resource.clone(), with_type(&t.resource, o)));
                        }
                    }
                    Err(e) => errors.push(e.into()),
                }
            }
        }
    }
    if objs.is_empty() && errors.is_empty() {
        if a.all_namespaces {
            err("No resources found\n");
        } else {
            err(&format!("No resources found in {ns} namespace.\n"));
        }
        return Ok(());
    }
    let show_events = a.show_events != "false";
    let mut first = true;
    for (r, o) in &objs {
        let text = describe_one(ctx, r, o, show_events).await?;
        if first {
            out(&text);
            first = false;
        } else {
            out(&format!("\n\n{text}"));
        }
    }
    CmdError::aggregate(errors)
}

async fn list_in(ctx: &Ctx, resource: &str, ns: Option<&str>, lp: &ListParams) -> Vec<Value> {
    let Ok(d) = ctx.discovery().await else { return vec![] };
    let Ok(r) = d.resolve_one(resource) else { return vec![] };
    let Ok(api) = ctx.api(r, ns).await else { return vec![] };
    api.list(lp).await.map(|l| l.items).unwrap_or_default()
}

/// The objects of `resource` in `ns`; None if the server does not serve it.
async fn list_served(ctx: &Ctx, resource: &str, ns: &str) -> Option<Vec<Value>> {
    let d = ctx.discovery().await.ok()?;
    let r = d.resolve_one(resource).ok()?;
    let api = ctx.api(r, Some(ns)).await.ok()?;
    api.list(&ListParams::default()).await.ok().map(|l| l.items)
}

/// Events whose involvedObject is `o`.
async fn events_for(ctx: &Ctx, r: &ApiResource, o: &Value) -> Vec<Value> {
    let ns = crate::util::namespace(o);
    let all = list_in(ctx, "events", if r.namespaced { Some(ns) } else { None }, &ListParams::default()).await;
    let uid = s(o, "/metadata/uid");
    all.into_iter()
        .filter(|e| {
            s(e, "/involvedObject/name") == crate::util::name(o)
                && s(e, "/involvedObject/kind") == r.kind
                && (s(e, "/involvedObject/uid").is_empty() || uid.is_empty() || s(e, "/involvedObject/uid") == uid)
        })
        .collect()
}

fn owned_by<'a>(items: &'a [Value], uid: &str) -> Vec<Value> {
    items
        .iter()
        .filter(|x| arr(x, "/metadata/ownerReferences").iter().any(|o| s(o, "/uid") == uid && o.get("controller").and_then(Value::as_bool) == Some(true)))
        .cloned()
        .collect()
}

pub async fn describe_one(ctx: &Ctx, r: &ApiResource, o: &Value, show_events: bool) -> CmdResult<String> {
    let now = chrono::Utc::now();
    let mut evs = if show_events { Some(events_for(ctx, r, o).await) } else { None };
    let ns = crate::util::namespace(o);
    let uid = s(o, "/metadata/uid");
    let text = match (r.group.as_str(), r.kind.as_str()) {
        ("", "Pod") => pod::describe(o, evs.as_deref_mut(), now),
        ("apps", "Deployment") => {
            let rss = list_in(ctx, "replicasets.apps", Some(ns), &ListParams::default()).await;
            workloads::deployment(o, &owned_by(&rss, uid), evs.as_deref_mut(), now)
        }
        ("apps", "ReplicaSet") | ("apps", "StatefulSet") | ("apps", "DaemonSet") => {
            let pods = list_in(ctx, "pods", Some(ns), &ListParams::default()).await;
            let mine = owned_by(&pods, uid);
            match r.kind.as_str() {
                "ReplicaSet" => workloads::replicaset(o, &mine, evs.as_deref_mut(), now),
                "StatefulSet" => workloads::statefulset(o, &mine, evs.as_deref_mut(), now),
                _ => workloads::daemonset(o, &mine, evs.as_deref_mut(), now),
            }
        }
        ("batch", "Job") => workloads::job(o, evs.as_deref_mut(), now),
        ("batch", "CronJob") => workloads::cronjob(o, evs.as_deref_mut(), now),
        ("", "ReplicationController") => {
            let pods = list_in(ctx, "pods", Some(ns), &ListParams::default()).await;
            workloads::replicationcontroller(o, &owned_by(&pods, uid), evs.as_deref_mut(), now)
        }
        ("", "Service") => {
            let slices: Vec<Value> = list_in(ctx, "endpointslices.discovery.k8s.io", Some(ns), &ListParams::default())
                .await
                .into_iter()
                .filter(|e| s(e, "/metadata/labels/kubernetes.io~1service-name") == crate::util::name(o))
                .collect();
            network::service(o, &slices, evs.as_deref_mut(), now)
        }
        ("", "Endpoints") => network::endpoints(o, evs.as_deref_mut(), now),
        ("discovery.k8s.io", "EndpointSlice") => network::endpointslice(o, evs.as_deref_mut(), now),
        ("", "Node") => {
            let name = crate::util::name(o);
            let lease = match ctx.discovery().await?.resolve_one("leases.coordination.k8s.io") {
                Ok(lr) => match ctx.api(lr, Some("kube-node-lease")).await?.get(name).await {
                    Ok(l) => Ok(l),
                    Err(e) => Err(CmdError::from(e).render().0.trim_end().trim_start_matches("Error from server (NotFound): ").to_string()),
                },
                Err(_) => Err("the server doesn't serve leases".to_string()),
            };
            let pods: Vec<Value> = list_in(ctx, "pods", None, &ListParams::default())
                .await
                .into_iter()
                .filter(|p| s(p, "/spec/nodeName") == name && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed"))
                .collect();
            others::node(o, lease, &pods, evs.as_deref_mut(), now)
        }
        ("", "Namespace") => {
            let q = list_served(ctx, "resourcequotas", crate::util::name(o)).await;
            let l = list_served(ctx, "limitranges", crate::util::name(o)).await;
            others::namespace(o, q.as_deref(), l.as_deref())
        }
        ("", "ConfigMap") => others::configmap(o, evs.as_deref_mut(), now),
        ("", "Secret") => others::secret(o),
        ("", "ServiceAccount") => {
            let secrets = list_served(ctx, "secrets", ns).await;
            others::serviceaccount(o, secrets.as_deref(), evs.as_deref_mut(), now)
        }
        ("storage.k8s.io", "StorageClass") => others::storageclass(o, evs.as_deref_mut(), now),
        ("", "PersistentVolume") => others::pv(o, evs.as_deref_mut(), now),
        ("", "PersistentVolumeClaim") => {
            let pods = list_in(ctx, "pods", Some(ns), &ListParams::default()).await;
            let users: Vec<String> = pods
                .iter()
                .filter(|p| arr(p, "/spec/volumes").iter().any(|v| s(v, "/persistentVolumeClaim/claimName") == crate::util::name(o)))
                .map(|p| crate::util::name(p).to_string())
                .collect();
            others::pvc(o, &users, evs.as_deref_mut(), now)
        }
        ("scheduling.k8s.io", "PriorityClass") => policy::priorityclass(o, evs.as_deref_mut(), now),
        ("policy", "PodDisruptionBudget") => policy::pdb(o, evs.as_deref_mut(), now),
        ("", "ResourceQuota") => policy::resourcequota(o),
        ("", "LimitRange") => policy::limitrange(o),
        _ => describe::generic::describe(o, evs.as_deref_mut(), now),
    };
    Ok(text)
}
