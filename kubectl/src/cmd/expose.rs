//! `kubectl expose`: a Service for a deployment, replica set, replication
//! controller, pod or service, with its selector and ports.

use serde_json::{json, Map, Value};

use super::create::{create_generated, WriteFlags};
use super::common::{named_objects, FileArgs};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct ExposeArgs {
    /// TYPE NAME or TYPE/NAME
    pub args: Vec<String>,
    /// The port that the service should serve on. Copied from the resource being exposed, if unspecified
    #[arg(long)]
    pub port: Option<String>,
    /// Name or number for the port on the container that the service should direct traffic to. Optional.
    #[arg(long = "target-port")]
    pub target_port: Option<String>,
    /// The network protocol for the service to be created. Default is 'TCP'.
    #[arg(long)]
    pub protocol: Option<String>,
    /// The name for the newly created object.
    #[arg(long)]
    pub name: Option<String>,
    /// Type for this service: ClusterIP, NodePort, LoadBalancer, or ExternalName. Default is 'ClusterIP'.
    #[arg(long = "type")]
    pub type_: Option<String>,
    /// A label selector to use for this service. Only equality-based selector requirements are supported.
    #[arg(long)]
    pub selector: Option<String>,
    /// Labels to apply to the service created by this call.
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// ClusterIP to be assigned to the service. Leave empty to auto-allocate, or set to 'None' to create a headless service.
    #[arg(long = "cluster-ip")]
    pub cluster_ip: Option<String>,
    /// Additional external IP address (not managed by Kubernetes) to accept for the service.
    #[arg(long = "external-ip")]
    pub external_ip: Option<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub write: WriteFlags,
}

fn kv_map(s: &str) -> CmdResult<Map<String, Value>> {
    let mut m = Map::new();
    for kv in s.split(',').filter(|x| !x.is_empty()) {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(CmdError::msg(format!("invalid label spec: {kv}")));
        };
        m.insert(k.to_string(), json!(v));
    }
    Ok(m)
}

/// The selector of the exposed object, as a map of labels.
fn selector_of(obj: &Value) -> CmdResult<Map<String, Value>> {
    let kind = crate::util::s(obj, "/kind");
    let sel = match kind {
        "Pod" => obj.pointer("/metadata/labels").cloned(),
        "ReplicationController" | "Service" => obj.pointer("/spec/selector").cloned(),
        _ => {
            if obj.pointer("/spec/selector/matchExpressions").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
                return Err(CmdError::msg(format!(
                    "couldn't convert expressions - \"{}\" to map-based selector format",
                    super::super::printers::kinds::selector_string(obj.pointer("/spec/selector"))
                )));
            }
            obj.pointer("/spec/selector/matchLabels").cloned()
        }
    };
    match sel.and_then(|s| s.as_object().cloned()).filter(|m| !m.is_empty()) {
        Some(m) => Ok(m),
        None => Err(CmdError::msg(format!("couldn't retrieve selectors via --selector flag or introspection: the {} has no selector", kind.to_lowercase()))),
    }
}

/// Container ports (pods and templates) or service ports of the exposed object.
fn ports_of(obj: &Value) -> Vec<(i64, String, Option<String>)> {
    let containers = match crate::util::s(obj, "/kind") {
        "Pod" => crate::util::arr(obj, "/spec/containers"),
        "Service" => {
            return crate::util::arr(obj, "/spec/ports")
                .iter()
                .map(|p| (crate::util::i(p, "/port"), proto(p), Some(crate::util::s(p, "/name").to_string()).filter(|n| !n.is_empty())))
                .collect()
        }
        _ => crate::util::arr(obj, "/spec/template/spec/containers"),
    };
    containers
        .iter()
        .flat_map(|c| crate::util::arr(c, "/ports").iter())
        .map(|p| (crate::util::i(p, "/containerPort"), proto(p), Some(crate::util::s(p, "/name").to_string()).filter(|n| !n.is_empty())))
        .collect()
}

fn proto(p: &Value) -> String {
    match crate::util::s(p, "/protocol") {
        "" => "TCP".into(),
        x => x.into(),
    }
}

pub fn build_service(obj: &Value, a: &ExposeArgs) -> CmdResult<Value> {
    let name = a.name.clone().unwrap_or_else(|| crate::util::name(obj).to_string());
    let selector = match &a.selector {
        Some(s) => kv_map(s)?,
        None => selector_of(obj)?,
    };
    let labels = match &a.labels {
        Some(l) => Value::Object(kv_map(l)?),
        None => obj.pointer("/metadata/labels").cloned().unwrap_or(Value::Null),
    };
    let target = |p: i64| -> Value {
        match &a.target_port {
            Some(t) => t.parse::<i64>().map(|n| json!(n)).unwrap_or_else(|_| json!(t)),
            None => json!(p),
        }
    };
    let mut ports: Vec<Value> = Vec::new();
    match &a.port {
        Some(p) => {
            for (i, part) in p.split(',').enumerate() {
                let n: i64 = part.parse().map_err(|_| CmdError::msg(format!("invalid port: {part}")))?;
                let mut port = json!({"port": n, "protocol": a.protocol.clone().unwrap_or_else(|| "TCP".into()), "targetPort": target(n)});
                if p.contains(',') {
                    port["name"] = json!(format!("port-{}", i + 1));
                }
                ports.push(port);
            }
        }
        None => {
            let found = ports_of(obj);
            if found.is_empty() {
                return Err(CmdError::msg("couldn't find port via --port flag or introspection"));
            }
            let many = found.len() > 1;
            for (i, (n, pr, pname)) in found.into_iter().enumerate() {
                let mut port = json!({"port": n, "protocol": a.protocol.clone().unwrap_or(pr), "targetPort": target(n)});
                if many {
                    port["name"] = json!(pname.unwrap_or_else(|| format!("port-{}", i + 1)));
                }
                ports.push(port);
            }
        }
    }
    let mut meta = json!({"creationTimestamp": null, "name": name});
    if !labels.is_null() {
        meta["labels"] = labels;
    }
    let mut spec = json!({"ports": ports, "selector": selector});
    if let Some(t) = &a.type_ {
        spec["type"] = json!(t);
    }
    if let Some(ip) = &a.cluster_ip {
        spec["clusterIP"] = json!(ip);
    }
    if let Some(ip) = &a.external_ip {
        spec["externalIPs"] = json!([ip]);
    }
    Ok(json!({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec, "status": {"loadBalancer": {}}}))
}

pub async fn run(ctx: &Ctx, a: ExposeArgs) -> CmdResult {
    let targets = named_objects(ctx, &a.args, &a.files, None, false).await?;
    for t in targets {
        if !matches!(t.resource.kind.as_str(), "Deployment" | "ReplicaSet" | "ReplicationController" | "Pod" | "Service") {
            return Err(CmdError::msg(format!("cannot expose a {}", t.resource.kind)));
        }
        let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
        let obj = super::common::with_type(&t.resource, api.get(&t.name).await?);
        let svc = build_service(&obj, &a)?;
        let mut write = a.write.clone();
        if write.output.is_none() {
            // Upstream says "exposed" rather than "created".
            write.output = Some("name".into());
            let svc_name = crate::util::name(&svc).to_string();
            let dry = super::common::DryRun::parse(write.dry_run.as_deref())?;
            create_silent(ctx, svc, &write).await?;
            out(&format!("service/{svc_name} exposed{}\n", dry.suffix()));
        } else {
            create_generated(ctx, svc, &write).await?;
        }
    }
    Ok(())
}

async fn create_silent(ctx: &Ctx, mut svc: Value, write: &WriteFlags) -> CmdResult {
    let dry = super::common::DryRun::parse(write.dry_run.as_deref())?;
    if dry == super::common::DryRun::Client {
        return Ok(());
    }
    let r = crate::resources::builtin("v1", "Service").expect("Service is built in");
    let ns = ctx.namespace()?;
    super::common::complete_object(&r, &mut svc, Some(&ns));
    let api = ctx.api(&r, Some(&ns)).await?;
    let pp = client::PostParams { dry_run: dry == super::common::DryRun::Server, field_manager: Some("kubectl-expose".into()) };
    api.create(&pp, &svc).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ExposeArgs {
        ExposeArgs {
            args: vec![],
            port: None,
            target_port: None,
            protocol: None,
            name: None,
            type_: None,
            selector: None,
            labels: None,
            cluster_ip: None,
            external_ip: None,
            files: Default::default(),
            write: Default::default(),
        }
    }

    #[test]
    fn service_from_deployment() {
        let dep = json!({"kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}}}});
        let mut a = args();
        a.port = Some("80".into());
        a.target_port = Some("8080".into());
        let svc = build_service(&dep, &a).unwrap();
        assert_eq!(
            crate::util::to_yaml(&svc),
            "apiVersion: v1\nkind: Service\nmetadata:\n  creationTimestamp: null\n  labels:\n    app: web\n  name: web\nspec:\n  ports:\n  - port: 80\n    protocol: TCP\n    targetPort: 8080\n  selector:\n    app: web\nstatus:\n  loadBalancer: {}\n"
        );
        let svc = build_service(&dep, &args()).unwrap();
        assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
        let bare = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}});
        assert!(build_service(&bare, &args()).is_err());
    }
}
