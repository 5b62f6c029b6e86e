//! kube-scheduler: assigns pending pods to nodes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use client::leader_election::LeadershipEnd;
use client::Client;
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
    /// The apiserver's address (host:port or URL); overrides the kubeconfig's server.
    #[arg(long, alias = "server", env = "FERROKUBE_SERVER")]
    master: Option<String>,
    /// Path to a kubeconfig (default: $KUBECONFIG, else the in-cluster config inside a pod, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<String>,
    /// Elect a leader on a Lease before scheduling (overrides the config file when given).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: Option<bool>,
    /// Lease duration for leader election, a Go duration such as 15s or 1m (overrides the config file).
    #[arg(long, value_parser = api::duration::parse)]
    leader_elect_lease_duration: Option<Duration>,
    /// Renew deadline for leader election, e.g. 10s.
    #[arg(long, value_parser = api::duration::parse)]
    leader_elect_renew_deadline: Option<Duration>,
    /// Retry period for leader election, e.g. 2s.
    #[arg(long, value_parser = api::duration::parse)]
    leader_elect_retry_period: Option<Duration>,
    /// Address to serve /healthz, /livez, /readyz and /metrics on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: String,
    /// Port to serve /healthz, /livez, /readyz and /metrics on (0 = disabled).
    #[arg(long, default_value_t = 10259)]
    secure_port: u16,
    /// Identity in the leader election lease (default: hostname_random).
    #[arg(long)]
    identity: Option<String>,
    #[command(flatten)]
    log: daemon::logging::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    flags.log.init()?;
    let shutdown = daemon::signals::shutdown_token()?;
    let mut config = match &flags.config {
        Some(p) => SchedulerConfig::from_file(p)?,
        None => SchedulerConfig::default(),
    };
    if let Some(le) = flags.leader_elect {
        config.leader_election.leader_elect = le;
    }
    if let Some(d) = flags.leader_elect_lease_duration {
        config.leader_election.lease_duration = d;
    }
    if let Some(d) = flags.leader_elect_renew_deadline {
        config.leader_election.renew_deadline = d;
    }
    if let Some(d) = flags.leader_elect_retry_period {
        config.leader_election.retry_period = d;
    }
    let conn = client::config::for_daemon(flags.master.as_deref(), flags.kubeconfig.as_deref()).context("kubeconfig")?;
    tracing::info!(server = %conn.server, "connecting to the apiserver");
    let client = Client::connect_lazy(&conn.address)?;
    let metrics = Arc::new(Metrics::default());
    let server = if flags.secure_port != 0 {
        let addr: SocketAddr = format!("{}:{}", flags.bind_address, flags.secure_port).parse()?;
        let server = scheduler::server::serve(addr, metrics.clone(), shutdown.clone()).await?;
        tracing::info!(bound = %server.addr, "serving /healthz, /livez, /readyz and /metrics");
        Some(server)
    } else {
        None
    };

    let identity = flags.identity.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
        format!("{host}_{:08x}", rand::random::<u32>())
    });
    let end = scheduler::leader::run(client, config, metrics, &identity, shutdown.clone()).await;
    shutdown.cancel();
    if let Some(s) = server {
        s.wait().await;
    }
    if end == LeadershipEnd::Lost {
        anyhow::bail!("leaderelection lost");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_election_durations_are_go_durations() {
        let f = Flags::try_parse_from(["kube-scheduler", "--leader-elect-lease-duration=1m", "--leader-elect-renew-deadline", "45s", "--leader-elect-retry-period=1.5s"]).unwrap();
        assert_eq!(f.leader_elect_lease_duration, Some(Duration::from_secs(60)));
        assert_eq!(f.leader_elect_renew_deadline, Some(Duration::from_secs(45)));
        assert_eq!(f.leader_elect_retry_period, Some(Duration::from_millis(1500)));
        let e = Flags::try_parse_from(["kube-scheduler", "--leader-elect-lease-duration=1d"]).unwrap_err();
        assert!(e.to_string().contains("time: unknown unit \"d\" in duration \"1d\""), "{e}");
    }
}
