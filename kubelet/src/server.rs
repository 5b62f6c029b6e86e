//! The kubelet's endpoints: the local HTTP one (/healthz, /livez, /readyz and
//! /metrics, daemon::health) and the kubelet API (gRPC Streaming: logs, exec,
//! attach, port-forward) on `--address:--port`.

use std::sync::Arc;

use daemon::health::{self, Health};

use crate::metrics::Metrics;

/// Serves on `listener` until `stop` is cancelled, then finishes the requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>, stop: client::CancellationToken) {
    match health::serve_listener(listener, health::router(&Health::new(), metrics.registry()), stop) {
        Ok(server) => server.wait().await,
        Err(e) => tracing::error!(error = %e, "healthz server"),
    }
}

/// Serves the kubelet API on `listener` until `stop` is cancelled.
pub async fn serve_streaming(listener: tokio::net::TcpListener, svc: crate::streaming::StreamingService, stop: client::CancellationToken) {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let res = tonic::transport::Server::builder()
        // One HTTP/2 stream per port-forwarded connection: allow many at once.
        .max_concurrent_streams(Some(crate::streaming::MAX_STREAMS))
        .add_service(client::proto::v1::streaming_server::StreamingServer::new(svc))
        .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "kubelet API server");
    }
}
