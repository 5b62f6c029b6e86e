//! kube-dns: the cluster DNS server. Answers `<svc>.<ns>.svc.<domain>`,
//! headless Services' endpoints, `<hostname>.<subdomain>.<ns>.svc.<domain>`,
//! SRV for named ports, PTR, ExternalName CNAMEs and pod names from its
//! informers' caches; forwards other names to the resolvers of
//! `--resolv-conf` (or `--upstream`), caching answers up to 30 s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use dns::feed::Feed;
use dns::forward::{self, Forwarder};
use dns::metrics::DnsMetrics;
use dns::{Handler, Server, Zone};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "kube-dns", about = "Cluster DNS for ferrokube: Service and pod names from the apiserver, other names forwarded")]
struct Flags {
    /// The apiserver's address (host:port); overrides the kubeconfig.
    #[arg(long, env = "FERROKUBE_SERVER")]
    master: Option<String>,
    /// Path to a kubeconfig; its current context's server is used unless --master is given.
    #[arg(long)]
    kubeconfig: Option<String>,
    /// The cluster's DNS domain: names under it are answered from the cluster's Services.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// The IP address to answer DNS queries on (UDP and TCP).
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: String,
    /// The port to answer DNS queries on (UDP and TCP).
    #[arg(long, default_value_t = 53)]
    dns_port: u16,
    /// Resolver configuration whose nameservers receive queries for names outside the cluster domain. Empty: none.
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: String,
    /// Upstream resolvers (IP or IP:port, comma separated); when given, used instead of --resolv-conf's.
    #[arg(long, value_delimiter = ',')]
    upstream: Vec<String>,
    /// How long to wait for an upstream resolver before trying the next.
    #[arg(long, default_value = "2s", value_parser = go_duration)]
    upstream_timeout: Duration,
    /// The address (host:port) to serve /healthz, /readyz and /metrics on. Empty disables it.
    #[arg(long, default_value = "127.0.0.1:8081")]
    healthz_bind_address: String,
    #[command(flatten)]
    log: daemon::logging::LogArgs,
}

fn go_duration(s: &str) -> Result<Duration, String> {
    api::duration::parse(s).map_err(|e| e.to_string())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    // hickory-server logs every query at info; per-query logs are CoreDNS' opt-in `log` plugin, not a default.
    if std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) && flags.log.verbosity <= 1 {
        std::env::set_var("RUST_LOG", "info,hickory_server=warn");
    }
    flags.log.init()?;
    let bind: SocketAddr = format!("{}:{}", flags.bind_address, flags.dns_port).parse().context("--bind-address/--dns-port")?;
    let mut upstreams: Vec<SocketAddr> = flags.upstream.iter().filter(|s| !s.is_empty()).map(|s| forward::parse_upstream(s)).collect::<Result<_, _>>().map_err(anyhow::Error::msg)?;
    if upstreams.is_empty() && !flags.resolv_conf.is_empty() {
        let text = std::fs::read_to_string(&flags.resolv_conf).with_context(|| format!("--resolv-conf {}", flags.resolv_conf))?;
        upstreams = forward::nameservers(&text);
    }
    // Never forward to ourselves (a node whose resolv.conf names this server).
    upstreams.retain(|u| !(u.port() == bind.port() && (u.ip() == bind.ip() || bind.ip().is_unspecified() && u.ip().is_loopback())));
    if upstreams.is_empty() {
        tracing::warn!("no upstream resolvers: names outside the cluster domain are answered SERVFAIL");
    }

    let conn = client::config::for_daemon(flags.master.as_deref(), flags.kubeconfig.as_deref()).context("kubeconfig")?;
    let client = client::Client::connect_lazy(&conn.address)?;
    let shutdown = daemon::signals::shutdown_token()?;
    let registry = daemon::metrics::Registry::new();
    let metrics = DnsMetrics::new(&registry);

    let zone = Arc::new(Zone::new(&flags.cluster_domain));
    let feed = Arc::new(Feed::start(client, zone.clone()));
    {
        let (z, m) = (zone.clone(), metrics.clone());
        registry.on_collect(move || m.services.set(z.services() as i64));
    }
    let health = daemon::health::Health::new();
    let f = feed.clone();
    health.add_readyz_check("informer-sync", move || {
        let synced = f.synced();
        async move { if synced { Ok(()) } else { Err("Service and EndpointSlice caches not synced yet".into()) } }
    });
    let http = if flags.healthz_bind_address.is_empty() {
        None
    } else {
        let addr: SocketAddr = flags.healthz_bind_address.parse().context("--healthz-bind-address")?;
        let s = daemon::health::serve(addr, daemon::health::router(&health, &registry), shutdown.clone()).await.with_context(|| format!("serving on {addr}"))?;
        tracing::info!(addr = %s.addr, "serving /healthz and /metrics");
        Some(s)
    };

    let forwarder = (!upstreams.is_empty()).then(|| Arc::new(Forwarder::new(upstreams.clone(), flags.upstream_timeout)));
    let handler = Handler { zone: zone.clone(), forwarder, metrics };
    let server = Server::serve(bind, handler, shutdown.clone()).await.with_context(|| format!("binding {bind}"))?;
    tracing::info!(addr = %server.addr, domain = %flags.cluster_domain, ?upstreams, server = %conn.server, "answering DNS");

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    server.wait().await;
    if let Ok(feed) = Arc::try_unwrap(feed) {
        feed.stop();
    }
    if let Some(s) = http {
        s.wait().await;
    }
    Ok(())
}
