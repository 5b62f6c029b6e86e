//! What `up` started and made, recorded in WORKDIR/state.json before each
//! step so that `down`, or the next `up` after a crash, can undo it; and the
//! workdir's layout.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One started process.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Component {
    /// etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kubelet, kube-proxy.
    pub name: String,
    /// The node (1-based) a node component belongs to.
    #[serde(default)]
    pub node: Option<u32>,
    /// The executable's file name, checked against /proc before signalling.
    pub bin: String,
    pub pid: u32,
    /// The network namespace it runs in (None: the root one).
    #[serde(default)]
    pub netns: Option<String>,
    /// Its health endpoint: address (inside `netns`) and path.
    pub addr: SocketAddr,
    pub health: String,
}

impl Component {
    /// `kubelet (node 2)` or `etcd`.
    pub fn label(&self) -> String {
        match self.node {
            Some(n) => format!("{} (node{n})", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct State {
    /// Network namespaces are named `<netns_prefix>-net` and `<netns_prefix>-node<N>`.
    pub netns_prefix: String,
    pub nodes: u32,
    /// The apiserver as the user reaches it (root namespace, loopback).
    pub server: String,
    /// Where the binaries came from (`down` runs `kubelet --cleanup` from there).
    #[serde(default)]
    pub bin_dir: PathBuf,
    pub components: Vec<Component>,
}

pub fn path(workdir: &Path) -> PathBuf {
    workdir.join("state.json")
}

pub fn load(workdir: &Path) -> anyhow::Result<Option<State>> {
    match std::fs::read(path(workdir)) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b).context("reading state.json")?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn save(workdir: &Path, st: &State) -> anyhow::Result<()> {
    // Written whole, then renamed: a crash never leaves half a state file.
    let tmp = workdir.join("state.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(st)?)?;
    std::fs::rename(&tmp, path(workdir))?;
    Ok(())
}

/// A short id of the workdir, so two clusters' namespaces and cgroups never clash.
pub fn cluster_id(workdir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    workdir.hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

/// Node names as the API shows them.
pub fn node_name(n: u32) -> String {
    format!("ferrokube-node{n}")
}

/// A component's log: logs/<name>.log, or logs/node<N>/<name>.log.
pub fn log_path(workdir: &Path, name: &str, node: Option<u32>) -> PathBuf {
    match node {
        Some(n) => workdir.join("logs").join(format!("node{n}")).join(format!("{name}.log")),
        None => workdir.join("logs").join(format!("{name}.log")),
    }
}

/// Node `n`'s kubelet state and container logs.
pub fn node_dir(workdir: &Path, n: u32) -> PathBuf {
    workdir.join("nodes").join(format!("node{n}"))
}

/// What `down` removes from the workdir besides `logs` (the workdir itself too, if then empty).
pub const FILES: &[&str] = &["etcd", "nodes", "kubeconfig", "kubelet-token", "local-path", "state.json", "state.json.tmp"];
