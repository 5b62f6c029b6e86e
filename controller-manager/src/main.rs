//! kube-controller-manager: runs the controllers `--controllers` selects,
//! under leader election, with /healthz and /metrics.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use client::leader_election::{LeaderElectionConfig, LeaderElector, LeadershipEnd};
use client::Client;
use controller_manager::controllers::{self, Descriptor};
use controller_manager::metrics::ControllerMetrics;

// mimalloc: informers decode and drop many small JSON values.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Upstream's flags that apply here. The `--concurrent-<name>-syncs` flags
/// come from the controller registry (see `command`).
#[derive(Args, Debug)]
struct Flags {
    /// The apiserver's address (host:port); overrides the kubeconfig.
    #[arg(long, env = "FERROKUBE_SERVER")]
    master: Option<String>,
    /// Path to a kubeconfig; its current context's server is used unless --master is given.
    #[arg(long)]
    kubeconfig: Option<String>,
    /// A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' enables the controller named 'foo', '-foo' disables the controller named 'foo'.
    #[arg(long, value_delimiter = ',', default_value = "*", allow_hyphen_values = true)]
    controllers: Vec<String>,
    /// Start a leader election client and gain leadership before executing the main loop.
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true", action = ArgAction::Set)]
    leader_elect: bool,
    /// The duration that non-leader candidates will wait after observing a leadership renewal until attempting to acquire leadership.
    #[arg(long, default_value = "15s", value_parser = go_duration)]
    leader_elect_lease_duration: Duration,
    /// The interval between attempts by the acting master to renew a leadership slot before it stops leading.
    #[arg(long, default_value = "10s", value_parser = go_duration)]
    leader_elect_renew_deadline: Duration,
    /// The duration the clients should wait between attempting acquisition and renewal of a leadership.
    #[arg(long, default_value = "2s", value_parser = go_duration)]
    leader_elect_retry_period: Duration,
    /// The namespace of the resource object that is used for locking during leader election.
    #[arg(long, default_value = "kube-system")]
    leader_elect_resource_namespace: String,
    /// The name of the resource object that is used for locking during leader election.
    #[arg(long, default_value = "kube-controller-manager")]
    leader_elect_resource_name: String,
    /// QPS to use while talking with kubernetes apiserver.
    #[arg(long, default_value_t = 20.0)]
    kube_api_qps: f32,
    /// Burst to use while talking with kubernetes apiserver.
    #[arg(long, default_value_t = 30)]
    kube_api_burst: u32,
    /// The IP address on which to serve /healthz and /metrics.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: String,
    /// The port on which to serve /healthz and /metrics (plain HTTP here). 0 disables it.
    #[arg(long, default_value_t = 10257)]
    secure_port: u16,
    /// Directory on the nodes where the built-in ferrokube.io/local-path provisioner makes volume directories.
    #[arg(long, default_value = "/var/lib/ferrokube/local-path")]
    local_path_base_dir: String,
    /// Image of the helper pod that removes a deleted local-path volume's directory on its node.
    #[arg(long, default_value = "busybox")]
    local_path_helper_image: String,
    /// Should CIDRs for Pods be allocated and set on the cloud provider (here: on each Node's spec.podCIDR).
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    allocate_node_cidrs: bool,
    /// CIDR Range for Pods in cluster. Requires --allocate-node-cidrs to be true.
    #[arg(long, default_value = "10.244.0.0/16")]
    cluster_cidr: String,
    /// Mask size for node cidr in cluster.
    #[arg(long, default_value_t = 24)]
    node_cidr_mask_size: u8,
    #[command(flatten)]
    log: daemon::logging::LogArgs,
}

fn go_duration(s: &str) -> Result<Duration, String> {
    api::duration::parse(s).map_err(|e| e.to_string())
}

/// The flags above plus one `--concurrent-<name>-syncs` per registered controller that has one.
fn command(registry: &[Descriptor]) -> Command {
    let mut cmd = Flags::augment_args(Command::new("kube-controller-manager").about("Runs the controllers that drive the cluster toward its desired state (ferrokube)"));
    for c in registry.iter().filter_map(|d| d.concurrency) {
        // clap keeps defaults as 'static; these few strings live as long as the process anyway.
        let default: &'static str = c.default.to_string().leak();
        cmd = cmd.arg(Arg::new(c.flag).long(c.flag).help(c.help).value_parser(clap::value_parser!(usize)).default_value(default));
    }
    let names = controllers::known_names(registry).join(", ");
    cmd.mut_arg("controllers", |a| a.long_help(format!("A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' enables the controller named 'foo', '-foo' disables the controller named 'foo'.\nAll controllers: {names}")))
}

fn concurrency(matches: &ArgMatches, d: &Descriptor) -> usize {
    d.concurrency.and_then(|c| matches.get_one::<usize>(c.flag).copied()).unwrap_or(1)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let registry = controllers::registry();
    let matches = command(&registry).get_matches();
    let flags = Flags::from_arg_matches(&matches)?;
    flags.log.init()?;
    let enabled: Vec<(Descriptor, usize)> =
        controllers::enabled(&registry, &flags.controllers).map_err(anyhow::Error::msg)?.into_iter().map(|d| (*d, concurrency(&matches, d))).collect();

    controllers::persistentvolume::set_local_path_options(controllers::persistentvolume::LocalPathOptions {
        base_dir: flags.local_path_base_dir.clone(),
        helper_image: flags.local_path_helper_image.clone(),
        ..Default::default()
    });
    let options = controllers::Options {
        node_ipam: controller_manager::controllers::nodeipam::Options {
            allocate_node_cidrs: flags.allocate_node_cidrs,
            cluster_cidr: flags.cluster_cidr.clone(),
            node_cidr_mask_size: flags.node_cidr_mask_size,
        },
    };
    if flags.allocate_node_cidrs {
        // Refuse to start with a range that cannot be cut, as upstream's validation.
        options.node_ipam.cidr_set().map_err(anyhow::Error::msg)?;
    }
    let conn = client::config::for_daemon(flags.master.as_deref(), flags.kubeconfig.as_deref()).context("kubeconfig")?;
    let server = conn.server.clone();
    let client = Client::connect_lazy(&conn.address)?.with_rate_limit(flags.kube_api_qps, flags.kube_api_burst);
    let shutdown = daemon::signals::shutdown_token()?;

    let registry_metrics = daemon::metrics::Registry::new();
    let metrics = ControllerMetrics::new(&registry_metrics);
    let health = daemon::health::Health::new();
    let http = if flags.secure_port != 0 {
        let addr: SocketAddr = format!("{}:{}", flags.bind_address, flags.secure_port).parse().context("--bind-address/--secure-port")?;
        let s = daemon::health::serve(addr, daemon::health::router(&health, &registry_metrics), shutdown.clone()).await.with_context(|| format!("serving on {addr}"))?;
        tracing::info!(addr = %s.addr, "serving /healthz and /metrics");
        Some(s)
    } else {
        None
    };
    tracing::info!(controllers = ?enabled.iter().map(|(d, n)| format!("{}={n}", d.name)).collect::<Vec<_>>(), %server, "starting");

    let end = if flags.leader_elect {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
        let identity = format!("{host}_{:016x}", rand::random::<u64>());
        let mut config = LeaderElectionConfig::new(&flags.leader_elect_resource_namespace, &flags.leader_elect_resource_name, &identity);
        config.lease_duration = flags.leader_elect_lease_duration;
        config.renew_deadline = flags.leader_elect_renew_deadline;
        config.retry_period = flags.leader_elect_retry_period;
        let (c, m) = (client.clone(), metrics.clone());
        // Its own connection and token bucket, as upstream's "leader-election" client: controllers
        // using up the QPS budget must not delay renewals past the deadline.
        let election_client = Client::connect_lazy(&conn.address)?.with_rate_limit(flags.kube_api_qps, flags.kube_api_burst);
        LeaderElector::new(election_client, config)
            .run(shutdown.clone(), move |leading| async move {
                m.leader.set(1);
                controllers::run_with_options(c, enabled, options, m.clone(), leading).await;
                m.leader.set(0);
            })
            .await
    } else {
        controllers::run_with_options(client, enabled, options, metrics, shutdown.clone()).await;
        LeadershipEnd::Shutdown
    };
    shutdown.cancel();
    if let Some(s) = http {
        s.wait().await;
    }
    if end == LeadershipEnd::Lost {
        // As upstream: exit and let the supervisor restart us to campaign again.
        anyhow::bail!("leaderelection lost");
    }
    Ok(())
}
