//! Assembling and running the apiserver: etcd connection, watch cache,
//! store, bootstrap objects, compaction, and one port serving gRPC plus
//! /healthz, /readyz, /livez and /metrics.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use daemon::health::Health;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admission::services::ServiceRanges;
use crate::grpc::ApiService;
use crate::metrics::Metrics;
use crate::registry::Kinds;
use crate::storage::Storage;
use crate::store::{RequestInfo, Store};
use crate::watch_cache::WatchCache;

/// The Kubernetes version whose API this server serves.
pub const VERSION: &str = api::version::GIT_VERSION;

#[derive(Debug, Clone)]
pub struct Config {
    pub etcd_servers: Vec<String>,
    pub bind: SocketAddr,
    pub service_cluster_ip_range: String,
    pub service_node_port_range: String,
    /// Compact etcd history older than this (0 = never).
    pub compaction_interval: Duration,
    /// Bearer token presented to kubelets when proxying logs, exec, attach and
    /// port-forward (None: those calls fail with ServiceUnavailable).
    pub kubelet_client_token: Option<String>,
    /// An already-listening socket to serve as well (the launcher binds the
    /// user's loopback port in another network namespace and hands it over).
    pub inherited_listener: Option<Arc<std::net::TcpListener>>,
}

impl Config {
    pub fn new(etcd_servers: Vec<String>, bind: SocketAddr) -> Self {
        Config {
            etcd_servers,
            bind,
            service_cluster_ip_range: "10.96.0.0/12".into(),
            service_node_port_range: "30000-32767".into(),
            compaction_interval: Duration::from_secs(300),
            kubelet_client_token: None,
            inherited_listener: None,
        }
    }
}

/// A running apiserver.
pub struct Running {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    stopping: Arc<AtomicBool>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops serving; open watches end.
    pub async fn stop(self) {
        // /readyz fails from here on, as upstream's "shutdown" check.
        self.stopping.store(true, Ordering::Relaxed);
        // Ending every watch first lets the graceful shutdown finish.
        self.store.cache().stop();
        let _ = self.shutdown.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), self.task).await.is_err() {
            tracing::warn!("apiserver did not stop within 5s; aborting");
            abort.abort();
        }
    }
}

pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    let ranges = ServiceRanges::parse(&cfg.service_cluster_ip_range, &cfg.service_node_port_range).map_err(anyhow::Error::msg)?;
    let storage = Storage::connect(&cfg.etcd_servers).await?;
    let cache = WatchCache::start(storage.clone(), Kinds::new()).await?;
    let store = Arc::new(Store::new(storage.clone(), cache, ranges));
    let metrics = Arc::new(Metrics::default());
    let listener = TcpListener::bind(cfg.bind).await?;
    let addr = listener.local_addr()?;
    bootstrap(&store, addr).await;
    if !cfg.compaction_interval.is_zero() {
        let stopped = store.cache().stopped();
        let every = cfg.compaction_interval;
        tokio::spawn(async move {
            tokio::select! {
                _ = compactor(storage, every) => {}
                _ = stopped => {}
            }
        });
    }

    let svc = ApiService::new(store.clone(), metrics.clone(), VERSION.into());
    let grpc = proto::v1::api_server::ApiServer::new(svc)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(512 * 1024 * 1024);
    let stopping = Arc::new(AtomicBool::new(false));
    let health = health_checks(store.clone(), stopping.clone());
    let streaming = proto::v1::streaming_server::StreamingServer::new(crate::grpc::streaming::StreamingProxy::new(store.clone(), cfg.kubelet_client_token.clone()));
    let router = tonic::service::Routes::new(grpc)
        .add_service(streaming)
        .into_axum_router()
        .merge(daemon::health::router(&health, metrics.registry()))
        .route("/version", get(|| async { serde_json::to_string(&api::version::get()).unwrap_or_default() }));
    let inherited = match &cfg.inherited_listener {
        Some(l) => {
            let l = l.try_clone()?;
            l.set_nonblocking(true)?;
            let l = TcpListener::from_std(l)?;
            tracing::info!(addr = ?l.local_addr().ok(), "also serving an inherited listener");
            Some(l)
        }
        None => None,
    };
    let (tx, mut rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        // TCP_NODELAY on accepted connections: without it small replies wait
        // for delayed ACKs (~40 ms per request).
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        // The same router on both sockets: one stream of accepted connections.
        use futures::StreamExt;
        let inherited = inherited.map(|l| tonic::transport::server::TcpIncoming::from(l).with_nodelay(Some(true)));
        let incoming = futures::stream::select(incoming, futures::stream::iter(inherited).flatten());
        let res = tonic::transport::Server::builder()
            .accept_http1(true)
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!(error = %e, "server failed");
        }
    });
    tracing::info!(%addr, "kube-apiserver serving gRPC, /healthz, /readyz, /metrics");
    Ok(Running { addr, store, stopping, shutdown: tx, task })
}

/// Upstream's checks: `etcd` (readyz only here, so an etcd outage does not
/// get the apiserver restarted) and `shutdown` once stopping.
fn health_checks(store: Arc<Store>, stopping: Arc<AtomicBool>) -> Health {
    let health = Health::new();
    health.add_readyz_check("etcd", move || {
        let store = store.clone();
        async move {
            match tokio::time::timeout(Duration::from_secs(2), store.storage().current_revision()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("etcd: {e}")),
                Err(_) => Err("etcd did not answer within 2s".into()),
            }
        }
    });
    health.add_readyz_check("shutdown", move || {
        let stopping = stopping.load(Ordering::Relaxed);
        async move { if stopping { Err("process is shutting down".into()) } else { Ok(()) } }
    });
    health
}

fn rref<'a>(group: &'a str, resource: &'a str, namespace: &'a str, name: &'a str) -> RequestInfo<'a> {
    RequestInfo { group, resource, namespace, name, ..Default::default() }
}

/// Objects every cluster starts with: the four system namespaces, the two
/// system PriorityClasses, the default StorageClass and the `kubernetes` Service (first ClusterIP) with
/// its Endpoints.
async fn bootstrap(store: &Store, addr: SocketAddr) {
    let create = |r: RequestInfo<'static>, v: serde_json::Value| async move {
        let t = match store.target(r, false) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(resource = %r.resource, error = %e, "kind not served; skipping bootstrap object");
                return;
            }
        };
        match store.create(&t, &serde_json::to_vec(&v).expect("serializes"), false).await {
            Ok(_) => tracing::info!(resource = %r.resource, ns = %r.namespace, "bootstrap object created"),
            Err(e) if e.reason() == api::Reason::AlreadyExists => {}
            Err(e) => tracing::warn!(resource = %r.resource, error = %e, "bootstrap object not created"),
        }
    };
    for ns in crate::admission::namespace::IMMORTAL {
        create(rref("", "namespaces", "", ""), serde_json::json!({"metadata": {"name": ns}})).await;
    }
    // Upstream's scheduling/bootstrap-system-priority-classes.
    for pc in crate::admission::priority::system_classes() {
        create(rref("scheduling.k8s.io", "priorityclasses", "", ""), pc).await;
    }
    // The default StorageClass `standard` (the controller-manager's built-in local-path provisioner).
    create(rref("storage.k8s.io", "storageclasses", "", ""), crate::admission::default_storage_class::bootstrap_class()).await;
    let ip = store.ranges().first_ip().to_string();
    create(
        rref("", "services", "default", ""),
        serde_json::json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": addr.port()}]}
        }),
    )
    .await;
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    create(
        rref("", "endpoints", "default", ""),
        serde_json::json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": host}], "ports": [{"name": "https", "port": addr.port(), "protocol": "TCP"}]}]
        }),
    )
    .await;
    // Its EndpointSlice too, as upstream's endpoint reconciler writes it: kube-proxy
    // and DNS read slices, and the mirroring controller skips the Endpoints above.
    create(
        rref("discovery.k8s.io", "endpointslices", "default", ""),
        serde_json::json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [host], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": addr.port(), "protocol": "TCP"}]
        }),
    )
    .await;
}

/// Compacts etcd to the revision seen one interval ago, as upstream does, so
/// history (and etcd's memory) stays bounded while watchers can still resume.
async fn compactor(storage: Storage, every: Duration) {
    let mut last = 0;
    loop {
        tokio::time::sleep(every).await;
        let Ok(rev) = storage.current_revision().await else { continue };
        if last > 0 {
            match storage.compact(last).await {
                Ok(()) => tracing::info!(revision = last, "compacted etcd"),
                Err(e) => tracing::warn!(error = %e, "compaction failed"),
            }
        }
        last = rev;
    }
}
