//! `kubectl scale`: sets spec.replicas of deployments, replica sets,
//! replication controllers and stateful sets.

use client::{Patch, PostParams};
use serde_json::json;

use super::common::{done, named_objects, DryRun, FileArgs};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct ScaleArgs {
    /// TYPE NAME or TYPE/NAME
    pub args: Vec<String>,
    /// The new desired number of replicas. Required.
    #[arg(long)]
    pub replicas: Option<i64>,
    /// Precondition for current size. Requires that the current size of the resource match this value in order to scale. -1 (default) for no condition.
    #[arg(long = "current-replicas", default_value_t = -1, allow_negative_numbers = true)]
    pub current_replicas: i64,
    /// Precondition for resource version. Requires that the current resource version match this value in order to scale.
    #[arg(long = "resource-version")]
    pub resource_version: Option<String>,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Select all resources in the namespace of the specified resource types
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub files: FileArgs,
    /// Must be "none", "server", or "client".
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
}

pub async fn run(ctx: &Ctx, a: ScaleArgs) -> CmdResult {
    let Some(replicas) = a.replicas else {
        return Err(CmdError::raw("error: required flag(s) \"replicas\" not set"));
    };
    if replicas < 0 {
        return Err(CmdError::msg("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"));
    }
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    let targets = named_objects(ctx, &a.args, &a.files, a.selector.as_deref(), a.all).await?;
    let mut errors = Vec::new();
    for t in targets {
        let api = ctx.api(&t.resource, t.namespace.as_deref()).await?;
        // With --current-replicas the patch is pinned to the version the
        // precondition was checked on; a Conflict re-reads and re-checks (ScaleWithRetries).
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let cur = match api.get(&t.name).await {
                Ok(o) => o,
                Err(e) => break Err(e.into()),
            };
            if cur.pointer("/spec/replicas").is_none() && !matches!(t.resource.kind.as_str(), "Deployment" | "ReplicaSet" | "ReplicationController" | "StatefulSet") {
                break Err(CmdError::msg(format!("cannot scale {}/{}: no replicas field", crate::resources::kind_prefix(&t.resource), t.name)));
            }
            let now = cur.pointer("/spec/replicas").and_then(serde_json::Value::as_i64).unwrap_or(1);
            if a.current_replicas >= 0 && now != a.current_replicas {
                break Err(CmdError::msg(format!("Expected replicas to be {}, was {now}", a.current_replicas)));
            }
            let mut patch = json!({"spec": {"replicas": replicas}});
            if let Some(rv) = &a.resource_version {
                patch["metadata"] = json!({"resourceVersion": rv});
            } else if a.current_replicas >= 0 {
                patch["metadata"] = json!({"resourceVersion": cur.pointer("/metadata/resourceVersion")});
            }
            if dry == DryRun::Client {
                break Ok(());
            }
            let pp = PostParams { dry_run: dry == DryRun::Server, ..Default::default() };
            match api.patch(&t.name, &pp, &Patch::Merge(patch)).await {
                Ok(_) => break Ok(()),
                Err(e) => {
                    let e: CmdError = e.into();
                    if e.is_conflict() && a.resource_version.is_none() && attempt < 5 {
                        continue;
                    }
                    break Err(e);
                }
            }
        };
        if let Err(e) = result {
            errors.push(e);
            continue;
        }
        out(&done(&t.resource, &t.name, "scaled", dry));
    }
    CmdError::aggregate(errors)
}
