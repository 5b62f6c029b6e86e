//! `kubectl delete`: by file, by TYPE NAME / TYPE/NAME, by selector, or --all.

use std::time::{Duration, Instant};

use client::proto::v1::ApiResource;
use client::{Api, DeleteParams, ListParams};
use serde_json::Value;

use super::common::{map_item, parse_targets, DryRun, FileArgs};
use crate::context::{err, out, Ctx};
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct DeleteArgs {
    /// TYPE[.VERSION][.GROUP] [NAME ...] | TYPE/NAME ...
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Selector (field query) to filter on, supports '=', '==', and '!='.
    #[arg(long = "field-selector")]
    pub field_selector: Option<String>,
    /// Delete all resources, in the namespace of the specified resource types.
    #[arg(long)]
    pub all: bool,
    /// If present, list the requested object(s) across all namespaces.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    /// Period of time in seconds given to the resource to terminate gracefully. Ignored if negative. Set to 1 for immediate shutdown. Can only be set to 0 when --force is true (force deletion).
    #[arg(long = "grace-period", default_value_t = -1, allow_negative_numbers = true)]
    pub grace_period: i64,
    /// If true, immediately remove resources from API and bypass graceful deletion.
    #[arg(long)]
    pub force: bool,
    /// If true, resources are signaled for immediate shutdown (same as --grace-period=1).
    #[arg(long)]
    pub now: bool,
    /// If true, wait for resources to be gone before returning. This waits for finalizers.
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub wait: String,
    /// Must be "background", "orphan", or "foreground". Selects the deletion cascading strategy for the dependents (e.g. Pods created by a ReplicationController). Defaults to background.
    #[arg(long, default_value = "background", num_args = 0..=1, require_equals = true, default_missing_value = "background")]
    pub cascade: String,
    /// Treat "resource not found" as a successful delete.
    #[arg(long = "ignore-not-found")]
    pub ignore_not_found: bool,
    /// Output mode. Use "-o name" for shorter output (resource/name).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Must be "none", "server", or "client".
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
    /// The length of time to wait before giving up on a delete, zero means determine a timeout from the size of the object
    #[arg(long)]
    pub timeout: Option<String>,
}

struct Plan {
    params: DeleteParams,
    wait: bool,
    name_output: bool,
    dry: DryRun,
    timeout: Duration,
}

pub async fn run(ctx: &Ctx, a: DeleteArgs) -> CmdResult {
    let plan = plan(&a)?;
    if a.force && plan.params.grace_period_seconds == Some(0) {
        err("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n");
    }
    let d = ctx.discovery().await?;
    let ns = ctx.namespace()?;
    let mut errors = Vec::new();
    if !a.files.filename.is_empty() {
        for item in crate::manifest::read(&a.files.filename, a.files.recursive)? {
            let (r, ins) = map_item(ctx, d, &item)?;
            let api = ctx.api(r, ins.as_deref()).await?;
            if let Err(e) = delete_one(&api, r, crate::util::name(&item.obj), &plan).await {
                if !(e.is_not_found() && a.ignore_not_found) {
                    errors.push(e.with_source("deleting", &item.source));
                }
            }
        }
        return CmdError::aggregate(errors);
    }
    if a.args.is_empty() {
        return Err(CmdError::raw(
            "error: You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'",
        ));
    }
    let targets = parse_targets(d, &a.args)?;
    let selecting = a.all || a.selector.is_some() || a.field_selector.is_some();
    let mut found = 0;
    for t in &targets {
        if t.names.is_empty() {
            if !selecting {
                return Err(CmdError::msg("resource(s) were provided, but no name was specified"));
            }
            let api = ctx.api(&t.resource, if a.all_namespaces { None } else { Some(&ns) }).await?;
            let lp = ListParams { label_selector: a.selector.clone(), field_selector: a.field_selector.clone(), ..Default::default() };
            let list = api.list(&lp).await?;
            for o in list.items {
                found += 1;
                let ons = crate::util::namespace(&o).to_string();
                let api = ctx.api(&t.resource, Some(if ons.is_empty() { &ns } else { &ons })).await?;
                if let Err(e) = delete_one(&api, &t.resource, crate::util::name(&o), &plan).await {
                    if !e.is_not_found() {
                        errors.push(e);
                    }
                }
            }
        } else {
            let api = ctx.api(&t.resource, Some(&ns)).await?;
            for n in &t.names {
                found += 1;
                if let Err(e) = delete_one(&api, &t.resource, n, &plan).await {
                    if !(e.is_not_found() && a.ignore_not_found) {
                        errors.push(e);
                    }
                }
            }
        }
    }
    if found == 0 && errors.is_empty() && !a.ignore_not_found {
        out("No resources found\n");
    }
    CmdError::aggregate(errors)
}

fn plan(a: &DeleteArgs) -> CmdResult<Plan> {
    let mut grace = a.grace_period;
    if a.now {
        if grace != -1 {
            return Err(CmdError::msg("--now and --grace-period cannot be specified together"));
        }
        grace = 1;
    }
    if grace == 0 && !a.force {
        grace = 1;
    }
    if a.force && grace < 0 {
        grace = 0;
    }
    let policy = match a.cascade.as_str() {
        "background" => "Background",
        "foreground" => "Foreground",
        "orphan" => "Orphan",
        // Legacy booleans (Go's ParseBool spellings), deprecated as upstream.
        b @ ("1" | "t" | "T" | "TRUE" | "true" | "True") => {
            err(&format!("warning: --cascade={b} is deprecated (boolean value) and can be replaced with --cascade=background.\n"));
            "Background"
        }
        b @ ("0" | "f" | "F" | "FALSE" | "false" | "False") => {
            err(&format!("warning: --cascade={b} is deprecated (boolean value) and can be replaced with --cascade=orphan.\n"));
            "Orphan"
        }
        o => {
            return Err(CmdError::msg(format!(
                "invalid cascade value ({o}). Must be \"background\", \"foreground\", or \"orphan\""
            )))
        }
    };
    let dry = DryRun::parse(a.dry_run.as_deref())?;
    let params = DeleteParams {
        grace_period_seconds: (grace >= 0).then_some(grace),
        propagation_policy: Some(policy.to_string()),
        dry_run: dry == DryRun::Server,
        ..Default::default()
    };
    let wait = a.wait != "false" && dry == DryRun::None;
    // a Go duration flag, as upstream's; zero or unset waits (almost) forever
    let timeout = match a.timeout.as_deref() {
        Some(t) => api::duration::parse(t).map_err(|e| CmdError::msg(format!("invalid argument {t:?} for \"--timeout\" flag: {e}")))?,
        None => Duration::ZERO,
    };
    let timeout = if timeout.is_zero() { Duration::from_secs(7 * 86400) } else { timeout };
    Ok(Plan { params, wait, name_output: a.output.as_deref() == Some("name"), dry, timeout })
}

async fn delete_one(api: &Api<Value>, r: &ApiResource, name: &str, plan: &Plan) -> CmdResult {
    let prefix = crate::resources::kind_prefix(r);
    if plan.dry == DryRun::Client {
        api.get(name).await?;
    } else {
        let (obj, gone) = api.delete(name, &plan.params).await?;
        if plan.wait && !gone {
            wait_gone(api, name, crate::util::s(&obj, "/metadata/uid"), plan.timeout).await?;
        }
    }
    if plan.name_output {
        out(&format!("{prefix}/{name}\n"));
    } else {
        // Upstream 1.33 wording ("from <ns> namespace" only came with 1.34).
        let op = if plan.params.grace_period_seconds == Some(0) { "force deleted" } else { "deleted" };
        out(&format!("{prefix} \"{name}\" {op}{}\n", plan.dry.suffix()));
    }
    Ok(())
}

/// Waits until the object (this uid) is gone from the server.
async fn wait_gone(api: &Api<Value>, name: &str, uid: &str, timeout: Duration) -> CmdResult {
    let start = Instant::now();
    loop {
        match api.get_opt(name).await? {
            None => return Ok(()),
            Some(o) if !uid.is_empty() && crate::util::s(&o, "/metadata/uid") != uid => return Ok(()),
            Some(_) => {}
        }
        if start.elapsed() > timeout {
            return Err(CmdError::msg(format!("timed out waiting for the condition on {name}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
