//! kube-proxy against a real apiserver, programming real iptables in a
//! network namespace: rendered rules (iptables-save) and real traffic from
//! a client namespace through the node to busybox httpd backends.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use client::{Api, DeleteParams, Patch, PostParams};
use common::*;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube_proxy::iptables::chains;
use kube_proxy::metrics::Metrics;
use kube_proxy::{Proxier, ProxierConfig};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn service(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec})).unwrap()
}

/// A slice of `svc` with endpoints (ip, ready, node) on port 8080 (unnamed).
fn slice(name: &str, svc: &str, eps: &[(String, bool, &str)]) -> EndpointSlice {
    let endpoints: Vec<_> = eps
        .iter()
        .map(|(ip, ready, node)| json!({"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": false}, "nodeName": node}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": svc, "endpointslice.kubernetes.io/managed-by": "test"}},
        "addressType": "IPv4",
        "ports": [{"port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints,
    }))
    .unwrap()
}

fn start_proxier(node: &Netns, client: client::Client) -> (client::CancellationToken, tokio::task::JoinHandle<()>) {
    let mut cfg = ProxierConfig::new("node-a");
    cfg.exec = kube_proxy::iptables::Exec::in_netns(node.path());
    cfg.render.cluster_cidr = Some("10.244.0.0/16".parse().unwrap());
    cfg.min_sync_period = Duration::from_millis(100);
    let proxier = Proxier::new(cfg, Metrics::new(&daemon::metrics::Registry::new()));
    let stop = client::CancellationToken::new();
    let task = tokio::spawn(kube_proxy::sync::run(proxier, client, stop.clone()));
    (stop, task)
}

async fn wait_rules(node: &Netns, what: &str, pred: impl Fn(&str) -> bool + Send + 'static) -> String {
    let name = node.name.clone();
    let what = what.to_string();
    tokio::task::spawn_blocking(move || wait_for(&what, WAIT, || Some(iptables_save(&name)).filter(|s| pred(s))))
    .await
    .unwrap()
}

async fn get_n(ns: &Netns, addr: SocketAddr, n: usize) -> Vec<std::io::Result<String>> {
    let name = ns.name.clone();
    tokio::task::spawn_blocking(move || gets(&name, addr, n)).await.unwrap()
}

fn bodies(r: &[std::io::Result<String>]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for x in r {
        let b = x.as_ref().unwrap_or_else(|e| panic!("request failed: {e}"));
        *m.entry(b.clone()).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_ip_node_port_affinity_and_reject_with_real_traffic() {
    let cluster = testing::TestCluster::start().await.unwrap();
    let topo = tokio::task::spawn_blocking(|| Topology::new(3)).await.unwrap();
    let (stop, task) = start_proxier(&topo.node, cluster.client.clone());

    let svcs: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    let web = svcs
        .create(&PostParams::default(), &service("web", json!({"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]})))
        .await
        .unwrap();
    let spec = web.spec.unwrap();
    let cip = spec.cluster_ip.unwrap();
    let node_port = spec.ports.unwrap()[0].node_port.unwrap();
    let eps: Vec<_> = (1..=3).map(|i| (backend_ip(i), true, "node-a")).collect();
    slices.create(&PostParams::default(), &slice("web-abc", "web", &eps)).await.unwrap();

    // Upstream's layout and hashed names.
    let svc_chain = chains::cluster_policy_chain("default/web", "tcp");
    let ext_chain = chains::external_chain("default/web", "tcp");
    let seps: Vec<String> = (1..=3).map(|i| chains::endpoint_chain("default/web", "tcp", &format!("{}:8080", backend_ip(i)))).collect();
    let sc = svc_chain.clone();
    let rules = wait_rules(&topo.node, "web's rules", move |s| s.matches(&format!("-A {sc} ")).count() >= 4).await;
    let has = |line: &str| assert!(rules.lines().any(|l| l == line), "missing {line:?} in\n{rules}");
    has(&format!("-A KUBE-SERVICES -d {cip}/32 -p tcp -m comment --comment \"default/web cluster IP\" -m tcp --dport 80 -j {svc_chain}"));
    has(&format!("-A {svc_chain} ! -s 10.244.0.0/16 -d {cip}/32 -p tcp -m comment --comment \"default/web cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ"));
    has(&format!("-A {svc_chain} -m comment --comment \"default/web -> 10.244.1.2:8080\" -m statistic --mode random --probability 0.33333333349 -j {}", seps[0]));
    has(&format!("-A {svc_chain} -m comment --comment \"default/web -> 10.244.2.2:8080\" -m statistic --mode random --probability 0.50000000000 -j {}", seps[1]));
    has(&format!("-A {svc_chain} -m comment --comment \"default/web -> 10.244.3.2:8080\" -j {}", seps[2]));
    has(&format!("-A {} -s 10.244.1.2/32 -m comment --comment \"default/web\" -j KUBE-MARK-MASQ", seps[0]));
    has(&format!("-A {} -p tcp -m comment --comment \"default/web\" -m tcp -j DNAT --to-destination 10.244.1.2:8080", seps[0]));
    has(&format!("-A KUBE-NODEPORTS -p tcp -m comment --comment \"default/web\" -m tcp --dport {node_port} -j {ext_chain}"));
    has(&format!("-A {ext_chain} -m comment --comment \"masquerade traffic for default/web external destinations\" -j KUBE-MARK-MASQ"));
    has(&format!("-A {ext_chain} -j {svc_chain}"));
    has("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS");
    has("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES");
    has("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING");
    has("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"); // --or-mark, as iptables-save shows it

    // The cluster IP spreads over all three backends.
    let cip_addr: SocketAddr = format!("{cip}:80").parse().unwrap();
    let spread = bodies(&get_n(&topo.client, cip_addr, 60).await);
    assert_eq!(spread.keys().cloned().collect::<Vec<_>>(), vec!["b1", "b2", "b3"], "60 requests: {spread:?}");
    // The NodePort answers on the node's address.
    let np_addr: SocketAddr = format!("{NODE_IP}:{node_port}").parse().unwrap();
    let via_np = bodies(&get_n(&topo.client, np_addr, 30).await);
    assert_eq!(via_np.values().sum::<usize>(), 30, "{via_np:?}");
    assert!(via_np.len() >= 2, "NodePort spreads too: {via_np:?}");

    // Session affinity pins the client to one backend.
    svcs.patch("web", &PostParams::default(), &Patch::Merge(json!({"spec": {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}})))
        .await
        .unwrap();
    let sc = svc_chain.clone();
    let rules = wait_rules(&topo.node, "affinity rules", move |s| s.contains(&format!("-A {sc} ")) && s.contains("--rcheck --seconds 60")).await;
    assert!(rules.lines().any(|l| l.starts_with(&format!("-A {} ", seps[0])) && l.contains(&format!("-m recent --set --name {}", seps[0])) && l.contains("-j DNAT")), "{rules}");
    let pinned = bodies(&get_n(&topo.client, cip_addr, 20).await);
    assert_eq!(pinned.len(), 1, "affinity pins one backend: {pinned:?}");

    // Removing two endpoints moves all traffic to the third.
    svcs.patch("web", &PostParams::default(), &Patch::Merge(json!({"spec": {"sessionAffinity": "None"}}))).await.unwrap();
    slices.replace(&{
        let mut s = slices.get("web-abc").await.unwrap();
        s.endpoints = slice("x", "web", &[(backend_ip(2), true, "node-a")]).endpoints;
        s
    }).await.unwrap();
    let (s0, s2) = (seps[0].clone(), seps[2].clone());
    wait_rules(&topo.node, "endpoints 1 and 3 gone", move |s| !s.contains(&s0) && !s.contains(&s2)).await;
    let one = bodies(&get_n(&topo.client, cip_addr, 10).await);
    assert_eq!(one, BTreeMap::from([("b2".to_string(), 10)]));

    // A service without endpoints refuses at once (REJECT), rather than hanging.
    let empty = svcs.create(&PostParams::default(), &service("empty", json!({"selector": {"app": "none"}, "ports": [{"port": 81}]}))).await.unwrap();
    let ecip = empty.spec.unwrap().cluster_ip.unwrap();
    let rules = wait_rules(&topo.node, "REJECT rule", |s| s.contains("default/empty has no endpoints")).await;
    assert!(rules.contains(&format!("-A KUBE-SERVICES -d {ecip}/32 -p tcp -m comment --comment \"default/empty has no endpoints\" -m tcp --dport 81 -j REJECT")), "{rules}");
    let r = get_n(&topo.client, format!("{ecip}:81").parse().unwrap(), 1).await;
    let e = r[0].as_ref().expect_err("no endpoints: refused");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");

    // Deleting the Service deletes its chains.
    svcs.delete("web", &DeleteParams::default()).await.unwrap();
    let sc = svc_chain.clone();
    let rules = wait_rules(&topo.node, "web's chains deleted", move |s| !s.contains(&sc)).await;
    assert!(!rules.contains(&seps[1]) && !rules.contains(&ext_chain), "{rules}");

    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traffic_policies_external_ips_load_balancer_and_health_via_the_binary() {
    let cluster = testing::TestCluster::start().await.unwrap();
    let topo = tokio::task::spawn_blocking(|| Topology::new(3)).await.unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // Killed on drop, so a failing assertion does not leave it running.
    struct Proxy(std::process::Child);
    impl Drop for Proxy {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut proxy = Proxy(std::process::Command::new(env!("CARGO_BIN_EXE_kube-proxy"))
        .args(["--master", &cluster.addr.to_string(), "--hostname-override", "node-a", "--cluster-cidr", "10.244.0.0/16"])
        .args(["--netns", &topo.node.path(), "--iptables-min-sync-period", "100ms", "--load-balancer-ip-range", "192.168.77.0/29"])
        .args(["--healthz-bind-address", &format!("127.0.0.1:{port}"), "--metrics-bind-address", &format!("127.0.0.1:{port}")])
        .spawn()
        .unwrap());

    let svcs: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    // b1 on this node, b2 and b3 elsewhere.
    let eps = vec![(backend_ip(1), true, "node-a"), (backend_ip(2), true, "node-b"), (backend_ip(3), true, "node-c")];
    let lb = svcs
        .create(&PostParams::default(), &service("lb", json!({
            "type": "LoadBalancer", "externalTrafficPolicy": "Local", "selector": {"app": "lb"},
            "externalIPs": ["192.168.50.5"], "ports": [{"port": 80, "targetPort": 8080}]})))
        .await
        .unwrap();
    let lb_cip = lb.spec.unwrap().cluster_ip.unwrap();
    slices.create(&PostParams::default(), &slice("lb-1", "lb", &eps)).await.unwrap();
    svcs.create(&PostParams::default(), &service("itp", json!({"internalTrafficPolicy": "Local", "selector": {"app": "itp"}, "ports": [{"port": 80, "targetPort": 8080}]})))
        .await
        .unwrap();
    slices.create(&PostParams::default(), &slice("itp-1", "itp", &eps)).await.unwrap();

    // The built-in load balancer writes an address from the range.
    let lb_ip = {
        let svcs = svcs.clone();
        let mut ip = None;
        for _ in 0..200 {
            let s = svcs.get("lb").await.unwrap();
            ip = s.status.and_then(|s| s.load_balancer).and_then(|l| l.ingress).and_then(|i| i.first().and_then(|i| i.ip.clone()));
            if ip.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ip.expect("status.loadBalancer.ingress written")
    };
    assert_eq!(lb_ip, "192.168.77.1");

    let svl = chains::local_policy_chain("default/lb", "tcp");
    let ext = chains::external_chain("default/lb", "tcp");
    let itp_svl = chains::local_policy_chain("default/itp", "tcp");
    let (svl2, lbip2) = (svl.clone(), lb_ip.clone());
    let rules = wait_rules(&topo.node, "policy and LB rules", move |s| s.contains(&format!("-A {svl2} ")) && s.contains(&lbip2)).await;
    let has = |line: &str| assert!(rules.lines().any(|l| l == line), "missing {line:?} in\n{rules}");
    // externalTrafficPolicy Local: external traffic only to the local endpoint (b1).
    has(&format!("-A {ext} -s 10.244.0.0/16 -m comment --comment \"pod traffic for default/lb external destinations\" -j {}", chains::cluster_policy_chain("default/lb", "tcp")));
    has(&format!("-A {ext} -j {svl}"));
    has(&format!("-A {svl} -m comment --comment \"default/lb -> 10.244.1.2:8080\" -j {}", chains::endpoint_chain("default/lb", "tcp", "10.244.1.2:8080")));
    has(&format!("-A KUBE-SERVICES -d {lb_ip}/32 -p tcp -m comment --comment \"default/lb loadbalancer IP\" -m tcp --dport 80 -j {ext}"));
    has(&format!("-A KUBE-SERVICES -d 192.168.50.5/32 -p tcp -m comment --comment \"default/lb external IP\" -m tcp --dport 80 -j {ext}"));
    // internalTrafficPolicy Local: the cluster IP goes to the SVL chain with the local endpoint only.
    assert!(rules.lines().any(|l| l.starts_with("-A KUBE-SERVICES") && l.contains("default/itp cluster IP") && l.ends_with(&format!("-j {itp_svl}"))), "{rules}");
    assert_eq!(rules.lines().filter(|l| l.starts_with(&format!("-A {itp_svl} ")) && l.contains(" -> ")).count(), 1, "{rules}");

    // Real traffic: the client is outside the cluster CIDR, so LB IP and external IP reach only b1.
    for addr in [format!("{lb_ip}:80"), "192.168.50.5:80".to_string()] {
        let got = bodies(&get_n(&topo.client, addr.parse().unwrap(), 10).await);
        assert_eq!(got, BTreeMap::from([("b1".to_string(), 10)]), "{addr}");
    }
    // The cluster IP of the Cluster-internal-policy service still spreads.
    let got = bodies(&get_n(&topo.client, format!("{lb_cip}:80").parse().unwrap(), 40).await);
    assert!(got.len() >= 2, "{got:?}");

    // /healthz and /metrics of the binary.
    let (code, body) = http(port, "/healthz").await;
    assert_eq!((code, body.as_str()), (200, "ok"));
    let (_, metrics) = http(port, "/metrics").await;
    for m in ["kubeproxy_sync_proxy_rules_duration_seconds_bucket", "kubeproxy_sync_proxy_rules_last_timestamp_seconds ", "kubeproxy_sync_proxy_rules_iptables_total{table=\"nat\"}"] {
        assert!(metrics.contains(m), "{m} in\n{metrics}");
    }

    // Type changed away from LoadBalancer: the address is released.
    svcs.patch("lb", &PostParams::default(), &Patch::Merge(json!({"spec": {"type": "ClusterIP", "externalTrafficPolicy": null}}))).await.unwrap();
    let mut released = false;
    for _ in 0..200 {
        let s = svcs.get("lb").await.unwrap();
        if s.status.and_then(|s| s.load_balancer).and_then(|l| l.ingress).is_none_or(|i| i.is_empty()) {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(released, "status.loadBalancer.ingress cleared");

    // SIGTERM: a graceful exit.
    unsafe { libc::kill(proxy.0.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || proxy.0.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}");
}

async fn http(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    (out[9..12].parse().unwrap(), out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}
