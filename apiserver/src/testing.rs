//! A real etcd and an in-process apiserver for tests (this crate's, and every
//! other crate's integration tests). Dropping a [`TestCluster`] stops both and
//! removes the data directory.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::{self, Config, Running};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// An etcd process on free loopback ports with a temporary data dir.
pub struct Etcd {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Etcd {
    pub async fn start() -> anyhow::Result<Etcd> {
        let bin = which_etcd()?;
        let dir = tempfile::Builder::new().prefix("ferrokube-etcd-").tempdir()?;
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let child = Command::new(bin)
            .args(["--name", "test", "--data-dir"])
            .arg(dir.path())
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-cluster", &format!("test=http://127.0.0.1:{peer}")])
            .args(["--unsafe-no-fsync", "--log-level", "error", "--max-request-bytes", "3145728"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let etcd = Etcd { child, endpoint, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(s) = crate::storage::Storage::connect(&[etcd.endpoint.clone()]).await {
                if s.current_revision().await.is_ok() {
                    return Ok(etcd);
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("etcd did not become healthy at {}", etcd.endpoint);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The etcd binary: $ETCD, or `etcd` on PATH (Debian's etcd-server).
pub fn which_etcd() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("ETCD") {
        return Ok(p);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/bin", "/usr/local/bin"]) {
        let p = format!("{dir}/etcd");
        if std::path::Path::new(&p).exists() {
            return Ok(p);
        }
    }
    anyhow::bail!("etcd not found: install it with `apt-get install -y etcd-server` (or set ETCD=/path/to/etcd)")
}

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
    pub fn store(&self) -> &std::sync::Arc<crate::store::Store> {
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
        let s = crate::storage::Storage::connect(&[self.etcd.endpoint.clone()]).await?;
        let rev = s.current_revision().await?;
        s.compact(rev).await?;
        Ok(rev)
    }
}
