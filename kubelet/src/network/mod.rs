//! The pod network (DESIGN decision 7), built in and programmed with
//! rtnetlink: a bridge per node, a veth per pod, addresses from the node's
//! `spec.podCIDR` (or `--pod-cidr`), host-gw routes to the other nodes'
//! pod CIDRs, masquerading for traffic leaving `--non-masquerade-cidr`, and
//! hostPort DNAT; plus each pod's /etc/resolv.conf and /etc/hosts.
//!
//! It acts only when the kubelet runs in a named network namespace of its
//! own ([`in_node_netns`]: a node of `ferrokube up --nodes N`): a kubelet in
//! the machine's namespace never touches links, routes or iptables, and its
//! pods keep a namespace with only `lo` (no pod IP), as before.

pub mod bridge;
pub mod dns;
pub mod hostport;
pub mod iptables;
pub mod ipam;
pub mod netlink;
pub mod routes;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use api::cidr::Ipv4Cidr;
use client::informer::{Informer, InformerConfig};
use client::{Api, CancellationToken};
use k8s_openapi::api::core::v1::{Node, Pod};
use tokio::sync::watch;

use ipam::{Ipam, Record};
use netlink::Netlink;

/// upstream's message while the network plugin is not ready (the runtime's
/// NetworkReady=false), used for the pod event and the node's Ready condition.
pub const NOT_READY_MESSAGE: &str =
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: the node has no podCIDR yet";

#[derive(Debug, Clone)]
pub struct Settings {
    pub root: PathBuf,
    pub node_name: String,
    /// `--pod-cidr`: used instead of waiting for the Node's spec.podCIDR.
    pub pod_cidr: Option<Ipv4Cidr>,
    pub non_masquerade: Ipv4Cidr,
    pub dns: dns::DnsSettings,
}

/// Set up once the node's pod CIDR is known.
struct Ready {
    cidr: Ipv4Cidr,
    ipam: Ipam,
    nl: Netlink,
    bridge: u32,
    /// Serialises iptables-restore runs.
    rules: tokio::sync::Mutex<()>,
}

pub struct PodNetwork {
    /// False in the machine's root network namespace (see the module docs).
    pub enabled: bool,
    settings: Settings,
    ready: watch::Sender<Option<Arc<Ready>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No podCIDR yet: the pod waits (upstream's NetworkPluginNotReady).
    #[error("network is not ready: {NOT_READY_MESSAGE}")]
    NotReady,
    #[error("failed to set up pod network: {0}")]
    Failed(String),
}

/// Should this kubelet program the pod network? Only in a network namespace
/// of its own: one that is bind-mounted under /run/netns (as `ip netns add`
/// and `ferrokube up --nodes N` make them) and is not PID 1's. A kubelet in
/// the machine's namespace never touches links, routes or iptables.
pub fn in_node_netns() -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let Some(me) = id(Path::new("/proc/self/ns/net")) else { return false };
    if id(Path::new("/proc/1/ns/net")) == Some(me) {
        return false;
    }
    std::fs::read_dir("/run/netns").map(|d| d.flatten().any(|e| id(&e.path()) == Some(me))).unwrap_or(false)
}

impl PodNetwork {
    pub fn new(settings: Settings, enabled: bool) -> Arc<PodNetwork> {
        let (ready, _) = watch::channel(None);
        Arc::new(PodNetwork { enabled, settings, ready })
    }

    pub fn dns(&self) -> &dns::DnsSettings {
        &self.settings.dns
    }

    fn current(&self) -> Option<Arc<Ready>> {
        self.ready.borrow().clone()
    }

    /// The node's pod CIDR once the network is set up.
    pub fn pod_cidr(&self) -> Option<Ipv4Cidr> {
        self.current().map(|r| r.cidr)
    }

    /// Is the network ready for pods (always, when disabled)?
    pub fn is_ready(&self) -> bool {
        !self.enabled || self.current().is_some()
    }

    /// Set up the bridge, the address records and the masquerade rules for
    /// `cidr` (once; a later, different CIDR is refused with a log line).
    pub async fn init(&self, cidr: Ipv4Cidr) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if let Some(r) = self.current() {
            if r.cidr != cidr {
                tracing::warn!(have = %r.cidr, got = %cidr, "the node's podCIDR changed; keeping the first one until the kubelet restarts");
            }
            return Ok(());
        }
        if cidr.size() < 4 {
            return Err(format!("podCIDR {cidr}: too small for a gateway and pods"));
        }
        let ipam = Ipam::open(&self.settings.root.join("ipam"), cidr).map_err(|e| e.to_string())?;
        let nl = Netlink::connect().map_err(|e| e.to_string())?;
        let bridge = bridge::ensure_bridge(&nl, ipam.gateway(), cidr.prefix()).await.map_err(|e| format!("bridge {}: {e}", bridge::BRIDGE))?;
        let ready = Arc::new(Ready { cidr, ipam, nl, bridge, rules: tokio::sync::Mutex::new(()) });
        self.sync_rules(&ready).await?;
        tracing::info!(pod_cidr = %cidr, bridge = bridge::BRIDGE, "pod network ready");
        self.ready.send_replace(Some(ready));
        Ok(())
    }

    async fn sync_rules(&self, r: &Ready) -> Result<(), String> {
        let _g = r.rules.lock().await;
        let pods: Vec<(String, Ipv4Addr, Vec<hostport::HostPort>)> = r.ipam.all().into_iter().map(|(ip, rec)| (rec.pod, ip, rec.host_ports)).collect();
        let text = iptables::render(r.cidr, self.settings.non_masquerade, &pods);
        tokio::task::spawn_blocking(move || iptables::apply(&text)).await.map_err(|e| e.to_string())?
    }

    /// The pod's address, if it has one on this node.
    pub fn pod_ip(&self, uid: &str) -> Option<Ipv4Addr> {
        self.current()?.ipam.get(uid)
    }

    /// Give the pod (whose network namespace is `netns`) its address and
    /// wiring; idempotent. Returns None when the network is disabled.
    pub async fn setup(&self, pod: &Pod, netns: &Path) -> Result<Option<Ipv4Addr>, SetupError> {
        if !self.enabled {
            return Ok(None);
        }
        let r = self.current().ok_or(SetupError::NotReady)?;
        let started = Instant::now();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let rec = Record {
            uid: uid.clone(),
            pod: format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or("default"), pod.metadata.name.as_deref().unwrap_or_default()),
            host_ports: hostport::of_pod(pod),
        };
        let had = r.ipam.record(&uid);
        let ip = r.ipam.allocate(&rec).map_err(|e| SetupError::Failed(e.to_string()))?;
        if let Err(e) = bridge::attach(&r.nl, r.bridge, &uid, netns, ip, r.cidr.prefix(), r.ipam.gateway()).await {
            if had.is_none() {
                r.ipam.release(&uid);
            }
            return Err(SetupError::Failed(e.to_string()));
        }
        let ports_changed = had.as_ref().map(|(_, h)| h.host_ports != rec.host_ports).unwrap_or(!rec.host_ports.is_empty());
        r.ipam.update(&rec).map_err(|e| SetupError::Failed(e.to_string()))?;
        if ports_changed {
            self.sync_rules(&r).await.map_err(SetupError::Failed)?;
        }
        tracing::debug!(pod = %rec.pod, %ip, took_us = started.elapsed().as_micros() as u64, "pod network set up");
        Ok(Some(ip))
    }

    /// Remove the pod's veth, hostPort rules and address (no-op for pods
    /// without any). Safe to repeat.
    pub async fn teardown(&self, uid: &str) {
        if !self.enabled {
            return;
        }
        let Some(r) = self.current() else { return };
        if let Err(e) = bridge::detach(&r.nl, uid).await {
            tracing::warn!(%uid, error = %e, "removing the pod's veth failed");
        }
        let had_ports = r.ipam.record(uid).is_some_and(|(_, rec)| !rec.host_ports.is_empty());
        if let Some(ip) = r.ipam.release(uid) {
            tracing::info!(%uid, %ip, "released pod IP");
        }
        if had_ports {
            if let Err(e) = self.sync_rules(&r).await {
                tracing::warn!(%uid, error = %e, "removing the pod's hostPort rules failed");
            }
        }
    }

    /// Tear down every allocation whose pod is not in `live` (pods removed
    /// while the kubelet was down or crashed mid-teardown). Waits for the
    /// network to be ready first.
    pub async fn collect_garbage(&self, live: &HashSet<String>) {
        if !self.enabled {
            return;
        }
        let mut rx = self.ready.subscribe();
        let Ok(r) = rx.wait_for(|r| r.is_some()).await.map(|r| r.clone().expect("some")) else { return };
        for (ip, rec) in r.ipam.all() {
            if !live.contains(&rec.uid) {
                tracing::info!(uid = %rec.uid, pod = %rec.pod, %ip, "releasing the network of a pod that no longer exists");
                self.teardown(&rec.uid).await;
            }
        }
    }

    /// Watch the Nodes: our own gives the pod CIDR (unless `--pod-cidr`),
    /// the others the routes to their pod CIDRs. Runs until `stop`.
    pub async fn run(self: Arc<Self>, client: client::Client, stop: CancellationToken) {
        if !self.enabled {
            if self.settings.pod_cidr.is_some() {
                tracing::warn!("--pod-cidr ignored: the kubelet is not in a named network namespace of its own (/run/netns), so it does not program pod networking");
            }
            tracing::info!("pod network off: not in a node network namespace; pods other than hostNetwork get a namespace with only lo");
            return;
        }
        if let Some(c) = self.settings.pod_cidr {
            if let Err(e) = self.init(c).await {
                tracing::error!(error = %e, "pod network setup failed");
            }
        }
        let informer = Informer::new(Api::<Node>::all(client), InformerConfig::default());
        let store = informer.store();
        let mut events = informer.subscribe();
        let inf = informer.clone();
        let task = tokio::spawn(async move { inf.run().await });
        let me = self.settings.node_name.clone();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                ev = events.recv() => if ev.is_none() { break },
            }
            // Coalesce a burst of events into one pass.
            while events.try_recv().is_ok() {}
            if !store.has_synced() {
                continue;
            }
            let nodes = store.list();
            if self.current().is_none() {
                let own = nodes.iter().find(|n| n.metadata.name.as_deref() == Some(me.as_str()));
                if let Some(c) = own.and_then(|n| n.spec.as_ref()?.pod_cidr.clone()).filter(|c| !c.is_empty()) {
                    match c.parse::<Ipv4Cidr>() {
                        Ok(c) => {
                            if let Err(e) = self.init(c).await {
                                tracing::error!(error = %e, "pod network setup failed");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "the node's spec.podCIDR"),
                    }
                }
            }
            if let Some(r) = self.current() {
                let want = routes::desired(nodes.iter().map(|n| n.as_ref()), &me);
                if let Err(e) = routes::sync(&r.nl, &want).await {
                    tracing::warn!(error = %e, "syncing routes to other nodes' pod CIDRs failed");
                }
            }
        }
        task.abort();
    }

    /// Write the pod's /etc/resolv.conf (every pod) and, for a pod with its
    /// own network namespace and an address, its /etc/hosts naming that address.
    pub fn write_dns_files(&self, pod: &Pod, etc: &Path, ip: Option<Ipv4Addr>) -> std::io::Result<()> {
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
        if let (false, Some(ip)) = (host_network, ip) {
            let hosts = dns::hosts_file(pod, Some(&ip.to_string()), &self.settings.dns.cluster_domain);
            write_if_changed(&etc.join("hosts"), &hosts)?;
        }
        write_if_changed(&etc.join("resolv.conf"), &dns::resolv_conf(pod, &self.settings.dns).render())
    }
}

fn write_if_changed(path: &Path, content: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    std::fs::write(path, content)
}
