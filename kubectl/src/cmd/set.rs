//! `kubectl set image`.

use client::{Patch, PostParams};
use clap::Subcommand;
use serde_json::{json, Value};

use super::common::{done, named_objects, split_changes, DryRun, FileArgs};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};

#[derive(Subcommand, Debug)]
pub enum SetCmd {
    /// Update the image of a pod template
    Image(ImageArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ImageArgs {
    /// (-f FILENAME | TYPE NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... CONTAINER_NAME_N=CONTAINER_IMAGE_N
    pub args: Vec<String>,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Select all resources, in the namespace of the specified resource types
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub files: FileArgs,
    /// Must be "none", "server", or "client".
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

/// The pod spec inside an object of `kind`, as a JSON pointer.
pub fn pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    }
}

/// Sets images by container name ("*" for all); returns whether anything matched.
pub fn set_images(obj: &mut Value, images: &[(String, String)]) -> CmdResult<bool> {
    let kind = crate::util::s(obj, "/kind").to_string();
    let ptr = pod_spec_pointer(&kind);
    let Some(spec) = obj.pointer_mut(ptr) else { return Ok(false) };
    for (name, image) in images {
        let mut found = false;
        for field in ["initContainers", "containers"] {
            if let Some(cs) = spec.get_mut(field).and_then(Value::as_array_mut) {
                for c in cs {
                    if name == "*" || c.get("name").and_then(Value::as_str) == Some(name) {
                        c["image"] = json!(image);
                        found = true;
                    }
                }
            }
        }
        if !found {
            return Err(CmdError::msg(format!("unable to find container named \"{name}\"")));
        }
    }
    Ok(true)
}

pub async fn run(ctx: &Ctx, cmd: SetCmd) -> CmdResult {
    let SetCmd::Image(a) = cmd;
    let (resources, changes) = split_changes(&a.args);
    if changes.is_empty() {
        return Err(CmdError::usage("set image", "at least one image update is required"));
    }
    let images: Vec<(String, String)> =
        changes.iter().filter_map(|c| c.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    let targets = named_objects(ctx, &resources, &a.files, a.selector.as_deref(), a.all).await?;
    let mut errors = Vec::new();
    for t in targets {
        let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
        let before = super::common::with_type(&t.resource, api.get(&t.name).await?);
        let mut after = before.clone();
        if let Err(e) = set_images(&mut after, &images) {
            errors.push(e);
            continue;
        }
        let patch = crate::apply::merge_patch(&before, &after);
        if dry != DryRun::Client && !crate::apply::is_empty_patch(&patch) {
            let pp = PostParams { dry_run: dry == DryRun::Server, ..Default::default() };
            if let Err(e) = api.patch(&t.name, &pp, &Patch::Merge(patch)).await {
                errors.push(e.into());
                continue;
            }
        }
        out(&done(&t.resource, &t.name, "image updated", dry));
    }
    CmdError::aggregate(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_by_name_and_star() {
        let mut d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}}});
        set_images(&mut d, &[("a".into(), "x:2".into())]).unwrap();
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "x:2");
        set_images(&mut d, &[("*".into(), "z".into())]).unwrap();
        assert_eq!(d["spec"]["template"]["spec"]["containers"][1]["image"], "z");
        assert!(set_images(&mut d, &[("nope".into(), "z".into())]).is_err());
    }
}
