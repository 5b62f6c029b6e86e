//! securityContext seen from inside real containers (a real apiserver + etcd and
//! a real kubelet process). Needs root.

mod common;

use client::{Api, PostParams};
use common::node::TestNode;
use common::pods::*;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use testing::TestCluster;

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

/// seccompProfile: RuntimeDefault (pod-level) filters syscalls (`unshare -U`
/// fails with EPERM, /proc/self/status says `Seccomp: 2`), a container's
/// Unconfined overrides the pod's, a Localhost profile is read from
/// `<root-dir>/seccomp/`, and a missing one is upstream's CreateContainerError.
#[tokio::test(flavor = "multi_thread")]
async fn seccomp_runtime_default_unconfined_and_localhost_profiles_are_enforced() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let dir = node.root().join("seccomp/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("no-mkdir.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let probe = "grep Seccomp: /proc/self/status; unshare -U true && echo unshare-ok || echo unshare-denied; mkdir /tmp/d && echo mkdir-ok || echo mkdir-denied";
    let p = pod("seccomp", &name, json!({"restartPolicy": "Never", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {"name": "default", "image": "busybox", "command": ["sh", "-c", probe]},
            {"name": "nnp", "image": "busybox", "securityContext": {"allowPrivilegeEscalation": false}, "command": ["sh", "-c", probe]},
            {"name": "unconfined", "image": "busybox", "securityContext": {"seccompProfile": {"type": "Unconfined"}}, "command": ["sh", "-c", probe]},
            {"name": "local", "image": "busybox", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/no-mkdir.json"}},
             "command": ["sh", "-c", probe]},
        ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "seccomp", "Succeeded", |p| p["status"]["phase"] == "Succeeded" || p["status"]["phase"] == "Failed").await;
    assert_eq!(done["status"]["phase"], "Succeeded", "{}", done["status"]);
    let out = |c: &str| log_lines(&node, &done, c);
    for c in ["default", "nnp"] {
        let l = out(c);
        assert!(l.iter().any(|l| l.starts_with("Seccomp:") && l.ends_with('2')), "{c}: {l:?}");
        assert!(l.contains(&"unshare-denied".to_string()) && l.iter().any(|l| l.contains("Operation not permitted")), "{c}: {l:?}");
        assert!(l.contains(&"mkdir-ok".to_string()), "{c}: {l:?}");
    }
    let l = out("unconfined");
    assert!(l.iter().any(|l| l.starts_with("Seccomp:") && l.ends_with('0')), "{l:?}");
    assert!(l.contains(&"unshare-ok".to_string()), "without a filter a user namespace can be made: {l:?}");
    let l = out("local");
    assert!(l.iter().any(|l| l.starts_with("Seccomp:") && l.ends_with('2')), "{l:?}");
    assert!(l.contains(&"mkdir-denied".to_string()) && l.iter().any(|l| l.contains("Permission denied")), "errnoRet 13: {l:?}");
    assert!(l.contains(&"unshare-ok".to_string()), "the local profile allows the rest: {l:?}");

    // A profile the node does not have: upstream's CreateContainerError, naming the file.
    let p = pod("missing", &name, json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/absent.json"}},
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let p = wait_pod(&pods, "missing", "CreateContainerError", |p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerError").await;
    let msg = p["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap().to_string();
    let path = node.root().join("seccomp/profiles/absent.json");
    assert!(msg.starts_with(&format!("cannot load seccomp profile {:?}: ", path.display().to_string())), "{msg}");
    // Enforced, so no longer reported as an UnsupportedField.
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(tc.client.clone(), "default");
    let evs = events.list(&client::ListParams::default().fields("involvedObject.name=seccomp")).await.unwrap();
    assert!(!evs.items.iter().any(|e| e.reason.as_deref() == Some("UnsupportedField")), "{:?}", evs.items.iter().map(|e| &e.message).collect::<Vec<_>>());
}

/// Kubernetes in Action chapter 13's pods (its images swapped for the project's
/// busybox; what the book runs with `kubectl exec` is the container's command).
#[tokio::test(flavor = "multi_thread")]
async fn book_chapter_13_security_context_pods() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let me = std::process::id();
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap().to_string_lossy().to_string();
    let main = |cmd: &str, sc: serde_json::Value| json!({"name": "main", "image": "busybox", "command": ["sh", "-c", cmd], "securityContext": sc});
    let shared = |n: &str, uid: i64, cmd: &str| json!({"name": n, "image": "busybox", "command": ["sh", "-c", cmd], "securityContext": {"runAsUser": uid},
        "volumeMounts": [{"name": "shared-volume", "mountPath": "/volume", "readOnly": false}]});
    let manifests = [
        ("pod-as-user-guest", json!({"containers": [main("id", json!({"runAsUser": 405}))]})),
        ("pod-privileged", json!({"containers": [main("echo devices=$(ls /dev | wc -l); grep CapEff /proc/self/status", json!({"privileged": true}))]})),
        ("pod-default", json!({"containers": [main("echo devices=$(ls /dev | wc -l)", json!({}))]})),
        ("pod-add-settime-capability", json!({"containers": [main("grep CapEff /proc/self/status", json!({"capabilities": {"add": ["SYS_TIME"]}}))]})),
        ("pod-drop-chown-capability", json!({"containers": [main("chown 405 /tmp && echo chowned || echo chown-denied", json!({"capabilities": {"drop": ["CHOWN"]}}))]})),
        ("pod-with-readonly-filesystem", json!({"volumes": [{"name": "my-volume", "emptyDir": {}}], "containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", "touch /new-file || echo root-read-only; touch /volume/newfile && echo volume-writable"],
            "securityContext": {"readOnlyRootFilesystem": true}, "volumeMounts": [{"name": "my-volume", "mountPath": "/volume", "readOnly": false}]}]})),
        ("pod-with-shared-volume-fsgroup", json!({"securityContext": {"fsGroup": 555, "supplementalGroups": [666, 777]},
            "volumes": [{"name": "shared-volume", "emptyDir": {}}],
            "containers": [
                shared("first", 1111, "id; echo foo > /volume/foo; echo foo > /tmp/foo; stat -c volume=%g /volume/foo; stat -c tmp=%g /tmp/foo"),
                shared("second", 2222, "id")]})),
        ("pod-with-host-pid-and-ipc", json!({"hostPID": true, "hostIPC": true,
            "containers": [main(&format!("test -d /proc/{me} && echo sees-host-pids; echo ipc=$(readlink /proc/self/ns/ipc)"), json!({}))]})),
    ];
    for (n, spec) in &manifests {
        let mut spec = spec.clone();
        spec["restartPolicy"] = json!("Never");
        pods.create(&PostParams::default(), &pod(n, &name, spec)).await.unwrap();
    }
    let mut out = std::collections::HashMap::new();
    for (n, _) in &manifests {
        let done = wait_pod(&pods, n, "finished", finished).await;
        assert_eq!(done["status"]["phase"], "Succeeded", "{n}: {}", done["status"]);
        for c in done["spec"]["containers"].as_array().unwrap() {
            let c = c["name"].as_str().unwrap();
            out.insert(format!("{n}/{c}"), log_lines(&node, &done, c));
        }
    }
    let first = |k: &str| out[k].first().cloned().unwrap_or_default();
    assert!(first("pod-as-user-guest/main").starts_with("uid=405 gid=0"), "{:?}", out["pod-as-user-guest/main"]);
    let devices = |k: &str| out[k].iter().find_map(|l| l.strip_prefix("devices=")).unwrap().parse::<u32>().unwrap();
    assert!(devices("pod-privileged/main") > devices("pod-default/main"), "a privileged container sees the host's devices: {out:?}");
    assert!(cap_eff(&out["pod-privileged/main"]) & (1 << 21) != 0);
    assert_eq!(cap_eff(&out["pod-add-settime-capability/main"]), 0xa80425fb | (1 << 25), "CAP_SYS_TIME added");
    // chown's complaint goes to stderr: its order against stdout's line is not fixed.
    let chown = &out["pod-drop-chown-capability/main"];
    assert!(chown.contains(&"chown-denied".to_string()) && !chown.contains(&"chowned".to_string()), "{chown:?}");
    let ro = &out["pod-with-readonly-filesystem/main"];
    assert!(ro.contains(&"root-read-only".to_string()) && ro.contains(&"volume-writable".to_string()), "{ro:?}");
    assert!(ro.iter().any(|l| l.contains("Read-only file system")), "{ro:?}");
    let f = &out["pod-with-shared-volume-fsgroup/first"];
    assert_eq!(f[0], "uid=1111 gid=0(root) groups=555,666,777", "{f:?}");
    assert!(f.contains(&"volume=555".to_string()) && f.contains(&"tmp=0".to_string()), "{f:?}");
    assert_eq!(first("pod-with-shared-volume-fsgroup/second"), "uid=2222 gid=0(root) groups=555,666,777");
    let h = &out["pod-with-host-pid-and-ipc/main"];
    assert!(h.contains(&"sees-host-pids".to_string()) && h.contains(&format!("ipc={host_ipc}")), "{h:?}");
}

/// fsGroupChangePolicy OnRootMismatch: a volume whose root already has the
/// group is not walked, so a file an init container gave another group keeps it.
#[tokio::test(flavor = "multi_thread")]
async fn fs_group_change_policy_on_root_mismatch_skips_a_volume_whose_root_matches() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("policy", &name, json!({"restartPolicy": "Never", "securityContext": {"fsGroup": 2000, "fsGroupChangePolicy": "OnRootMismatch"},
        "volumes": [{"name": "data", "emptyDir": {}}],
        "initContainers": [{"name": "prep", "image": "busybox", "securityContext": {"runAsUser": 0},
            "command": ["sh", "-c", "stat -c root=%g /data; touch /data/f; chgrp 0 /data/f"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "containers": [{"name": "main", "image": "busybox", "command": ["stat", "-c", "f=%g", "/data/f"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "policy", "finished", finished).await;
    assert_eq!(done["status"]["phase"], "Succeeded", "{}", done["status"]);
    assert_eq!(log_lines(&node, &done, "prep"), ["root=2000"], "the volume's root got the group");
    assert_eq!(log_lines(&node, &done, "main"), ["f=0"], "not walked again: the root matched");
}
