//! The kubelet's Streaming service (pods/log, exec, attach, port-forward), served
//! over gRPC on `--address:--port` to the apiserver only: every call must carry
//! the bearer token of `--streaming-token-file` (the apiserver's
//! `--kubelet-client-token-file`).

mod exec;
mod logs;
mod port_forward;

use crate::context::Kubelet;
use crate::runtime::manager::Attempt;
use client::{ApiError, Reason};
use k8s_openapi::api::core::v1::Pod;
use client::proto::v1::streaming_server::Streaming;
use client::proto::v1::*;
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

type BoxStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// Frames in flight per direction of one call: a slow reader stops the writer
/// after this many (with HTTP/2 flow control behind it), never an unbounded queue.
pub const CHANNEL_FRAMES: usize = 8;

/// Concurrent calls per HTTP/2 connection (the apiserver's one connection
/// carries every port-forwarded connection to this node).
pub const MAX_STREAMS: u32 = 100_000;

/// Largest data frame (port-forward and exec output).
pub const FRAME_BYTES: usize = 32 * 1024;

pub struct StreamingService {
    kl: Arc<Kubelet>,
    /// `Bearer <token>`; None: every call is refused.
    expected: Option<String>,
}

impl StreamingService {
    pub fn new(kl: Arc<Kubelet>, token: Option<String>) -> Self {
        StreamingService { kl, expected: token.map(|t| format!("Bearer {}", t.trim())) }
    }

    fn authorize<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let Some(expected) = &self.expected else {
            return Err(ApiError::new(Reason::Unauthorized, "the kubelet was started without --streaming-token-file: streaming is disabled").into());
        };
        let given = req.metadata().get(client::proto::AUTHORIZATION_KEY).and_then(|v| v.to_str().ok()).unwrap_or("");
        // Compare without an early exit, so timing tells nothing about the token.
        let same = given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !same {
            return Err(ApiError::new(Reason::Unauthorized, "Unauthorized").into());
        }
        Ok(())
    }
}

pub fn bad_request(msg: impl Into<String>) -> Status {
    ApiError::new(Reason::BadRequest, msg).into()
}

pub fn not_found(msg: impl Into<String>) -> Status {
    ApiError::new(Reason::NotFound, msg).into()
}

/// A pod this kubelet runs, as it last saw its spec.
pub struct LocalPod {
    pub uid: String,
    pub pod: Pod,
}

impl LocalPod {
    pub fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or("")
    }
    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    /// Every container name, init containers first.
    pub fn container_names(&self) -> Vec<String> {
        let spec = self.pod.spec.as_ref();
        let init = spec.and_then(|s| s.init_containers.as_ref()).into_iter().flatten();
        let main = spec.into_iter().flat_map(|s| s.containers.iter());
        init.chain(main).map(|c| c.name.clone()).collect()
    }

    /// The named container, or the pod's only one (upstream's messages otherwise).
    pub fn container(&self, name: &str) -> Result<String, Status> {
        let names = self.container_names();
        if name.is_empty() {
            let main: Vec<&String> = self.pod.spec.as_ref().map(|s| s.containers.iter().map(|c| &c.name).collect()).unwrap_or_default();
            if main.len() == 1 {
                return Ok(main[0].clone());
            }
            let list = main.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            return Err(bad_request(format!("a container name must be specified for pod {}, choose one of: [{list}]", self.name())));
        }
        if !names.iter().any(|n| n == name) {
            return Err(bad_request(format!("container {name} is not valid for pod {}", self.name())));
        }
        Ok(name.to_string())
    }

    pub fn log_path(&self, kl: &Kubelet, container: &str, attempt: u32) -> std::path::PathBuf {
        kl.runtime.logs.join(format!("{}_{}_{}", self.namespace(), self.name(), self.uid)).join(container).join(format!("{attempt}.log"))
    }

    /// The newest attempt of a container.
    pub fn current(&self, kl: &Kubelet, container: &str) -> Option<Attempt> {
        kl.runtime.attempts(&self.uid, container).pop()
    }

    /// The running attempt of a container (exec, attach), with upstream's message otherwise.
    pub fn running(&self, kl: &Kubelet, container: &str) -> Result<Attempt, Status> {
        match self.current(kl, container) {
            Some(a) if a.running() && a.state.as_ref().is_some_and(|s| s.pid > 0) => Ok(a),
            _ => Err(bad_request(format!("container not found ({container:?})"))),
        }
    }
}

/// The pod of `t`: by UID when the apiserver gave one, else by namespace/name.
pub fn find_pod(kl: &Kubelet, t: Option<&PodTarget>) -> Result<LocalPod, Status> {
    let t = t.ok_or_else(|| bad_request("target is required"))?;
    let read = |uid: &str| -> Option<LocalPod> {
        let bytes = std::fs::read(kl.runtime.pod_dir(uid).join("pod.json")).ok()?;
        Some(LocalPod { uid: uid.to_string(), pod: serde_json::from_slice(&bytes).ok()? })
    };
    let found = if !t.uid.is_empty() {
        read(&t.uid)
    } else {
        kl.runtime.pods_on_disk().iter().filter_map(|u| read(u)).find(|p| p.name() == t.name && p.namespace() == t.namespace)
    };
    found
        .filter(|p| p.name() == t.name && p.namespace() == t.namespace)
        .ok_or_else(|| not_found(format!("pod {:?} in namespace {:?} is not on node {}", t.name, t.namespace, kl.node_name)))
}

#[tonic::async_trait]
impl Streaming for StreamingService {
    type LogsStream = BoxStream<LogChunk>;
    type ExecStream = BoxStream<ExecOutput>;
    type AttachStream = BoxStream<ExecOutput>;
    type PortForwardStream = BoxStream<PortForwardOutput>;

    async fn logs(&self, req: Request<LogRequest>) -> Result<Response<Self::LogsStream>, Status> {
        self.authorize(&req)?;
        logs::logs(self.kl.clone(), req.into_inner()).map(Response::new)
    }

    async fn exec(&self, req: Request<tonic::Streaming<ExecInput>>) -> Result<Response<Self::ExecStream>, Status> {
        self.authorize(&req)?;
        exec::exec(self.kl.clone(), req.into_inner()).await.map(Response::new)
    }

    async fn attach(&self, req: Request<tonic::Streaming<ExecInput>>) -> Result<Response<Self::AttachStream>, Status> {
        self.authorize(&req)?;
        exec::attach(self.kl.clone(), req.into_inner()).await.map(Response::new)
    }

    async fn port_forward(&self, req: Request<tonic::Streaming<PortForwardInput>>) -> Result<Response<Self::PortForwardStream>, Status> {
        self.authorize(&req)?;
        port_forward::port_forward(self.kl.clone(), req.into_inner()).await.map(Response::new)
    }
}
