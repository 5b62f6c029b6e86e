//! `ferrokube up --nodes N`, `status`, `logs` and `down` with the real
//! binaries: nodes in network namespaces of their own, wired by a bridge in
//! another, the root namespace untouched, and nothing left after `down`.
//! Needs root and the workspace's binaries built.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use client::{Api, ListParams, PostParams};
use e2e::{Cluster, text};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};


fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").unwrap_or_default().lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// `ferrokube up` with `args` in a fresh workdir.
fn up(args: &[&str]) -> Cluster {
    let workdir = tempfile::Builder::new().prefix("ferrokube-e2e-").tempdir().unwrap();
    let mut a = vec!["up"];
    a.extend(args);
    let out = e2e::ferrokube(workdir.path(), &a).unwrap();
    assert!(out.status.success(), "ferrokube up {args:?} failed:\n{}", text(&out));
    let kc: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(workdir.path().join("kubeconfig")).unwrap()).unwrap();
    let server = kc["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string();
    Cluster { workdir, server }
}

fn state(workdir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(workdir.join("state.json")).unwrap()).unwrap()
}

fn pids(st: &serde_json::Value) -> Vec<u32> {
    st["components"].as_array().unwrap().iter().map(|c| c["pid"].as_u64().unwrap() as u32).collect()
}

fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.rsplit(')').next().unwrap_or_default().trim_start().starts_with('Z')
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Network namespaces whose names start with `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    run("ip", &["netns", "list"]).lines().filter_map(|l| l.split_whitespace().next()).filter(|n| n.starts_with(prefix)).map(str::to_string).collect()
}

/// What the root namespace must never get from a cluster: an address or a
/// route in the cluster network, or the cluster bridge.
fn assert_root_netns_untouched() {
    let addrs = run("ip", &["-o", "addr"]);
    assert!(!addrs.contains("172.31.0."), "root netns has a cluster address:\n{addrs}");
    let routes = run("ip", &["route", "show", "table", "all"]);
    assert!(!routes.contains("172.31.0.") && !routes.contains("10.244."), "root netns routes into the cluster:\n{routes}");
    let links = run("ip", &["-o", "link"]);
    assert!(!links.contains("fk-cluster"), "root netns has the cluster bridge:\n{links}");
}

/// Processes whose command line names `dir` (kubelets, shims, etcd's data dir).
fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmd = String::from_utf8_lossy(&std::fs::read(e.path().join("cmdline")).ok()?).replace('\0', " ");
            (cmd.contains(&needle) && running(e.file_name().to_string_lossy().parse().ok()?)).then_some(cmd)
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

/// Everything `down` must have removed: processes, namespaces (and with
/// them every veth and bridge), mounts, cgroups and files.
fn assert_nothing_left(workdir: &Path, st: &serde_json::Value) {
    for pid in pids(st) {
        assert!(!running(pid), "pid {pid} still running");
    }
    let left = processes_naming(workdir);
    assert!(left.is_empty(), "processes left: {left:?}");
    let prefix = st["netns_prefix"].as_str().unwrap();
    assert_eq!(namespaces(&format!("{prefix}-")), Vec::<String>::new(), "namespaces left");
    assert_eq!(mounts_under(workdir), Vec::<String>::new(), "mounts left");
    assert_eq!(cgroups_of(prefix.trim_start_matches("fk-")), Vec::<String>::new(), "cgroups left");
    assert!(!workdir.exists(), "{} still exists", workdir.display());
    assert_root_netns_untouched();
}

/// Waits until `pod` is Running; returns it.
async fn running_pod(pods: &Api<Pod>, name: &str) -> Pod {
    let start = Instant::now();
    loop {
        let p = pods.get(name).await.unwrap();
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            return p;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "pod {name} not Running: {:?}", p.status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The lines container `container` of a pod on node `n` wrote (CRI log files
/// under the node's --pod-logs-dir), once `want` shows up in them.
async fn pod_log(workdir: &Path, n: u32, pod: &str, container: &str, want: &str) -> String {
    let dir = workdir.join(format!("nodes/node{n}/pod-logs"));
    let start = Instant::now();
    loop {
        let mut all = String::new();
        for d in std::fs::read_dir(&dir).into_iter().flatten().flatten().filter(|d| d.file_name().to_string_lossy().contains(&format!("_{pod}_"))) {
            for f in std::fs::read_dir(d.path().join(container)).into_iter().flatten().flatten() {
                all += &std::fs::read_to_string(f.path()).unwrap_or_default();
            }
        }
        if all.contains(want) {
            return all;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "pod {pod}'s log never showed {want:?}:\n{all}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn three_nodes_in_namespaces_status_hostnetwork_pod_and_down_leaves_nothing() {
    assert!(is_root(), "needs root: nodes are network namespaces and run containers");
    let cluster = up(&["--nodes", "3"]);
    let workdir = cluster.workdir.path().canonicalize().unwrap();
    let st = state(&workdir);
    let prefix = st["netns_prefix"].as_str().unwrap().to_string();

    // The topology: a cluster namespace and one per node; the root namespace untouched.
    let mut want = vec![format!("{prefix}-net")];
    want.extend((1..=3).map(|n| format!("{prefix}-node{n}")));
    let mut have = namespaces(&format!("{prefix}-"));
    have.sort();
    assert_eq!(have, want);
    assert_root_netns_untouched();
    let node2 = run("ip", &["-n", &format!("{prefix}-node2"), "-4", "-o", "addr", "show", "eth0"]);
    assert!(node2.contains("172.31.0.12/24"), "{node2}");

    // status: every component healthy, each kubelet in its node's namespace, every node Ready.
    let out = cluster.ferrokube(&["status"]).unwrap();
    let status = text(&out);
    assert!(out.status.success(), "{status}");
    for c in ["etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"] {
        assert!(status.lines().any(|l| l.starts_with(&format!("{c} ")) && l.contains(" ok ") && l.contains(&format!("({prefix}-net)"))), "{c} healthy in:\n{status}");
    }
    for n in 1..=3 {
        let ns = format!("({prefix}-node{n})");
        assert!(status.lines().any(|l| l.starts_with("kubelet ") && l.contains(&format!(" node{n} ")) && l.contains(" ok ") && l.ends_with(&ns)), "kubelet of node{n} in:\n{status}");
        assert!(status.lines().any(|l| l.starts_with(&format!("ferrokube-node{n} ")) && l.contains(" Ready ") && l.contains(&format!("172.31.0.1{n}"))), "node{n} Ready in:\n{status}");
    }

    // A second `up` in the same workdir is refused, naming the fix.
    let again = cluster.ferrokube(&["up"]).unwrap();
    assert!(!again.status.success());
    assert!(text(&again).contains("already running") && text(&again).contains("down"), "{}", text(&again));

    // logs: one file per component; a node's component needs --node when there are several.
    let out = cluster.ferrokube(&["logs", "kubelet", "--node", "2"]).unwrap();
    assert!(out.status.success() && !out.stdout.is_empty(), "{}", text(&out));
    let out = cluster.ferrokube(&["logs", "kubelet"]).unwrap();
    assert!(!out.status.success() && text(&out).contains("--node"), "{}", text(&out));
    let out = cluster.ferrokube(&["logs", "kube-apiserver"]).unwrap();
    assert!(out.status.success() && !out.stdout.is_empty(), "{}", text(&out));

    // The API, from the root namespace's loopback: nodes with their addresses.
    let c = cluster.client().await.unwrap();
    let nodes = Api::<Node>::all(c.clone()).list(&ListParams::default()).await.unwrap();
    let mut ips: Vec<String> = nodes
        .items
        .iter()
        .flat_map(|n| n.status.as_ref().and_then(|s| s.addresses.clone()).unwrap_or_default())
        .filter(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .collect();
    ips.sort();
    assert_eq!(ips, ["172.31.0.11", "172.31.0.12", "172.31.0.13"]);
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "e2e"}})).unwrap();
    Api::<Namespace>::all(c.clone()).create(&PostParams::default(), &ns).await.unwrap();
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}, "data": {"a": "b"}})).unwrap();
    Api::<ConfigMap>::namespaced(c.clone(), "e2e").create(&PostParams::default(), &cm).await.unwrap();

    // A hostNetwork pod, scheduled onto node2, sees node2's network namespace.
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "hostnet", "namespace": "e2e"},
        "spec": {
            "hostNetwork": true,
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["ferrokube-node2"]}]}]}}},
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "ip -4 -o addr show; echo done; sleep 3600"]}],
            "terminationGracePeriodSeconds": 1
        }
    }))
    .unwrap();
    let pods = Api::<Pod>::namespaced(c.clone(), "e2e");
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let p = running_pod(&pods, "hostnet").await;
    assert_eq!(p.spec.as_ref().unwrap().node_name.as_deref(), Some("ferrokube-node2"));
    let s = p.status.unwrap();
    assert_eq!(s.host_ip.as_deref(), Some("172.31.0.12"));
    assert_eq!(s.pod_ip.as_deref(), Some("172.31.0.12"), "a hostNetwork pod has its node's IP");
    let log = pod_log(&workdir, 2, "hostnet", "c", "done").await;
    assert!(log.contains("eth0") && log.contains("172.31.0.12/24"), "the pod sees node2's eth0:\n{log}");
    assert!(!log.contains("172.31.0.11/") && !log.contains("172.31.0.1/"), "the pod sees another namespace:\n{log}");

    // down removes everything, the running pod's container too.
    let out = cluster.ferrokube(&["down"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_nothing_left(&workdir, &st);
}

#[tokio::test]
async fn up_recovers_after_a_crash_and_refuses_a_taken_port() {
    assert!(is_root(), "needs root: nodes are network namespaces and run containers");
    // A port taken: one line naming the fix, nothing made.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::Builder::new().prefix("ferrokube-e2e-").tempdir().unwrap();
    let out = e2e::ferrokube(dir.path(), &["up", "--apiserver-port", &port]).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("port {port} is in use")) && err.contains("--apiserver-port"), "{err}");
    assert!(!dir.path().join("state.json").exists());

    // A crash: every process killed, namespaces and files left behind.
    let cluster = up(&[]);
    let workdir = cluster.workdir.path().canonicalize().unwrap();
    let st = state(&workdir);
    for pid in pids(&st) {
        kill9(pid);
    }
    let prefix = st["netns_prefix"].as_str().unwrap().to_string();
    assert!(!namespaces(&format!("{prefix}-")).is_empty());

    // The next `up` cleans up and starts afresh.
    let out = cluster.ferrokube(&["up"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cleaning up"), "{}", text(&out));
    for pid in pids(&st) {
        assert!(!running(pid), "pid {pid} of the crashed cluster runs");
    }
    let st2 = state(&workdir);
    let out = cluster.ferrokube(&["status"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = cluster.ferrokube(&["down"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_nothing_left(&workdir, &st2);
}

fn kill9(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    let start = Instant::now();
    while running(pid) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
}
