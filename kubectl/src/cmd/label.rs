//! `kubectl label` and `kubectl annotate`: KEY=VAL to set, KEY- to remove.

use client::{Patch, PostParams};
use serde_json::{json, Map, Value};

use super::common::{done, named_objects, split_changes, DryRun, FileArgs};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::{print_each, Output};

#[derive(clap::Args, Debug, Clone)]
pub struct LabelArgs {
    /// TYPE NAME KEY_1=VAL_1 ... KEY_N=VAL_N, or TYPE/NAME ..., KEY- removes a key.
    pub args: Vec<String>,
    /// If true, allow labels/annotations to be overwritten, otherwise reject updates that overwrite existing ones.
    #[arg(long)]
    pub overwrite: bool,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Select all resources, in the namespace of the specified resource types
    #[arg(long)]
    pub all: bool,
    /// If true, display the labels/annotations for a given resource.
    #[arg(long)]
    pub list: bool,
    /// If non-empty, the update will only succeed if this is the current resource-version for the object.
    #[arg(long = "resource-version")]
    pub resource_version: Option<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Must be "none", "server", or "client".
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Which {
    Labels,
    Annotations,
}

impl Which {
    fn field(self) -> &'static str {
        match self {
            Which::Labels => "labels",
            Which::Annotations => "annotations",
        }
    }
}

/// Parsed changes: keys to set and keys to remove.
pub fn parse_changes(changes: &[String], which: Which) -> CmdResult<(Vec<(String, String)>, Vec<String>)> {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for c in changes {
        if let Some((k, v)) = c.split_once('=') {
            if k.is_empty() {
                return Err(CmdError::msg(format!("invalid {} format: {c}", which_singular(which))));
            }
            set.push((k.to_string(), v.to_string()));
        } else if let Some(k) = c.strip_suffix('-') {
            remove.push(k.to_string());
        } else {
            return Err(CmdError::msg(format!("invalid {} format: {c}", which_singular(which))));
        }
    }
    for (k, _) in &set {
        if remove.contains(k) {
            return Err(CmdError::msg(format!("can not both modify and remove the following {}(s) in the same command: {k}", which_singular(which))));
        }
    }
    Ok((set, remove))
}

fn which_singular(w: Which) -> &'static str {
    match w {
        Which::Labels => "label",
        Which::Annotations => "annotation",
    }
}

pub async fn run(ctx: &Ctx, a: LabelArgs, which: Which) -> CmdResult {
    let (resources, changes) = split_changes(&a.args);
    if resources.is_empty() && a.files.filename.is_empty() {
        return Err(CmdError::msg("one or more resources must be specified as <resource> <name> or <resource>/<name>"));
    }
    let (set, remove) = parse_changes(&changes, which)?;
    if set.is_empty() && remove.is_empty() && !a.list {
        return Err(CmdError::usage("", format!("at least one {} update is required", which_singular(which))));
    }
    let output = Output::parse_for_write(a.output.as_deref())?;
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    let targets = named_objects(ctx, &resources, &a.files, a.selector.as_deref(), a.all).await?;
    let mut errors = Vec::new();
    for t in targets {
        let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
        let obj = match api.get(&t.name).await {
            Ok(o) => o,
            Err(e) => {
                errors.push(e.into());
                continue;
            }
        };
        let current: Map<String, Value> =
            obj.pointer(&format!("/metadata/{}", which.field())).and_then(Value::as_object).cloned().unwrap_or_default();
        if a.list {
            let mut keys: Vec<_> = current.iter().collect();
            keys.sort_by(|x, y| x.0.cmp(y.0));
            out(&keys.iter().map(|(k, v)| format!("{k}={}\n", v.as_str().unwrap_or_default())).collect::<String>());
            continue;
        }
        if !a.overwrite {
            let clash: Vec<String> = set
                .iter()
                .filter_map(|(k, v)| {
                    current.get(k).and_then(Value::as_str).filter(|old| old != v).map(|old| format!("'{k}' already has a value ({old})"))
                })
                .collect();
            if !clash.is_empty() {
                let msg = match which {
                    Which::Labels => format!("{}, and --overwrite is false", clash.join(", ")),
                    Which::Annotations => {
                        format!("--overwrite is false but found the following declared annotation(s): {}", clash.join(", "))
                    }
                };
                errors.push(CmdError::msg(msg));
                continue;
            }
        }
        let mut patch_map = Map::new();
        for (k, v) in &set {
            if current.get(k).and_then(Value::as_str) != Some(v) {
                patch_map.insert(k.clone(), json!(v));
            }
        }
        for k in &remove {
            if current.contains_key(k) {
                patch_map.insert(k.clone(), Value::Null);
            } else if which == Which::Labels {
                out(&format!("label \"{k}\" not found.\n"));
            }
        }
        let changed = !patch_map.is_empty();
        let mut meta = json!({ which.field(): patch_map });
        if let Some(rv) = &a.resource_version {
            meta["resourceVersion"] = json!(rv);
        }
        let result = if changed && dry != DryRun::Client {
            let pp = PostParams { dry_run: dry == DryRun::Server, ..Default::default() };
            match api.patch(&t.name, &pp, &Patch::Merge(json!({ "metadata": meta }))).await {
                Ok(o) => o,
                Err(e) => {
                    errors.push(e.into());
                    continue;
                }
            }
        } else {
            obj
        };
        if output == Output::Table {
            // Upstream compares the object sizes: smaller without --overwrite is "unlabeled".
            let mut after = current.clone();
            for (k, v) in &set {
                after.insert(k.clone(), json!(v));
            }
            for k in &remove {
                after.remove(k);
            }
            let shrank = serde_json::to_string(&after).map(|s| s.len()).unwrap_or(0)
                < serde_json::to_string(&current).map(|s| s.len()).unwrap_or(0);
            let verb = match (which, changed) {
                (Which::Labels, true) if shrank && !a.overwrite => "unlabeled",
                (Which::Labels, true) => "labeled",
                (Which::Labels, false) => "not labeled",
                (Which::Annotations, _) => "annotated",
            };
            out(&done(&t.resource, &t.name, verb, dry));
        } else {
            out(&print_each(&output, &[(&t.resource, result)])?);
        }
    }
    CmdError::aggregate(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes() {
        let (res, ch) = split_changes(&["pods".into(), "foo".into(), "a=b".into(), "c-".into()]);
        assert_eq!(res, ["pods", "foo"]);
        let (set, rm) = parse_changes(&ch, Which::Labels).unwrap();
        assert_eq!(set, [("a".to_string(), "b".to_string())]);
        assert_eq!(rm, ["c"]);
        assert!(parse_changes(&["a=b".into(), "a-".into()], Which::Labels).is_err());
    }
}
