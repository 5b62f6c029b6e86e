//! `kubectl run NAME --image=...`: creates one pod.

use super::create::{create_generated, WriteFlags};
use super::create_gen::{run_pod, RunSpec};
use crate::context::Ctx;
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Name of the pod.
    pub name: String,
    /// The image for the container to run.
    #[arg(long)]
    pub image: Option<String>,
    /// Environment variables to set in the container.
    #[arg(long)]
    pub env: Vec<String>,
    /// Comma separated labels to apply to the pod. Will override previous values.
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// The restart policy for this Pod. Legal values [Always, OnFailure, Never].
    #[arg(long, default_value = "Always")]
    pub restart: String,
    /// The port that this container exposes.
    #[arg(long)]
    pub port: Option<i64>,
    /// If true and extra arguments are present, use them as the 'command' field in the container, rather than the 'args' field which is the default.
    #[arg(long)]
    pub command: bool,
    /// The image pull policy for the container. If left empty, this value will not be specified by the client and defaulted by the server.
    #[arg(long = "image-pull-policy")]
    pub image_pull_policy: Option<String>,
    /// If true, delete the pod after it exits (needs attach, not available yet).
    #[arg(long)]
    pub rm: bool,
    /// Keep stdin open on the container in the pod (needs attach, not available yet).
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Allocate a TTY for the container in the pod (needs attach, not available yet).
    #[arg(short = 't', long)]
    pub tty: bool,
    #[command(flatten)]
    pub write: WriteFlags,
    /// Arguments (or, with --command, the command) for the container.
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub async fn run(ctx: &Ctx, a: RunArgs) -> CmdResult {
    let Some(image) = a.image.as_deref().filter(|i| !i.is_empty()) else {
        return Err(CmdError::raw("error: required flag(s) \"image\" not set"));
    };
    if !matches!(a.restart.as_str(), "Always" | "OnFailure" | "Never") {
        return Err(CmdError::msg(format!("invalid restart policy: {}", a.restart)));
    }
    if a.rm || a.stdin || a.tty {
        return Err(CmdError::msg("attaching to pods (--rm, -i, -t) is not available yet"));
    }
    let spec = RunSpec {
        name: &a.name,
        image,
        env: &a.env,
        labels: a.labels.as_deref(),
        restart: &a.restart,
        port: a.port,
        command: a.command,
        args: &a.args,
        image_pull_policy: a.image_pull_policy.as_deref(),
    };
    let pod = run_pod(&spec)?;
    let mut write = a.write.clone();
    if write.field_manager == "kubectl-create" {
        write.field_manager = "kubectl-run".into();
    }
    create_generated(ctx, pod, &write).await
}
