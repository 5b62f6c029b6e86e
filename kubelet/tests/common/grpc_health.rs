//! A grpc.health.v1 server for gRPC probe tests. Busybox has no gRPC server, so
//! the test process serves it from a thread that has entered the pod's network
//! namespace: the kubelet's probe reaches it exactly as it would reach a server
//! in a container of the pod (same namespace, same address and port).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tonic::codegen::http;

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

pub const SERVING: i32 = 1;
pub const NOT_SERVING: i32 = 2;

/// Status per service name (absent: NOT_FOUND, as grpc-go's health server) and
/// the services asked for, in order.
#[derive(Clone, Default)]
pub struct Health {
    pub status: Arc<Mutex<HashMap<String, i32>>>,
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl Health {
    pub fn set(&self, service: &str, status: i32) {
        self.status.lock().insert(service.to_string(), status);
    }
}

impl tonic::server::NamedService for Health {
    const NAME: &'static str = "grpc.health.v1.Health";
}

impl tower::Service<http::Request<tonic::body::Body>> for Health {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let h = self.clone();
        Box::pin(async move {
            if req.uri().path() != "/grpc.health.v1.Health/Check" {
                return Ok(tonic::Status::unimplemented(format!("unknown method {}", req.uri().path())).into_http());
            }
            let check = tower::service_fn(move |r: tonic::Request<HealthCheckRequest>| {
                let service = r.into_inner().service;
                h.asked.lock().push(service.clone());
                let status = h.status.lock().get(&service).copied();
                async move {
                    match status {
                        Some(status) => Ok(tonic::Response::new(HealthCheckResponse { status })),
                        None => Err(tonic::Status::not_found("unknown service")),
                    }
                }
            });
            let codec: tonic_prost::ProstCodec<HealthCheckResponse, HealthCheckRequest> = Default::default();
            Ok(tonic::server::Grpc::new(codec).unary(check, req).await)
        })
    }
}

/// Serves `health` on 0.0.0.0:`port` inside the network namespace of `pid`
/// until the returned sender is dropped.
pub fn serve_in_netns(pid: i32, port: u16, health: Health) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, is_bound) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns into the pod's network namespace");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await.unwrap();
            bound.send(()).unwrap();
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    is_bound.recv().unwrap();
    stop
}
