//! `kubectl exec`: a command in a container through the apiserver's pods/exec
//! (proxied to the kubelet): stdin, stdout and stderr apart, or a terminal
//! (raw mode, the window size and its changes), the remote exit code as ours.

use std::io::{IsTerminal, Read, Write};

use client::proto::v1::{exec_input, exec_output, ExecInput, ExecStart, PodTarget, TerminalSize};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::attachable;
use crate::context::Ctx;
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct ExecArgs {
    /// POD | TYPE/NAME
    pub target: Option<String>,
    /// COMMAND [args...], after --
    #[arg(last = true)]
    pub command: Vec<String>,
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

pub async fn run(ctx: &Ctx, a: ExecArgs) -> CmdResult {
    let Some(target) = a.target.as_deref() else {
        return Err(CmdError::usage("exec", "expected 'exec (POD | TYPE/NAME) COMMAND [ARG1] [ARG2] ... [ARGN]'.\nPOD or TYPE/NAME and COMMAND are required arguments for the exec command"));
    };
    if a.command.is_empty() {
        return Err(CmdError::usage("exec", "you must specify at least one command for the container"));
    }
    let ns = ctx.namespace()?;
    let r = attachable::resolve(ctx, &ns, target).await?;
    let container = attachable::default_container(&r.pod, a.container.as_deref(), a.quiet);
    let tty = terminal_wanted(a.stdin, a.tty, a.quiet);
    let start = ExecStart {
        target: Some(PodTarget { namespace: ns, name: r.pod.metadata.name.clone().unwrap_or_default(), container, uid: String::new() }),
        command: a.command.clone(),
        stdin: a.stdin,
        stdout: true,
        stderr: !tty,
        tty,
        size: None,
    };
    let code = session(ctx, start, Kind::Exec).await?;
    if code != 0 {
        crate::context::err(&format!("command terminated with exit code {code}\n"));
        return Err(CmdError::Exit(code));
    }
    Ok(())
}

/// Whether to use a terminal: -t with -i and a terminal on stdin (upstream's
/// SetupTTY, with its message otherwise).
pub fn terminal_wanted(stdin: bool, tty: bool, quiet: bool) -> bool {
    if !tty || !stdin {
        return false;
    }
    if !std::io::stdin().is_terminal() {
        if !quiet {
            crate::context::err("Unable to use a TTY - input is not a terminal or the right kind of file\n");
        }
        return false;
    }
    true
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Exec,
    Attach,
}

/// Runs one exec or attach call to its end; the remote exit code.
pub async fn session(ctx: &Ctx, mut start: ExecStart, kind: Kind) -> CmdResult<i32> {
    let _raw = if start.tty { RawTerminal::enter() } else { None };
    if start.tty {
        start.size = window_size();
    }
    let (tx, rx) = mpsc::channel::<ExecInput>(8);
    let with_stdin = start.stdin;
    let tty = start.tty;
    tx.send(ExecInput { frame: Some(exec_input::Frame::Start(start)) }).await.map_err(|_| CmdError::msg("exec: stream closed"))?;
    if with_stdin {
        // A plain thread: a blocked read of stdin must not keep the runtime from ending.
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 32 * 1024];
            let mut stdin = std::io::stdin().lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.blocking_send(ExecInput { frame: Some(exec_input::Frame::StdinClose(true)) });
                        return;
                    }
                    Ok(n) => {
                        if tx.blocking_send(ExecInput { frame: Some(exec_input::Frame::Stdin(buf[..n].to_vec())) }).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    if tty {
        let tx = tx.clone();
        tokio::spawn(async move {
            let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else { return };
            while winch.recv().await.is_some() {
                if let Some(size) = window_size() {
                    if tx.send(ExecInput { frame: Some(exec_input::Frame::Resize(size)) }).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    // Without stdin the request side ends after the start frame.
    drop(tx);
    let input = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut streaming = ctx.client().await?.streaming();
    let resp = match kind {
        Kind::Exec => streaming.exec(input).await,
        Kind::Attach => streaming.attach(input).await,
    };
    let mut output = resp.map_err(client::Error::from)?.into_inner();
    let mut code = 0;
    while let Some(frame) = output.next().await {
        match frame.map_err(client::Error::from)?.frame {
            Some(exec_output::Frame::Stdout(d)) => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(&d).and_then(|_| o.flush());
            }
            Some(exec_output::Frame::Stderr(d)) => {
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(&d).and_then(|_| e.flush());
            }
            Some(exec_output::Frame::Status(s)) => {
                if !s.error.is_empty() {
                    return Err(CmdError::msg(format!("Internal error occurred: error executing command in container: {}", s.error)));
                }
                code = s.exit_code;
            }
            None => {}
        }
    }
    Ok(code)
}

/// The local terminal's size (of stdout, else stdin).
fn window_size() -> Option<TerminalSize> {
    for fd in [1, 0] {
        let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return Some(TerminalSize { width: ws.ws_col.into(), height: ws.ws_row.into() });
        }
    }
    None
}

/// stdin in raw mode until dropped (then as it was).
struct RawTerminal {
    saved: libc::termios,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return None;
        }
        let saved = t;
        unsafe {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
        }
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.saved) };
    }
}

/// Runs a command with `stdin` as its whole input; its (stdout, stderr, exit code).
pub async fn captured(ctx: &Ctx, start: ExecStart, stdin: Vec<u8>) -> CmdResult<(Vec<u8>, Vec<u8>, i32)> {
    let mut frames = vec![ExecInput { frame: Some(exec_input::Frame::Start(start)) }];
    for chunk in stdin.chunks(32 * 1024) {
        frames.push(ExecInput { frame: Some(exec_input::Frame::Stdin(chunk.to_vec())) });
    }
    frames.push(ExecInput { frame: Some(exec_input::Frame::StdinClose(true)) });
    let mut output = ctx.client().await?.streaming().exec(futures::stream::iter(frames)).await.map_err(client::Error::from)?.into_inner();
    let (mut out, mut err, mut code) = (Vec::new(), Vec::new(), 0);
    while let Some(f) = output.next().await {
        match f.map_err(client::Error::from)?.frame {
            Some(exec_output::Frame::Stdout(d)) => out.extend(d),
            Some(exec_output::Frame::Stderr(d)) => err.extend(d),
            Some(exec_output::Frame::Status(s)) if !s.error.is_empty() => return Err(CmdError::msg(s.error)),
            Some(exec_output::Frame::Status(s)) => code = s.exit_code,
            None => {}
        }
    }
    Ok((out, err, code))
}
