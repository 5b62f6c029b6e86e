//! etcd + an in-process apiserver and a client connected to it. Dropping a
//! [`TestCluster`] stops both and removes etcd's data directory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver::server::{self, Config, Running};
use apiserver::storage::Storage;
use apiserver::store::Store;

use crate::etcd::Etcd;

/// etcd + apiserver, and a client connected to it.
pub struct TestCluster {
    pub etcd: Etcd,
    pub addr: SocketAddr,
    pub client: client::Client,
    server: Option<Running>,
    config: Config,
}

impl TestCluster {
    pub async fn start() -> anyhow::Result<TestCluster> {
        Self::start_with(|_| {}).await
    }

    /// Starts with a tweaked configuration (e.g. small Service ranges).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> anyhow::Result<TestCluster> {
        let etcd = Etcd::start().await?;
        let mut config = Config::new(vec![etcd.endpoint.clone()], "127.0.0.1:0".parse()?);
        config.compaction_interval = Duration::ZERO;
        tweak(&mut config);
        let server = server::start(config.clone()).await?;
        let addr = server.addr;
        config.bind = addr;
        let client = client::Client::connect(&addr.to_string()).await?;
        Ok(TestCluster { etcd, addr, client, server: Some(server), config })
    }

    /// The running server's store (for tests that look below the API).
    pub fn store(&self) -> &Arc<Store> {
        &self.server.as_ref().expect("running").store
    }

    /// Stops the apiserver (etcd keeps running).
    pub async fn stop_apiserver(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// Starts the apiserver again on the same address and etcd.
    pub async fn start_apiserver(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match server::start(self.config.clone()).await {
                Ok(s) => {
                    self.server = Some(s);
                    return Ok(());
                }
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "restart: port busy, retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Compacts etcd history up to the current revision; returns it.
    pub async fn compact(&self) -> anyhow::Result<i64> {
        let s = Storage::connect(std::slice::from_ref(&self.etcd.endpoint)).await?;
        let rev = s.current_revision().await?;
        s.compact(rev).await?;
        Ok(rev)
    }
}
