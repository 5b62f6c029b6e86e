//! `/healthz`, `/livez`, `/readyz` and `/metrics` over HTTP, answering as
//! upstream's `k8s.io/apiserver/pkg/server/healthz`:
//!
//! - all checks pass: `200 ok` (with `?verbose`: one `[+]name ok` line per
//!   check, then `<endpoint> check passed`);
//! - one fails: `500` with the per-check list (`[-]name failed: reason
//!   withheld`, the reason goes to the log) and `<endpoint> check failed`;
//! - `?exclude=name` skips a check; `/<endpoint>/<name>` runs one check.
//!
//! Checks added with [`Health::add_check`] count for all three endpoints;
//! [`Health::add_readyz_check`] only for `/readyz` (e.g. "informers synced").

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use axum::extract::Path;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Registry, CONTENT_TYPE};

/// A check's verdict: `Err` carries the reason (logged, not served).
pub type CheckResult = Result<(), String>;

type CheckFn = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = CheckResult> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Check {
    name: String,
    ready_only: bool,
    run: CheckFn,
}

/// The named checks behind the health endpoints. Cheap to clone (shared):
/// checks may be added after the server started.
#[derive(Clone)]
pub struct Health {
    checks: Arc<RwLock<Vec<Check>>>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Healthz,
    Livez,
    Readyz,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Healthz => "healthz",
            Endpoint::Livez => "livez",
            Endpoint::Readyz => "readyz",
        }
    }
}

impl Health {
    /// Checks with upstream's always-passing `ping`.
    pub fn new() -> Self {
        let h = Health { checks: Default::default() };
        h.add_check("ping", || async { Ok(()) });
        h
    }

    /// A check for `/healthz`, `/livez` and `/readyz`.
    pub fn add_check<F, Fut>(&self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckResult> + Send + 'static,
    {
        self.push(name, false, check);
    }

    /// A check for `/readyz` only: the process is alive but should not get traffic.
    pub fn add_readyz_check<F, Fut>(&self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckResult> + Send + 'static,
    {
        self.push(name, true, check);
    }

    fn push<F, Fut>(&self, name: &str, ready_only: bool, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckResult> + Send + 'static,
    {
        let run: CheckFn = Arc::new(move || Box::pin(check()));
        self.checks.write().unwrap_or_else(|e| e.into_inner()).push(Check { name: name.into(), ready_only, run });
    }

    fn checks_for(&self, ep: Endpoint) -> Vec<Check> {
        let checks = self.checks.read().unwrap_or_else(|e| e.into_inner());
        checks.iter().filter(|c| ep == Endpoint::Readyz || !c.ready_only).cloned().collect()
    }

    async fn all(&self, ep: Endpoint, query: Option<&str>) -> Response {
        let (mut verbose, mut exclude) = (false, Vec::new());
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("exclude", v)) => exclude.push(v.to_string()),
                Some(("verbose", v)) => verbose = v != "false" && v != "0",
                None if pair == "verbose" => verbose = true,
                _ => {}
            }
        }
        let mut list = String::new();
        let mut failed = false;
        for c in self.checks_for(ep) {
            if exclude.contains(&c.name) {
                list.push_str(&format!("[+]{} excluded: ok\n", c.name));
                continue;
            }
            match (c.run)().await {
                Ok(()) => list.push_str(&format!("[+]{} ok\n", c.name)),
                Err(reason) => {
                    tracing::warn!(check = %c.name, endpoint = ep.name(), %reason, "health check failed");
                    list.push_str(&format!("[-]{} failed: reason withheld\n", c.name));
                    failed = true;
                }
            }
        }
        if failed {
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("{list}{} check failed\n", ep.name()))
        } else if verbose {
            text(StatusCode::OK, format!("{list}{} check passed\n", ep.name()))
        } else {
            text(StatusCode::OK, "ok".into())
        }
    }

    async fn one(&self, ep: Endpoint, name: &str) -> Response {
        let Some(c) = self.checks_for(ep).into_iter().find(|c| c.name == name) else {
            return text(StatusCode::NOT_FOUND, "404 page not found\n".into());
        };
        match (c.run)().await {
            Ok(()) => text(StatusCode::OK, "ok".into()),
            Err(reason) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("internal server error: {reason}\n")),
        }
    }
}

fn text(code: StatusCode, body: String) -> Response {
    (code, [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], body).into_response()
}

/// The health endpoints and `/metrics` as a router, to serve alone
/// ([`serve`]) or merged into a daemon's own (the apiserver's gRPC port).
pub fn router(health: &Health, registry: &Registry) -> Router {
    let mut r = Router::new();
    for ep in [Endpoint::Healthz, Endpoint::Livez, Endpoint::Readyz] {
        let (h1, h2) = (health.clone(), health.clone());
        r = r
            .route(&format!("/{}", ep.name()), get(move |uri: Uri| async move { h1.all(ep, uri.query()).await }))
            .route(&format!("/{}/{{check}}", ep.name()), get(move |Path(name): Path<String>| async move { h2.one(ep, &name).await }));
    }
    let registry = registry.clone();
    r.route("/metrics", get(move || async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], registry.render()) }))
}

/// A running HTTP server.
pub struct Server {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Waits until the server has finished its graceful shutdown.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves `router` until `shutdown` is cancelled, then
/// finishes the requests in flight.
pub async fn serve(addr: SocketAddr, router: Router, shutdown: CancellationToken) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    serve_listener(listener, router, shutdown)
}

/// As [`serve`], on a listener the caller bound.
pub fn serve_listener(listener: TcpListener, router: Router, shutdown: CancellationToken) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await }).await {
            tracing::error!(error = %e, %addr, "health server failed");
        }
    });
    Ok(Server { addr, task })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let code = out[9..12].parse().unwrap();
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (code, body)
    }

    #[tokio::test]
    async fn serves_checks_and_metrics_then_shuts_down() {
        let health = Health::new();
        let synced = Arc::new(AtomicBool::new(false));
        let s = synced.clone();
        health.add_readyz_check("informer-sync", move || {
            let s = s.clone();
            async move { if s.load(Ordering::Relaxed) { Ok(()) } else { Err("pods not synced".into()) } }
        });
        let registry = Registry::new();
        registry.counter("things_total", "Things.").inc_by(3);
        let stop = CancellationToken::new();
        let srv = serve("127.0.0.1:0".parse().unwrap(), router(&health, &registry), stop.clone()).await.unwrap();
        let a = srv.addr;

        assert_eq!(get(a, "/healthz").await, (200, "ok".into()));
        assert_eq!(get(a, "/livez").await, (200, "ok".into()));
        assert_eq!(get(a, "/readyz").await, (500, "[+]ping ok\n[-]informer-sync failed: reason withheld\nreadyz check failed\n".into()));
        assert_eq!(get(a, "/readyz/informer-sync").await, (500, "internal server error: pods not synced\n".into()));
        assert_eq!(get(a, "/readyz?exclude=informer-sync").await, (200, "ok".into()));
        assert_eq!(get(a, "/livez/informer-sync").await.0, 404);
        synced.store(true, Ordering::Relaxed);
        assert_eq!(get(a, "/readyz?verbose").await, (200, "[+]ping ok\n[+]informer-sync ok\nreadyz check passed\n".into()));
        assert_eq!(get(a, "/healthz/ping").await, (200, "ok".into()));
        let (code, m) = get(a, "/metrics").await;
        assert_eq!(code, 200);
        assert_eq!(m, "# HELP things_total Things.\n# TYPE things_total counter\nthings_total 3\n");

        stop.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), srv.wait()).await.expect("server stops on cancel");
        assert!(tokio::net::TcpStream::connect(a).await.is_err());
    }
}
