//! `up` and `down`: the cluster network (see `netns`), the control plane in
//! the cluster namespace, one kubelet (and kube-proxy, once built) per node
//! namespace, and undoing all of it.
//!
//! The user's kubectl reaches the apiserver on 127.0.0.1:<port> in the root
//! namespace through a listening socket this launcher binds there and hands
//! to kube-apiserver (`--listen-fd`): the root namespace gets no address,
//! link or route, only that socket.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::netns::{self, Names};
use crate::process::{self, Placement};
use crate::state::{self, Component, State};
use crate::kubeconfig;

/// Where the control plane listens inside the cluster namespace.
const ETCD: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 2379);
const APISERVER_PORT: u16 = 6443;
const SCHEDULER_PORT: u16 = 10259;
const CONTROLLER_MANAGER_PORT: u16 = 10257;
/// Inside each node's namespace.
const KUBELET_HEALTHZ: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 10248);
const KUBE_PROXY_HEALTHZ_PORT: u16 = 10256;
/// Pods' CIDR (node IPAM in the controller-manager) and the cluster DNS
/// Service's address (the tenth of the default Service range 10.96.0.0/12).
const CLUSTER_CIDR: &str = "10.244.0.0/16";
const CLUSTER_DNS: &str = "10.96.0.10";
/// Addresses kube-proxy hands to LoadBalancer Services (nodes are .11 up).
const LOAD_BALANCER_RANGE: &str = "172.31.0.200-172.31.0.250";
/// kube-dns's health port, on the cluster namespace's loopback.
const KUBE_DNS_HEALTHZ_PORT: u16 = 8081;

pub struct UpOptions {
    pub nodes: u32,
    /// The user's apiserver port on 127.0.0.1 (0: a free one).
    pub apiserver_port: u16,
    pub bin_dir: Option<PathBuf>,
    /// How long to wait for every node to be Ready.
    pub ready_timeout: Duration,
    pub quiet: bool,
}

pub fn apiserver_addr() -> SocketAddr {
    SocketAddr::new(netns::GATEWAY.into(), APISERVER_PORT)
}

fn bin_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(d) => Ok(d),
        None => Ok(std::env::current_exe()?.parent().context("locating the binaries")?.to_path_buf()),
    }
}

/// Refuses, in one line with the fix, what would fail later.
fn check_prerequisites(bins: &Path, opts: &UpOptions) -> anyhow::Result<PathBuf> {
    if unsafe { libc::geteuid() } != 0 {
        bail!("ferrokube up needs root (network namespaces, cgroups, containers): run it with sudo");
    }
    if opts.nodes == 0 || opts.nodes > netns::MAX_NODES {
        bail!("--nodes {}: must be between 1 and {}", opts.nodes, netns::MAX_NODES);
    }
    let etcd = process::which("etcd").context("etcd not found: install it with `apt-get install -y etcd-server`")?;
    process::which("ip").context("ip not found: install it with `apt-get install -y iproute2`")?;
    for b in ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "kubelet", "kubelet-shim"] {
        if !bins.join(b).is_file() {
            bail!("{b} not found in {}: build it with `cargo build --release --bins` (or pass --bin-dir)", bins.display());
        }
    }
    Ok(etcd)
}

/// Leftovers of a cluster in `workdir` that was not taken down: refuses if
/// it still runs, cleans up after one that crashed or a half-finished `up`.
fn recover(workdir: &Path, names: &Names, quiet: bool) -> anyhow::Result<()> {
    let st = state::load(workdir)?;
    if let Some(st) = &st {
        if let Some(c) = st.components.iter().find(|c| process::alive(c.pid, &c.bin)) {
            bail!(
                "a cluster is already running in {} ({} pid {}): run `ferrokube --workdir {} down` first, or use another --workdir",
                workdir.display(),
                c.label(),
                c.pid,
                workdir.display()
            );
        }
    }
    let leftovers = !names.existing().is_empty() || workdir.join("nodes").exists() || st.is_some();
    if leftovers {
        if !quiet {
            println!("cleaning up what a previous `up` in {} left behind", workdir.display());
        }
        let st = st.unwrap_or_else(|| State { netns_prefix: names.prefix.clone(), ..Default::default() });
        teardown(workdir, &st, false).context("cleaning up a previous cluster (then run `ferrokube down` and `up` again)")?;
    }
    Ok(())
}

/// Binds the user's port in the root namespace, or says what holds it.
fn bind_user_port(port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("port {port} is in use: pick another with --apiserver-port (0 picks a free one), or stop what listens there (`ss -ltnp 'sport = :{port}'`)")
        } else {
            anyhow::anyhow!("binding 127.0.0.1:{port}: {e}")
        }
    })
}

pub fn up(workdir: &Path, opts: UpOptions) -> anyhow::Result<State> {
    let bins = bin_dir(opts.bin_dir.clone())?;
    let etcd = check_prerequisites(&bins, &opts)?;
    std::fs::create_dir_all(workdir).with_context(|| format!("creating {}", workdir.display()))?;
    let workdir = &workdir.canonicalize()?;
    let names = Names { prefix: format!("fk-{}", state::cluster_id(workdir)) };
    recover(workdir, &names, opts.quiet)?;
    let listener = bind_user_port(opts.apiserver_port)?;
    let user_port = listener.local_addr()?.port();
    std::fs::create_dir_all(workdir.join("logs"))?;
    let server = format!("http://127.0.0.1:{user_port}");
    let mut st = State { netns_prefix: names.prefix.clone(), nodes: opts.nodes, server, bin_dir: bins.clone(), components: vec![] };
    state::save(workdir, &st)?;

    let started = Instant::now();
    let result = start_all(workdir, &bins, &etcd, &names, &listener, &opts, &mut st);
    drop(listener); // kube-apiserver holds its own copy
    let kc = workdir.join("kubeconfig");
    let result = result
        .and_then(|()| kubeconfig::write(&kc, &st.server))
        .and_then(|()| dns_service(&st))
        .and_then(|()| wait_nodes_ready(&st, opts.ready_timeout));
    if let Err(e) = result {
        // Everything goes but the logs, which tell why.
        if let Err(e2) = teardown(workdir, &st, true) {
            eprintln!("warning: cleaning up after the failed start: {e2:#}");
        }
        return Err(e.context(format!("ferrokube up failed; cleaned up, logs kept in {}", workdir.join("logs").display())));
    }
    if !opts.quiet {
        print_up(workdir, &bins, &st, started.elapsed());
    }
    Ok(st)
}

fn start_all(workdir: &Path, bins: &Path, etcd: &Path, names: &Names, listener: &TcpListener, opts: &UpOptions, st: &mut State) -> anyhow::Result<()> {
    let cluster_ns = names.cluster();
    netns::create_cluster(&cluster_ns)?;
    for n in 1..=opts.nodes {
        netns::create_node(&cluster_ns, &names.node(n), n)?;
    }
    let api = apiserver_addr();
    let api_str = api.to_string();

    let etcd_url = format!("http://{ETCD}");
    let peer = "http://127.0.0.1:2380";
    let args = strings(&[
        "--name", "ferrokube",
        "--data-dir", &workdir.join("etcd").display().to_string(),
        "--listen-client-urls", &etcd_url,
        "--advertise-client-urls", &etcd_url,
        "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer,
        "--initial-cluster", &format!("ferrokube={peer}"),
        "--max-request-bytes", "3145728",
        "--log-level", "warn",
    ]);
    start(workdir, st, Spec { bin: etcd, name: "etcd", node: None, args, netns: cluster_ns.clone(), keep_fd: None, addr: ETCD, health: "/health" })?;
    wait_healthy(workdir, st, &["etcd"], Duration::from_secs(30))?;

    let fd = listener.as_raw_fd();
    let args = strings(&[
        "--etcd-servers", &etcd_url,
        "--bind-address", &netns::GATEWAY.to_string(),
        "--secure-port", &APISERVER_PORT.to_string(),
        "--listen-fd", &fd.to_string(),
        "--kubelet-client-token-file", &streaming_token(workdir)?.display().to_string(),
    ]);
    let bin = bins.join("kube-apiserver");
    start(workdir, st, Spec { bin: &bin, name: "kube-apiserver", node: None, args, netns: cluster_ns.clone(), keep_fd: Some(fd), addr: api, health: "/readyz" })?;

    // The nodes load their images while the apiserver starts; they retry until it answers.
    for n in 1..=opts.nodes {
        start_node(workdir, bins, names, n, st)?;
    }
    wait_healthy(workdir, st, &["kube-apiserver"], Duration::from_secs(30))?;

    let args = strings(&["--master", &api_str, "--bind-address", "127.0.0.1", "--secure-port", &SCHEDULER_PORT.to_string()]);
    let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), SCHEDULER_PORT);
    let bin = bins.join("kube-scheduler");
    start(workdir, st, Spec { bin: &bin, name: "kube-scheduler", node: None, args, netns: cluster_ns.clone(), keep_fd: None, addr, health: "/healthz" })?;

    let args = strings(&[
        "--master", &api_str,
        "--bind-address", "127.0.0.1",
        "--secure-port", &CONTROLLER_MANAGER_PORT.to_string(),
        // One local cluster: more than upstream's 20/30 so big ReplicaSets fill quickly.
        "--kube-api-qps", "200",
        "--kube-api-burst", "400",
        // Node IPAM: each node's spec.podCIDR, a /24 of this.
        "--allocate-node-cidrs",
        "--cluster-cidr", CLUSTER_CIDR,
        // The default StorageClass's volumes: directories under the workdir (`down` removes them).
        "--local-path-base-dir", &workdir.join("local-path").display().to_string(),
    ]);
    let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), CONTROLLER_MANAGER_PORT);
    let bin = bins.join("kube-controller-manager");
    start(workdir, st, Spec { bin: &bin, name: "kube-controller-manager", node: None, args, netns: cluster_ns.clone(), keep_fd: None, addr, health: "/healthz" })?;

    // Cluster DNS: a process on the cluster network's gateway address, which
    // pods reach through the kube-dns Service (made in `dns_service`).
    let dns = bins.join("kube-dns");
    if dns.is_file() {
        let healthz = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), KUBE_DNS_HEALTHZ_PORT);
        let args = strings(&[
            "--master", &api_str,
            "--bind-address", &netns::GATEWAY.to_string(),
            "--dns-port", "53",
            "--cluster-domain", "cluster.local",
            // Nothing routes off this machine: names outside the cluster get SERVFAIL.
            "--resolv-conf", "",
            "--healthz-bind-address", &healthz.to_string(),
        ]);
        start(workdir, st, Spec { bin: &dns, name: "kube-dns", node: None, args, netns: cluster_ns.clone(), keep_fd: None, addr: healthz, health: "/healthz" })?;
    }

    let all: Vec<&str> = vec!["kube-scheduler", "kube-controller-manager", "kube-dns", "kubelet", "kube-proxy"];
    wait_healthy(workdir, st, &all, Duration::from_secs(60))
}

/// The bearer token kube-apiserver presents to kubelets for logs, exec, attach
/// and port-forward (its --kubelet-client-token-file, their --streaming-token-file):
/// random, made once per cluster, readable by root only.
fn streaming_token(workdir: &Path) -> anyhow::Result<std::path::PathBuf> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let path = workdir.join("kubelet-token");
    if !path.exists() {
        let mut raw = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        std::io::Write::write_all(&mut f, token.as_bytes())?;
    }
    Ok(path)
}

/// Node `n`'s kubelet (and kube-proxy, when built) in its namespace.
fn start_node(workdir: &Path, bins: &Path, names: &Names, n: u32, st: &mut State) -> anyhow::Result<()> {
    let ns = names.node(n);
    let node_ip = netns::node_ip(n).to_string();
    let api = apiserver_addr().to_string();
    std::fs::create_dir_all(workdir.join("logs").join(format!("node{n}")))?;
    let kubelet = bins.join("kubelet");
    let mut args = kubelet_dirs(workdir, names, n);
    args.extend(strings(&[
        "--apiserver", &api,
        "--hostname-override", &state::node_name(n),
        "--node-ip", &node_ip,
        "--healthz-bind-address", &KUBELET_HEALTHZ.to_string(),
        "--load-test-images",
    ]));
    args.extend(strings(&["--streaming-token-file", &streaming_token(workdir)?.display().to_string()]));
    if supports(&kubelet, "--cluster-dns") {
        args.extend(strings(&["--cluster-dns", CLUSTER_DNS, "--cluster-domain", "cluster.local", "--non-masquerade-cidr", CLUSTER_CIDR]));
    }
    start(workdir, st, Spec { bin: &kubelet, name: "kubelet", node: Some(n), args, netns: ns.clone(), keep_fd: None, addr: KUBELET_HEALTHZ, health: "/healthz" })?;

    let proxy = bins.join("kube-proxy");
    if proxy.is_file() {
        let healthz = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), KUBE_PROXY_HEALTHZ_PORT);
        let args = strings(&[
            "--master", &api,
            "--hostname-override", &state::node_name(n),
            "--bind-address", &node_ip,
            "--cluster-cidr", CLUSTER_CIDR,
            "--healthz-bind-address", &healthz.to_string(),
            // LoadBalancer Services: addresses on the cluster network, answered by every node's rules.
            "--load-balancer-ip-range", LOAD_BALANCER_RANGE,
        ]);
        start(workdir, st, Spec { bin: &proxy, name: "kube-proxy", node: Some(n), args, netns: ns.clone(), keep_fd: None, addr: healthz, health: "/healthz" })?;
    }
    Ok(())
}

/// Where node `n`'s kubelet keeps its state, logs and cgroups: owned by this workdir.
fn kubelet_dirs(workdir: &Path, names: &Names, n: u32) -> Vec<String> {
    let dir = state::node_dir(workdir, n);
    strings(&[
        "--root-dir", &dir.join("kubelet").display().to_string(),
        "--pod-logs-dir", &dir.join("pod-logs").display().to_string(),
        // A cgroup name unique to this workdir and node, so two never share one.
        "--cgroup-root", &format!("ferrokube-{}-node{n}", names.prefix.trim_start_matches("fk-")),
    ])
}

/// Whether `bin --help` lists `flag`: the kubelet's DNS flags are landing
/// while this is written; drop the check once they are in every build.
fn supports(bin: &Path, flag: &str) -> bool {
    std::process::Command::new(bin)
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("{flag} ")) || String::from_utf8_lossy(&o.stdout).contains(&format!("{flag}\n")))
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// What `start` runs, where, and how its health is checked.
struct Spec<'a> {
    bin: &'a Path,
    name: &'a str,
    node: Option<u32>,
    args: Vec<String>,
    netns: String,
    /// A descriptor the process inherits (kube-apiserver's user listener).
    keep_fd: Option<std::os::fd::RawFd>,
    addr: SocketAddr,
    health: &'a str,
}

/// Starts one component and records it in the state file at once.
fn start(workdir: &Path, st: &mut State, spec: Spec) -> anyhow::Result<()> {
    let file = netns::open(&spec.netns)?;
    let place = Placement { netns: Some(&file), keep_fd: spec.keep_fd };
    let pid = process::spawn(spec.bin, &spec.args, &state::log_path(workdir, spec.name, spec.node), &place)?;
    let bin = spec.bin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    st.components.push(Component { name: spec.name.into(), node: spec.node, bin, pid, netns: Some(spec.netns), addr: spec.addr, health: spec.health.into() });
    state::save(workdir, st)
}

/// Waits until every component named in `which` answers 200 on its health endpoint.
fn wait_healthy(workdir: &Path, st: &State, which: &[&str], timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<&Component> = st.components.iter().filter(|c| which.contains(&c.name.as_str())).collect();
    while !pending.is_empty() {
        let mut still = vec![];
        for c in pending {
            if process::http_get(c.netns.as_deref(), c.addr, &c.health) == Some(200) {
                continue;
            }
            if !process::alive(c.pid, &c.bin) {
                bail!("{} exited during startup{}", c.label(), log_tail(workdir, c));
            }
            still.push(c);
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let c = pending[0];
            bail!("{} did not become healthy in {timeout:?}{}", c.label(), log_tail(workdir, c));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn log_tail(workdir: &Path, c: &Component) -> String {
    let log = state::log_path(workdir, &c.name, c.node);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!(" (log {}):\n{}", log.display(), lines[lines.len().saturating_sub(15)..].join("\n"))
}

/// Polls the API (as the user reaches it) until every node is registered and Ready.
/// The `kube-system/kube-dns` Service at the service range's tenth address,
/// without a selector, and its hand-made Endpoints naming the kube-dns process
/// (the mirroring controller turns them into the slices kube-proxy reads).
fn dns_service(st: &State) -> anyhow::Result<()> {
    use client::{Api, PostParams};
    use k8s_openapi::api::core::v1::{Endpoints, Service};
    if !st.components.iter().any(|c| c.name == "kube-dns") {
        return Ok(());
    }
    let labels = serde_json::json!({"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "KubeDNS"});
    let ports = serde_json::json!([{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]);
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
        "spec": {"clusterIP": CLUSTER_DNS, "ports": ports},
    }))?;
    let eps: Endpoints = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
        "subsets": [{"addresses": [{"ip": netns::GATEWAY.to_string()}], "ports": ports}],
    }))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let addr = st.server.trim_start_matches("http://").to_string();
    rt.block_on(async {
        let client = client::Client::connect(&addr).await.with_context(|| format!("connecting to the apiserver at {addr}"))?;
        let exists = |e: &client::Error| matches!(e, client::Error::Api(a) if a.0.reason == "AlreadyExists");
        match Api::<Service>::namespaced(client.clone(), "kube-system").create(&PostParams::default(), &svc).await {
            Ok(_) => {}
            Err(e) if exists(&e) => {}
            Err(e) => return Err(anyhow::anyhow!("creating the kube-dns Service: {e}")),
        }
        match Api::<Endpoints>::namespaced(client, "kube-system").create(&PostParams::default(), &eps).await {
            Ok(_) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("creating the kube-dns Endpoints: {e}")),
        }
    })
}

fn wait_nodes_ready(st: &State, timeout: Duration) -> anyhow::Result<()> {
    use client::{Api, ListParams};
    use k8s_openapi::api::core::v1::Node;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let addr = st.server.trim_start_matches("http://").to_string();
    let want: Vec<String> = (1..=st.nodes).map(state::node_name).collect();
    rt.block_on(async {
        let deadline = Instant::now() + timeout;
        let client = client::Client::connect(&addr).await.with_context(|| format!("connecting to the apiserver at {addr}"))?;
        let nodes = Api::<Node>::all(client);
        loop {
            let ready: Vec<String> = match nodes.list(&ListParams::default()).await {
                Ok(list) => list.items.iter().filter(|n| node_ready(n)).filter_map(|n| n.metadata.name.clone()).collect(),
                Err(_) => vec![],
            };
            let missing: Vec<&String> = want.iter().filter(|w| !ready.contains(w)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                bail!("nodes not Ready after {timeout:?}: {} (see `ferrokube logs kubelet --node N`)", m.join(", "));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

pub fn node_ready(n: &k8s_openapi::api::core::v1::Node) -> bool {
    let conds = n.status.as_ref().and_then(|s| s.conditions.as_ref());
    conds.is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn print_up(workdir: &Path, bins: &Path, st: &State, took: Duration) {
    println!("ferrokube is up in {:.1}s: {} node(s) Ready (workdir {})", took.as_secs_f64(), st.nodes, workdir.display());
    println!();
    crate::inspect::print_components(st);
    println!();
    let kc = workdir.join("kubeconfig");
    println!("Use it with kubectl (ferrokube's, or the upstream one):");
    println!("  export KUBECONFIG={}", kc.display());
    println!("  export PATH={}:$PATH", bins.display());
    println!("  kubectl get nodes -o wide");
    println!("  kubectl create deployment web --image=luksa/kubia --replicas=3");
    println!("  kubectl get pods -o wide");
    println!();
    println!("Status: ferrokube status   Logs: ferrokube logs <component> [--node N]   Stop: ferrokube down");
}

/// Stops every process `st` records, cleans each node's containers, mounts
/// and cgroups (kubelet --cleanup, inside the node's namespace), deletes the
/// cluster's namespaces (and with them every veth and bridge) and its files.
pub fn teardown(workdir: &Path, st: &State, keep_logs: bool) -> anyhow::Result<()> {
    // Nodes first (clients before the servers they talk to), all at once.
    let (nodes, control): (Vec<&Component>, Vec<&Component>) = st.components.iter().partition(|c| c.node.is_some());
    stop_parallel(&nodes);
    let (plane, etcd): (Vec<&Component>, Vec<&Component>) = control.into_iter().partition(|c| c.name != "etcd");
    stop_parallel(&plane);
    stop_parallel(&etcd);
    if let Some(c) = st.components.iter().find(|c| process::alive(c.pid, &c.bin)) {
        bail!("{} (pid {}) did not stop: kill it (`kill -9 {}`) and run `ferrokube down` again", c.label(), c.pid, c.pid);
    }
    let names = Names { prefix: st.netns_prefix.clone() };
    cleanup_nodes(workdir, &st.bin_dir, &names);
    for ns in names.existing() {
        netns::delete(&ns)?;
    }
    unmount_leftovers(workdir);
    let logs = (!keep_logs).then_some("logs");
    for sub in state::FILES.iter().copied().chain(logs) {
        let p = workdir.join(sub);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
        } else if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

fn stop_parallel(cs: &[&Component]) {
    std::thread::scope(|s| {
        for c in cs {
            s.spawn(move || process::stop(c.pid, &c.bin, Duration::from_secs(10)));
        }
    });
}

/// `kubelet --cleanup` for every node directory under the workdir, each in
/// its node's namespace while that still exists (the pod network lives there).
fn cleanup_nodes(workdir: &Path, bins: &Path, names: &Names) {
    let kubelet = match bins.as_os_str().is_empty() {
        false => bins.join("kubelet"),
        true => match std::env::current_exe() {
            Ok(e) => e.with_file_name("kubelet"),
            Err(_) => return,
        },
    };
    let nodes: Vec<u32> = std::fs::read_dir(workdir.join("nodes"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("node")?.parse().ok())
        .collect();
    if nodes.is_empty() {
        return;
    }
    if !kubelet.is_file() {
        eprintln!("warning: {} not found: containers of {} may be left running", kubelet.display(), workdir.display());
        return;
    }
    std::thread::scope(|s| {
        for &n in &nodes {
            let kubelet = &kubelet;
            s.spawn(move || {
                let file = netns::open(&names.node(n)).ok();
                let mut args = kubelet_dirs(workdir, names, n);
                args.push("--cleanup".into());
                let log = state::log_path(workdir, "kubelet-cleanup", Some(n));
                let _ = std::fs::create_dir_all(log.parent().expect("logs/nodeN"));
                let place = Placement { netns: file.as_ref(), keep_fd: None };
                match process::run(kubelet, &args, &log, &place) {
                    Ok(true) => {}
                    Ok(false) => eprintln!("warning: kubelet --cleanup of node{n} failed; see {}", log.display()),
                    Err(e) => eprintln!("warning: kubelet --cleanup of node{n}: {e:#}"),
                }
            });
        }
    });
}

/// Mounts under the workdir that the cleanup missed are detached, so the
/// files can go; each is reported, since it means a cleanup bug.
fn unmount_leftovers(workdir: &Path) {
    for m in process::mounts_under(workdir).into_iter().rev() {
        eprintln!("warning: unmounting leftover {}", m.display());
        let c = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()).expect("no NUL in a mount path");
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

pub fn down(workdir: &Path, quiet: bool) -> anyhow::Result<()> {
    let workdir = &workdir.canonicalize().unwrap_or_else(|_| workdir.to_path_buf());
    let names = Names { prefix: format!("fk-{}", state::cluster_id(workdir)) };
    let st = match state::load(workdir)? {
        Some(st) => st,
        None if !names.existing().is_empty() || workdir.join("nodes").exists() => State { netns_prefix: names.prefix, ..Default::default() },
        None => {
            println!("no cluster in {}", workdir.display());
            return Ok(());
        }
    };
    if unsafe { libc::geteuid() } != 0 {
        bail!("ferrokube down needs root (it stops containers and deletes network namespaces): run it with sudo");
    }
    teardown(workdir, &st, false)?;
    let _ = std::fs::remove_dir(workdir);
    if quiet {
        return Ok(());
    }
    println!("ferrokube is down ({} processes stopped, {} namespaces deleted, {} cleaned)", st.components.len(), st.nodes + 1, workdir.display());
    Ok(())
}
