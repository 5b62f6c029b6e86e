//! Services on a 3-node cluster started by `ferrokube up --nodes 3`, driven
//! through ferrokube's `kubectl` as a user types it, with requests made from
//! a busybox pod (`kubectl exec`) through the real kube-proxy rules and kube-dns.
//! Needs root (nodes are network namespaces running containers) and the
//! workspace's binaries built (`ferrokube`, the daemons, `kubectl`).
//!
//! busybox's `wget` crashes in these containers, so requests are
//! `printf 'GET / HTTP/1.0\r\n\r\n' | nc`; luksa/kubia answers
//! `You've hit <pod name>`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use e2e::{Cluster, text, is_root, kubectl, kubectl_json};
use serde_json::Value;

const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long kube-proxy and kube-dns get to pick up a change.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
const NODES: [&str; 3] = ["172.31.0.11", "172.31.0.12", "172.31.0.13"];



/// `ferrokube up --nodes 3` in a fresh workdir; `down` on drop.
fn up_three_nodes() -> Cluster {
    let workdir = tempfile::Builder::new().prefix("ferrokube-e2e-services-").tempdir().unwrap();
    let out = e2e::ferrokube(workdir.path(), &["up", "--nodes", "3"]).unwrap();
    assert!(out.status.success(), "ferrokube up --nodes 3 failed:\n{}", text(&out));
    let kc: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(workdir.path().join("kubeconfig")).unwrap()).unwrap();
    let server = kc["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string();
    Cluster { workdir, server }
}



/// `kubectl create -f` of a manifest written to the workdir.
fn create(c: &Cluster, name: &str, yaml: &str) {
    let path = c.workdir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    kubectl(c, &["create", "-f", path.to_str().unwrap()]);
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

/// `sh -c script` in the client pod; stdout and stderr together, and whether it exited 0.
fn exec(c: &Cluster, pod: &str, script: &str) -> (bool, String) {
    let out = c.kubectl(&["exec", pod, "--", "sh", "-c", script]).expect("running kubectl exec");
    (out.status.success(), text(&out))
}

/// `n` HTTP requests to `host:port` from `pod`, one connection each; the
/// kubia pod that answered each (an empty string for one that got no answer).
fn requests(c: &Cluster, pod: &str, host: &str, port: u16, n: usize) -> Vec<String> {
    let script = format!(
        r#"i=0; while [ $i -lt {n} ]; do i=$((i+1)); r=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 {host} {port} 2>/dev/null | tail -n 1); echo "answer:$r"; done"#
    );
    let (_, out) = exec(c, pod, &script);
    out.lines().filter_map(|l| l.strip_prefix("answer:")).map(|r| r.trim().strip_prefix("You've hit ").unwrap_or("").to_string()).collect()
}

/// Requests until every one of a batch of `n` is answered; returns who answered, with counts.
async fn all_answered(c: &Cluster, pod: &str, host: &str, port: u16, n: usize) -> BTreeMap<String, usize> {
    eventually(&format!("{n} requests to {host}:{port} all answered"), SYNC_TIMEOUT, || {
        let answers = requests(c, pod, host, port, n);
        let mut by = BTreeMap::new();
        for a in &answers {
            *by.entry(a.clone()).or_insert(0) += 1;
        }
        (answers.len() == n && !by.contains_key("")).then_some(by.clone()).ok_or_else(|| format!("{} of {n} made, answered by {by:?}", answers.len()))
    })
    .await
}

/// Running, ready pods of `selector`: name -> (pod IP, node).
fn ready_pods(c: &Cluster, selector: &str) -> BTreeMap<String, (String, String)> {
    let list = kubectl_json(c, &["get", "pods", "-l", selector]);
    let mut pods = BTreeMap::new();
    for p in list["items"].as_array().cloned().unwrap_or_default() {
        let ready = p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        if p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running" && ready {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            pods.insert(s(&p["metadata"]["name"]), (s(&p["status"]["podIP"]), s(&p["spec"]["nodeName"])));
        }
    }
    pods
}

/// Waits for exactly `n` ready kubia pods (and no terminating ones); returns them.
async fn kubia_pods(c: &Cluster, n: usize) -> BTreeMap<String, (String, String)> {
    eventually(&format!("{n} kubia pods ready, none other"), READY_TIMEOUT, || {
        let ready = ready_pods(c, "app=kubia");
        let all = kubectl_json(c, &["get", "pods", "-l", "app=kubia"])["items"].as_array().map(Vec::len).unwrap_or(0);
        (ready.len() == n && all == n).then_some(ready.clone()).ok_or_else(|| format!("ready {ready:?}, {all} pods in all"))
    })
    .await
}

fn service(c: &Cluster, name: &str) -> Value {
    kubectl_json(c, &["get", "svc", name])
}

fn node_port(svc: &Value) -> u16 {
    svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap_or_else(|| panic!("a nodePort on {}", svc["spec"])) as u16
}

/// The addresses busybox `nslookup name` printed for `name` (not the server's own).
fn nslookup(c: &Cluster, pod: &str, name: &str) -> Result<(BTreeSet<String>, String), String> {
    let (ok, out) = exec(c, pod, &format!("nslookup {name}"));
    if !ok {
        return Err(out);
    }
    let mut addrs = BTreeSet::new();
    let mut after_name = false;
    for l in out.lines() {
        if l.starts_with("Name:") {
            after_name = true;
        } else if let Some(a) = l.strip_prefix("Address:").filter(|_| after_name) {
            addrs.insert(a.trim().to_string());
        }
    }
    Ok((addrs, out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_by_cluster_ip_name_node_port_and_dns_across_three_nodes() {
    assert!(is_root(), "this test needs root: `ferrokube up` runs nodes in network namespaces with real containers");
    let c = up_three_nodes();

    // 1. Three kubia replicas, one per node, behind a ClusterIP Service.
    assert_eq!(kubectl(&c, &["create", "deployment", "kubia", "--image=luksa/kubia", "--replicas=3"]).trim(), "deployment.apps/kubia created");
    assert_eq!(kubectl(&c, &["expose", "deployment", "kubia", "--port=80", "--target-port=8080"]).trim(), "service/kubia exposed");
    let pods = kubia_pods(&c, 3).await;
    let nodes: BTreeSet<&String> = pods.values().map(|(_, n)| n).collect();
    assert_eq!(nodes.len(), 3, "the replicas spread over the 3 nodes: {pods:?}");
    let svc = service(&c, "kubia");
    let cluster_ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(cluster_ip.starts_with("10."), "{}", svc["spec"]);
    let want_ips: BTreeSet<String> = pods.values().map(|(ip, _)| ip.clone()).collect();
    eventually("kubectl get endpoints kubia lists the 3 pod IPs", SYNC_TIMEOUT, || {
        let ep = kubectl_json(&c, &["get", "endpoints", "kubia"]);
        let ips: BTreeSet<String> = ep["subsets"].as_array().into_iter().flatten().flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default()).map(|a| a["ip"].as_str().unwrap_or_default().to_string()).collect();
        let port = &ep["subsets"][0]["ports"][0]["port"];
        (ips == want_ips && *port == 8080).then_some(()).ok_or_else(|| ep.to_string())
    })
    .await;

    // 2. A client pod on node1, started after the Service: it sees the
    // Service's environment variables (and none of a Service made later).
    create(
        &c,
        "client",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: client\n  labels:\n    app: client\nspec:\n  nodeSelector:\n    kubernetes.io/hostname: ferrokube-node1\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: client\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n",
    );
    eventually("pod client running on node1", READY_TIMEOUT, || {
        let p = ready_pods(&c, "app=client");
        p.get("client").filter(|(_, n)| n == "ferrokube-node1").map(|_| ()).ok_or_else(|| format!("{p:?}"))
    })
    .await;
    let other_node_backends = pods.values().filter(|(_, n)| n != "ferrokube-node1").count();
    assert_eq!(other_node_backends, 2, "two backends on nodes other than the client's: {pods:?}");
    let (ok, env) = exec(&c, "client", "env");
    assert!(ok, "{env}");
    let env: BTreeMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(env.get("KUBIA_SERVICE_HOST"), Some(&cluster_ip.as_str()), "{env:?}");
    assert_eq!(env.get("KUBIA_SERVICE_PORT"), Some(&"80"), "{env:?}");
    assert_eq!(env.get("KUBIA_PORT").copied(), Some(format!("tcp://{cluster_ip}:80").as_str()), "{env:?}");
    assert_eq!(env.get("KUBIA_PORT_80_TCP_ADDR"), Some(&cluster_ip.as_str()), "{env:?}");

    // 3. 300 requests reach all 3 backends, by ClusterIP, `kubia`,
    // `kubia.default` and the full name.
    for host in [cluster_ip.as_str(), "kubia", "kubia.default", "kubia.default.svc.cluster.local"] {
        let by = all_answered(&c, "client", host, 80, 75).await;
        let answered: BTreeSet<&String> = by.keys().collect();
        assert_eq!(answered, pods.keys().collect(), "75 requests to {host}:80 reach every kubia pod: {by:?}");
    }
    let (addrs, out) = nslookup(&c, "client", "kubia.default.svc.cluster.local").unwrap();
    assert_eq!(addrs, BTreeSet::from([cluster_ip.clone()]), "{out}");
    assert!(out.contains("10.96.0.10"), "answered by the kube-dns Service: {out}");
    let (ok, out) = exec(&c, "client", "nslookup nothing-here.default.svc.cluster.local");
    assert!(!ok && out.contains("NXDOMAIN"), "an unknown cluster name is NXDOMAIN: {out}");

    // 4. A NodePort Service answers on every node's address.
    kubectl(&c, &["expose", "deployment", "kubia", "--name=kubia-nodeport", "--type=NodePort", "--port=80", "--target-port=8080"]);
    let np = node_port(&service(&c, "kubia-nodeport"));
    assert!((30000..=32767).contains(&np), "nodePort {np} in the default range");
    let mut seen = BTreeSet::new();
    for node in NODES {
        let by = all_answered(&c, "client", node, np, 20).await;
        assert!(by.keys().all(|p| pods.contains_key(p)), "{node}:{np} answered by kubia pods: {by:?}");
        seen.extend(by.into_keys());
    }
    assert_eq!(seen, pods.keys().cloned().collect(), "the NodePorts reach every kubia pod");
    let (ok, env) = exec(&c, "client", "env");
    assert!(ok && !env.contains("KUBIA_NODEPORT_SERVICE_HOST"), "a Service made after the container started is not in its environment:\n{env}");

    // 5. A LoadBalancer Service: its ClusterIP and NodePort answer on every node.
    // (`ferrokube up` gives kube-proxy no --load-balancer-ip-range, so no
    // address is allocated to status.loadBalancer.ingress.)
    kubectl(&c, &["expose", "deployment", "kubia", "--name=kubia-lb", "--type=LoadBalancer", "--port=80", "--target-port=8080"]);
    let lb = service(&c, "kubia-lb");
    let lb_port = node_port(&lb);
    let lb_ip = lb["spec"]["clusterIP"].as_str().unwrap().to_string();
    let by = all_answered(&c, "client", &lb_ip, 80, 20).await;
    assert!(by.keys().all(|p| pods.contains_key(p)), "{by:?}");
    for node in NODES {
        let by = all_answered(&c, "client", node, lb_port, 10).await;
        assert!(by.keys().all(|p| pods.contains_key(p)), "{node}:{lb_port} of the LoadBalancer answered by kubia pods: {by:?}");
    }

    // 6. A Service with no endpoints refuses at once ("Connection refused",
    // not a timeout); a timeout is 10 s, so a hang shows as "timed out".
    kubectl(&c, &["create", "service", "clusterip", "empty", "--tcp=80:8080"]);
    eventually("a connection to a Service without endpoints refused", SYNC_TIMEOUT, || {
        let (ok, out) = exec(&c, "client", "nc -w 10 empty 80 </dev/null");
        (!ok && out.contains("Connection refused")).then_some(()).ok_or(out)
    })
    .await;

    // 7. Scaling to 1 and back changes the set of backends that answer.
    assert_eq!(kubectl(&c, &["scale", "deployment", "kubia", "--replicas=1"]).trim(), "deployment.apps/kubia scaled");
    let one = kubia_pods(&c, 1).await;
    eventually("only the remaining pod answers after scaling to 1", SYNC_TIMEOUT, || {
        let answers = requests(&c, "client", "kubia", 80, 30);
        let by: BTreeSet<&String> = answers.iter().collect();
        (answers.len() == 30 && by == one.keys().collect()).then_some(()).ok_or_else(|| format!("{by:?}, want {one:?}"))
    })
    .await;
    kubectl(&c, &["scale", "deployment", "kubia", "--replicas=3"]);
    let three = kubia_pods(&c, 3).await;
    eventually("all 3 pods answer after scaling back to 3", SYNC_TIMEOUT, || {
        let answers = requests(&c, "client", "kubia", 80, 60);
        let by: BTreeSet<&String> = answers.iter().collect();
        (answers.len() == 60 && by == three.keys().collect()).then_some(()).ok_or_else(|| format!("{by:?}, want {three:?}"))
    })
    .await;

    // 8. sessionAffinity ClientIP pins the client to one pod.
    create(
        &c,
        "sticky",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: kubia-sticky\nspec:\n  sessionAffinity: ClientIP\n  selector:\n    app: kubia\n  ports:\n  - port: 80\n    targetPort: 8080\n",
    );
    let by = all_answered(&c, "client", "kubia-sticky", 80, 40).await;
    assert_eq!(by.len(), 1, "40 requests from one client all go to one pod: {by:?}");
    assert!(three.contains_key(by.keys().next().unwrap()), "{by:?}");

    // 9. A headless Service resolves to the pod IPs.
    create(
        &c,
        "headless",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: kubia-headless\nspec:\n  clusterIP: None\n  selector:\n    app: kubia\n  ports:\n  - port: 80\n    targetPort: 8080\n",
    );
    let pod_ips: BTreeSet<String> = three.values().map(|(ip, _)| ip.clone()).collect();
    eventually("kubia-headless resolves to the 3 pod IPs", SYNC_TIMEOUT, || {
        let (addrs, out) = nslookup(&c, "client", "kubia-headless.default.svc.cluster.local")?;
        (addrs == pod_ips).then_some(()).ok_or(out)
    })
    .await;

    // 10. An ExternalName Service is a CNAME.
    kubectl(&c, &["create", "service", "externalname", "ext", "--external-name=example.com"]);
    eventually("ext resolves as a CNAME to example.com", SYNC_TIMEOUT, || {
        let (_, out) = exec(&c, "client", "nslookup ext.default.svc.cluster.local");
        out.contains("canonical name = example.com").then_some(()).ok_or(out)
    })
    .await;

    // 11. A pod that turns unready stops receiving traffic, and gets it back
    // once ready: `probed` is ready while /var/ready exists, `steady` always.
    create(
        &c,
        "probed",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: probed\nspec:\n  selector:\n    app: probed\n  ports:\n  - port: 80\n    targetPort: 8080\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: steady\n  labels:\n    app: probed\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: kubia\n    image: luksa/kubia\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: probed\n  labels:\n    app: probed\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: kubia\n    image: luksa/kubia\n    readinessProbe:\n      exec:\n        command: [\"ls\", \"/var/ready\"]\n      periodSeconds: 1\n      failureThreshold: 1\n",
    );
    let answering = |want: &[&str]| {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        let c = &c;
        move || {
            let answers = requests(c, "client", "probed", 80, 30);
            let by: BTreeSet<String> = answers.iter().cloned().collect();
            (answers.len() == 30 && by == want).then_some(()).ok_or_else(|| format!("answered by {by:?}"))
        }
    };
    eventually("only the ready pod (steady) answers", READY_TIMEOUT, answering(&["steady"])).await;
    kubectl(&c, &["exec", "probed", "--", "touch", "/var/ready"]);
    eventually("both pods answer once probed is ready", SYNC_TIMEOUT, answering(&["steady", "probed"])).await;
    kubectl(&c, &["exec", "probed", "--", "rm", "/var/ready"]);
    eventually("the pod that turned unready gets no more traffic", SYNC_TIMEOUT, answering(&["steady"])).await;

    // 12. A StatefulSet's pod resolves by its own name under its headless
    // Service, and the named port has an SRV record.
    create(
        &c,
        "sts",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: sts\nspec:\n  clusterIP: None\n  selector:\n    app: sts\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: sts\nspec:\n  serviceName: sts\n  replicas: 2\n  selector:\n    matchLabels:\n      app: sts\n  template:\n    metadata:\n      labels:\n        app: sts\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: kubia\n        image: luksa/kubia\n",
    );
    let sts = eventually("2 StatefulSet pods ready", READY_TIMEOUT, || {
        let p = ready_pods(&c, "app=sts");
        (p.len() == 2).then_some(p.clone()).ok_or_else(|| format!("{p:?}"))
    })
    .await;
    let sts0_ip = sts.get("sts-0").unwrap_or_else(|| panic!("pod sts-0 in {sts:?}")).0.clone();
    eventually("sts-0.sts resolves to pod sts-0's IP", SYNC_TIMEOUT, || {
        let (addrs, out) = nslookup(&c, "client", "sts-0.sts.default.svc.cluster.local")?;
        (addrs == BTreeSet::from([sts0_ip.clone()])).then_some(()).ok_or(out)
    })
    .await;
    let (_, srv) = exec(&c, "client", "nslookup -type=srv _http._tcp.sts.default.svc.cluster.local");
    // Headless: one SRV answer per pod, with the endpoint's port (as CoreDNS).
    for pod in ["sts-0", "sts-1"] {
        assert!(srv.contains(&format!(" 8080 {pod}.sts.default.svc.cluster.local")), "SRV for the named port http names {pod}:\n{srv}");
    }

    let out = c.ferrokube(&["down"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
