//! `kubectl attach`: the output of a container's main process as it runs,
//! through the apiserver's pods/attach.

use client::proto::v1::{ExecStart, PodTarget};

use super::attachable;
use super::exec::{session, terminal_wanted, Kind};
use crate::context::Ctx;
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct AttachArgs {
    /// POD | TYPE/NAME
    pub target: Option<String>,
    /// Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Pass stdin to the container
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Stdin is a TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Only print output from the remote session
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub async fn run(ctx: &Ctx, a: AttachArgs) -> CmdResult {
    let Some(target) = a.target.as_deref() else {
        return Err(CmdError::usage("attach", "expected POD, TYPE/NAME, or TYPE NAME, (at most 2 arguments) saw 0: []"));
    };
    let ns = ctx.namespace()?;
    let r = attachable::resolve(ctx, &ns, target).await?;
    let container = attachable::default_container(&r.pod, a.container.as_deref(), a.quiet);
    let spec = r.pod.spec.as_ref().and_then(|s| s.containers.iter().find(|c| c.name == container));
    let mut tty = terminal_wanted(a.stdin, a.tty, a.quiet);
    if tty && !spec.and_then(|c| c.tty).unwrap_or(false) {
        tty = false;
        crate::context::err(&format!("error: Unable to use a TTY - container {container} did not allocate one\n"));
    }
    if a.stdin && !a.quiet {
        crate::context::err("If you don't see a command prompt, try pressing enter.\n");
    }
    let start = ExecStart {
        target: Some(PodTarget { namespace: ns, name: r.pod.metadata.name.clone().unwrap_or_default(), container, uid: String::new() }),
        command: Vec::new(),
        stdin: a.stdin,
        stdout: true,
        stderr: !tty,
        tty,
        size: None,
    };
    session(ctx, start, Kind::Attach).await?;
    Ok(())
}
