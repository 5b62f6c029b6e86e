//! The kubelet's local HTTP endpoint: /healthz, /livez, /readyz and /metrics (daemon::health).

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
