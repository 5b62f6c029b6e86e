//! `ferrokube`: brings up a local cluster on this machine (etcd and the
//! control plane as separate processes on free loopback ports), reports on
//! it, and takes it down again.

mod cluster;
mod kubeconfig;
mod process;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferrokube", about = "Run a local ferrokube cluster: etcd, kube-apiserver and friends as processes on this machine.")]
struct Cli {
    /// Directory holding the cluster's data, logs, kubeconfig and state.
    #[arg(long, global = true, env = "FERROKUBE_WORKDIR", default_value_os_t = default_workdir())]
    workdir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start etcd and the control plane, wait until healthy, write WORKDIR/kubeconfig.
    Up {
        /// Port for kube-apiserver (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        apiserver_port: u16,
        /// Directory holding the ferrokube binaries (default: next to this binary).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
    },
    /// Stop everything `up` started (by PID) and remove the working directory.
    Down,
    /// Show each component's PID, liveness and health.
    Status,
}

fn default_workdir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp")).join(".ferrokube")
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up { apiserver_port, bin_dir } => cluster::up(&cli.workdir, apiserver_port, bin_dir),
        Command::Down => cluster::down(&cli.workdir),
        Command::Status => cluster::status(&cli.workdir),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
