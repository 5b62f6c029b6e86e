//! An apiserver that can be killed and restarted like a process: it runs on
//! its own tokio runtime, and killing it drops that runtime, which resets
//! every connection at once (a crash, not a graceful stop).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use testing::Etcd;

pub struct KillableApiserver {
    runtime: Option<tokio::runtime::Runtime>,
    pub addr: SocketAddr,
    etcd: String,
}

impl KillableApiserver {
    /// Starts on a free loopback port against `etcd`.
    pub async fn start(etcd: &Etcd) -> anyhow::Result<Self> {
        let addr: SocketAddr = format!("127.0.0.1:{}", testing::free_port()).parse()?;
        let mut s = KillableApiserver { runtime: None, addr, etcd: etcd.endpoint.clone() };
        s.restart().await?;
        Ok(s)
    }

    /// (Re)starts on the same address.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let mut config = apiserver::server::Config::new(vec![self.etcd.clone()], self.addr);
        config.compaction_interval = Duration::ZERO;
        let mut tries = 0;
        loop {
            match runtime.spawn(apiserver::server::start(config.clone())).await? {
                Ok(running) => {
                    // Keep it (and its task) alive on the runtime until the kill.
                    runtime.spawn(async move {
                        let _running = running;
                        std::future::pending::<()>().await
                    });
                    self.runtime = Some(runtime);
                    return Ok(());
                }
                // The port may linger for a moment after a kill.
                Err(e) if tries < 50 => {
                    tries += 1;
                    tracing::debug!(error = %e, "apiserver restart: retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Kills it: every task, listener and connection goes at once.
    pub fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    pub async fn client(&self) -> anyhow::Result<client::Client> {
        Ok(client::Client::connect(&self.addr.to_string()).await?)
    }
}

impl Drop for KillableApiserver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Retries `f` while the connection is being re-established (the first call
/// on a channel whose server restarted can fail); API errors are returned.
pub async fn retry<T, F, Fut>(mut f: F) -> client::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = client::Result<T>>,
{
    let mut tries = 0;
    loop {
        match f().await {
            Err(client::Error::Rpc(_) | client::Error::Connect(_)) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            r => return r,
        }
    }
}
