//! The Streaming service's front door (pods/log, pods/exec, pods/attach,
//! pods/portforward): checks the pod and container as upstream's pod registry
//! does, then proxies the call to the Streaming service of the kubelet on the
//! pod's node (its InternalIP, else Hostname, and
//! status.daemonEndpoints.kubeletEndpoint.Port) with the kubelet credential.
//! Frames are passed on as they are pulled, so HTTP/2 flow control carries a
//! slow reader's backpressure end to end.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::status::StatusError;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use proto::v1::streaming_client::StreamingClient;
use proto::v1::streaming_server::Streaming;
use proto::v1::*;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use super::status;
use crate::store::{self, Store};

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Concurrent calls per HTTP/2 connection (one per port-forwarded connection).
pub const MAX_STREAMS: u32 = 100_000;

pub struct StreamingProxy {
    store: Arc<Store>,
    /// `Bearer <token>` for the kubelets.
    credential: Option<String>,
    /// One HTTP/2 connection per kubelet address, shared by every call.
    channels: parking_lot::Mutex<HashMap<String, Channel>>,
}

fn bad_request(msg: impl Into<String>) -> Status {
    status(store::errors::bad_request(msg))
}

impl StreamingProxy {
    pub fn new(store: Arc<Store>, kubelet_token: Option<String>) -> Self {
        StreamingProxy { store, credential: kubelet_token.map(|t| format!("Bearer {}", t.trim())), channels: Default::default() }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, resource: &str, namespace: &str, name: &str) -> Result<T, StatusError> {
        let t = self.store.target(store::RequestInfo { resource, namespace, name, ..Default::default() }, true)?;
        let bytes = self.store.get(&t).await?;
        serde_json::from_slice(&bytes).map_err(|e| store::errors::internal(format!("decoding {resource} {name:?}: {e}")))
    }

    /// The pod of `t` and a client for its node's kubelet; `t` gets the pod's
    /// UID and the container resolved.
    async fn resolve(&self, t: Option<&mut PodTarget>, kind: Call) -> Result<(Pod, StreamingClient<Channel>), Status> {
        let t = t.ok_or_else(|| bad_request("target is required"))?;
        let pod: Pod = self.get("pods", &t.namespace, &t.name).await.map_err(status)?;
        t.uid = pod.metadata.uid.clone().unwrap_or_default();
        if kind != Call::PortForward {
            t.container = check_container(&pod, &t.container, kind)?;
        }
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        if node_name.is_empty() {
            return Err(bad_request(format!("pod {} does not have a host assigned", t.name)));
        }
        let node: Node = self.get("nodes", "", &node_name).await.map_err(status)?;
        let addr = kubelet_address(&node).ok_or_else(|| status(store::errors::internal(format!("node {node_name} reports no address and port for its kubelet"))))?;
        Ok((pod, self.client(&addr)?))
    }

    fn client(&self, addr: &str) -> Result<StreamingClient<Channel>, Status> {
        let mut channels = self.channels.lock();
        let ch = match channels.get(addr) {
            Some(c) => c.clone(),
            None => {
                let c = Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(|e| bad_request(format!("kubelet address {addr:?}: {e}")))?
                    .tcp_nodelay(true)
                    .connect_timeout(Duration::from_secs(10))
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .http2_adaptive_window(true)
                    .connect_lazy();
                channels.insert(addr.to_string(), c.clone());
                c
            }
        };
        Ok(StreamingClient::new(ch).max_decoding_message_size(64 * 1024 * 1024))
    }

    /// `req` with the kubelet credential.
    fn authorized<T>(&self, msg: T) -> Result<Request<T>, Status> {
        let mut req = Request::new(msg);
        let cred = self.credential.as_deref().ok_or_else(|| status(store::errors::unavailable("the apiserver has no --kubelet-client-token-file: it cannot reach kubelets")))?;
        req.metadata_mut().insert(proto::AUTHORIZATION_KEY, cred.parse().map_err(|_| Status::internal("the kubelet token is not a valid header value"))?);
        Ok(req)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Logs { previous: bool },
    Exec,
    Attach,
    PortForward,
}

/// The node's InternalIP (else its Hostname) and kubelet port.
fn kubelet_address(node: &Node) -> Option<String> {
    let st = node.status.as_ref()?;
    let port = st.daemon_endpoints.as_ref()?.kubelet_endpoint.as_ref()?.port;
    let addrs = st.addresses.as_deref().unwrap_or_default();
    let pick = |ty: &str| addrs.iter().find(|a| a.type_ == ty).map(|a| a.address.clone());
    let host = pick("InternalIP").or_else(|| pick("ExternalIP")).or_else(|| pick("Hostname"))?;
    Some(if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") })
}

/// The container a call is about, with upstream's messages (pkg/registry/core/pod).
fn check_container(pod: &Pod, name: &str, kind: Call) -> Result<String, Status> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    let spec = pod.spec.as_ref().ok_or_else(|| bad_request("pod has no spec"))?;
    let main: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let init: Vec<&str> = spec.init_containers.iter().flatten().map(|c| c.name.as_str()).collect();
    let name = if name.is_empty() {
        match main.as_slice() {
            [only] => only.to_string(),
            _ => {
                let mut msg = format!("a container name must be specified for pod {pod_name}, choose one of: [{}]", main.join(" "));
                if !init.is_empty() {
                    msg.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
                }
                return Err(bad_request(msg));
            }
        }
    } else {
        name.to_string()
    };
    if !main.contains(&name.as_str()) && !init.contains(&name.as_str()) {
        return Err(bad_request(format!("container {name} is not valid for pod {pod_name}")));
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
    if matches!(kind, Call::Exec | Call::Attach) && matches!(phase, "Succeeded" | "Failed") {
        let what = if kind == Call::Exec { "exec into" } else { "attach to" };
        return Err(bad_request(format!("cannot {what} a container in a completed pod; current phase is {phase}")));
    }
    // A container that never ran has no logs: upstream's "waiting to start".
    let statuses = pod.status.as_ref().map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()).collect::<Vec<_>>()).unwrap_or_default();
    if let Some(cs) = statuses.iter().find(|c| c.name == name) {
        let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
        let ran_before = cs.last_state.as_ref().is_some_and(|s| s.terminated.is_some());
        if let Some(w) = waiting {
            let reason = w.reason.as_deref().unwrap_or("");
            if !ran_before || !matches!(kind, Call::Logs { .. }) {
                return Err(bad_request(format!("container {name:?} in pod {pod_name:?} is waiting to start: {reason}")));
            }
        }
    }
    Ok(name)
}

/// `first` followed by what the caller sends after it (the first error ends it).
fn forward<T: Send + 'static>(first: T, rest: tonic::Streaming<T>) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::once(async move { first }).chain(rest.take_while(|m| futures::future::ready(m.is_ok())).filter_map(|m| async move { m.ok() }))
}

fn boxed<T: Send + 'static>(r: Response<tonic::Streaming<T>>) -> Response<BoxStream<T>> {
    Response::new(Box::pin(r.into_inner()))
}

#[tonic::async_trait]
impl Streaming for StreamingProxy {
    type LogsStream = BoxStream<LogChunk>;
    type ExecStream = BoxStream<ExecOutput>;
    type AttachStream = BoxStream<ExecOutput>;
    type PortForwardStream = BoxStream<PortForwardOutput>;

    async fn logs(&self, req: Request<LogRequest>) -> Result<Response<Self::LogsStream>, Status> {
        let mut req = req.into_inner();
        let (_, mut kubelet) = self.resolve(req.target.as_mut(), Call::Logs { previous: req.previous }).await?;
        Ok(boxed(kubelet.logs(self.authorized(req)?).await?))
    }

    async fn exec(&self, req: Request<tonic::Streaming<ExecInput>>) -> Result<Response<Self::ExecStream>, Status> {
        let (start, rest) = self.start(req, Call::Exec).await?;
        let (start, mut kubelet) = start;
        Ok(boxed(kubelet.exec(self.authorized(forward(start, rest))?).await?))
    }

    async fn attach(&self, req: Request<tonic::Streaming<ExecInput>>) -> Result<Response<Self::AttachStream>, Status> {
        let (start, rest) = self.start(req, Call::Attach).await?;
        let (start, mut kubelet) = start;
        Ok(boxed(kubelet.attach(self.authorized(forward(start, rest))?).await?))
    }

    async fn port_forward(&self, req: Request<tonic::Streaming<PortForwardInput>>) -> Result<Response<Self::PortForwardStream>, Status> {
        let mut input = req.into_inner();
        let mut start = match input.message().await? {
            Some(PortForwardInput { frame: Some(port_forward_input::Frame::Start(s)) }) => s,
            _ => return Err(bad_request("the first frame of a port-forward call must be its start")),
        };
        let (_, mut kubelet) = self.resolve(start.target.as_mut(), Call::PortForward).await?;
        let first = PortForwardInput { frame: Some(port_forward_input::Frame::Start(start)) };
        Ok(boxed(kubelet.port_forward(self.authorized(forward(first, input))?).await?))
    }
}

impl StreamingProxy {
    /// Reads and checks the start frame of an exec or attach call.
    #[allow(clippy::type_complexity)]
    async fn start(&self, req: Request<tonic::Streaming<ExecInput>>, kind: Call) -> Result<((ExecInput, StreamingClient<Channel>), tonic::Streaming<ExecInput>), Status> {
        let mut input = req.into_inner();
        let mut start = match input.message().await? {
            Some(ExecInput { frame: Some(exec_input::Frame::Start(s)) }) => s,
            _ => return Err(bad_request("the first frame of an exec or attach call must be its start")),
        };
        if kind == Call::Exec && start.command.is_empty() {
            return Err(bad_request("you must specify at least one command for the container"));
        }
        let (_, kubelet) = self.resolve(start.target.as_mut(), kind).await?;
        Ok(((ExecInput { frame: Some(exec_input::Frame::Start(start)) }, kubelet), input))
    }
}
