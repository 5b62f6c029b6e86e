//! `kubectl port-forward`: local ports to a pod's ports through the apiserver's
//! pods/portforward (proxied to the kubelet). Every accepted connection is a
//! call of its own; a failure (a refused remote port) ends that connection
//! only and is reported, the forward goes on.

use std::net::{IpAddr, SocketAddr};

use client::proto::v1::{port_forward_input, port_forward_output, PodTarget, PortForwardInput, PortForwardStart};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::attachable;
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct PortForwardArgs {
    /// TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]
    pub args: Vec<String>,
    /// Addresses to listen on (comma separated). Only accepts IP addresses or localhost as a value. When localhost is supplied, kubectl will try to bind on both 127.0.0.1 and ::1 and will fail if neither of these addresses are available to bind.
    #[arg(long, value_delimiter = ',', default_value = "localhost")]
    pub address: Vec<String>,
    /// The length of time (like 5s, 2m, or 3h, higher than zero) to wait until at least one pod is running
    #[arg(long = "pod-running-timeout", default_value = "1m0s")]
    pub pod_running_timeout: String,
}

/// Bytes per frame read from a local connection.
const FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Mapping {
    local: u16,
    remote: u16,
    /// As written (`8080` or `http`), for messages.
    remote_text: String,
}

fn usage(m: &str) -> CmdError {
    CmdError::usage("port-forward", m)
}

pub async fn run(ctx: &Ctx, a: PortForwardArgs) -> CmdResult {
    let [target, specs @ ..] = a.args.as_slice() else {
        return Err(usage("TYPE/NAME and list of ports are required for port-forward"));
    };
    if specs.is_empty() {
        return Err(usage("at least 1 PORT is required for port-forward"));
    }
    let ns = ctx.namespace()?;
    let r = attachable::resolve(ctx, &ns, target).await?;
    let pod = r.pod;
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    if phase != "Running" {
        return Err(CmdError::msg(format!("unable to forward port because pod is not running. Current status={phase}")));
    }
    let mut mappings = Vec::new();
    for spec in specs {
        let (local, remote) = match spec.split_once(':') {
            Some((l, r)) => (l, r),
            None => (spec.as_str(), spec.as_str()),
        };
        let remote_port = remote_port(&pod, r.object.as_ref().filter(|_| r.kind == "Service"), remote)?;
        let local_port = if local.is_empty() {
            0
        } else if local == remote && !remote.chars().all(|c| c.is_ascii_digit()) {
            remote_port
        } else {
            local.parse::<u16>().map_err(|_| CmdError::msg(format!("Error parsing local port '{local}': strconv.ParseUint: parsing \"{local}\": invalid syntax")))?
        };
        mappings.push(Mapping { local: local_port, remote: remote_port, remote_text: remote.to_string() });
    }
    let mut addrs: Vec<IpAddr> = Vec::new();
    for a in &a.address {
        match a.as_str() {
            "localhost" => addrs.extend(["127.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]),
            other => addrs.push(other.parse().map_err(|_| CmdError::msg(format!("{other} is not a valid IP")))?),
        }
    }
    let target = PodTarget { namespace: ns, name: pod.metadata.name.clone().unwrap_or_default(), container: String::new(), uid: String::new() };
    let client = ctx.client().await?.clone();
    let mut tasks = Vec::new();
    let mut failed = Vec::new();
    for m in &mappings {
        let mut bound = 0;
        let mut local = m.local;
        let mut errors = Vec::new();
        for ip in &addrs {
            match TcpListener::bind(SocketAddr::new(*ip, local)).await {
                Ok(l) => {
                    let addr = l.local_addr().map_err(CmdError::from)?;
                    // ":8080": every address then uses the port the first one got.
                    local = addr.port();
                    out(&format!("Forwarding from {addr} -> {}\n", m.remote));
                    bound += 1;
                    tasks.push(tokio::spawn(serve(l, local, m.clone(), client.clone(), target.clone())));
                }
                Err(e) => errors.push(format!("unable to create listener: Error listen tcp{} {}: bind: {}", if ip.is_ipv4() { "4" } else { "6" }, SocketAddr::new(*ip, local), go_error(&e))),
            }
        }
        if bound == 0 {
            crate::context::err(&format!("Unable to listen on port {}: Listeners failed to create with the following errors: [{}]\n", m.local, errors.join(" ")));
            failed.push(format!("{{{} {}}}", m.local, m.remote_text));
        }
    }
    if !failed.is_empty() && tasks.is_empty() {
        return Err(CmdError::msg(format!("unable to listen on any of the requested ports: [{}]", failed.join(" "))));
    }
    futures::future::join_all(tasks).await;
    Ok(())
}

fn go_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".into(),
        std::io::ErrorKind::AddrNotAvailable => "cannot assign requested address".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The pod's port for `remote` (a number or a container port's name); through
/// a Service: its port's targetPort, as upstream's translateServicePortToTargetPort.
fn remote_port(pod: &Pod, svc: Option<&Value>, remote: &str) -> CmdResult<u16> {
    let named = |name: &str| -> Option<u16> {
        let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
        containers.iter().flat_map(|c| c.ports.iter().flatten()).find(|p| p.name.as_deref() == Some(name)).map(|p| p.container_port as u16)
    };
    let Some(svc) = svc else {
        return match remote.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => named(remote).ok_or_else(|| CmdError::msg(format!("Pod '{}' does not have a named port '{remote}'", pod.metadata.name.as_deref().unwrap_or("")))),
        };
    };
    let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let svc_name = svc["metadata"]["name"].as_str().unwrap_or("");
    let port = match remote.parse::<i64>() {
        Ok(n) => ports.iter().find(|p| p["port"].as_i64() == Some(n)),
        Err(_) => ports.iter().find(|p| p["name"].as_str() == Some(remote)),
    }
    .ok_or_else(|| CmdError::msg(format!("Service {svc_name} does not have a service port {remote}")))?;
    match &port["targetPort"] {
        Value::Number(n) => Ok(n.as_u64().unwrap_or(0) as u16),
        Value::String(name) => named(name).ok_or_else(|| CmdError::msg(format!("Pod '{}' does not have a named port '{name}'", pod.metadata.name.as_deref().unwrap_or("")))),
        _ => Ok(port["port"].as_u64().unwrap_or(0) as u16),
    }
}

async fn serve(l: TcpListener, local: u16, m: Mapping, client: client::Client, target: PodTarget) {
    loop {
        let Ok((conn, _)) = l.accept().await else { continue };
        let _ = conn.set_nodelay(true);
        out(&format!("Handling connection for {local}\n"));
        let (client, target) = (client.clone(), target.clone());
        tokio::spawn(async move {
            if let Err(e) = forward(conn, m.remote, client, target).await {
                crate::context::err(&format!("E{} portforward.go] an error occurred forwarding {local} -> {}: {e}\n", chrono::Utc::now().format("%m%d %H:%M:%S%.6f"), m.remote));
            }
        });
    }
}

/// One local connection as one port-forward call, both ways until either side ends.
async fn forward(conn: TcpStream, port: u16, client: client::Client, target: PodTarget) -> Result<(), String> {
    let (mut rd, mut wr) = conn.into_split();
    let (tx, rx) = mpsc::channel::<PortForwardInput>(8);
    let start = PortForwardStart { target: Some(target), port: port.into() };
    let _ = tx.send(PortForwardInput { frame: Some(port_forward_input::Frame::Start(start)) }).await;
    let pump_in = tokio::spawn(async move {
        let mut buf = vec![0u8; FRAME_BYTES];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = tx.send(PortForwardInput { frame: Some(port_forward_input::Frame::CloseWrite(true)) }).await;
                    return;
                }
                Ok(n) => {
                    if tx.send(PortForwardInput { frame: Some(port_forward_input::Frame::Data(buf[..n].to_vec())) }).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let res = async {
        let mut output = client.streaming().port_forward(tokio_stream::wrappers::ReceiverStream::new(rx)).await.map_err(|e| client::Error::from(e).to_string())?.into_inner();
        while let Some(f) = output.next().await {
            match f.map_err(|e| client::Error::from(e).to_string())?.frame {
                Some(port_forward_output::Frame::Data(d)) => {
                    if wr.write_all(&d).await.is_err() {
                        return Ok(());
                    }
                }
                Some(port_forward_output::Frame::Error(e)) => return Err(e),
                None => {}
            }
        }
        let _ = wr.shutdown().await;
        Ok(())
    }
    .await;
    pump_in.abort();
    res
}
