//! kube-apiserver: serves the Kubernetes API over gRPC, persisted in etcd.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

// Every request allocates and frees many small JSON values; glibc's malloc
// spent about a quarter of the server's CPU on them under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "kube-apiserver", version = apiserver::server::VERSION, about = "The ferrokube API server: Kubernetes' API on etcd, over gRPC.")]
struct Args {
    /// etcd endpoints to persist to, comma separated (e.g. http://127.0.0.1:2379).
    #[arg(long, value_delimiter = ',', required = true)]
    etcd_servers: Vec<String>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// Port serving gRPC and /healthz, /readyz, /livez, /metrics.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// CIDR from which Service ClusterIPs are allocated; its first address is the `kubernetes` Service's.
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cluster_ip_range: String,
    /// Port range from which Service NodePorts are allocated.
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// How often to compact etcd history older than one interval (e.g. 5m, 30s; 0 disables).
    #[arg(long, default_value = "5m", value_parser = api::duration::parse)]
    etcd_compaction_interval: Duration,
    /// Also serve on this inherited, already-listening TCP socket (a file
    /// descriptor number), e.g. one a launcher bound in another network namespace.
    #[arg(long)]
    listen_fd: Option<i32>,
    /// File holding the bearer token presented to kubelets (their --streaming-token-file)
    /// for logs, exec, attach and port-forward.
    #[arg(long)]
    kubelet_client_token_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    log: daemon::logging::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.log.init()?;
    let shutdown = daemon::signals::shutdown_token()?;
    let mut cfg = apiserver::server::Config::new(args.etcd_servers, SocketAddr::new(args.bind_address, args.secure_port));
    cfg.service_cluster_ip_range = args.service_cluster_ip_range;
    cfg.service_node_port_range = args.service_node_port_range;
    cfg.compaction_interval = args.etcd_compaction_interval;
    if let Some(f) = &args.kubelet_client_token_file {
        cfg.kubelet_client_token = Some(std::fs::read_to_string(f).with_context(|| format!("reading --kubelet-client-token-file {}", f.display()))?);
    }
    if let Some(fd) = args.listen_fd {
        // SAFETY: the flag hands this process the descriptor; nothing else owns it.
        let l = unsafe { <std::net::TcpListener as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        l.local_addr().with_context(|| format!("--listen-fd {fd}: not a TCP socket"))?;
        cfg.inherited_listener = Some(std::sync::Arc::new(l));
    }
    let running = apiserver::server::start(cfg).await.context("starting kube-apiserver")?;
    shutdown.cancelled().await;
    running.stop().await;
    Ok(())
}
