//! /healthz, /livez, /readyz and /metrics over HTTP (daemon::health).

use std::net::SocketAddr;
use std::sync::Arc;

use daemon::health::{self, Health, Server};
use daemon::CancellationToken;

use crate::metrics::Metrics;

/// Serves until `shutdown` is cancelled. `Server::addr` is the bound address.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>, shutdown: CancellationToken) -> std::io::Result<Server> {
    health::serve(addr, health::router(&Health::new(), metrics.registry()), shutdown).await
}
