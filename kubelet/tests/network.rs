//! The pod network with real containers: two kubelets, each in a network
//! namespace of its own (a "node") wired to a cluster bridge in a third
//! namespace, against a real apiserver. Nothing is changed in the machine's
//! root namespace. Needs root.

mod common;

use client::{Api, DeleteParams, Patch, PostParams};
use common::node::TestNode;
use common::*;
use k8s_openapi::api::core::v1::{Node, Pod};
use kubelet::network::bridge::veth_name;
use kubelet::network::netlink::{in_netns, Netlink};
use serde_json::{json, Value};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testing::TestCluster;

const LONG: Duration = Duration::from_secs(90);

/// A named network namespace (/run/netns/<name>), removed on drop.
struct Netns {
    path: PathBuf,
}

impl Netns {
    fn new(prefix: &str) -> Netns {
        let path = PathBuf::from("/run/netns").join(format!("{prefix}-{:06x}", rand::random::<u32>() & 0xffffff));
        std::fs::create_dir_all("/run/netns").unwrap();
        std::fs::File::create(&path).unwrap();
        let p = path.clone();
        // A thread of its own unshares, so the test's threads stay where they are.
        std::thread::spawn(move || unsafe {
            assert_eq!(libc::unshare(libc::CLONE_NEWNET), 0, "unshare: {}", std::io::Error::last_os_error());
            let src = std::ffi::CString::new("/proc/thread-self/ns/net").unwrap();
            let dst = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            assert_eq!(libc::mount(src.as_ptr(), dst.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()), 0, "bind mount: {}", std::io::Error::last_os_error());
        })
        .join()
        .unwrap();
        Netns { path }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let c = std::ffi::CString::new(self.path.to_str().unwrap()).unwrap();
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Run a command in `ns` (busybox applets for the test's own probes).
fn run_in(ns: &Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let f = std::fs::File::open(ns).unwrap();
    let fd = f.as_raw_fd();
    let mut cmd = std::process::Command::new(args[0]);
    cmd.args(&args[1..]);
    unsafe {
        cmd.pre_exec(move || if libc::setns(fd, libc::CLONE_NEWNET) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) });
    }
    let out = cmd.output().unwrap();
    drop(f);
    out
}

/// An HTTP/1.0 GET from a thread in `ns` (the host's static busybox wget
/// crashes outside a container); the response, or the error.
fn http_get_in(ns: &Path, addr: &str) -> String {
    use std::io::{Read, Write};
    let (ns, addr) = (ns.to_path_buf(), addr.to_string());
    std::thread::spawn(move || {
        let f = std::fs::File::open(&ns).unwrap();
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let go = || -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        };
        go().unwrap_or_else(|e| e.to_string())
    })
    .join()
    .unwrap()
}

/// Plug `node` into the cluster bridge (br0 in `br`) with `ip`/24 on its eth0.
async fn wire(br: &Netns, node: &Netns, n: u8, ip: &'static str) {
    let node_path = node.path.clone();
    in_netns(br.path.clone(), move |nl: Netlink| async move {
        if nl.link_index("br0").await?.is_none() {
            nl.add_bridge("br0").await?;
        }
        let br0 = nl.link_index("br0").await?.unwrap();
        nl.set_up(br0).await?;
        let (host, peer) = (format!("n{n}"), format!("tmpn{n}"));
        nl.add_veth(&host, &peer).await?;
        let h = nl.link_index(&host).await?.unwrap();
        nl.set_controller(h, br0).await?;
        nl.set_up(h).await?;
        nl.move_to(nl.link_index(&peer).await?.unwrap(), &node_path).await
    })
    .await
    .unwrap();
    in_netns(node.path.clone(), move |nl: Netlink| async move {
        let i = nl.link_index(&format!("tmpn{n}")).await?.unwrap();
        nl.rename(i, "eth0").await?;
        nl.ensure_address(i, ip.parse().unwrap(), 24).await?;
        nl.set_up(i).await?;
        let lo = nl.link_index("lo").await?.unwrap();
        nl.set_up(lo).await
    })
    .await
    .unwrap();
}

/// A TCP forwarder listening on 127.0.0.1 inside `ns` to `target` in the
/// root namespace (the test apiserver): the node's kubelet reaches it there.
fn forward_into(ns: &Path, target: std::net::SocketAddr) -> String {
    let ns = ns.to_path_buf();
    let listener = std::thread::spawn(move || {
        let f = std::fs::File::open(&ns).unwrap();
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        std::net::TcpListener::bind("127.0.0.1:0").unwrap()
    })
    .join()
    .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    addr
}

fn pod(name: &str, node: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})).unwrap()
}

async fn wait_pod(api: &Api<Pod>, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = Value::Null;
    loop {
        if let Ok(Some(p)) = api.get_opt(name).await {
            last = serde_json::to_value(&p).unwrap();
            if f(&last) {
                return last;
            }
        }
        assert!(start.elapsed() < LONG, "timed out waiting for {what}; last: {}", serde_json::to_string_pretty(&last["status"]).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn running_with_ip(p: &Value) -> bool {
    p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string() && p["status"]["containerStatuses"][0]["state"]["running"].is_object()
}

fn ip_of(p: &Value) -> String {
    p["status"]["podIP"].as_str().unwrap().to_string()
}

fn uid_of(p: &Value) -> String {
    p["metadata"]["uid"].as_str().unwrap().to_string()
}

async fn link_exists(ns: &Path, name: String) -> bool {
    in_netns(ns.to_path_buf(), move |nl: Netlink| async move { Ok(nl.link_index(&name).await?.is_some()) }).await.unwrap()
}

async fn set_pod_cidr(nodes: &Api<Node>, name: &str, cidr: &str) {
    nodes.patch(name, &PostParams::default(), &Patch::Merge(json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_on_two_nodes_get_addresses_reach_each_other_and_leave_nothing_behind() {
    let tc = TestCluster::start().await.unwrap();
    // Declared before the nodes: dropped after their kubelets and pods.
    let br = Netns::new("fk-br");
    let ns1 = Netns::new("fk-n1");
    let ns2 = Netns::new("fk-n2");
    wire(&br, &ns1, 1, "198.18.0.11").await;
    wire(&br, &ns2, 2, "198.18.0.12").await;
    // The bridge namespace plays an outside client for hostPort checks.
    in_netns(br.path.clone(), |nl: Netlink| async move {
        let b = nl.link_index("br0").await?.unwrap();
        nl.ensure_address(b, "198.18.0.1".parse().unwrap(), 24).await
    })
    .await
    .unwrap();

    let (n1, n2) = (format!("net1-{:04x}", rand::random::<u16>()), format!("net2-{:04x}", rand::random::<u16>()));
    let flags = |ip: &'static str| -> Vec<&'static str> {
        vec!["--node-ip", ip, "--cluster-dns", "198.18.0.53", "--cluster-domain", "cluster.local", "--non-masquerade-cidr", "10.244.0.0/16"]
    };
    let mut k1 = TestNode::start_in(&forward_into(&ns1.path, tc.addr), &n1, &flags("198.18.0.11"), Some(ns1.path.clone()));
    let _k2 = TestNode::start_in(&forward_into(&ns2.path, tc.addr), &n2, &flags("198.18.0.12"), Some(ns2.path.clone()));
    let nodes: Api<Node> = Api::all(tc.client.clone());
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    for n in [&n1, &n2] {
        let start = Instant::now();
        while nodes.get_opt(n).await.unwrap().is_none() {
            assert!(start.elapsed() < LONG, "node {n} not registered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // No podCIDR yet: a pod waits, and says why.
    let sleeper = json!({"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}], "terminationGracePeriodSeconds": 0});
    pods.create(&PostParams::default(), &pod("early", &n1, sleeper.clone())).await.unwrap();
    let ev = wait_event(&tc.client, "default", "early", "NetworkNotReady", |_| true).await;
    assert!(ev.message.unwrap().contains("NetworkPluginNotReady"));
    assert!(pods.get("early").await.unwrap().status.and_then(|s| s.pod_ip).is_none());

    // The node IPAM's part, played here: each node gets a block.
    set_pod_cidr(&nodes, &n1, "10.244.1.0/24").await;
    set_pod_cidr(&nodes, &n2, "10.244.2.0/24").await;
    let early = wait_pod(&pods, "early", "early running with an IP", running_with_ip).await;
    let server_spec = json!({"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c",
        "mkdir -p /tmp/w && echo hello-from-$(hostname) > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"],
        "ports": [{"containerPort": 8080, "hostPort": 18080}]}], "terminationGracePeriodSeconds": 0});
    pods.create(&PostParams::default(), &pod("server", &n1, server_spec)).await.unwrap();
    let server = wait_pod(&pods, "server", "server running", running_with_ip).await;
    let (early_ip, server_ip) = (ip_of(&early), ip_of(&server));
    assert_ne!(early_ip, server_ip);
    for ip in [&early_ip, &server_ip] {
        assert!(ip.starts_with("10.244.1.") && ip != "10.244.1.1" && ip != "10.244.1.0", "{ip} from node 1's podCIDR, not the gateway");
    }
    assert_eq!(server["status"]["hostIP"], "198.18.0.11");
    assert_eq!(server["status"]["podIPs"][0]["ip"], server_ip.as_str());

    // From node 2: a pod reaches the server pod on node 1 by IP (ICMP and TCP,
    // over the host-gw route), its own node and the other node.
    let script = format!(
        "set -e; ping -c 1 -W 3 {server_ip}; for i in $(seq 1 50); do wget -q -O- http://{server_ip}:8080/ && break; sleep 0.2; done | grep hello-from-server; \
         ping -c 1 -W 3 198.18.0.12; ping -c 1 -W 3 198.18.0.11; cat /etc/resolv.conf"
    );
    let client_spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]});
    pods.create(&PostParams::default(), &pod("client", &n2, client_spec)).await.unwrap();
    let client = wait_pod(&pods, "client", "client finished", |p| matches!(p["status"]["phase"].as_str(), Some("Succeeded") | Some("Failed"))).await;
    assert_eq!(client["status"]["phase"], "Succeeded", "{}", serde_json::to_string_pretty(&client["status"]).unwrap());
    assert!(ip_of(&client).starts_with("10.244.2."), "client from node 2's podCIDR");
    let resolv = std::fs::read_to_string(_k2.root().join("pods").join(uid_of(&client)).join("etc/resolv.conf")).unwrap_or_default();
    // ClusterFirst: the cluster's search paths first (the machine's may follow).
    assert!(resolv.starts_with("search default.svc.cluster.local svc.cluster.local cluster.local"), "{resolv}");
    assert!(resolv.ends_with("\nnameserver 198.18.0.53\noptions ndots:5\n"), "{resolv}");
    // ... and it is what the container saw.
    let log = std::fs::read_to_string(_k2.logs().join(format!("default_client_{}", uid_of(&client))).join("c/0.log")).unwrap();
    assert!(log.contains("nameserver 198.18.0.53"), "{log}");

    // hostPort: the node's address, from outside the node, reaches the server.
    let mut got = String::new();
    for _ in 0..50 {
        got = http_get_in(&br.path, "198.18.0.11:18080");
        if got.contains("hello-from-server") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let nat = run_in(&ns1.path, &["iptables-save", "-t", "nat"]);
    assert!(got.contains("hello-from-server"), "hostPort 18080 on 198.18.0.11: {got:?}\n{}", String::from_utf8_lossy(&nat.stdout));

    // dnsPolicy None with dnsConfig, and Default (the node's resolv.conf).
    let none_spec = json!({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["198.18.0.54"], "searches": ["example.test"], "options": [{"name": "ndots", "value": "2"}]},
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}], "terminationGracePeriodSeconds": 0});
    pods.create(&PostParams::default(), &pod("dnsnone", &n1, none_spec)).await.unwrap();
    let dnsnone = wait_pod(&pods, "dnsnone", "dnsnone running", running_with_ip).await;
    let none_file = k1.root().join("pods").join(uid_of(&dnsnone)).join("etc/resolv.conf");
    assert_eq!(std::fs::read_to_string(&none_file).unwrap(), "search example.test\nnameserver 198.18.0.54\noptions ndots:2\n");

    // A kubelet restart keeps every pod's address; one deleted while it was
    // down is released (its veth and record go) when it comes back.
    let ipam1 = k1.root().join("network/ipam");
    k1.kill();
    pods.delete("early", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    while pods.get_opt("early").await.unwrap().is_some() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    k1.spawn();
    wait_for(LONG, "early's address released after the restart", || (!ipam1.join(&early_ip).exists()).then_some(()));
    assert!(!link_exists(&ns1.path, veth_name(&uid_of(&early))).await, "early's veth removed");
    let again = wait_pod(&pods, "server", "server still running", running_with_ip).await;
    assert_eq!(ip_of(&again), server_ip, "the restart kept the server's address");
    assert!(ipam1.join(&server_ip).exists());
    // A new pod after the restart gets a fresh address, not one in use.
    pods.create(&PostParams::default(), &pod("late", &n1, sleeper.clone())).await.unwrap();
    let late = wait_pod(&pods, "late", "late running", running_with_ip).await;
    assert!(![&server_ip, &ip_of(&dnsnone)].contains(&&ip_of(&late)), "late got {} which is in use", ip_of(&late));

    // Deleting pods leaves no veth, address record or hostPort rule behind.
    let gone: Vec<Value> = vec![again, dnsnone, late];
    for p in &gone {
        pods.delete(p["metadata"]["name"].as_str().unwrap(), &DeleteParams::default()).await.unwrap();
    }
    for p in &gone {
        let name = p["metadata"]["name"].as_str().unwrap();
        let start = Instant::now();
        while pods.get_opt(name).await.unwrap().is_some() {
            assert!(start.elapsed() < LONG, "{name} not removed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A pod with grace 0 leaves the API before the kubelet has torn it down.
        let start = Instant::now();
        while link_exists(&ns1.path, veth_name(&uid_of(p))).await || ipam1.join(ip_of(p)).exists() {
            assert!(start.elapsed() < LONG, "{name}'s veth or address record left behind");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let nat = run_in(&ns1.path, &["iptables-save", "-t", "nat"]);
    let nat = String::from_utf8_lossy(&nat.stdout);
    assert!(!nat.contains("hostport 18080"), "{nat}");
    assert!(nat.contains("-A KUBELET-POD-MASQ -s 10.244.1.0/24 -j MASQUERADE"), "{nat}");
    let left: Vec<_> = std::fs::read_dir(&ipam1).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "address records left: {left:?}");
    // The root namespace was never touched: no cni0 there.
    assert!(!std::path::Path::new("/sys/class/net/cni0").exists());
}
