//! `kubectl replace -f`: PUT the object from the file (`--force`: delete, then create).

use client::{DeleteParams, PostParams};
use serde_json::{json, Value};

use super::common::{complete_object, done, map_item, FileArgs};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::{print_each, Output};

#[derive(clap::Args, Debug, Clone)]
pub struct ReplaceArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// If true, immediately remove resources from API and bypass graceful deletion, then re-create them.
    #[arg(long)]
    pub force: bool,
    /// If true, the configuration of current object will be saved in its annotation.
    #[arg(long = "save-config")]
    pub save_config: bool,
    /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

pub async fn run(ctx: &Ctx, a: ReplaceArgs) -> CmdResult {
    if a.files.filename.is_empty() {
        return Err(CmdError::usage("replace", "must specify --filename to replace"));
    }
    let output = Output::parse_for_write(a.output.as_deref())?;
    let d = ctx.discovery().await?;
    let mut errors = Vec::new();
    for item in crate::manifest::read(&a.files.filename, a.files.recursive)? {
        let (r, ns) = map_item(ctx, d, &item)?;
        let mut obj = item.obj.clone();
        complete_object(r, &mut obj, ns.as_deref());
        if a.save_config {
            obj = crate::apply::with_last_applied(&obj);
        }
        let api = ctx.api(r, ns.as_deref()).await?;
        let name = crate::util::name(&obj).to_string();
        let result: CmdResult<Value> = async {
            if a.force {
                match api.delete(&name, &DeleteParams::immediate()).await {
                    Ok(_) => out(&format!("{} \"{name}\" deleted\n", crate::resources::kind_prefix(r))),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                while api.get_opt(&name).await?.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                return Ok(api.create(&PostParams::default(), &obj).await?);
            }
            // Without a resourceVersion, replace the current object unconditionally.
            if crate::util::s(&obj, "/metadata/resourceVersion").is_empty() {
                let cur = api.get(&name).await?;
                obj["metadata"]["resourceVersion"] = json!(crate::util::s(&cur, "/metadata/resourceVersion"));
            }
            Ok(api.replace(&obj).await?)
        }
        .await;
        match result {
            Ok(o) => {
                if output == Output::Table {
                    out(&done(r, &name, "replaced", Default::default()));
                } else {
                    out(&print_each(&output, &[(r, o)])?);
                }
            }
            Err(e) => errors.push(e.with_source("replacing", &item.source)),
        }
    }
    CmdError::aggregate(errors)
}
