//! Command-line flags (upstream names where upstream has them).

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug, Clone)]
#[command(name = "kubelet", about = "ferrokube's node agent: registers the node and runs its pods through libcontainer")]
pub struct Flags {
    /// Address (host:port) of the apiserver's gRPC endpoint.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub apiserver: String,
    /// Node name to register instead of the machine's hostname.
    #[arg(long)]
    pub hostname_override: Option<String>,
    /// IP address reported as the node's InternalIP (and hostIP of its pods).
    #[arg(long, default_value = "127.0.0.1")]
    pub node_ip: String,
    /// Directory for the kubelet's state: pods, images, libcontainer state.
    #[arg(long, default_value = "/var/lib/kubelet")]
    pub root_dir: PathBuf,
    /// Directory for container logs (<ns>_<pod>_<uid>/<container>/<n>.log).
    #[arg(long, default_value = "/var/log/pods")]
    pub pod_logs_dir: PathBuf,
    /// Directory of static pod manifests, run without the apiserver and mirrored to it.
    #[arg(long)]
    pub pod_manifest_path: Option<PathBuf>,
    /// Import every OCI archive found in this directory into the image store.
    #[arg(long)]
    pub image_dir: Option<PathBuf>,
    /// Build the project's test images (busybox, luksa/kubia) from /bin/busybox and load them.
    #[arg(long)]
    pub load_test_images: bool,
    /// Extra node labels, key=value[,key=value].
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    /// Taints to register the node with, key[=value]:Effect[,...].
    #[arg(long, value_delimiter = ',')]
    pub register_with_taints: Vec<String>,
    /// Resources reserved for Kubernetes daemons, e.g. cpu=100m,memory=100Mi.
    #[arg(long, value_delimiter = ',')]
    pub kube_reserved: Vec<String>,
    /// Resources reserved for the system, e.g. cpu=100m,memory=100Mi.
    #[arg(long, value_delimiter = ',')]
    pub system_reserved: Vec<String>,
    /// Name of the root cgroup of pods under every hierarchy.
    #[arg(long, default_value = "kubepods")]
    pub cgroup_root: String,
    /// Address for /healthz and /metrics (port 0 picks a free one; the chosen
    /// address is written to <root-dir>/healthz-address).
    #[arg(long, default_value = "127.0.0.1:10248")]
    pub healthz_bind_address: String,
    /// IP address to serve the kubelet API (logs, exec, attach, port-forward) on.
    #[arg(long, default_value = "0.0.0.0")]
    pub address: std::net::IpAddr,
    /// Port of the kubelet API, reported as the node's daemonEndpoints.kubeletEndpoint
    /// (0 picks a free one; the chosen address is written to <root-dir>/kubelet-address).
    #[arg(long, default_value_t = 10250)]
    pub port: u16,
    /// File holding the bearer token callers of the kubelet API (the apiserver, given it
    /// by --kubelet-client-token-file) must present; without it the API refuses every call.
    #[arg(long)]
    pub streaming_token_file: Option<PathBuf>,
    /// Path of the kubelet-shim binary (default: next to this binary).
    #[arg(long)]
    pub shim_path: Option<PathBuf>,
    /// Do not run: stop every container this kubelet started (by its --root-dir),
    /// remove their mounts, namespaces, cgroups and state, then exit (`ferrokube down`).
    #[arg(long)]
    pub cleanup: bool,
    /// Hard eviction thresholds, e.g. memory.available<100Mi,nodefs.available<10%
    /// (default: upstream's, see eviction::DEFAULT_HARD). They set the node's
    /// pressure conditions.
    #[arg(long, value_delimiter = ',')]
    pub eviction_hard: Vec<String>,
    /// How often node status and the node Lease are renewed, in seconds.
    #[arg(long, default_value_t = 10)]
    pub node_status_update_frequency: u64,
    /// The CIDR to use for pod IP addresses (standalone use); otherwise the
    /// Node's spec.podCIDR from the controller-manager. The pod network is
    /// programmed only when the kubelet runs in a network namespace of its own.
    #[arg(long)]
    pub pod_cidr: Option<String>,
    /// Comma-separated list of DNS server IP addresses for pods with dnsPolicy=ClusterFirst.
    #[arg(long, value_delimiter = ',')]
    pub cluster_dns: Vec<String>,
    /// Domain for this cluster: pods' DNS search paths include it.
    #[arg(long, default_value = "")]
    pub cluster_domain: String,
    /// Resolver configuration file used as the basis for the container DNS resolution configuration (dnsPolicy Default).
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
    /// Traffic to IPs outside this range from pods is masqueraded as the node's (set it to the cluster CIDR).
    #[arg(long, default_value = "10.0.0.0/8")]
    pub non_masquerade_cidr: String,
}

impl Flags {
    pub fn node_name(&self) -> String {
        let name = match &self.hostname_override {
            Some(h) => h.clone(),
            None => std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into()),
        };
        name.trim().to_lowercase()
    }

    pub fn shim(&self) -> PathBuf {
        self.shim_path.clone().unwrap_or_else(|| {
            std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("kubelet-shim"))).unwrap_or_else(|| "kubelet-shim".into())
        })
    }
}

/// `key=value` pairs into a map.
pub fn pairs(items: &[String]) -> std::collections::BTreeMap<String, String> {
    items.iter().filter_map(|i| i.split_once('=')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
}
