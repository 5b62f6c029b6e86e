//! `kubectl apply -f`: client-side apply (creates, or patches with the
//! three-way merge of src/apply.rs; keeps the last-applied annotation).

use client::proto::v1::ApiResource;
use client::{Patch, PostParams};
use serde_json::Value;

use super::common::{complete_object, done, map_item, DryRun, FileArgs};
use crate::apply::{is_empty_patch, merge_patch, original_of, three_way, with_last_applied};
use crate::context::{err, out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::manifest::Item;
use crate::printers::{print_each, Output};

#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ApplyArgs {
    #[command(subcommand)]
    pub sub: Option<ApplySub>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Must be "none", "server", or "client". If client strategy, only print the object that would be sent, without sending it.
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
    /// Name of the manager used to track field ownership.
    #[arg(long = "field-manager", default_value = "kubectl-client-side-apply")]
    pub field_manager: String,
    /// If true, use server-side apply (not served yet: client-side apply is used).
    #[arg(long = "server-side")]
    pub server_side: bool,
    /// Must be one of: strict (or true), warn, ignore (or false) (accepted for compatibility).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "strict")]
    pub validate: Option<String>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum ApplySub {
    /// View the latest last-applied-configuration annotations of a resource/object
    ViewLastApplied {
        /// (TYPE [NAME | -l label] | TYPE/NAME | -f FILENAME)
        args: Vec<String>,
        #[command(flatten)]
        files: FileArgs,
        /// Output format. Must be one of (yaml, json)
        #[arg(short = 'o', long, default_value = "yaml")]
        output: String,
        /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
        #[arg(short = 'l', long)]
        selector: Option<String>,
        /// Select all resources in the namespace of the specified resource types
        #[arg(long)]
        all: bool,
    },
}

/// `kubectl apply view-last-applied`: the annotation as YAML (sorted keys) or
/// JSON indented by two spaces; objects without it are skipped, as upstream.
async fn view_last_applied(ctx: &Ctx, sub: ApplySub) -> CmdResult {
    let ApplySub::ViewLastApplied { args, files, output, selector, all } = sub;
    if output != "yaml" && output != "json" {
        return Err(CmdError::usage(
            "apply view-last-applied",
            format!("Unexpected -o output mode: {output}, the flag 'output' must be one of yaml|json"),
        ));
    }
    for t in super::common::named_objects(ctx, &args, &files, selector.as_deref(), all).await? {
        let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
        let live = api.get(&t.name).await?;
        let Some(orig) = original_of(&live) else { continue };
        if output == "json" {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"  ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&orig, &mut ser)?;
            out(&format!("{}\n", String::from_utf8_lossy(&buf)));
        } else {
            out(&crate::util::to_yaml(&orig));
        }
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, a: ApplyArgs) -> CmdResult {
    if let Some(sub) = a.sub {
        return view_last_applied(ctx, sub).await;
    }
    if a.files.filename.is_empty() {
        return Err(CmdError::usage("apply", "must specify one of -f and -k"));
    }
    if a.server_side {
        return Err(CmdError::msg("--server-side is not supported by this server yet; use client-side apply"));
    }
    let output = Output::parse_for_write(a.output.as_deref())?;
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    let items = crate::manifest::read(&a.files.filename, a.files.recursive)?;
    if items.is_empty() {
        return Err(CmdError::msg("no objects passed to apply"));
    }
    let d = ctx.discovery().await?;
    let mut errors = Vec::new();
    for item in &items {
        let (r, ns) = match map_item(ctx, d, item) {
            Ok(x) => x,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match apply_one(ctx, r, ns.as_deref(), item, dry, &a.field_manager).await {
            Ok((obj, what)) => {
                if output == Output::Table {
                    out(&done(r, crate::util::name(&obj), what, dry));
                } else {
                    out(&print_each(&output, &[(r, obj)])?);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    CmdError::aggregate(errors)
}

/// Applies one object; returns the result and "created", "configured" or "unchanged".
pub async fn apply_one(
    ctx: &Ctx,
    r: &ApiResource,
    ns: Option<&str>,
    item: &Item,
    dry: DryRun,
    field_manager: &str,
) -> CmdResult<(Value, &'static str)> {
    let mut obj = item.obj.clone();
    complete_object(r, &mut obj, ns);
    let modified = with_last_applied(&obj);
    let name = crate::util::name(&obj).to_string();
    let api = ctx.api(r, ns).await?;
    let pp = PostParams { dry_run: dry == DryRun::Server, field_manager: Some(field_manager.to_string()) };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let live = api.get_opt(&name).await.map_err(|e| CmdError::from(e).with_source("retrieving current configuration of", &item.source))?;
        let Some(live) = live else {
            if dry == DryRun::Client {
                return Ok((modified, "created"));
            }
            let created = api.create(&pp, &modified).await.map_err(|e| CmdError::from(e).with_source("creating", &item.source))?;
            return Ok((created, "created"));
        };
        let original = original_of(&live);
        if original.is_none() && attempt == 1 {
            err(&format!(
                "Warning: resource {}/{name} is missing the kubectl.kubernetes.io/last-applied-configuration annotation which is required by kubectl apply. kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. The missing annotation will be patched automatically.\n",
                crate::resources::group_resource(r)
            ));
        }
        let desired = three_way(original.as_ref(), &modified, &live);
        let patch = merge_patch(&live, &desired);
        if is_empty_patch(&patch) {
            return Ok((live, "unchanged"));
        }
        if dry == DryRun::Client {
            return Ok((desired, "configured"));
        }
        match api.patch(&name, &pp, &Patch::Merge(patch)).await {
            Ok(o) => return Ok((o, "configured")),
            Err(e) if e.is_conflict() && attempt < 5 => continue,
            Err(e) => return Err(CmdError::from(e).with_source("patching", &item.source)),
        }
    }
}
