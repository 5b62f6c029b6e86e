//! `kubectl edit`: the object(s) as YAML in $KUBE_EDITOR / $EDITOR; the
//! changes go back as a patch. An invalid edit reopens the file with the
//! errors on top, as upstream does; an unchanged reopened file cancels.

use std::path::{Path, PathBuf};

use client::{Patch, PostParams};
use serde_json::Value;

use super::common::{done, named_objects, Named};
use crate::apply::{is_empty_patch, merge_patch};
use crate::context::{err, out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::{print_each, Output};

#[derive(clap::Args, Debug, Clone)]
pub struct EditArgs {
    /// TYPE NAME or TYPE/NAME
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: super::common::FileArgs,
    /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// If true, the configuration of current object will be saved in its annotation.
    #[arg(long = "save-config")]
    pub save_config: bool,
    /// Sub-resource such as status to edit (accepted: status).
    #[arg(long)]
    pub subresource: Option<String>,
}

const HEADER: &str = "# Please edit the object below. Lines beginning with a '#' will be ignored,\n\
# and an empty file will abort the edit. If an error occurs while saving this file will be\n\
# reopened with the relevant failures.\n\
#\n";

/// Lines that are comments (first non-blank character '#') are dropped.
pub fn strip_comments(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with('#')).map(|l| format!("{l}\n")).collect()
}

/// Upstream's hashOnLineBreak: continuation lines of a message stay comments.
fn hash_lines(s: &str) -> String {
    s.replace('\n', "\n# ")
}

/// The header with reasons, as upstream's editHeader.writeTo.
pub fn header(reasons: &[(String, Vec<String>)]) -> String {
    let mut h = HEADER.to_string();
    for (head, other) in reasons {
        if other.is_empty() {
            h.push_str(&format!("# {}\n", hash_lines(head)));
        } else {
            h.push_str(&format!("# {}:\n", hash_lines(head)));
        }
        for o in other {
            h.push_str(&format!("# * {}\n", hash_lines(o)));
        }
        h.push_str("#\n");
    }
    h
}

fn launch_editor(path: &Path) -> CmdResult {
    let editor = std::env::var("KUBE_EDITOR")
        .ok()
        .filter(|e| !e.is_empty())
        .or_else(|| std::env::var("EDITOR").ok().filter(|e| !e.is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$0\""))
        .arg(path)
        .status()
        .map_err(|e| CmdError::msg(format!("unable to launch the editor \"{editor}\": {e}")))?;
    if !status.success() {
        return Err(CmdError::msg(format!("there was a problem with the editor \"{editor}\"")));
    }
    Ok(())
}

fn temp_path() -> PathBuf {
    let n: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    std::env::temp_dir().join(format!("kubectl-edit-{}.yaml", n % 10_000_000_000))
}

pub async fn run(ctx: &Ctx, a: EditArgs) -> CmdResult {
    let output = Output::parse_for_write(a.output.as_deref())?;
    let targets = named_objects(ctx, &a.args, &a.files, None, false).await?;
    let mut originals: Vec<(Named, Value)> = Vec::new();
    for t in targets {
        let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
        let mut o = api.get(&t.name).await?;
        if let Some(m) = o.pointer_mut("/metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        originals.push((t, o));
    }
    let doc = if originals.len() == 1 {
        originals[0].1.clone()
    } else {
        serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": originals.iter().map(|o| o.1.clone()).collect::<Vec<_>>()})
    };
    let original_text = crate::util::to_yaml(&doc);
    let path = temp_path();
    let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
    let mut body = original_text.clone();
    let mut previous_edit: Option<String> = None;
    loop {
        std::fs::write(&path, format!("{}{body}", header(&reasons)))?;
        launch_editor(&path)?;
        let edited = std::fs::read_to_string(&path)?;
        if let Some(prev) = &previous_edit {
            if strip_comments(prev) == strip_comments(&edited) {
                err(&format!("A copy of your changes has been stored to \"{}\"\n", path.display()));
                return Err(CmdError::msg("Edit cancelled, no valid changes were saved."));
            }
        }
        if strip_comments(&edited) == strip_comments(&original_text) {
            let _ = std::fs::remove_file(&path);
            err("Edit cancelled, no changes made.\n");
            return Ok(());
        }
        if strip_comments(&edited).trim().is_empty() {
            let _ = std::fs::remove_file(&path);
            err("Edit cancelled, saved file was empty.\n");
            return Ok(());
        }
        reasons.clear();
        let items = match crate::manifest::parse("edited-file", &strip_comments(&edited)) {
            Ok(i) => i,
            Err(e) => {
                reasons.push((format!("The edited file had a syntax error: {}", e.render().0.trim_end().trim_start_matches("error: ")), vec![]));
                body = strip_comments(&edited);
                previous_edit = Some(edited);
                continue;
            }
        };
        let mut failed = false;
        for item in items {
            let Some((t, orig)) = originals.iter().find(|(t, _)| t.name == crate::util::name(&item.obj) && t.resource.kind == crate::util::s(&item.obj, "/kind")) else {
                return Err(CmdError::msg("At least one of apiVersion, kind and name was changed"));
            };
            let mut new = item.obj.clone();
            if a.save_config {
                new = crate::apply::with_last_applied(&new);
            }
            let patch = merge_patch(orig, &new);
            if is_empty_patch(&patch) {
                out(&done(&t.resource, &t.name, "skipped", Default::default()));
                continue;
            }
            let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
            match api.patch(&t.name, &PostParams::default(), &Patch::Merge(patch)).await {
                Ok(o) => {
                    if output == Output::Table {
                        out(&done(&t.resource, &t.name, "edited", Default::default()));
                    } else {
                        out(&print_each(&output, &[(&t.resource, o)])?);
                    }
                }
                Err(e) => {
                    let rs = crate::resources::group_resource(&t.resource);
                    if e.is_invalid() {
                        let causes = match &e {
                            client::Error::Api(a) => a.causes().iter().map(|c| format!("{}: {}", c.field, c.message)).collect(),
                            _ => vec![],
                        };
                        reasons.push((format!("{rs} \"{}\" was not valid", t.name), causes));
                        err(&format!("error: {rs} \"{}\" is invalid\n", t.name));
                        failed = true;
                    } else if e.is_not_found() {
                        err(&format!("error: {rs} \"{}\" could not be found on the server\n", t.name));
                        err(&format!("The edits you made on deleted resources have been saved to \"{}\"\n", path.display()));
                        return Err(CmdError::Exit(1));
                    } else {
                        err(&format!("error: {rs} \"{}\" could not be patched: {}\n", t.name, CmdError::from(e).render().0.trim_end()));
                        err(&format!("You can run `kubectl replace -f {}` to try this update again.\n", path.display()));
                        return Err(CmdError::Exit(1));
                    }
                }
            }
        }
        if !failed {
            let _ = std::fs::remove_file(&path);
            return Ok(());
        }
        body = strip_comments(&edited);
        previous_edit = Some(edited);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_like_upstream() {
        let h = header(&[("deployments.apps \"web\" was not valid".into(), vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0".into()])]);
        assert_eq!(
            h,
            "# Please edit the object below. Lines beginning with a '#' will be ignored,\n# and an empty file will abort the edit. If an error occurs while saving this file will be\n# reopened with the relevant failures.\n#\n# deployments.apps \"web\" was not valid:\n# * spec.replicas: Invalid value: -1: must be greater than or equal to 0\n#\n"
        );
        assert_eq!(strip_comments("# a\nb: 1\n  # c\n"), "b: 1\n");
    }
}
