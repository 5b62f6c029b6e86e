//! The pod network of issue #12 on a 3-node cluster started by
//! `ferrokube up --nodes 3`, driven through ferrokube's `kubectl` as a user
//! types it: pods on different nodes reach each other by pod IP (TCP and
//! ICMP), a pod reaches its own node and another node, a hostNetwork pod has
//! its node's IP, 150 pods get unique IPs from their nodes' podCIDRs, a
//! kubelet restart keeps every pod's IP, and `down` leaves nothing behind.
//! Needs root and the workspace's binaries built.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{Cluster, text, is_root, kubectl, kubectl_json};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);
const NODES: [&str; 3] = ["ferrokube-node1", "ferrokube-node2", "ferrokube-node3"];



/// `ferrokube up --nodes 3` in a fresh workdir of its own.
fn up() -> Cluster {
    let workdir = tempfile::Builder::new().prefix("ferrokube-e2e-network-").tempdir().unwrap();
    let out = e2e::ferrokube(workdir.path(), &["up", "--nodes", "3"]).unwrap();
    assert!(out.status.success(), "ferrokube up --nodes 3 failed:\n{}", text(&out));
    let kc: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(workdir.path().join("kubeconfig")).unwrap()).unwrap();
    let server = kc["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string();
    Cluster { workdir, server }
}



/// `kubectl exec <pod> -- sh -c <script>`: Ok(stdout) when it exited 0, Err(everything) otherwise.
fn exec(c: &Cluster, pod: &str, script: &str) -> Result<String, String> {
    let out = c.kubectl(&["exec", pod, "--", "sh", "-c", script]).map_err(|e| e.to_string())?;
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        false => Err(format!("exec {pod} {script:?}: {}", text(&out))),
    }
}

/// Polls `check` (every 500 ms) until it returns Ok, or fails with the last state it saw.
async fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if start.elapsed() > timeout => panic!("{what}: not reached in {timeout:?}; last seen:\n{last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `ip` lies in `cidr` (a.b.c.d/n).
fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, bits) = cidr.split_once('/').expect("a CIDR");
    let (ip, net, bits): (Ipv4Addr, Ipv4Addr, u32) = (ip.parse().unwrap(), net.parse().unwrap(), bits.parse().unwrap());
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// The pods of `selector` (or all in the namespace), by name: the JSON objects.
fn pods(c: &Cluster, selector: Option<&str>) -> HashMap<String, Value> {
    let mut args = vec!["get", "pods"];
    if let Some(s) = selector {
        args.extend(["-l", s]);
    }
    let list = kubectl_json(c, &args);
    list["items"].as_array().cloned().unwrap_or_default().into_iter().map(|p| (p["metadata"]["name"].as_str().unwrap().to_string(), p)).collect()
}

fn is_running(p: &Value) -> bool {
    p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string()
}

/// Waits until pod `name` is Running with an IP; returns it.
async fn running_pod(c: &Cluster, name: &str) -> Value {
    eventually(&format!("pod {name} Running with an IP"), TIMEOUT, || {
        let p = kubectl_json(c, &["get", "pod", name]);
        is_running(&p).then(|| p.clone()).ok_or_else(|| p["status"].to_string())
    })
    .await
}

fn pod_ip(p: &Value) -> String {
    p["status"]["podIP"].as_str().unwrap().to_string()
}

fn node_of(p: &Value) -> String {
    p["spec"]["nodeName"].as_str().unwrap_or_default().to_string()
}

fn state(workdir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(workdir.join("state.json")).unwrap()).unwrap()
}

fn pids(st: &Value) -> Vec<u32> {
    st["components"].as_array().unwrap().iter().map(|c| c["pid"].as_u64().unwrap() as u32).collect()
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.rsplit(')').next().unwrap_or_default().trim_start().starts_with('Z')
}

/// Network namespaces whose names start with `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    run("ip", &["netns", "list"]).lines().filter_map(|l| l.split_whitespace().next()).filter(|n| n.starts_with(prefix)).map(str::to_string).collect()
}

/// Running processes whose command line names `dir` (kubelets, shims, etcd's data dir).
fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let cmd = String::from_utf8_lossy(&std::fs::read(e.path().join("cmdline")).ok()?).replace('\0', " ");
            (cmd.contains(&needle) && alive(pid)).then_some(cmd)
        })
        .collect()
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&needle))).map(str::to_string).collect()
}

/// Cgroups named for this cluster (`ferrokube-<id>-node<N>`) under any hierarchy.
fn cgroups_of(id: &str) -> Vec<String> {
    let mut found = vec![];
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for e in std::fs::read_dir(h.path()).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&format!("ferrokube-{id}-")) {
                found.push(e.path().display().to_string());
            }
        }
    }
    found
}

/// The kubelet of node `n` as state.json records it: (index in components, PID).
fn kubelet_of(st: &Value, n: u64) -> (usize, u32) {
    st["components"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, c)| c["name"] == "kubelet" && c["node"] == n)
        .map(|(i, c)| (i, c["pid"].as_u64().unwrap() as u32))
        .unwrap_or_else(|| panic!("no kubelet of node{n} in {st}"))
}

/// What a pod's YAML manifest says, pinned to a node by nodeName or by the
/// kubernetes.io/hostname nodeSelector.
fn pod_yaml(name: &str, pin: &str, node: &str, host_network: bool, script: &str) -> String {
    let pin = match pin {
        "nodeName" => format!("  nodeName: {node}\n"),
        _ => format!("  nodeSelector:\n    kubernetes.io/hostname: {node}\n"),
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    test: net\nspec:\n{pin}  hostNetwork: {host_network}\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    command: [\"sh\", \"-c\", {script:?}]\n"
    )
}

/// `kubectl create -f` of `yaml`, written to `dir`: not the workdir, which
/// `down` removes only when it holds nothing but the cluster's own files.
fn create(c: &Cluster, dir: &Path, file: &str, yaml: &str) {
    let path = dir.join(file);
    std::fs::write(&path, yaml).unwrap();
    kubectl(c, &["create", "-f", path.to_str().unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_network_across_three_nodes_survives_a_kubelet_restart_and_down_leaves_nothing() {
    assert!(is_root(), "needs root: nodes are network namespaces and run containers");
    let c = up();
    let workdir = c.workdir.path().canonicalize().unwrap();
    let st = state(&workdir);
    let prefix = st["netns_prefix"].as_str().unwrap().to_string();
    let manifests = tempfile::Builder::new().prefix("ferrokube-e2e-network-manifests-").tempdir().unwrap();

    // Every node has its own podCIDR from the cluster CIDR.
    let nodes = kubectl_json(&c, &["get", "nodes"]);
    let cidrs: HashMap<String, String> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["metadata"]["name"].as_str().unwrap().to_string(), n["spec"]["podCIDR"].as_str().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(cidrs.len(), 3, "{cidrs:?}");
    assert!(cidrs.values().all(|c| in_cidr(c.split('/').next().unwrap(), "10.244.0.0/16")), "podCIDRs in the cluster CIDR: {cidrs:?}");
    assert_eq!(cidrs.values().collect::<HashSet<_>>().len(), 3, "three different podCIDRs: {cidrs:?}");

    // 1. A TCP server on node1 (pinned by nodeName), a client on node2 (by
    // nodeSelector), a hostNetwork pod on node3. The server answers each
    // connection with a line and prints what the client sent.
    let server = "while true; do echo hello-from-server | nc -l -p 8080; done";
    let mut yaml = pod_yaml("server", "nodeName", NODES[0], false, server);
    yaml += "---\n";
    yaml += &pod_yaml("client", "nodeSelector", NODES[1], false, "sleep 3600");
    yaml += "---\n";
    yaml += &pod_yaml("hostnet", "nodeName", NODES[2], true, "sleep 3600");
    create(&c, manifests.path(), "pods.yaml", &yaml);
    let srv = running_pod(&c, "server").await;
    let cli = running_pod(&c, "client").await;
    let host = running_pod(&c, "hostnet").await;
    let (srv_ip, cli_ip) = (pod_ip(&srv), pod_ip(&cli));
    assert_eq!(node_of(&srv), NODES[0]);
    assert_eq!(node_of(&cli), NODES[1]);
    assert!(in_cidr(&srv_ip, &cidrs[NODES[0]]), "server {srv_ip} in node1's {}", cidrs[NODES[0]]);
    assert!(in_cidr(&cli_ip, &cidrs[NODES[1]]), "client {cli_ip} in node2's {}", cidrs[NODES[1]]);
    assert_eq!(srv["status"]["hostIP"], "172.31.0.11");
    assert_eq!(cli["status"]["hostIP"], "172.31.0.12");
    // The pod sees its own IP on its eth0.
    let addr = exec(&c, "client", "ip -4 -o addr show eth0").unwrap();
    assert!(addr.contains(&format!("{cli_ip}/")), "client's eth0: {addr}");

    // TCP, pod to pod across nodes, both ways of the one connection.
    let got = eventually("client on node2 talks TCP to the server on node1", Duration::from_secs(30), || {
        exec(&c, "client", &format!("echo ping-from-client | timeout 5 nc -w 3 {srv_ip} 8080"))
    })
    .await;
    assert!(got.contains("hello-from-server"), "{got}");
    let log = eventually("the server got the client's line", Duration::from_secs(30), || {
        let l = kubectl(&c, &["logs", "server"]);
        l.contains("ping-from-client").then_some(l.clone()).ok_or(l)
    })
    .await;
    assert!(log.contains("ping-from-client"));

    // ICMP both ways, with the default capabilities (Docker's set includes NET_RAW).
    eventually("client pings the server", Duration::from_secs(30), || exec(&c, "client", &format!("ping -c 1 -W 2 {srv_ip}"))).await;
    eventually("server pings the client", Duration::from_secs(30), || exec(&c, "server", &format!("ping -c 1 -W 2 {cli_ip}"))).await;

    // A pod reaches its own node and another node: ICMP, and a TCP connect to
    // the kubelet API port (10250), which listens on every address of its node.
    for node_ip in ["172.31.0.12", "172.31.0.11", "172.31.0.13"] {
        eventually(&format!("client pings node {node_ip}"), Duration::from_secs(30), || exec(&c, "client", &format!("ping -c 1 -W 2 {node_ip}"))).await;
        // Small busybox nc: "can't connect" and exit 1 when refused or unreachable;
        // connected, it sends the empty stdin and waits for the server (timeout ends that).
        let out = eventually(&format!("client connects to kubelet {node_ip}:10250"), Duration::from_secs(30), || {
            let o = exec(&c, "client", &format!("timeout 3 nc -w 2 {node_ip} 10250 </dev/null 2>&1; echo rc=$?"))?;
            (!o.contains("can't connect") && !o.contains("rc=1\n")).then_some(o.clone()).ok_or(o)
        })
        .await;
        assert!(!out.contains("can't"), "{out}");
    }

    // The hostNetwork pod: its node's IP, its node's eth0, and it reaches pods on other nodes.
    assert_eq!(node_of(&host), NODES[2]);
    assert_eq!(host["status"]["podIP"], "172.31.0.13", "a hostNetwork pod has its node's IP");
    assert_eq!(host["status"]["hostIP"], "172.31.0.13");
    let addr = exec(&c, "hostnet", "ip -4 -o addr show eth0").unwrap();
    assert!(addr.contains("172.31.0.13/24"), "hostnet sees node3's eth0: {addr}");
    eventually("hostnet pod pings the server pod on node1", Duration::from_secs(30), || exec(&c, "hostnet", &format!("ping -c 1 -W 2 {srv_ip}"))).await;
    let got = eventually("hostnet pod talks TCP to the server pod", Duration::from_secs(30), || {
        exec(&c, "hostnet", &format!("echo from-hostnet | timeout 5 nc -w 3 {srv_ip} 8080"))
    })
    .await;
    assert!(got.contains("hello-from-server"), "{got}");

    // 2. 150 pods over 3 nodes: all Running, unique IPs, each in its node's podCIDR.
    create(
        &c,
        manifests.path(),
        "many.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: many\nspec:\n  replicas: 150\n  selector:\n    matchLabels:\n      app: many\n  template:\n    metadata:\n      labels:\n        app: many\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: c\n        image: busybox\n        command: [\"sleep\", \"3600\"]\n",
    );
    let many = eventually("150 pods of deployment many Running with IPs", Duration::from_secs(180), || {
        let p = pods(&c, Some("app=many"));
        let running = p.values().filter(|p| is_running(p)).count();
        (p.len() == 150 && running == 150).then(|| p.clone()).ok_or_else(|| format!("{} pods, {running} running with an IP", p.len()))
    })
    .await;
    let mut per_node: HashMap<String, usize> = HashMap::new();
    let mut seen = HashSet::new();
    for (name, p) in &many {
        let (ip, node) = (pod_ip(p), node_of(p));
        assert!(in_cidr(&ip, &cidrs[&node]), "pod {name} on {node}: {ip} outside {}", cidrs[&node]);
        assert!(seen.insert(ip.clone()), "IP {ip} of {name} given twice");
        *per_node.entry(node).or_default() += 1;
    }
    assert!(!seen.contains(&srv_ip) && !seen.contains(&cli_ip), "the first pods' IPs given again");
    assert_eq!(per_node.len(), 3, "pods on every node: {per_node:?}");
    println!("150 pods per node: {per_node:?}");

    // 3. A kubelet restart keeps every pod's IP. `ferrokube up` does not
    // supervise its components, so the test restarts node2's kubelet the way
    // the launcher started it: same argv, same log file, in node2's network
    // namespace (nsenter --net only: no new mount namespace), a session of its
    // own; it records the new PID in state.json so `status` and `down` see it.
    let before = pods(&c, None);
    let (idx, pid) = kubelet_of(&st, 2);
    let argv: Vec<String> = String::from_utf8(std::fs::read(format!("/proc/{pid}/cmdline")).unwrap()).unwrap().split('\0').filter(|a| !a.is_empty()).map(str::to_string).collect();
    let log = std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap();
    run("kill", &["-TERM", &pid.to_string()]);
    eventually("node2's kubelet exits on SIGTERM", Duration::from_secs(30), || (!alive(pid)).then_some(()).ok_or_else(|| format!("pid {pid} runs"))).await;
    let logf = std::fs::File::options().append(true).open(&log).unwrap();
    let child = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{prefix}-node2"))
        .arg("--")
        .arg("setsid")
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(logf.try_clone().unwrap())
        .stderr(logf)
        .spawn()
        .unwrap();
    let new_pid = child.id();
    let mut st2 = state(&workdir);
    st2["components"][idx]["pid"] = new_pid.into();
    std::fs::write(workdir.join("state.json"), serde_json::to_vec_pretty(&st2).unwrap()).unwrap();
    eventually("the restarted kubelet of node2 healthy in `ferrokube status`", Duration::from_secs(60), || {
        let out = c.ferrokube(&["status"]).map_err(|e| e.to_string())?;
        let s = text(&out);
        s.lines().any(|l| l.starts_with("kubelet ") && l.contains(" node2 ") && l.contains(" ok ") && l.contains(&new_pid.to_string())).then_some(()).ok_or(s)
    })
    .await;
    // The restarted kubelet serves exec into its pods again: the client still has its IP.
    let addr = eventually("exec into the client through the restarted kubelet", Duration::from_secs(60), || exec(&c, "client", "ip -4 -o addr show eth0")).await;
    assert!(addr.contains(&format!("{cli_ip}/")), "client's eth0 after the restart: {addr}");
    // A new pod on node2 gets an address no running pod has: the allocation record survived.
    create(&c, manifests.path(), "late.yaml", &pod_yaml("late", "nodeName", NODES[1], false, "sleep 3600"));
    let late = running_pod(&c, "late").await;
    let late_ip = pod_ip(&late);
    assert!(in_cidr(&late_ip, &cidrs[NODES[1]]), "late {late_ip} in node2's {}", cidrs[NODES[1]]);
    let after = pods(&c, None);
    for (name, p) in &before {
        let a = after.get(name).unwrap_or_else(|| panic!("pod {name} gone after the kubelet restart"));
        assert_eq!(a["metadata"]["uid"], p["metadata"]["uid"], "pod {name} replaced");
        assert_eq!(a["status"]["podIP"], p["status"]["podIP"], "pod {name} on {} changed its IP", node_of(p));
        assert!(is_running(a), "pod {name} not Running after the restart: {}", a["status"]);
        assert_eq!(a["status"]["containerStatuses"][0]["restartCount"], p["status"]["containerStatuses"][0]["restartCount"], "pod {name}'s container restarted");
        assert_ne!(p["status"]["podIP"].as_str(), Some(late_ip.as_str()), "late got {name}'s IP {late_ip}");
    }
    // Traffic to and from node2's pods still flows.
    let got = eventually("client talks TCP to the server after its kubelet's restart", Duration::from_secs(30), || {
        exec(&c, "client", &format!("echo again | timeout 5 nc -w 3 {srv_ip} 8080"))
    })
    .await;
    assert!(got.contains("hello-from-server"), "{got}");
    eventually("server pings the late pod on node2", Duration::from_secs(30), || exec(&c, "server", &format!("ping -c 1 -W 2 {late_ip}"))).await;

    // 4. down: nothing of the cluster left on the machine.
    let st_final = state(&workdir);
    let out = c.ferrokube(&["down"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut child = child;
    let _ = child.try_wait(); // reap the restarted kubelet (our child) once `down` stopped it
    for pid in pids(&st_final).into_iter().chain([pid]) {
        assert!(!alive(pid), "pid {pid} still running");
    }
    let left = processes_naming(&workdir);
    assert!(left.is_empty(), "processes left: {left:?}");
    assert_eq!(namespaces(&format!("{prefix}-")), Vec::<String>::new(), "namespaces left");
    assert_eq!(mounts_under(&workdir), Vec::<String>::new(), "mounts left");
    assert_eq!(cgroups_of(prefix.trim_start_matches("fk-")), Vec::<String>::new(), "cgroups left");
    let links = run("ip", &["-o", "link"]);
    assert!(!links.contains("fk-cluster") && !links.contains(&prefix), "links left in the root namespace:\n{links}");
    let addrs = run("ip", &["-o", "addr"]);
    assert!(!addrs.contains("172.31.0.") && !addrs.contains("10.244."), "cluster addresses in the root namespace:\n{addrs}");
    assert!(!workdir.exists(), "{} still exists", workdir.display());
}
