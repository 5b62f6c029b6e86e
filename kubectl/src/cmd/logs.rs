//! `kubectl logs`: a container's log through the apiserver's pods/log (proxied to
//! the kubelet), with upstream's flags, targets and messages.

use std::io::Write;

use client::proto::v1::{LogRequest, PodTarget};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;

use super::attachable;
use crate::context::Ctx;
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct LogsArgs {
    /// POD | TYPE/NAME, then optionally the container name
    pub args: Vec<String>,
    /// Print the logs of this container
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Specify if the logs should be streamed.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// If true, print the logs for the previous instance of the container in a pod if it exists.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Lines of recent log file to display. Defaults to -1 with no selector, showing all log lines otherwise 10, if a selector is provided.
    #[arg(long, allow_negative_numbers = true)]
    pub tail: Option<i64>,
    /// Only return logs newer than a relative duration like 5s, 2m, or 3h. Defaults to all logs. Only one of since-time / since may be used.
    #[arg(long)]
    pub since: Option<String>,
    /// Only return logs after a specific date (RFC3339). Defaults to all logs. Only one of since-time / since may be used.
    #[arg(long = "since-time")]
    pub since_time: Option<String>,
    /// Include timestamps on each line in the log output
    #[arg(long)]
    pub timestamps: bool,
    /// Maximum bytes of logs to return. Defaults to no limit.
    #[arg(long = "limit-bytes", default_value_t = 0)]
    pub limit_bytes: i64,
    /// Get all containers' logs in the pod(s).
    #[arg(long = "all-containers")]
    pub all_containers: bool,
    /// Prefix each log line with the log source (pod name and container name)
    #[arg(long)]
    pub prefix: bool,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Specify maximum number of concurrent logs to follow when using by a selector. Defaults to 5.
    #[arg(long = "max-log-requests", default_value_t = 5)]
    pub max_log_requests: usize,
    /// If true, suppress informational messages.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// One log stream to print.
struct Source {
    pod: String,
    namespace: String,
    container: String,
}

fn usage(m: &str) -> CmdError {
    CmdError::usage("logs", m)
}

pub async fn run(ctx: &Ctx, a: LogsArgs) -> CmdResult {
    let ns = ctx.namespace()?;
    if a.since.is_some() && a.since_time.is_some() {
        return Err(usage("at most one of `sinceTime` or `sinceSeconds` may be specified"));
    }
    if a.limit_bytes < 0 {
        return Err(usage("--limit-bytes must be greater than 0"));
    }
    if a.all_containers && a.container.is_some() {
        return Err(usage(&format!("--all-containers=true should not be specified with container name {}", a.container.as_deref().unwrap_or(""))));
    }
    let since_seconds = match &a.since {
        Some(s) => {
            let d = api::duration::parse(s).map_err(|e| CmdError::msg(format!("invalid argument {s:?} for \"--since\" flag: {e}")))?;
            Some((d.as_secs() as i64).max(1))
        }
        None => None,
    };
    if let Some(t) = &a.since_time {
        chrono::DateTime::parse_from_rfc3339(t).map_err(|e| CmdError::msg(format!("invalid argument {t:?} for \"--since-time\" flag: {e}")))?;
    }
    let mut container = a.container.clone();
    let mut sources = Vec::new();
    let prefix = a.prefix;
    match (&a.selector, a.args.as_slice()) {
        (Some(_), [_, ..]) => return Err(usage("only a selector (-l) or a POD name is allowed")),
        (Some(sel), []) => {
            let pods = attachable::pods_for(ctx, &ns, sel).await?;
            if pods.is_empty() {
                crate::context::err(&format!("No resources found in {ns} namespace.\n"));
                return Ok(());
            }
            for p in &pods {
                sources.extend(containers_of(p, container.as_deref(), a.all_containers, true));
            }
        }
        (None, []) => return Err(usage("expected POD or TYPE/NAME is a required argument for the logs command")),
        (None, [target, rest @ ..]) => {
            match rest {
                [] => {}
                [c] if container.is_none() => container = Some(c.clone()),
                _ => return Err(usage("expected POD or TYPE/NAME is a required argument for the logs command")),
            }
            let r = attachable::resolve(ctx, &ns, target).await?;
            if r.kind != "Pod" && !a.quiet {
                let sel = r.object.as_ref().map(|o| attachable::selector_of(o, &r.kind)).transpose()?.unwrap_or_default();
                let n = attachable::pods_for(ctx, &ns, &sel).await?.len();
                if n > 1 {
                    crate::context::err(&format!("Found {n} pods, using pod/{}\n", r.pod.metadata.name.as_deref().unwrap_or("")));
                }
            }
            sources.extend(containers_of(&r.pod, container.as_deref(), a.all_containers, a.quiet));
        }
    }
    if a.follow && sources.len() > a.max_log_requests {
        return Err(CmdError::msg(format!(
            "you are attempting to follow {} log streams, but maximum allowed concurrency is {}, use --max-log-requests to increase the limit",
            sources.len(),
            a.max_log_requests
        )));
    }
    // Upstream: 10 lines per pod by default with a selector.
    let tail = match a.tail {
        Some(n) if n >= 0 => Some(n),
        Some(_) => None,
        None if a.selector.is_some() => Some(10),
        None => None,
    };
    let req = |s: &Source| LogRequest {
        target: Some(PodTarget { namespace: s.namespace.clone(), name: s.pod.clone(), container: s.container.clone(), uid: String::new() }),
        follow: a.follow,
        previous: a.previous,
        tail_lines: tail,
        since_seconds,
        since_time: a.since_time.clone().unwrap_or_default(),
        timestamps: a.timestamps,
        limit_bytes: (a.limit_bytes > 0).then_some(a.limit_bytes),
    };
    let client = ctx.client().await?;
    if a.follow && sources.len() > 1 {
        // Followed streams run at once; whole lines keep them from mixing.
        let jobs = sources.iter().map(|s| stream_one(client, req(s), prefix.then(|| label(s)), true));
        let errs: Vec<CmdError> = futures::future::join_all(jobs).await.into_iter().filter_map(Result::err).collect();
        return CmdError::aggregate(errs);
    }
    for s in &sources {
        stream_one(client, req(s), prefix.then(|| label(s)), sources.len() > 1).await?;
    }
    Ok(())
}

fn label(s: &Source) -> String {
    format!("[pod/{}/{}] ", s.pod, s.container)
}

/// The containers whose logs to print.
fn containers_of(p: &Pod, container: Option<&str>, all: bool, quiet: bool) -> Vec<Source> {
    let source = |c: &str| Source {
        pod: p.metadata.name.clone().unwrap_or_default(),
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        container: c.to_string(),
    };
    if all {
        let spec = p.spec.as_ref();
        let init = spec.and_then(|s| s.init_containers.as_ref()).into_iter().flatten();
        let main = spec.into_iter().flat_map(|s| s.containers.iter());
        return init.chain(main).map(|c| source(&c.name)).collect();
    }
    vec![source(&attachable::default_container(p, container, quiet))]
}

/// Prints one log stream; with a prefix (or several streams at once) line by line.
async fn stream_one(client: &client::Client, req: LogRequest, prefix: Option<String>, whole_lines: bool) -> CmdResult {
    let mut stream = client.streaming().logs(req).await.map_err(client::Error::from)?.into_inner();
    let mut pending: Vec<u8> = Vec::new();
    let line_mode = prefix.is_some() || whole_lines;
    let pfx = prefix.unwrap_or_default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(client::Error::from)?;
        let mut out = std::io::stdout().lock();
        if !line_mode {
            if out.write_all(&chunk.data).and_then(|_| out.flush()).is_err() {
                return Ok(());
            }
            continue;
        }
        pending.extend_from_slice(&chunk.data);
        let mut text = Vec::new();
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            text.extend_from_slice(pfx.as_bytes());
            text.extend(pending.drain(..=i));
        }
        if out.write_all(&text).and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
    }
    if !pending.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(pfx.as_bytes()).and_then(|_| out.write_all(&pending)).and_then(|_| out.flush());
    }
    Ok(())
}
