//! The handlers probes and lifecycle hooks share: exec (through `kubelet-shim
//! exec`, inside the running container), httpGet and tcpSocket (from inside the
//! pod's network namespace: a fresh thread setns'es into the pause's
//! `/proc/<pid>/ns/net`, so 127.0.0.1 is the pod's own loopback), and gRPC health
//! checks. Results and messages are upstream's prober's.

use k8s_openapi::api::core::v1::{Container, HTTPGetAction, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

/// upstream's probe.Result: Success, Failure, or Unknown (an error of the prober).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success(String),
    Failure(String),
    Error(String),
}

/// Where network probes go: into the pod's network namespace (the pause's pid,
/// None for hostNetwork pods) at `host` (the pod IP, else 127.0.0.1 there).
#[derive(Debug, Clone)]
pub struct NetTarget {
    pub netns_pid: Option<i32>,
    pub host: String,
}

/// User-Agent of upstream's probes (kube-probe/<major>.<minor>).
pub const USER_AGENT: &str = "kube-probe/1.33";

/// Run `f` on a new thread inside the network namespace of `pid` (the thread is
/// thrown away after, so no pooled thread is left in a pod's namespace).
pub async fn in_netns<R: Send + 'static>(pid: Option<i32>, f: impl FnOnce() -> Result<R, String> + Send + 'static) -> Result<R, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("netns-probe".into())
        .spawn(move || {
            let r = (|| {
                if let Some(pid) = pid {
                    let f = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(|e| format!("opening the pod's network namespace: {e}"))?;
                    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(format!("entering the pod's network namespace: {}", std::io::Error::last_os_error()));
                    }
                }
                f()
            })();
            let _ = tx.send(r);
        })
        .map_err(|e| format!("spawning a probe thread: {e}"))?;
    rx.await.map_err(|_| "probe thread died".to_string())?
}

/// A named or numbered port of the container.
pub fn resolve_port(c: &Container, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) if (1..=65535).contains(n) => Ok(*n as u16),
        IntOrString::Int(n) => Err(format!("invalid port number: {n}")),
        IntOrString::String(s) => {
            if let Ok(n) = s.parse::<u16>() {
                return Ok(n);
            }
            c.ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(s.as_str()))
                .map(|p| p.container_port as u16)
                .ok_or_else(|| format!("couldn't find port: {s} in {}", c.name))
        }
    }
}

/// Go's net.JoinHostPort.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Dial as Go's net.Dialer does, with its error texts.
fn dial(addr: &str, timeout: Duration) -> Result<TcpStream, String> {
    let sa: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| format!("dial tcp: lookup {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("dial tcp: lookup {addr}: no such host"))?;
    TcpStream::connect_timeout(&sa, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => format!("dial tcp {sa}: i/o timeout"),
        std::io::ErrorKind::ConnectionRefused => format!("dial tcp {sa}: connect: connection refused"),
        _ => format!("dial tcp {sa}: connect: {}", go_errno(&e)),
    })
}

/// The bare strerror text Go prints (Rust appends " (os error N)").
fn go_errno(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

pub async fn tcp(t: &NetTarget, c: &Container, a: &TCPSocketAction, timeout: Duration) -> Outcome {
    let port = match resolve_port(c, &a.port) {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e),
    };
    let host = a.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| t.host.clone());
    let addr = join_host_port(&host, port);
    match in_netns(t.netns_pid, move || dial(&addr, timeout).map(|_| ())).await {
        Ok(()) => Outcome::Success(String::new()),
        Err(e) => Outcome::Failure(e),
    }
}

/// The URL upstream's HTTP prober builds (for messages).
pub fn http_url(t: &NetTarget, c: &Container, a: &HTTPGetAction) -> Result<(String, String, u16, String), String> {
    let port = resolve_port(c, &a.port)?;
    let host = a.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| t.host.clone());
    let mut path = a.path.clone().unwrap_or_default();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let scheme = a.scheme.clone().unwrap_or_else(|| "HTTP".into()).to_lowercase();
    Ok((format!("{scheme}://{}{path}", join_host_port(&host, port)), host, port, path))
}

/// One GET as upstream's HTTP prober sends it; 200-399 is success.
pub async fn http(t: &NetTarget, c: &Container, a: &HTTPGetAction, timeout: Duration) -> Outcome {
    let (url, host, port, path) = match http_url(t, c, a) {
        Ok(u) => u,
        Err(e) => return Outcome::Error(e),
    };
    if a.scheme.as_deref().is_some_and(|s| s != "HTTP") {
        return Outcome::Error(format!("httpGet.scheme {} is not supported by this node (only HTTP)", a.scheme.as_deref().unwrap_or("")));
    }
    let mut headers: Vec<(String, String)> = vec![
        ("Host".into(), join_host_port(&host, port)),
        ("User-Agent".into(), USER_AGENT.into()),
        ("Accept".into(), "*/*".into()),
    ];
    for h in a.http_headers.iter().flatten() {
        // A spec header replaces the default of the same name.
        if let Some(d) = headers.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&h.name)) {
            *d = (h.name.clone(), h.value.clone());
        } else {
            headers.push((h.name.clone(), h.value.clone()));
        }
    }
    let u = url.clone();
    let r = in_netns(t.netns_pid, move || {
        let addr = join_host_port(&host, port);
        let mut s = dial(&addr, timeout)?;
        let _ = s.set_read_timeout(Some(timeout));
        let _ = s.set_write_timeout(Some(timeout));
        let mut req = format!("GET {path} HTTP/1.1\r\n");
        for (k, v) in &headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("Connection: close\r\n\r\n");
        s.write_all(req.as_bytes()).map_err(|e| go_errno(&e))?;
        let mut head = Vec::new();
        let mut b = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") {
            match s.read(&mut b) {
                Ok(0) => return Err("EOF".into()),
                Ok(n) => head.extend_from_slice(&b[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err("context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into())
                }
                Err(e) => return Err(go_errno(&e)),
            }
        }
        let line = String::from_utf8_lossy(&head);
        let code: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("malformed HTTP response {:?}", line.lines().next().unwrap_or("")))?;
        Ok(code)
    })
    .await;
    match r {
        Ok(code) if (200..400).contains(&code) => Outcome::Success(String::new()),
        Ok(code) => Outcome::Failure(format!("HTTP probe failed with statuscode: {code}")),
        Err(e) => Outcome::Failure(format!("Get \"{u}\": {e}")),
    }
}

/// How a command run in a container ended.
pub enum Exited {
    Code(i32),
    Timeout,
}

/// Run `cmd` in the running container whose init is `init_pid`: its combined
/// output and how it ended; Err: it could not be run.
pub async fn run_in_container(shim: &Path, init_pid: i32, cmd: &[String], timeout: Duration) -> Result<(String, Exited), String> {
    let out = tokio::process::Command::new(shim)
        .arg("exec")
        .arg(init_pid.to_string())
        .arg(format!("{}", timeout.as_secs_f64()))
        .args(cmd)
        .env_clear()
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(timeout + Duration::from_secs(5), out).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(format!("running kubelet-shim exec: {e}")),
        Err(_) => return Ok((String::new(), Exited::Timeout)),
    };
    let output = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let verdict = stderr.lines().last().unwrap_or("").to_string();
    if let Some(code) = verdict.strip_prefix("exit ") {
        return match code.trim().parse::<i32>() {
            Ok(code) => Ok((output, Exited::Code(code))),
            Err(_) => Err(verdict),
        };
    }
    if verdict == "timeout" {
        return Ok((output, Exited::Timeout));
    }
    Err(verdict.strip_prefix("err ").unwrap_or(&verdict).to_string())
}

/// An exec probe: exit 0 is success.
pub async fn exec(shim: &Path, init_pid: i32, cmd: &[String], timeout: Duration) -> Outcome {
    match run_in_container(shim, init_pid, cmd, timeout).await {
        Ok((output, Exited::Code(0))) => Outcome::Success(output),
        Ok((output, Exited::Code(_))) => Outcome::Failure(output),
        Ok((_, Exited::Timeout)) => Outcome::Failure(format!("command {:?} timed out", cmd.join(" "))),
        Err(e) => Outcome::Error(e),
    }
}

/// grpc.health.v1.HealthCheckRequest
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// grpc.health.v1.HealthCheckResponse
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

fn serving_status(n: i32) -> &'static str {
    match n {
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    }
}

/// grpc.health.v1.Health/Check, as upstream's gRPC prober (messages included).
pub async fn grpc(t: &NetTarget, a: &k8s_openapi::api::core::v1::GRPCAction, timeout: Duration) -> Outcome {
    let Ok(port) = u16::try_from(a.port) else { return Outcome::Error(format!("invalid port number: {}", a.port)) };
    let addr = join_host_port(&t.host, port);
    let service = a.service.clone().unwrap_or_default();
    let go_timeout = crate::events::go_duration(timeout);
    let r = in_netns(t.netns_pid, move || {
        // The socket is made on this thread (in the pod's namespace), and the
        // runtime that drives the RPC runs here too.
        let stream = dial(&addr, timeout).map_err(|_| format!("timeout: failed to connect service {addr:?} within {go_timeout}"))?;
        stream.set_nonblocking(true).map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let stream = tokio::net::TcpStream::from_std(stream).map_err(|e| e.to_string())?;
            let slot = std::sync::Mutex::new(Some(stream));
            let connector = tower::service_fn(move |_: tonic::transport::Uri| {
                let s = slot.lock().unwrap().take();
                async move { s.map(hyper_util::rt::TokioIo::new).ok_or_else(|| std::io::Error::other("connection already used")) }
            });
            let channel = tonic::transport::Endpoint::from_static("http://probe")
                .connect_with_connector(connector)
                .await
                .map_err(|e| format!("error: failed to connect service at {addr:?}: {e}"))?;
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.map_err(|e| format!("error: failed to connect service at {addr:?}: {e}"))?;
            let path = tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
            let codec: tonic_prost::ProstCodec<HealthCheckRequest, HealthCheckResponse> = tonic_prost::ProstCodec::default();
            let call = grpc.unary(tonic::Request::new(HealthCheckRequest { service }), path, codec);
            match tokio::time::timeout(timeout, call).await {
                Err(_) => Err(format!("timeout: health rpc did not complete within {go_timeout}")),
                Ok(Err(s)) if s.code() == tonic::Code::Unimplemented => {
                    Err(format!("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}", s.message()))
                }
                Ok(Err(s)) => Err(format!("error: health rpc probe failed: rpc error: code = {:?} desc = {}", s.code(), s.message())),
                Ok(Ok(resp)) => Ok(resp.into_inner().status),
            }
        })
    })
    .await;
    match r {
        Ok(1) => Outcome::Success(String::new()),
        Ok(n) => Outcome::Failure(format!("service unhealthy (responded with {:?})", serving_status(n))),
        Err(e) => Outcome::Failure(e),
    }
}
