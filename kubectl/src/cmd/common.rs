//! Helpers shared by commands: "TYPE NAME..." / "TYPE/NAME" arguments,
//! namespaces of objects from files, mapping manifests to resources.

use client::proto::v1::ApiResource;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::manifest::Item;
use crate::resources::Discovery;

/// One resource type and the names asked for (empty: all of them).
#[derive(Debug, Clone)]
pub struct Target {
    pub resource: ApiResource,
    pub names: Vec<String>,
}

/// Parses upstream's ResourceTypeOrNameArgs: "pods", "pods,svc", "pod a b",
/// "pod/a svc/b", "all".
pub fn parse_targets(d: &Discovery, args: &[String]) -> CmdResult<Vec<Target>> {
    if args.is_empty() {
        return Ok(Vec::new());
    }
    if args[0].contains('/') {
        let mut out: Vec<Target> = Vec::new();
        for a in args {
            let Some((ty, name)) = a.split_once('/') else {
                return Err(CmdError::msg(
                    "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'",
                ));
            };
            if name.is_empty() {
                return Err(CmdError::msg(format!("arguments in resource/name form must have a single resource and name")));
            }
            let r = d.resolve_one(ty)?.clone();
            match out.iter_mut().find(|t| t.resource == r) {
                Some(t) => t.names.push(name.to_string()),
                None => out.push(Target { resource: r, names: vec![name.to_string()] }),
            }
        }
        return Ok(out);
    }
    let names: Vec<String> = args[1..].to_vec();
    if let Some(n) = names.iter().find(|n| n.contains('/')) {
        let _ = n;
        return Err(CmdError::msg(
            "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'",
        ));
    }
    let mut out: Vec<Target> = Vec::new();
    for ty in args[0].split(',').filter(|t| !t.is_empty()) {
        for r in d.resolve(ty)? {
            if !out.iter().any(|t| t.resource == *r) {
                out.push(Target { resource: r.clone(), names: names.clone() });
            }
        }
    }
    Ok(out)
}

/// A manifest's resource, and the namespace its object goes to.
pub fn map_item<'a>(ctx: &Ctx, d: &'a Discovery, item: &Item) -> CmdResult<(&'a ApiResource, Option<String>)> {
    let av = item.obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = item.obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let r = d.by_kind(av, kind).ok_or_else(|| {
        CmdError::msg(format!(
            "resource mapping not found for name: \"{}\" namespace: \"{}\" from \"{}\": no matches for kind \"{kind}\" in version \"{av}\"\nensure CRDs are installed first",
            crate::util::name(&item.obj),
            crate::util::namespace(&item.obj),
            item.source
        ))
    })?;
    if !r.namespaced {
        return Ok((r, None));
    }
    let resolved = ctx.resolved()?;
    let obj_ns = crate::util::namespace(&item.obj);
    if !obj_ns.is_empty() {
        if resolved.namespace_explicit && obj_ns != resolved.namespace {
            return Err(CmdError::msg(format!(
                "the namespace from the provided object \"{obj_ns}\" does not match the namespace \"{}\". You must pass '--namespace={obj_ns}' to perform this operation.",
                resolved.namespace
            )));
        }
        return Ok((r, Some(obj_ns.to_string())));
    }
    Ok((r, Some(resolved.namespace.clone())))
}

/// Sets apiVersion, kind and (for namespaced kinds) the namespace.
pub fn complete_object(r: &ApiResource, obj: &mut Value, ns: Option<&str>) {
    if let Some(m) = obj.as_object_mut() {
        m.entry("apiVersion").or_insert_with(|| Value::String(crate::resources::api_version(r)));
        m.entry("kind").or_insert_with(|| Value::String(r.kind.clone()));
        if let (Some(ns), true) = (ns, r.namespaced) {
            let meta = m.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            }
        }
    }
}

/// Objects from list responses lack apiVersion/kind on some servers: add them.
pub fn with_type(r: &ApiResource, mut obj: Value) -> Value {
    if let Some(m) = obj.as_object_mut() {
        if !m.contains_key("apiVersion") {
            m.insert("apiVersion".into(), Value::String(crate::resources::api_version(r)));
        }
        if !m.contains_key("kind") {
            m.insert("kind".into(), Value::String(r.kind.clone()));
        }
    }
    obj
}

/// "deployment.apps/web created": the line mutating commands print.
pub fn done(r: &ApiResource, name: &str, what: &str, dry_run: DryRun) -> String {
    format!("{}/{name} {what}{}\n", crate::resources::kind_prefix(r), dry_run.suffix())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    #[default]
    None,
    Client,
    Server,
}

impl DryRun {
    pub fn parse(s: Option<&str>) -> CmdResult<Self> {
        match s {
            None | Some("none") => Ok(DryRun::None),
            Some("client") | Some("") | Some("true") => Ok(DryRun::Client),
            Some("server") => Ok(DryRun::Server),
            Some(o) => Err(CmdError::msg(format!(
                "Invalid dry-run value ({o}). Must be \"none\", \"server\", or \"client\"."
            ))),
        }
    }
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// Names of `-f` files as the flag takes them.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FileArgs {
    /// Filename, directory, or URL to files identifying the resource.
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    /// Process the directory used in -f, --filename recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

/// One object to act on.
#[derive(Debug, Clone)]
pub struct Named {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    /// The object as read from a file (`-f`), if it came from one.
    pub from_file: Option<Item>,
}

/// Objects named by `TYPE NAME...`, `TYPE/NAME...`, `-f`, or `-l`/`--all` on a type.
pub async fn named_objects(
    ctx: &Ctx,
    args: &[String],
    files: &FileArgs,
    selector: Option<&str>,
    all: bool,
) -> CmdResult<Vec<Named>> {
    let d = ctx.discovery().await?;
    let ns = ctx.namespace()?;
    let mut out = Vec::new();
    if !files.filename.is_empty() {
        for item in crate::manifest::read(&files.filename, files.recursive)? {
            let (r, ins) = map_item(ctx, d, &item)?;
            out.push(Named { resource: r.clone(), namespace: ins, name: crate::util::name(&item.obj).to_string(), from_file: Some(item) });
        }
        return Ok(out);
    }
    if args.is_empty() {
        return Err(CmdError::usage("", "You must provide one or more resources by argument or filename."));
    }
    for t in parse_targets(d, args)? {
        let tns = t.resource.namespaced.then(|| ns.clone());
        if t.names.is_empty() {
            if selector.is_none() && !all {
                return Err(CmdError::msg("resource(s) were provided, but no name was specified"));
            }
            let api = ctx.api(&t.resource, tns.as_deref()).await?;
            let lp = client::ListParams { label_selector: selector.map(str::to_string), ..Default::default() };
            for o in api.list(&lp).await?.items {
                out.push(Named { resource: t.resource.clone(), namespace: tns.clone(), name: crate::util::name(&o).to_string(), from_file: None });
            }
        } else {
            for n in t.names {
                out.push(Named { resource: t.resource.clone(), namespace: tns.clone(), name: n, from_file: None });
            }
        }
    }
    Ok(out)
}

/// Splits "TYPE NAME key=val key-" arguments into resources and changes.
pub fn split_changes(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut res = Vec::new();
    let mut changes = Vec::new();
    for a in args {
        if a.contains('=') || (a.ends_with('-') && !res.is_empty()) {
            changes.push(a.clone());
        } else {
            res.push(a.clone());
        }
    }
    (res, changes)
}

/// PATCH on a subresource ("status", "scale"), which `client::Api` does not cover.
pub async fn patch_subresource(
    ctx: &Ctx,
    r: &ApiResource,
    ns: Option<&str>,
    name: &str,
    sub: &str,
    patch: &client::Patch,
    dry_run: bool,
) -> CmdResult<Value> {
    let client = ctx.client().await?;
    let mut target = crate::resources::to_ref(r).to_ref(ns, name);
    target.subresource = sub.to_string();
    let req = client::proto::v1::PatchRequest {
        target: Some(target),
        patch_type: patch.patch_type() as i32,
        patch: serde_json::to_vec(patch.body())?,
        dry_run,
        field_manager: "kubectl-patch".into(),
        force: false,
    };
    let raw = client.grpc().patch(req).await.map_err(client::Error::from)?.into_inner();
    Ok(serde_json::from_slice(&raw.raw)?)
}
