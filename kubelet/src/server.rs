//! The kubelet's local HTTP endpoint: /healthz and /metrics.

use crate::metrics::Metrics;
use axum::{routing::get, Router};
use std::sync::Arc;

pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>, stop: client::CancellationToken) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move { m.render() }
            }),
        );
    let _ = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
}
