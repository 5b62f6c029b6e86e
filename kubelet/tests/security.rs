//! securityContext seen from inside real containers (a real apiserver + etcd and
//! a real kubelet process). Needs root.

mod common;

use client::{Api, PostParams};
use common::node::TestNode;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testing::TestCluster;

const LONG: Duration = Duration::from_secs(90);

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
        if start.elapsed() > LONG {
            panic!("timed out waiting for {what}; last: {}", serde_json::to_string_pretty(&last["status"]).unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The container's log lines (CRI framing removed).
fn log_lines(node: &TestNode, pod: &Value, container: &str) -> Vec<String> {
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let name = pod["metadata"]["name"].as_str().unwrap();
    let text = std::fs::read_to_string(node.logs().join(format!("default_{name}_{uid}/{container}/0.log"))).unwrap();
    text.lines().map(|l| l.splitn(4, ' ').nth(3).unwrap_or("").to_string()).collect()
}

fn cap_eff(lines: &[String]) -> u64 {
    let l = lines.iter().find_map(|l| l.strip_prefix("CapEff:")).expect("CapEff line");
    u64::from_str_radix(l.trim(), 16).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_groups_fsgroup_readonly_root_caps_privileged_sysctls_and_fqdn() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("sec", &name, json!({"restartPolicy": "Never", "hostname": "web-0", "subdomain": "web", "setHostnameAsFQDN": true,
        "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000], "fsGroup": 2000,
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [
            {"name": "user", "image": "busybox", "volumeMounts": [{"name": "data", "mountPath": "/data"}],
             "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
             "command": ["sh", "-c", "id; touch /data/f && stat -c 'group=%g' /data/f; touch /rootfile 2>/dev/null || echo rootfs-read-only; grep -E 'NoNewPrivs|CapEff' /proc/self/status; echo port-start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start); echo host=$(hostname)"]},
            {"name": "caps", "image": "busybox", "securityContext": {"runAsUser": 0, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
             "command": ["sh", "-c", "grep CapEff /proc/self/status"]},
            {"name": "default", "image": "busybox", "securityContext": {"runAsUser": 0}, "command": ["sh", "-c", "grep -E 'NoNewPrivs|CapEff' /proc/self/status"]},
            {"name": "priv", "image": "busybox", "securityContext": {"runAsUser": 0, "privileged": true}, "command": ["sh", "-c", "grep CapEff /proc/self/status"]},
        ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "sec", "Succeeded", |p| p["status"]["phase"] == "Succeeded" || p["status"]["phase"] == "Failed").await;
    assert_eq!(done["status"]["phase"], "Succeeded", "{}", done["status"]);

    let user = log_lines(&node, &done, "user");
    let id = user.iter().find(|l| l.starts_with("uid=")).unwrap();
    assert!(id.starts_with("uid=1000 gid=3000 groups="), "{id}");
    assert!(id.contains("2000") && id.contains("4000"), "fsGroup and supplementalGroups: {id}");
    assert!(user.contains(&"group=2000".to_string()), "emptyDir owned by fsGroup (setgid dir): {user:?}");
    assert!(user.contains(&"rootfs-read-only".to_string()), "{user:?}");
    assert!(user.iter().any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('1')), "{user:?}");
    assert_eq!(cap_eff(&user), 0, "a non-root user has no effective capabilities");
    assert!(user.contains(&"port-start=0".to_string()), "{user:?}");
    assert!(user.contains(&"host=web-0.web.default.svc.cluster.local".to_string()), "{user:?}");

    assert_eq!(cap_eff(&log_lines(&node, &done, "caps")), 1 << 10, "only CAP_NET_BIND_SERVICE");
    let default = log_lines(&node, &done, "default");
    assert_eq!(cap_eff(&default), 0xa80425fb, "containerd's default set");
    assert!(default.iter().any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('0')), "{default:?}");
    let all = cap_eff(&log_lines(&node, &done, "priv"));
    assert!(all & (1 << 21) != 0, "privileged has CAP_SYS_ADMIN: {all:x}");
    assert!(all & (1 << 24) == 0, "but never CAP_SYS_RESOURCE: {all:x}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_as_non_root_refuses_a_root_image_with_upstreams_message() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("nonroot", &name, json!({"securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let p = wait_pod(&pods, "nonroot", "CreateContainerConfigError", |p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError").await;
    let uid = p["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        format!("container has runAsNonRoot and image will run as root (pod: \"nonroot_default({uid})\", container: c)")
    );
    // An unsafe sysctl is refused, naming it.
    let p = pod("sysctl", &name, json!({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]},
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let p = wait_pod(&pods, "sysctl", "refused", |p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError").await;
    assert_eq!(p["status"]["containerStatuses"][0]["state"]["waiting"]["message"], "forbidden sysctl: \"kernel.msgmax\" not allowlisted");
}
