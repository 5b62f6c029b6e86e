//! kubelet: ferrokube's node agent.

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "kubelet", about = "ferrokube's node agent: registers the node and runs its pods through libcontainer")]
struct Cli {
    #[command(flatten)]
    flags: kubelet::config::Flags,
    #[command(flatten)]
    log: daemon::logging::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cli { flags, log } = Cli::parse();
    log.init()?;
    if flags.cleanup {
        return kubelet::agent::cleanup(&flags).await;
    }
    let stop = daemon::signals::shutdown_token()?;
    kubelet::agent::run(flags, stop).await
}
