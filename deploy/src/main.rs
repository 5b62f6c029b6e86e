//! `ferrokube`: brings up a local multi-node cluster on this machine (etcd
//! and the control plane in a cluster network namespace, one network
//! namespace and kubelet per node), reports on it, shows its logs, and takes
//! it down again.

mod bench;
mod cluster;
mod inspect;
mod kubeconfig;
mod netns;
mod process;
mod state;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferrokube", about = "Run a local ferrokube cluster: etcd, the control plane and N nodes (network namespaces) on this machine.")]
struct Cli {
    /// Directory holding the cluster's data, logs, kubeconfig and state.
    #[arg(long, global = true, env = "FERROKUBE_WORKDIR", default_value_os_t = default_workdir())]
    workdir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start etcd, the control plane and the nodes; write WORKDIR/kubeconfig; return when every node is Ready.
    Up {
        /// Number of nodes, each a network namespace with its own kubelet.
        #[arg(long, default_value_t = 1)]
        nodes: u32,
        /// Port on 127.0.0.1 where kubectl reaches kube-apiserver (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        apiserver_port: u16,
        /// Directory holding the ferrokube binaries (default: next to this binary).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Seconds to wait for every node to be Ready.
        #[arg(long, default_value_t = 120)]
        ready_timeout: u64,
    },
    /// Stop everything `up` started and remove every namespace, mount, cgroup and file it made.
    Down,
    /// Show each component's PID, liveness and health, and each node's state.
    Status,
    /// Print a component's log (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kubelet, kube-proxy).
    Logs {
        component: String,
        /// The node, for kubelet and kube-proxy (needed when there are several).
        #[arg(long)]
        node: Option<u32>,
        /// Keep printing what is appended.
        #[arg(short, long)]
        follow: bool,
    },
    /// Measure `up` (to all nodes Ready), `down`, and the idle cluster's memory.
    BenchUp {
        #[arg(long, default_value_t = 3)]
        nodes: u32,
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// Seconds the first cluster idles before its memory is measured.
        #[arg(long, default_value_t = 30)]
        idle_secs: u64,
        #[arg(long)]
        bin_dir: Option<PathBuf>,
    },
}

fn default_workdir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp")).join(".ferrokube")
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up { nodes, apiserver_port, bin_dir, ready_timeout } => {
            let opts = cluster::UpOptions { nodes, apiserver_port, bin_dir, ready_timeout: Duration::from_secs(ready_timeout), quiet: false };
            cluster::up(&cli.workdir, opts).map(|_| ())
        }
        Command::Down => cluster::down(&cli.workdir, false),
        Command::Status => inspect::status(&cli.workdir).map(|ok| {
            if !ok {
                std::process::exit(1)
            }
        }),
        Command::Logs { component, node, follow } => inspect::logs(&cli.workdir, &component, node, follow),
        Command::BenchUp { nodes, runs, idle_secs, bin_dir } => bench::run(nodes, runs, Duration::from_secs(idle_secs), bin_dir),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
