//! `kubectl patch`: strategic (default), merge or json patches, from -p or --patch-file.

use client::{Patch, PostParams};
use serde_json::Value;

use super::common::{done, named_objects, patch_subresource, DryRun, FileArgs};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::{print_each, Output};

#[derive(clap::Args, Debug, Clone)]
pub struct PatchArgs {
    /// TYPE NAME or TYPE/NAME
    pub args: Vec<String>,
    /// The patch to be applied to the resource JSON file.
    #[arg(short = 'p', long)]
    pub patch: Option<String>,
    /// A file containing a patch to be applied to the resource.
    #[arg(long = "patch-file")]
    pub patch_file: Option<String>,
    /// The type of patch being provided; one of [json merge strategic]
    #[arg(long = "type", default_value = "strategic")]
    pub type_: String,
    /// If specified, patch will operate on the subresource of the requested object. Must be one of [status scale].
    #[arg(long)]
    pub subresource: Option<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Must be "none", "server", or "client".
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

pub fn parse_patch(text: &str, ty: &str) -> CmdResult<Patch> {
    // Upstream's yaml.ToJSON: JSON as is, else the first YAML document.
    let docs = client::yaml::documents(text).map_err(|e| CmdError::msg(format!("unable to parse \"{text}\": {e}")))?;
    let body = docs.into_iter().next().unwrap_or(Value::Null);
    Ok(match ty {
        "strategic" => Patch::Strategic(body),
        "merge" => Patch::Merge(body),
        "json" => Patch::Json(body),
        o => return Err(CmdError::msg(format!("--type must be one of [json merge strategic], not \"{o}\""))),
    })
}

pub async fn run(ctx: &Ctx, a: PatchArgs) -> CmdResult {
    let text = match (&a.patch, &a.patch_file) {
        (Some(_), Some(_)) => return Err(CmdError::msg("--patch and --patch-file are mutually exclusive")),
        (Some(p), None) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| CmdError::msg(format!("unable to read patch file: {e}")))?,
        (None, None) => return Err(CmdError::usage("patch", "must specify --patch or --patch-file containing the contents of the patch")),
    };
    if let Some(s) = &a.subresource {
        if s != "status" && s != "scale" {
            return Err(CmdError::msg(format!("invalid subresource value: \"{s}\". Must be one of [status scale]")));
        }
    }
    let patch = parse_patch(&text, &a.type_)?;
    let output = Output::parse_for_write(a.output.as_deref())?;
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    let targets = named_objects(ctx, &a.args, &a.files, None, false).await?;
    let mut errors = Vec::new();
    for t in targets {
        let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
        let before = match api.get(&t.name).await {
            Ok(o) => o,
            Err(e) => {
                errors.push(e.into());
                continue;
            }
        };
        let result = if dry == DryRun::Client {
            Ok(before.clone())
        } else if let Some(sub) = &a.subresource {
            patch_subresource(ctx, &t.resource, t.namespace.as_deref(), &t.name, sub, &patch, dry == DryRun::Server).await
        } else {
            let pp = PostParams { dry_run: dry == DryRun::Server, field_manager: Some("kubectl-patch".into()) };
            api.patch(&t.name, &pp, &patch).await.map_err(CmdError::from)
        };
        match result {
            Ok(after) => {
                if output == Output::Table {
                    let same = crate::util::s(&before, "/metadata/resourceVersion") == crate::util::s(&after, "/metadata/resourceVersion");
                    out(&done(&t.resource, &t.name, if same && dry == DryRun::None { "patched (no change)" } else { "patched" }, dry));
                } else {
                    out(&print_each(&output, &[(&t.resource, after)])?);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    CmdError::aggregate(errors)
}
