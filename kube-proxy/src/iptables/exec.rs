//! Running iptables, iptables-restore and conntrack, optionally inside
//! another network namespace (`--netns`: the child process enters it before
//! exec, so this process can stay where the apiserver is reachable).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program} {args}: exit {code}: {stderr}")]
    Failed { program: String, args: String, code: i32, stderr: String },
    #[error("network namespace {path}: {source}")]
    Netns { path: String, source: std::io::Error },
}

/// Where child commands run.
#[derive(Clone, Debug, Default)]
pub struct Exec {
    netns: Option<PathBuf>,
}

impl Exec {
    /// Commands run in this process's network namespace.
    pub fn here() -> Self {
        Exec { netns: None }
    }

    /// Commands run in the namespace bound at `path` (e.g. /run/netns/node-1).
    pub fn in_netns(path: impl AsRef<Path>) -> Self {
        Exec { netns: Some(path.as_ref().to_path_buf()) }
    }

    pub fn netns(&self) -> Option<&Path> {
        self.netns.as_deref()
    }

    /// Runs `program args`, feeding `stdin`; Ok(output) whatever the exit status.
    pub fn output(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, ExecError> {
        let mut cmd = Command::new(program);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let _ns_file;
        if let Some(path) = &self.netns {
            let f = std::fs::File::open(path).map_err(|source| ExecError::Netns { path: path.display().to_string(), source })?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
            _ns_file = f;
            // SAFETY: setns is async-signal-safe; the fd stays open until after spawn.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|source| ExecError::Spawn { program: program.into(), source })?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // A writer thread: the child may fill its stdout/stderr pipes before reading all input.
            let input = input.to_vec();
            let writer = std::thread::spawn(move || pipe.write_all(&input));
            let out = child.wait_with_output().map_err(|source| ExecError::Spawn { program: program.into(), source })?;
            let _ = writer.join();
            return Ok(out);
        }
        child.wait_with_output().map_err(|source| ExecError::Spawn { program: program.into(), source })
    }

    /// As [`output`](Self::output), failing on a non-zero exit.
    pub fn run(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, ExecError> {
        let out = self.output(program, args, stdin)?;
        if !out.status.success() {
            return Err(ExecError::Failed {
                program: program.into(),
                args: args.join(" "),
                code: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out)
    }
}
