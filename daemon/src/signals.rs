//! Graceful shutdown on SIGTERM or SIGINT, as upstream's
//! `SetupSignalHandler`: the first signal cancels the token (and is logged),
//! a second one exits at once with status 1.

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Which signal asked for the shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Interrupt,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
        }
    }
}

/// A token cancelled on the first SIGTERM or SIGINT. Call it inside the
/// tokio runtime, early in `main`: the handlers are installed before it
/// returns, so no signal is missed.
pub fn shutdown_token() -> std::io::Result<CancellationToken> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let first = next(&mut term, &mut int).await;
        tracing::info!(signal = first.name(), "shutting down");
        t.cancel();
        let second = next(&mut term, &mut int).await;
        tracing::warn!(signal = second.name(), "second signal: exiting now");
        std::process::exit(1);
    });
    Ok(token)
}

async fn next(term: &mut tokio::signal::unix::Signal, int: &mut tokio::signal::unix::Signal) -> Signal {
    tokio::select! {
        _ = term.recv() => Signal::Terminate,
        _ = int.recv() => Signal::Interrupt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sigterm_cancels_the_token() {
        let token = shutdown_token().unwrap();
        assert!(!token.is_cancelled());
        let status = std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status().unwrap();
        assert!(status.success());
        tokio::time::timeout(std::time::Duration::from_secs(5), token.cancelled()).await.expect("cancelled by SIGTERM");
    }
}
