//! The cluster's network (DESIGN.md decision 11): one namespace holding the
//! cluster bridge and the control plane, one namespace per node with a veth
//! onto that bridge. Nothing is created in the root network namespace, and
//! the cluster namespace has no uplink, so nothing routes off the machine.
//!
//! ```text
//!   fk-<id>-net:    lo (etcd 127.0.0.1:2379)   bridge fk-cluster 172.31.0.1/24
//!                                                 |- veth node1 -- fk-<id>-node1: eth0 172.31.0.11/24
//!                                                 |- veth node2 -- fk-<id>-node2: eth0 172.31.0.12/24
//! ```
//!
//! Every cluster uses the same addresses: they never meet, since each lives in
//! namespaces of its own. The topology is built with iproute2's `ip` (a few
//! dozen milliseconds); the kubelet programs its pod network with rtnetlink.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

/// The cluster network's prefix length (172.31.0.0/24).
pub const PREFIX: u8 = 24;
/// The cluster namespace's address on the bridge: where the control plane listens.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 1);
/// The bridge in the cluster namespace.
pub const BRIDGE: &str = "fk-cluster";
/// Most nodes one cluster network holds (addresses .11 to .254).
pub const MAX_NODES: u32 = 243;

/// Node `n`'s (1-based) address on the cluster network.
pub fn node_ip(n: u32) -> Ipv4Addr {
    Ipv4Addr::new(172, 31, 0, 10 + n as u8)
}

/// The namespace names of one cluster: `<prefix>-net` and `<prefix>-node<N>`.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
}

impl Names {
    pub fn cluster(&self) -> String {
        format!("{}-net", self.prefix)
    }
    pub fn node(&self, n: u32) -> String {
        format!("{}-node{n}", self.prefix)
    }
    /// Every namespace of this cluster that exists now (also leftovers of a crash).
    pub fn existing(&self) -> Vec<String> {
        let mut found: Vec<String> = std::fs::read_dir("/run/netns")
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        found.retain(|n| n.starts_with(&format!("{}-", self.prefix)));
        found.sort();
        found
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip").args(args).output().context("running `ip` (install it with `apt-get install -y iproute2`)")?;
    if !out.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// The cluster namespace with its bridge at GATEWAY.
pub fn create_cluster(ns: &str) -> anyhow::Result<()> {
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    ip(&["-n", ns, "link", "add", BRIDGE, "type", "bridge"])?;
    ip(&["-n", ns, "addr", "add", &format!("{GATEWAY}/{PREFIX}"), "dev", BRIDGE])?;
    ip(&["-n", ns, "link", "set", BRIDGE, "up"])
}

/// Node `n`'s namespace: `eth0` at node_ip(n) on the bridge, default route via GATEWAY.
pub fn create_node(cluster_ns: &str, ns: &str, n: u32) -> anyhow::Result<()> {
    let port = format!("node{n}");
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    ip(&["-n", cluster_ns, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns])?;
    ip(&["-n", cluster_ns, "link", "set", &port, "master", BRIDGE, "up"])?;
    ip(&["-n", ns, "addr", "add", &format!("{}/{PREFIX}", node_ip(n)), "dev", "eth0"])?;
    ip(&["-n", ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", ns, "route", "add", "default", "via", &GATEWAY.to_string()])
}

/// Removes a namespace; its links (veths, the bridge) go with it.
pub fn delete(ns: &str) -> anyhow::Result<()> {
    if !Path::new("/run/netns").join(ns).exists() {
        return Ok(());
    }
    ip(&["netns", "del", ns])
}

/// An open handle on a named namespace, for setns(2).
pub fn open(ns: &str) -> anyhow::Result<File> {
    File::open(Path::new("/run/netns").join(ns)).with_context(|| format!("network namespace {ns} is gone"))
}

/// Runs `f` on a thread that has entered `ns` (a netns belongs to a thread,
/// so the caller's stays where it is). `None` runs it here.
pub fn run_in<T: Send + 'static>(ns: Option<&str>, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let Some(ns) = ns else { return Ok(f()) };
    let file = open(ns)?;
    let name = ns.to_string();
    std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace fd affects only this thread.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(anyhow::anyhow!("entering {name}: {}", std::io::Error::last_os_error()));
        }
        Ok(f())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("thread in {ns} panicked"))?
}
