//! kube-proxy: makes Services answer on every node with iptables rules.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use kube_proxy::iptables::{Exec, Mode};
use kube_proxy::metrics::Metrics;
use kube_proxy::service_lb::IpRange;
use kube_proxy::{Proxier, ProxierConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "kube-proxy", about = "Programs iptables so that Services answer on this node (ferrokube)")]
struct Flags {
    /// Path to a kubeconfig (default: $KUBECONFIG, else the in-cluster config, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<String>,
    /// The apiserver's address (host:port or URL); overrides the kubeconfig's server.
    #[arg(long, env = "FERROKUBE_SERVER")]
    master: Option<String>,
    /// This node's name, for the Local traffic policies (default: the hostname).
    #[arg(long)]
    hostname_override: Option<String>,
    /// The pods' CIDR: traffic to cluster IPs from outside it is masqueraded (IPv4).
    #[arg(long)]
    cluster_cidr: Option<api::cidr::Ipv4Cidr>,
    /// The node's IP (accepted for compatibility; the iptables mode is IPv4 here).
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: std::net::IpAddr,
    /// Address:port for /healthz (and /livez, /readyz); empty disables.
    #[arg(long, default_value = "0.0.0.0:10256")]
    healthz_bind_address: String,
    /// Address:port for /metrics; empty disables.
    #[arg(long, default_value = "127.0.0.1:10249")]
    metrics_bind_address: String,
    /// Which proxy mode to use: only "iptables" is implemented.
    #[arg(long, default_value = "iptables")]
    proxy_mode: String,
    /// Comma-separated CIDRs: NodePorts answer only on local addresses within them (default: every local address).
    #[arg(long, value_delimiter = ',')]
    nodeport_addresses: Vec<api::cidr::Ipv4Cidr>,
    /// Masquerade (SNAT) all traffic sent to service cluster IPs.
    #[arg(long)]
    masquerade_all: bool,
    /// Full resync period of the iptables rules, e.g. 30s or 1m.
    #[arg(long, default_value = "30s", value_parser = api::duration::parse)]
    iptables_sync_period: Duration,
    /// Minimum time between two syncs, e.g. 1s; changes in between are batched.
    #[arg(long, default_value = "1s", value_parser = api::duration::parse)]
    iptables_min_sync_period: Duration,
    /// The fwmark bit (0-31) marking packets to masquerade.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u8).range(0..=31))]
    iptables_masquerade_bit: u8,
    /// Answer NodePorts on 127.0.0.1 too (sets route_localnet).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    iptables_localhost_nodeports: bool,
    /// ferrokube: addresses for type LoadBalancer Services, as a CIDR or first-last (empty: no built-in load balancer).
    #[arg(long)]
    load_balancer_ip_range: Option<IpRange>,
    /// ferrokube: program iptables in the network namespace bound at this path (e.g. /run/netns/node-1) instead of this process's.
    #[arg(long)]
    netns: Option<String>,
    /// ferrokube: iptables backend: auto (as upstream's iptables-wrapper: the kubelet's hint chain, else whichever has more rules), nft or legacy.
    #[arg(long, default_value = "auto")]
    iptables_backend: String,
    #[command(flatten)]
    log: daemon::logging::LogArgs,
}

fn addr(s: &str, flag: &str) -> anyhow::Result<Option<SocketAddr>> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).with_context(|| format!("--{flag}: {s:?} is not an address:port"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    flags.log.init()?;
    if !flags.proxy_mode.is_empty() && flags.proxy_mode != "iptables" {
        bail!("--proxy-mode: {:?} is not supported: only \"iptables\"", flags.proxy_mode);
    }
    let shutdown = daemon::signals::shutdown_token()?;
    let node_name = match &flags.hostname_override {
        Some(n) if !n.trim().is_empty() => n.trim().to_lowercase(),
        _ => std::fs::read_to_string("/proc/sys/kernel/hostname").context("reading the hostname")?.trim().to_lowercase(),
    };
    let mut cfg = ProxierConfig::new(&node_name);
    cfg.render.masquerade_all = flags.masquerade_all;
    cfg.render.cluster_cidr = flags.cluster_cidr;
    cfg.render.localhost_nodeports = flags.iptables_localhost_nodeports;
    cfg.render.masquerade_mark = format!("{:#08x}", 1u32 << flags.iptables_masquerade_bit);
    cfg.nodeport_addresses = flags.nodeport_addresses.clone();
    cfg.sync_period = flags.iptables_sync_period;
    cfg.min_sync_period = flags.iptables_min_sync_period;
    if let Some(ns) = &flags.netns {
        cfg.exec = Exec::in_netns(ns);
    }
    cfg.mode = match flags.iptables_backend.as_str() {
        "auto" => None,
        other => Some(other.parse::<Mode>().map_err(|e| anyhow::anyhow!("--iptables-backend: {e}"))?),
    };
    if flags.cluster_cidr.is_none() && !flags.masquerade_all {
        tracing::warn!("--cluster-cidr not given: traffic to cluster IPs from outside the pod network will not be masqueraded");
    }

    let registry = daemon::metrics::Registry::new();
    let metrics = Metrics::new(&registry);
    let proxier = tokio::task::spawn_blocking(move || Proxier::new(cfg, metrics)).await?;
    let health = daemon::health::Health::new();
    let sync_health = proxier.health();
    health.add_check("proxier-sync", move || {
        let h = sync_health.clone();
        async move { h.check() }
    });
    let router = daemon::health::router(&health, &registry);
    let mut servers = Vec::new();
    let healthz = addr(&flags.healthz_bind_address, "healthz-bind-address")?;
    let metrics_addr = addr(&flags.metrics_bind_address, "metrics-bind-address")?;
    for a in [healthz, metrics_addr].into_iter().flatten() {
        if servers.iter().any(|s: &daemon::health::Server| s.addr == a) {
            continue;
        }
        let s = daemon::health::serve(a, router.clone(), shutdown.clone()).await.with_context(|| format!("binding {a}"))?;
        tracing::info!(bound = %s.addr, "serving /healthz, /livez, /readyz and /metrics");
        servers.push(s);
    }

    let conn = client::config::for_daemon(flags.master.as_deref(), flags.kubeconfig.as_deref()).context("kubeconfig")?;
    tracing::info!(server = %conn.server, node = %node_name, "connecting to the apiserver");
    let client = client::Client::connect_lazy(&conn.address)?;
    let lb = flags.load_balancer_ip_range.map(|range| {
        let identity = format!("{node_name}_{:08x}", rand::random::<u32>());
        tokio::spawn(kube_proxy::service_lb::run(client.clone(), range, identity, shutdown.clone()))
    });
    kube_proxy::sync::run(proxier, client, shutdown.clone()).await;
    shutdown.cancel();
    if let Some(lb) = lb {
        let _ = lb.await;
    }
    for s in servers {
        s.wait().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_upstream() {
        let f = Flags::try_parse_from([
            "kube-proxy",
            "--iptables-sync-period=1m",
            "--iptables-min-sync-period",
            "500ms",
            "--nodeport-addresses=10.0.0.0/8,192.168.0.0/16",
            "--cluster-cidr=10.244.0.0/16",
            "--load-balancer-ip-range=172.18.255.1-172.18.255.50",
            "--iptables-localhost-nodeports=false",
        ])
        .unwrap();
        assert_eq!(f.iptables_sync_period, Duration::from_secs(60));
        assert_eq!(f.iptables_min_sync_period, Duration::from_millis(500));
        assert_eq!(f.nodeport_addresses.len(), 2);
        assert!(!f.iptables_localhost_nodeports);
        assert!(Flags::try_parse_from(["kube-proxy", "--load-balancer-ip-range=x"]).unwrap_err().to_string().contains("invalid --load-balancer-ip-range"));
    }
}
