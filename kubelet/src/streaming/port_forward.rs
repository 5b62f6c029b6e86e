//! pods/portforward: one call per forwarded connection. The kubelet connects to
//! 127.0.0.1:<port> inside the pod's network namespace (a throwaway thread
//! setns'es there to create the socket, which stays in that namespace), then
//! copies both ways through bounded channels. A refused port ends that call
//! with an error frame; other calls are unaffected.

use super::{bad_request, find_pod, BoxStream, CHANNEL_FRAMES, FRAME_BYTES};
use crate::context::Kubelet;
use client::proto::v1::{port_forward_input, port_forward_output, PortForwardInput, PortForwardOutput};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tonic::Status;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn out(f: port_forward_output::Frame) -> Result<PortForwardOutput, Status> {
    Ok(PortForwardOutput { frame: Some(f) })
}

pub async fn port_forward(kl: Arc<Kubelet>, mut input: tonic::Streaming<PortForwardInput>) -> Result<BoxStream<PortForwardOutput>, Status> {
    let start = match input.message().await? {
        Some(PortForwardInput { frame: Some(port_forward_input::Frame::Start(s)) }) => s,
        _ => return Err(bad_request("the first frame of a port-forward call must be its start")),
    };
    let pod = find_pod(&kl, start.target.as_ref())?;
    let port = u16::try_from(start.port).ok().filter(|p| *p > 0).ok_or_else(|| bad_request(format!("invalid port {}", start.port)))?;
    let host_network = pod.pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
    let netns_pid = if host_network {
        None
    } else {
        Some(kl.runtime.sandbox(&pod.uid).map(|s| s.pid).ok_or_else(|| bad_request(format!("pod {:?} has no running sandbox", pod.name())))?)
    };
    let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
    let uid = pod.uid.clone();
    let connected = crate::probes::actions::in_netns(netns_pid, move || {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let s = std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| format!("dial tcp4 127.0.0.1:{port}: connect: {}", go_error(&e)))?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        let _ = s.set_nodelay(true);
        Ok(s)
    })
    .await;
    let sock = match connected.and_then(|s| tokio::net::TcpStream::from_std(s).map_err(|e| e.to_string())) {
        Ok(s) => s,
        Err(e) => {
            // Upstream's wording (the kubelet's portforward), on this connection only.
            let msg = format!("error forwarding port {port} to pod {uid}, uid : failed to connect to localhost:{port} inside the pod's network namespace: {e}");
            let _ = tx.send(out(port_forward_output::Frame::Error(msg))).await;
            return Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)));
        }
    };
    let (mut rd, mut wr) = sock.into_split();
    // Caller to pod.
    let to_pod = tokio::spawn(async move {
        while let Ok(Some(m)) = input.message().await {
            match m.frame {
                Some(port_forward_input::Frame::Data(d)) => {
                    if wr.write_all(&d).await.is_err() {
                        break;
                    }
                }
                Some(port_forward_input::Frame::CloseWrite(_)) => break,
                _ => {}
            }
        }
        let _ = wr.shutdown().await;
    });
    // Pod to caller; the end of the pod's side ends the call.
    tokio::spawn(async move {
        let mut buf = vec![0u8; FRAME_BYTES];
        loop {
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(out(port_forward_output::Frame::Data(buf[..n].to_vec()))).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(out(port_forward_output::Frame::Error(format!("reading from port {port}: {e}")))).await;
                        break;
                    }
                },
                _ = tx.closed() => break,
            }
        }
        // The caller going away drops the connection to the pod too.
        if tx.is_closed() {
            to_pod.abort();
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}

/// "connection refused", as Go prints syscall errors.
fn go_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut => "i/o timeout".into(),
        _ => e.to_string(),
    }
}
