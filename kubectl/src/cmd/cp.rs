//! `kubectl cp`: files and directories to and from containers, as a tar stream
//! over exec (the container needs `tar`, as upstream).

use std::path::{Path, PathBuf};

use client::proto::v1::{ExecStart, PodTarget};

use super::attachable;
use super::exec::captured;
use crate::context::Ctx;
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct CpArgs {
    /// <file-spec-src> <file-spec-dest>: a local path or [namespace/]pod:path
    pub args: Vec<String>,
    /// Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// The copied file/directory's ownership and permissions will not be preserved in the container
    #[arg(long = "no-preserve")]
    pub no_preserve: bool,
}

/// `[namespace/]pod:path`, else a local path.
fn remote(spec: &str) -> Option<(Option<String>, String, String)> {
    let (pod, path) = spec.split_once(':')?;
    if pod.is_empty() || path.is_empty() {
        return None;
    }
    Some(match pod.split_once('/') {
        Some((ns, p)) => (Some(ns.to_string()), p.to_string(), path.to_string()),
        None => (None, pod.to_string(), path.to_string()),
    })
}

pub async fn run(ctx: &Ctx, a: CpArgs) -> CmdResult {
    let [src, dst] = a.args.as_slice() else {
        return Err(CmdError::usage("cp", "source and destination are required"));
    };
    let start = |ns: String, pod: String, container: String, command: Vec<String>| ExecStart {
        target: Some(PodTarget { namespace: ns, name: pod, container, uid: String::new() }),
        command,
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
        size: None,
    };
    match (remote(src), remote(dst)) {
        (Some(_), Some(_)) => Err(CmdError::msg("one of src or dest must be a local file specification")),
        (None, None) => Err(CmdError::msg("one of src or dest must be a remote file specification")),
        (Some((ns, pod, path)), None) => {
            let ns = match ns { Some(n) => n, None => ctx.namespace()? };
            let r = attachable::resolve(ctx, &ns, &pod).await?;
            let container = attachable::default_container(&r.pod, a.container.as_deref(), false);
            let p = Path::new(&path);
            let (parent, base) = (p.parent().map(|d| d.display().to_string()).filter(|d| !d.is_empty()).unwrap_or("/".into()), p.file_name().map(|b| b.to_string_lossy().to_string()).unwrap_or(".".into()));
            let (out, err, code) = captured(ctx, start(ns, pod, container, vec!["tar".into(), "cf".into(), "-".into(), "-C".into(), parent, base.clone()]), Vec::new()).await?;
            if code != 0 {
                let e = String::from_utf8_lossy(&err);
                return Err(CmdError::msg(format!("{}", e.trim().strip_prefix("tar: ").unwrap_or(e.trim()))));
            }
            extract(&out, &base, Path::new(dst)).map_err(|e| CmdError::msg(format!("{dst}: {e}")))
        }
        (None, Some((ns, pod, path))) => {
            let ns = match ns { Some(n) => n, None => ctx.namespace()? };
            let local = PathBuf::from(src);
            if !local.exists() {
                return Err(CmdError::msg(format!("{src} doesn't exist in local filesystem")));
            }
            let r = attachable::resolve(ctx, &ns, &pod).await?;
            let container = attachable::default_container(&r.pod, a.container.as_deref(), false);
            let p = Path::new(&path);
            let dir = p.parent().map(|d| d.display().to_string()).filter(|d| !d.is_empty()).unwrap_or("/".into());
            let name = p.file_name().map(|b| b.to_string_lossy().to_string()).ok_or_else(|| CmdError::msg(format!("invalid destination {path:?}")))?;
            let mut b = tar::Builder::new(Vec::new());
            b.follow_symlinks(false);
            let res = if local.is_dir() { b.append_dir_all(&name, &local) } else { b.append_path_with_name(&local, &name) };
            res.map_err(|e| CmdError::msg(format!("{src}: {e}")))?;
            let bytes = b.into_inner().map_err(CmdError::from)?;
            let mut cmd = vec!["tar".to_string(), "-xmf".into(), "-".into()];
            if a.no_preserve {
                cmd.push("--no-same-permissions".into());
                cmd.push("--no-same-owner".into());
            }
            cmd.extend(["-C".into(), dir]);
            let (_, err, code) = captured(ctx, start(ns, pod, container, cmd), bytes).await?;
            if code != 0 {
                return Err(CmdError::msg(String::from_utf8_lossy(&err).trim().to_string()));
            }
            Ok(())
        }
    }
}

/// Unpacks `tar` (entries under `base`) so that `base` becomes `dst`.
fn extract(tar_bytes: &[u8], base: &str, dst: &Path) -> std::io::Result<()> {
    let mut ar = tar::Archive::new(tar_bytes);
    for entry in ar.entries()? {
        let mut e = entry?;
        let path = e.path()?.to_path_buf();
        let rel = match path.strip_prefix(base) {
            Ok(r) => r.to_path_buf(),
            Err(_) => continue,
        };
        // Never outside dst.
        if rel.components().any(|c| matches!(c, std::path::Component::ParentDir | std::path::Component::RootDir)) {
            continue;
        }
        let out = if rel.as_os_str().is_empty() { dst.to_path_buf() } else { dst.join(rel) };
        if let Some(d) = out.parent() {
            std::fs::create_dir_all(d)?;
        }
        e.unpack(&out)?;
    }
    Ok(())
}
