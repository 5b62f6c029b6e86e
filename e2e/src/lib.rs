//! End-to-end harness: a cluster brought up by the real `ferrokube` launcher
//! in a temporary working directory, and taken down (by PID) on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory holding the workspace's binaries (target/debug or target/release).
pub fn bin_dir() -> PathBuf {
    // Integration tests run from target/<profile>/deps/.
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// A cluster started with `ferrokube up`.
pub struct Cluster {
    pub workdir: tempfile::TempDir,
    /// The apiserver address from the kubeconfig.
    pub server: String,
}

impl Cluster {
    pub fn up() -> anyhow::Result<Cluster> {
        let workdir = tempfile::Builder::new().prefix("ferrokube-e2e-").tempdir()?;
        let out = ferrokube(workdir.path(), &["up"])?;
        anyhow::ensure!(out.status.success(), "ferrokube up failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let kc: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(workdir.path().join("kubeconfig"))?)?;
        let server = kc["clusters"][0]["cluster"]["server"].as_str().unwrap_or_default().to_string();
        Ok(Cluster { workdir, server })
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.workdir.path().join("kubeconfig")
    }

    /// `host:port` of the apiserver.
    pub fn addr(&self) -> String {
        self.server.trim_start_matches("http://").trim_start_matches("https://").to_string()
    }

    pub async fn client(&self) -> anyhow::Result<client::Client> {
        Ok(client::Client::connect(&self.addr()).await?)
    }

    pub fn ferrokube(&self, args: &[&str]) -> anyhow::Result<Output> {
        ferrokube(self.workdir.path(), args)
    }

    /// ferrokube's `kubectl` pointed at this cluster, as a user runs it after `up`.
    pub fn kubectl(&self, args: &[&str]) -> anyhow::Result<Output> {
        Ok(Command::new(bin("kubectl")).env("KUBECONFIG", self.kubeconfig()).args(args).output()?)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = ferrokube(self.workdir.path(), &["down"]);
    }
}

pub fn ferrokube(workdir: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(bin("ferrokube")).arg("--workdir").arg(workdir).args(args).output()?)
}

/// A command's stdout and stderr together, for failure messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The scenarios start real nodes: they need root.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Runs kubectl and insists it succeeded; returns its stdout.
pub fn kubectl(c: &Cluster, args: &[&str]) -> String {
    let out = c.kubectl(args).expect("running kubectl");
    assert!(out.status.success(), "kubectl {} failed: {}", args.join(" "), text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`kubectl`] with `-o json`, parsed.
pub fn kubectl_json(c: &Cluster, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(c, &a)).expect("kubectl -o json output")
}
