//! pods/exec (a command in a running container through `kubelet-shim
//! exec-stream`: its namespaces, cgroups and credentials; a pty when asked) and
//! pods/attach (the output of the container's main process as it comes).

use super::logs::{attempt_alive, read_entries, Start};
use super::{bad_request, find_pod, BoxStream, CHANNEL_FRAMES, FRAME_BYTES};
use crate::context::Kubelet;
use futures::StreamExt;
use client::proto::v1::{exec_input, exec_output, ExecInput, ExecOutput, ExecStart, ExitStatus, TerminalSize};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tonic::Status;

type Tx = mpsc::Sender<Result<ExecOutput, Status>>;

fn out(frame: exec_output::Frame) -> Result<ExecOutput, Status> {
    Ok(ExecOutput { frame: Some(frame) })
}

/// The first frame must be the start.
async fn first(input: &mut tonic::Streaming<ExecInput>) -> Result<ExecStart, Status> {
    match input.message().await? {
        Some(ExecInput { frame: Some(exec_input::Frame::Start(s)) }) => Ok(s),
        _ => Err(bad_request("the first frame of an exec or attach call must be its start")),
    }
}

pub async fn exec(kl: Arc<Kubelet>, mut input: tonic::Streaming<ExecInput>) -> Result<BoxStream<ExecOutput>, Status> {
    let start = first(&mut input).await?;
    let pod = find_pod(&kl, start.target.as_ref())?;
    let container = pod.container(start.target.as_ref().map(|t| t.container.as_str()).unwrap_or(""))?;
    if start.command.is_empty() {
        return Err(bad_request("you must specify at least one command for the container"));
    }
    let attempt = pod.running(&kl, &container)?;
    let init_pid = attempt.state.as_ref().map(|s| s.pid).unwrap_or(0);
    let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
    let proc = Proc::spawn(&kl.runtime.shim, init_pid, &start)?;
    tracing::info!(pod = %pod.name(), %container, command = ?start.command, tty = start.tty, "exec");
    tokio::spawn(proc.run(input, tx));
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}

/// A running `kubelet-shim exec-stream` and the ends of its stdio.
struct Proc {
    child: tokio::process::Child,
    verdict: OwnedFd,
    /// The pty master (tty), else None.
    pty: Option<Arc<AsyncFd<OwnedFd>>>,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_size(fd: &impl AsRawFd, s: &TerminalSize) {
    let ws = libc::winsize { ws_row: s.height as u16, ws_col: s.width as u16, ws_xpixel: 0, ws_ypixel: 0 };
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

impl Proc {
    fn spawn(shim: &std::path::Path, init_pid: i32, s: &ExecStart) -> Result<Proc, Status> {
        let internal = |what: &str, e: std::io::Error| Status::internal(format!("{what}: {e}"));
        let (verdict, verdict_w) = pipe().map_err(|e| internal("pipe", e))?;
        let mut cmd = tokio::process::Command::new(shim);
        cmd.arg("exec-stream").arg(init_pid.to_string()).arg(if s.tty { "1" } else { "0" }).args(&s.command).env_clear().kill_on_drop(true);
        let mut pty = None;
        if s.tty {
            let (mut master, mut slave) = (0, 0);
            if unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) } != 0 {
                return Err(internal("openpty", std::io::Error::last_os_error()));
            }
            let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
            unsafe {
                libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
                libc::fcntl(master.as_raw_fd(), libc::F_SETFL, libc::fcntl(master.as_raw_fd(), libc::F_GETFL) | libc::O_NONBLOCK);
            }
            if let Some(size) = &s.size {
                set_size(&master, size);
            }
            let dup = |f: &OwnedFd| f.try_clone().map_err(|e| internal("dup", e));
            cmd.stdin(dup(&slave)?).stdout(dup(&slave)?).stderr(slave);
            // SAFETY: `master` is an owned, non-blocking fd that the AsyncFd keeps open.
            pty = Some(Arc::new(unsafe { AsyncFd::register(master) }.map_err(|e| internal("pty", std::io::Error::other(e.to_string())))?));
        } else {
            use std::process::Stdio;
            cmd.stdin(if s.stdin { Stdio::piped() } else { Stdio::null() });
            cmd.stdout(if s.stdout { Stdio::piped() } else { Stdio::null() });
            cmd.stderr(if s.stderr { Stdio::piped() } else { Stdio::null() });
        }
        let w = verdict_w.as_raw_fd();
        // SAFETY: only dup2 (async-signal-safe) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(w, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| internal("starting kubelet-shim exec-stream", e))?;
        drop(verdict_w);
        Ok(Proc { child, verdict, pty })
    }

    /// Pump stdin in, stdout/stderr out, then the exit status. Ends (killing the
    /// command) when the caller goes away.
    async fn run(mut self, mut input: tonic::Streaming<ExecInput>, tx: Tx) {
        let mut stdin = self.child.stdin.take();
        let pty = self.pty.clone();
        let input_task = tokio::spawn(async move {
            while let Ok(Some(m)) = input.message().await {
                match m.frame {
                    Some(exec_input::Frame::Stdin(data)) => {
                        if let Some(p) = &pty {
                            if write_fd(p, &data).await.is_err() {
                                break;
                            }
                        } else if let Some(s) = stdin.as_mut() {
                            if s.write_all(&data).await.is_err() {
                                stdin = None;
                            }
                        }
                    }
                    Some(exec_input::Frame::Resize(size)) => {
                        if let Some(p) = &pty {
                            set_size(p.get_ref(), &size);
                        }
                    }
                    Some(exec_input::Frame::StdinClose(_)) => {
                        stdin = None;
                        if let Some(p) = &pty {
                            // EOF for a terminal in canonical mode (^D).
                            let _ = write_fd(p, &[4]).await;
                        }
                    }
                    _ => {}
                }
            }
            // The caller is gone (or closed its side): keep the command only if
            // it still has output to deliver, as the output side decides.
        });
        let mut pumps = Vec::new();
        if let Some(p) = self.pty.clone() {
            let tx = tx.clone();
            pumps.push(tokio::spawn(async move { pump_pty(p, tx).await }));
        }
        if let Some(o) = self.child.stdout.take() {
            pumps.push(tokio::spawn(pump(o, tx.clone(), exec_output::Frame::Stdout)));
        }
        if let Some(e) = self.child.stderr.take() {
            pumps.push(tokio::spawn(pump(e, tx.clone(), exec_output::Frame::Stderr)));
        }
        let status = tokio::select! {
            s = self.child.wait() => s.ok(),
            _ = tx.closed() => None,
        };
        if status.is_none() {
            // The caller went away: kill_on_drop takes the shim, the command follows it.
            input_task.abort();
            return;
        }
        for p in pumps {
            let _ = p.await;
        }
        input_task.abort();
        let mut text = String::new();
        let _ = tokio::fs::File::from_std(std::fs::File::from(self.verdict)).read_to_string(&mut text).await;
        let text = text.trim();
        let st = match text.strip_prefix("exit ").and_then(|c| c.parse::<i32>().ok()) {
            Some(code) => ExitStatus { exit_code: code, error: String::new() },
            None => ExitStatus { exit_code: 126, error: text.strip_prefix("err ").unwrap_or(text).to_string() },
        };
        let _ = tx.send(out(exec_output::Frame::Status(st))).await;
    }
}

async fn pump(mut r: impl AsyncRead + Unpin, tx: Tx, frame: fn(Vec<u8>) -> exec_output::Frame) {
    let mut buf = vec![0u8; FRAME_BYTES];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send(out(frame(buf[..n].to_vec()))).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Terminal output; EIO once the last holder of the slave closed it.
async fn pump_pty(p: Arc<AsyncFd<OwnedFd>>, tx: Tx) {
    let mut buf = vec![0u8; FRAME_BYTES];
    loop {
        let Ok(mut guard) = p.readable().await else { return };
        match guard.try_io(|fd| {
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
        }) {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => {
                if tx.send(out(exec_output::Frame::Stdout(buf[..n].to_vec()))).await.is_err() {
                    return;
                }
            }
            Err(_would_block) => continue,
        }
    }
}

async fn write_fd(p: &AsyncFd<OwnedFd>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let mut guard = p.writable().await?;
        match guard.try_io(|fd| {
            let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
            if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
        }) {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}

/// Attach: the container's output from now on, stdout and stderr apart, until
/// it ends or the caller goes away. The main process's stdin is not connected
/// (containers run with stdin on /dev/null), so `stdin` is refused.
pub async fn attach(kl: Arc<Kubelet>, mut input: tonic::Streaming<ExecInput>) -> Result<BoxStream<ExecOutput>, Status> {
    let start = first(&mut input).await?;
    let pod = find_pod(&kl, start.target.as_ref())?;
    let container = pod.container(start.target.as_ref().map(|t| t.container.as_str()).unwrap_or(""))?;
    let attempt = pod.running(&kl, &container)?;
    if start.stdin {
        return Err(bad_request(format!("attaching to the stdin of container {container:?} is not supported by this kubelet: containers run with stdin closed")));
    }
    let log = pod.log_path(&kl, &container, attempt.n);
    let state = attempt.dir.join("state.json");
    let (tx, rx) = mpsc::channel::<Result<ExecOutput, Status>>(CHANNEL_FRAMES);
    // The caller closing its side ends the attach.
    let closer = tx.clone();
    tokio::spawn(async move {
        while let Some(Ok(_)) = input.next().await {}
        drop(closer);
    });
    let (want_out, want_err) = (start.stdout, start.stderr);
    std::thread::Builder::new()
        .name("pod-attach".into())
        .spawn(move || {
            let mut out_buf = Vec::new();
            let mut err_buf = Vec::new();
            let send = |f: exec_output::Frame| tx.blocking_send(out(f)).is_ok();
            let _ = read_entries(&log, Start::Tail(0), true, || attempt_alive(&state), |e| {
                let Some(e) = e else {
                    let ok = (out_buf.is_empty() || send(exec_output::Frame::Stdout(std::mem::take(&mut out_buf))))
                        && (err_buf.is_empty() || send(exec_output::Frame::Stderr(std::mem::take(&mut err_buf))));
                    return ok && !tx.is_closed();
                };
                let buf = if e.stream == b"stderr" { &mut err_buf } else { &mut out_buf };
                if (e.stream == b"stderr" && !want_err) || (e.stream != b"stderr" && !want_out) {
                    return true;
                }
                buf.extend_from_slice(e.content);
                if e.full {
                    buf.push(b'\n');
                }
                true
            });
            let code = crate::runtime::shim_state::ShimState::load(&state).ok().and_then(|s| s.exit_code).unwrap_or(0);
            let _ = tx.blocking_send(out(exec_output::Frame::Status(ExitStatus { exit_code: code, error: String::new() })));
        })
        .map_err(|e| Status::internal(format!("starting an attach reader: {e}")))?;
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}
