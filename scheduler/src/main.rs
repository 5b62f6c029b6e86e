//! kube-scheduler: assigns pending pods to nodes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use client::leader_election::LeadershipEnd;
use client::{CancellationToken, Client};
use scheduler::metrics::Metrics;
use scheduler::SchedulerConfig;

// mimalloc: the informers decode and drop many small JSON values per pod; glibc's malloc cost a large share of the CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "kube-scheduler", about = "Assigns pending pods to nodes (ferrokube)")]
struct Flags {
    /// Path to a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) YAML file.
    #[arg(long)]
    config: Option<String>,
    /// The apiserver's address (host:port); overrides the kubeconfig.
    #[arg(long, alias = "server", default_value = "127.0.0.1:6443", env = "FERROKUBE_SERVER")]
    master: String,
    /// Path to a kubeconfig; its current context's server is used when --master is not given.
    #[arg(long)]
    kubeconfig: Option<String>,
    /// Elect a leader on a Lease before scheduling (overrides the config file when given).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: Option<bool>,
    /// Lease duration for leader election, e.g. 15s (overrides the config file).
    #[arg(long)]
    leader_elect_lease_duration: Option<String>,
    /// Renew deadline for leader election, e.g. 10s.
    #[arg(long)]
    leader_elect_renew_deadline: Option<String>,
    /// Retry period for leader election, e.g. 2s.
    #[arg(long)]
    leader_elect_retry_period: Option<String>,
    /// Address to serve /healthz and /metrics on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: String,
    /// Port to serve /healthz and /metrics on (0 = disabled).
    #[arg(long, default_value_t = 10259)]
    secure_port: u16,
    /// Identity in the leader election lease (default: hostname_random).
    #[arg(long)]
    identity: Option<String>,
}

fn secs(s: &str) -> anyhow::Result<Duration> {
    let t = s.trim_end_matches('s');
    Ok(Duration::from_secs_f64(t.parse().with_context(|| format!("duration {s:?}"))?))
}

/// The server of the kubeconfig's current context.
fn server_from_kubeconfig(path: &str) -> anyhow::Result<String> {
    let v: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path)?)?;
    let ctx = v["current-context"].as_str().unwrap_or_default();
    let cluster = v["contexts"].as_sequence().into_iter().flatten().find(|c| c["name"].as_str() == Some(ctx)).and_then(|c| c["context"]["cluster"].as_str()).unwrap_or_default().to_string();
    let server = v["clusters"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|c| c["name"].as_str() == Some(&cluster))
        .and_then(|c| c["cluster"]["server"].as_str())
        .context("kubeconfig has no server for its current context")?;
    Ok(server.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())).init();
    let flags = Flags::parse();
    let mut config = match &flags.config {
        Some(p) => SchedulerConfig::from_file(p)?,
        None => SchedulerConfig::default(),
    };
    if let Some(le) = flags.leader_elect {
        config.leader_election.leader_elect = le;
    }
    if let Some(d) = &flags.leader_elect_lease_duration {
        config.leader_election.lease_duration = secs(d)?;
    }
    if let Some(d) = &flags.leader_elect_renew_deadline {
        config.leader_election.renew_deadline = secs(d)?;
    }
    if let Some(d) = &flags.leader_elect_retry_period {
        config.leader_election.retry_period = secs(d)?;
    }
    let server = match (&flags.kubeconfig, std::env::args().any(|a| a.starts_with("--master") || a.starts_with("--server"))) {
        (Some(k), false) => server_from_kubeconfig(k)?,
        _ => flags.master.clone(),
    };
    let client = Client::connect_lazy(&server)?;
    let metrics = Arc::new(Metrics::default());
    if flags.secure_port != 0 {
        let addr: SocketAddr = format!("{}:{}", flags.bind_address, flags.secure_port).parse()?;
        let (bound, _task) = scheduler::server::serve(addr, metrics.clone()).await?;
        tracing::info!(%bound, "serving /healthz and /metrics");
    }

    let shutdown = CancellationToken::new();
    let sd = shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
        sd.cancel();
    });

    let identity = flags.identity.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
        format!("{host}_{:08x}", rand::random::<u32>())
    });
    let end = scheduler::leader::run(client, config, metrics, &identity, shutdown).await;
    if end == LeadershipEnd::Lost {
        anyhow::bail!("leaderelection lost");
    }
    Ok(())
}
