//! A real etcd for tests: Debian's `etcd` (or `$ETCD`) on free loopback
//! ports with a temporary data dir; dropping an [`Etcd`] stops it and
//! removes the directory.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apiserver::storage::Storage;

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
    /// Starts etcd and waits until it answers a range request.
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
            if let Ok(s) = Storage::connect(std::slice::from_ref(&etcd.endpoint)).await {
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
