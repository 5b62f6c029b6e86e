//! The kubelet against a real apiserver and etcd (testing), running real
//! containers through its shims. Needs root.

mod common;

use testing::TestCluster;
use client::{Api, DeleteParams, PostParams};
use common::node::TestNode;
use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(90);

fn pod(name: &str, node: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})).unwrap()
}

/// Poll the pod until `f` accepts its JSON form.
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

async fn wait_gone(api: &Api<Pod>, name: &str) {
    let start = Instant::now();
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(start.elapsed() < LONG, "pod {name} was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:06x}", rand::random::<u32>() & 0xffffff)
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_pod_succeeds_with_log_and_node_is_registered() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &["--node-labels", "tier=test", "--register-with-taints", "dedicated=test:NoSchedule"]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    // $(VAR) references are expanded by the kubelet (env from earlier variables, then command).
    let p = pod("echo", &name, json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
        "env": [{"name": "WHO", "value": "pod"}, {"name": "MSG", "value": "hello from $(WHO)"}],
        "command": ["sh", "-c", "echo $(MSG); echo to-stderr >&2; echo '$$(MSG)'"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "echo", "Succeeded", |p| phase(p) == "Succeeded").await;
    let cs = &done["status"]["containerStatuses"][0];
    assert_eq!(cs["state"]["terminated"]["reason"], "Completed");
    assert_eq!(cs["state"]["terminated"]["exitCode"], 0);
    assert_eq!(cs["restartCount"], 0);
    assert!(cs["imageID"].as_str().unwrap().starts_with("docker.io/library/busybox@sha256:"));
    assert_eq!(done["status"]["qosClass"], "BestEffort");
    assert_eq!(done["status"]["hostIP"], "127.0.0.1");
    assert!(done["status"]["startTime"].is_string());
    let conds: Vec<(String, String)> = done["status"]["conditions"].as_array().unwrap().iter()
        .map(|c| (c["type"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string())).collect();
    assert!(conds.contains(&("Ready".into(), "False".into())), "{conds:?}");
    assert!(conds.contains(&("Initialized".into(), "True".into())), "{conds:?}");
    assert!(conds.contains(&("PodScheduled".into(), "True".into())), "{conds:?}");
    let uid = done["metadata"]["uid"].as_str().unwrap();
    let log = std::fs::read_to_string(node.logs().join(format!("default_echo_{uid}/c/0.log"))).unwrap();
    assert!(log.contains(" stdout F hello from pod\n"), "{log}");
    assert!(log.contains(" stderr F to-stderr\n"), "{log}");
    assert!(log.contains(" stdout F $(MSG)\n"), "$$ escapes a reference: {log}");

    // The Node: labels, taints, capacity from this machine, Ready with upstream's reason, and a Lease.
    let n = serde_json::to_value(Api::<Node>::all(tc.client.clone()).get(&name).await.unwrap()).unwrap();
    assert_eq!(n["metadata"]["labels"]["kubernetes.io/hostname"], name.as_str());
    assert_eq!(n["metadata"]["labels"]["kubernetes.io/os"], "linux");
    assert_eq!(n["metadata"]["labels"]["tier"], "test");
    assert_eq!(n["spec"]["taints"][0]["key"], "dedicated");
    assert_eq!(n["status"]["capacity"]["pods"], "110");
    assert_eq!(n["status"]["capacity"]["cpu"], std::thread::available_parallelism().unwrap().get().to_string());
    let ready = n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(ready["reason"], "KubeletReady");
    // Measured, not constants: architecture from uname, image sizes from the
    // store, pressure conditions from this machine's figures.
    let machine = String::from_utf8(std::process::Command::new("uname").arg("-m").output().unwrap().stdout).unwrap();
    let arch = match machine.trim() { "x86_64" => "amd64", "aarch64" => "arm64", m => m }.to_string();
    assert_eq!(n["status"]["nodeInfo"]["architecture"], arch.as_str());
    assert_eq!(n["status"]["nodeInfo"]["operatingSystem"], "linux");
    assert_eq!(n["metadata"]["labels"]["kubernetes.io/arch"], arch.as_str());
    let images = n["status"]["images"].as_array().unwrap();
    assert!(!images.is_empty() && images.iter().all(|i| i["sizeBytes"].as_u64().unwrap_or(0) > 0), "{images:?}");
    let cond = |t: &str| n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == t).cloned().unwrap_or_else(|| panic!("no {t}"));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let avail_kb: i64 = meminfo.lines().find_map(|l| l.strip_prefix("MemAvailable:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    let mem = cond("MemoryPressure");
    if avail_kb > 200 * 1024 {
        assert_eq!((mem["status"].as_str(), mem["reason"].as_str()), (Some("False"), Some("KubeletHasSufficientMemory")));
    }
    assert!(matches!(cond("DiskPressure")["reason"].as_str(), Some("KubeletHasNoDiskPressure" | "KubeletHasDiskPressure")));
    assert_eq!(cond("PIDPressure")["reason"], "KubeletHasSufficientPID");
    let lease = Api::<Lease>::namespaced(tc.client.clone(), "kube-node-lease").get(&name).await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some(name.as_str()));

    // Deleting the pod: the kubelet confirms it and removes everything.
    pods.delete("echo", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "echo").await;
    wait_for(LONG, "pod dir removal", || (!node.root().join("pods").join(uid).exists()).then_some(()));
    assert!(node.cg.child_dirs().iter().all(|d| !d.to_string_lossy().contains(uid)), "{:?}", node.cg.child_dirs());
    assert!(mounts_under(&node.root().join("pods").join(uid)).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_containers_talk_over_localhost_and_share_hostname() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("duo", &name, json!({"restartPolicy": "Never", "containers": [
        // `nc -l` alone quits at stdin EOF before late data arrives; -e hands the
        // connection to a reader that prints the first line on stderr.
        {"name": "server", "image": "busybox", "command": ["nc", "-l", "-p", "7777", "-e", "sh", "-c", "head -n1 >&2"]},
        {"name": "client", "image": "busybox", "command": ["sh", "-c", "hostname; until echo ping-over-lo | nc 127.0.0.1 7777; do sleep 0.1; done"]},
    ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "duo", "Succeeded", |p| phase(p) == "Succeeded").await;
    let uid = done["metadata"]["uid"].as_str().unwrap();
    let srv = std::fs::read_to_string(node.logs().join(format!("default_duo_{uid}/server/0.log"))).unwrap();
    assert!(srv.contains("stderr F ping-over-lo"), "{srv}");
    let cli = std::fs::read_to_string(node.logs().join(format!("default_duo_{uid}/client/0.log"))).unwrap();
    assert!(cli.contains("stdout F duo\n"), "hostname is the pod name: {cli}");
    pods.delete("duo", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "duo").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn share_process_namespace_shows_the_other_containers_processes() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("shared", &name, json!({"shareProcessNamespace": true, "terminationGracePeriodSeconds": 1, "containers": [
        {"name": "sleeper", "image": "busybox", "command": ["sleep", "3600"]},
        {"name": "looker", "image": "busybox", "command": ["sh", "-c",
            "until ps -o args | grep -q '^sleep 3600'; do sleep 0.1; done; ps -o pid,args; echo init=$(tr '\\0' ' ' < /proc/1/cmdline); exec sleep 3600"]},
    ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "shared", "Running", |p| phase(p) == "Running").await;
    let uid = running["metadata"]["uid"].as_str().unwrap().to_string();
    let log = node.logs().join(format!("default_shared_{uid}/looker/0.log"));
    let text = wait_for(LONG, "looker output", || std::fs::read_to_string(&log).ok().filter(|t| t.contains(" F init=")));
    assert!(text.contains("sleep 3600"), "the sleeper's process is visible: {text}");
    assert!(text.lines().any(|l| l.contains("init=") && l.contains("/kubelet-monitor-") && l.contains(" pause")), "PID 1 is the pause: {text}");
    let sb = node.sandboxes().into_iter().find(|s| s.namespaces.iter().any(|k| k == "pid")).expect("a sandbox with a PID namespace");
    assert!(sb.alive());

    // Deleting the pod kills the pause process and removes everything.
    pods.delete("shared", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "shared").await;
    wait_for(LONG, "pause exit", || (!sb.alive()).then_some(()));
    assert!(!node.root().join("pods").join(&uid).exists());
    assert!(node.cg.child_dirs().iter().all(|d| !d.to_string_lossy().contains(&uid)), "{:?}", node.cg.child_dirs());
    assert!(mounts_under(node.dir.path()).is_empty(), "{:?}", mounts_under(node.dir.path()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_pause_is_replaced_and_the_containers_restart_in_the_new_sandbox() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("phoenix", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", "readlink /proc/self/ns/net; exec sleep 3600"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "phoenix", "Running", |p| phase(p) == "Running").await;
    let uid = running["metadata"]["uid"].as_str().unwrap().to_string();
    let old = node.sandboxes().pop().expect("a sandbox");
    unsafe { libc::kill(old.pid, libc::SIGKILL) };
    let restarted = wait_pod(&pods, "phoenix", "restart in a new sandbox", |p| {
        p["status"]["containerStatuses"][0]["restartCount"] == 1 && p["status"]["containerStatuses"][0]["state"]["running"].is_object()
    })
    .await;
    assert_eq!(phase(&restarted), "Running");
    let new = node.sandboxes().pop().expect("a new sandbox");
    assert!(new.alive() && new.pid != old.pid);
    // The new attempt runs in the new pause's network namespace.
    let netns = std::fs::read_link(new.ns_path("net").unwrap()).unwrap();
    let log = node.logs().join(format!("default_phoenix_{uid}/c/1.log"));
    let text = wait_for(LONG, "second attempt output", || std::fs::read_to_string(&log).ok().filter(|t| t.contains("net:")));
    assert!(text.contains(&netns.display().to_string()), "{netns:?} in {text}");
    pods.delete("phoenix", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "phoenix").await;
    assert!(!new.alive());
}

#[tokio::test(flavor = "multi_thread")]
async fn kubelet_records_the_pod_lifecycle_as_events() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("evented", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [
        {"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "evented", "Running", |p| phase(p) == "Running").await;
    let uid = running["metadata"]["uid"].as_str().unwrap();
    let c = &tc.client;
    let pulled = wait_event(c, "default", "evented", "Pulled", |m| m == "Container image \"busybox\" already present on machine").await;
    let created = wait_event(c, "default", "evented", "Created", |m| m == "Created container: c").await;
    let started = wait_event(c, "default", "evented", "Started", |m| m == "Started container c").await;
    for e in [&pulled, &created, &started] {
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        let src = e.source.as_ref().unwrap();
        assert_eq!((src.component.as_deref(), src.host.as_deref()), (Some("kubelet"), Some(name.as_str())));
        let o = &e.involved_object;
        assert_eq!((o.kind.as_deref(), o.uid.as_deref(), o.field_path.as_deref()), (Some("Pod"), Some(uid), Some("spec.containers{c}")));
    }
    pods.delete("evented", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "evented").await;
    let killing = wait_event(c, "default", "evented", "Killing", |m| m == "Stopping container c").await;
    assert_eq!(killing.involved_object.field_path.as_deref(), Some("spec.containers{c}"));
    drop(node);
}

#[tokio::test(flavor = "multi_thread")]
async fn pod_over_its_memory_limit_is_oom_killed() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("hog", &name, json!({"restartPolicy": "Never", "containers": [
        {"name": "hog", "image": "busybox", "command": ["sh", "-c", "tail /dev/zero"],
         "resources": {"limits": {"memory": "32Mi", "cpu": "500m"}}},
    ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "hog", "Failed", |p| phase(p) == "Failed").await;
    let t = &done["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["reason"], "OOMKilled", "{t}");
    assert_eq!(t["exitCode"], 137);
    assert_eq!(done["status"]["qosClass"], "Guaranteed");
    let uid = done["metadata"]["uid"].as_str().unwrap();
    let pod_cg = format!("/sys/fs/cgroup/memory/{}/guaranteed/pod{uid}", node.cg.name);
    assert_eq!(std::fs::read_to_string(format!("{pod_cg}/memory.limit_in_bytes")).unwrap().trim(), (32u64 << 20).to_string());
    let cpu_cg = format!("/sys/fs/cgroup/cpu/{}/guaranteed/pod{uid}", node.cg.name);
    assert_eq!(std::fs::read_to_string(format!("{cpu_cg}/cpu.cfs_quota_us")).unwrap().trim(), "50000");
    assert_eq!(std::fs::read_to_string(format!("{cpu_cg}/cpu.shares")).unwrap().trim(), "512");
    pods.delete("hog", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "hog").await;
    wait_for(LONG, "pod cgroup removal", || (!std::path::Path::new(&pod_cg).exists()).then_some(()));
}

#[tokio::test(flavor = "multi_thread")]
async fn crashing_pod_backs_off_with_growing_delays() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("crash", &name, json!({"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo crashing; exit 2"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let looping = wait_pod(&pods, "crash", "CrashLoopBackOff", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    let cs = &looping["status"]["containerStatuses"][0];
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 2);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(phase(&looping), "Running");
    let msg = cs["state"]["waiting"]["message"].as_str().unwrap();
    assert!(msg.starts_with("back-off 10s restarting failed container=c pod=crash_default("), "{msg}");
    let uid = looping["metadata"]["uid"].as_str().unwrap();
    let want = format!("Back-off restarting failed container c in pod crash_default({uid})");
    let e = wait_event(&tc.client, "default", "crash", "BackOff", |m| m == want).await;
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    wait_pod(&pods, "crash", "three restarts", |p| p["status"]["containerStatuses"][0]["restartCount"].as_u64() >= Some(3)).await;
    // Gaps between one run's end and the next run's start: none, then 10 s, then 20 s.
    let uid = looping["metadata"]["uid"].as_str().unwrap().to_string();
    let attempts = node.root().join("pods").join(&uid).join("containers/c");
    let logs = node.logs().join(format!("default_crash_{uid}/c"));
    let first_line_time = |n: u32| {
        let text = std::fs::read_to_string(logs.join(format!("{n}.log"))).unwrap();
        chrono::DateTime::parse_from_rfc3339(text.split(' ').next().unwrap()).unwrap()
    };
    let gap1 = first_line_time(2) - first_line_time(1);
    let gap2 = first_line_time(3) - first_line_time(2);
    assert!(gap1 >= chrono::Duration::seconds(9), "first back-off {gap1:?}");
    assert!(gap2 >= chrono::Duration::seconds(19) && gap2 > gap1, "second back-off {gap2:?} after {gap1:?}");
    // Only the newest attempts are kept on disk.
    assert!(std::fs::read_dir(&attempts).unwrap().count() <= 2);
    pods.delete("crash", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "crash").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restarted_kubelet_keeps_pods_running_and_cleans_deleted_ones() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let mut node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    for n in ["keep", "drop"] {
        let p = pod(n, &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}));
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let keep = wait_pod(&pods, "keep", "Running", |p| phase(p) == "Running").await;
    let drop_ = wait_pod(&pods, "drop", "Running", |p| phase(p) == "Running").await;
    let keep_uid = keep["metadata"]["uid"].as_str().unwrap().to_string();
    let drop_uid = drop_["metadata"]["uid"].as_str().unwrap().to_string();
    let before: Vec<_> = node.shim_states();
    let keep_state = before.iter().find(|(p, _)| p.to_string_lossy().contains(&keep_uid)).unwrap().1.clone();
    let drop_state = before.iter().find(|(p, _)| p.to_string_lossy().contains(&drop_uid)).unwrap().1.clone();

    node.kill();
    // While the kubelet is down: "drop" is force-deleted from the API.
    pods.delete("drop", &DeleteParams::immediate()).await.unwrap();
    assert!(kubelet::runtime::manager::shim_alive(&keep_state));
    node.spawn();

    // "drop" is cleaned up when the kubelet returns...
    wait_for(LONG, "cleanup of the pod deleted while down", || {
        (!kubelet::runtime::manager::shim_alive(&drop_state) && !node.root().join("pods").join(&drop_uid).exists()).then_some(())
    });
    // ...while "keep" was re-adopted: same container process, no restart.
    let healthz = wait_for(LONG, "new kubelet healthz", || std::fs::read_to_string(node.root().join("healthz-address")).ok());
    assert!(!healthz.is_empty());
    let again = wait_pod(&pods, "keep", "still Running", |p| phase(p) == "Running").await;
    assert_eq!(again["status"]["containerStatuses"][0]["restartCount"], 0);
    assert!(kubelet::runtime::manager::shim_alive(&keep_state));
    assert_eq!(unsafe { libc::kill(keep_state.pid, 0) }, 0, "the container's process survived");
    let now: Vec<_> = node.shim_states();
    assert_eq!(now.iter().filter(|(p, _)| p.to_string_lossy().contains(&keep_uid)).count(), 1, "no new attempt");

    // Graceful deletion through the re-adopted worker.
    pods.delete("keep", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "keep").await;
    wait_for(LONG, "shim exit", || (!kubelet::runtime::manager::shim_alive(&keep_state)).then_some(()));
    wait_for(LONG, "pod dirs removed", || (!node.root().join("pods").join(&keep_uid).exists()).then_some(()));
    wait_for(LONG, "pod cgroups removed", || {
        node.cg.child_dirs().iter().all(|d| !d.file_name().unwrap().to_string_lossy().starts_with("pod")).then_some(())
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn static_pod_runs_and_is_mirrored() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(
        manifests.path().join("web.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: static-web\nspec:\n  containers:\n  - name: web\n    image: luksa/kubia\n    ports:\n    - containerPort: 8080\n",
    )
    .unwrap();
    let node = TestNode::start(&tc.addr.to_string(), &name, &["--pod-manifest-path", manifests.path().to_str().unwrap()]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let mirror_name = format!("static-web-{name}");
    let m = wait_pod(&pods, &mirror_name, "mirror pod Running", |p| phase(p) == "Running").await;
    assert!(m["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string());
    assert_eq!(m["metadata"]["annotations"]["kubernetes.io/config.source"], "file");
    assert_eq!(m["spec"]["nodeName"], name.as_str());
    assert_eq!(m["metadata"]["ownerReferences"][0]["kind"], "Node");
    // The kubia look-alike logs its start line.
    let hash = m["metadata"]["annotations"]["kubernetes.io/config.hash"].as_str().unwrap().to_string();
    let log = node.logs().join(format!("default_{mirror_name}_{hash}/web/0.log"));
    wait_for(LONG, "kubia start line", || std::fs::read_to_string(&log).ok().filter(|t| t.contains("Kubia server starting")));
    // Removing the manifest stops the pod and deletes its mirror.
    std::fs::remove_file(manifests.path().join("web.yaml")).unwrap();
    wait_gone(&pods, &mirror_name).await;
    wait_for(LONG, "static pod removal", || (!node.root().join("pods").join(&hash).exists()).then_some(()));
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_flag_removes_containers_mounts_and_cgroups() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let mut node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("lingering", &name, json!({"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    wait_pod(&pods, "lingering", "Running", |p| phase(p) == "Running").await;
    node.kill();
    let states = node.shim_states();
    assert!(states.iter().any(|(_, s)| kubelet::runtime::manager::shim_alive(s)));
    let out = std::process::Command::new(common::node::KUBELET)
        .arg("--cleanup")
        .arg("--root-dir")
        .arg(node.root())
        .arg("--pod-logs-dir")
        .arg(node.logs())
        .args(["--cgroup-root", &node.cg.name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(states.iter().all(|(_, s)| !kubelet::runtime::manager::shim_alive(s)));
    assert!(mounts_under(node.dir.path()).is_empty(), "{:?}", mounts_under(node.dir.path()));
    assert!(node.cg.leftover_dirs().is_empty(), "{:?}", node.cg.leftover_dirs());
    assert!(!node.root().join("pods").exists() || std::fs::read_dir(node.root().join("pods")).unwrap().count() == 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_containers_run_in_order_before_the_app() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("inits", &name, json!({"restartPolicy": "Never",
        "initContainers": [
            {"name": "first", "image": "busybox", "command": ["sh", "-c", "echo first"]},
            {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo second"]},
        ],
        "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "echo app"], "env": [{"name": "GREETING", "value": "hi"}]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "inits", "Succeeded", |p| phase(p) == "Succeeded").await;
    let inits = done["status"]["initContainerStatuses"].as_array().unwrap();
    assert_eq!(inits.len(), 2);
    for i in inits {
        assert_eq!(i["state"]["terminated"]["reason"], "Completed", "{i}");
    }
    let uid = done["metadata"]["uid"].as_str().unwrap();
    let started = |c: &str| {
        let text = std::fs::read_to_string(node.logs().join(format!("default_inits_{uid}/{c}/0.log"))).unwrap();
        assert!(text.contains(&format!("stdout F {c}")), "{text}");
        chrono::DateTime::parse_from_rfc3339(text.split(' ').next().unwrap()).unwrap()
    };
    assert!(started("first") <= started("second") && started("second") <= started("app"));
    pods.delete("inits", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "inits").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn host_network_pod_sees_the_host() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("hostnet", &name, json!({"restartPolicy": "Never", "hostNetwork": true,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "hostname; readlink /proc/self/ns/net"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "hostnet", "Succeeded", |p| phase(p) == "Succeeded").await;
    assert_eq!(done["status"]["podIP"], "127.0.0.1");
    let uid = done["metadata"]["uid"].as_str().unwrap();
    let log = std::fs::read_to_string(node.logs().join(format!("default_hostnet_{uid}/c/0.log"))).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(log.contains(&format!("stdout F {}\n", host.trim())), "{log}");
    let netns = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert!(log.contains(&format!("stdout F {}\n", netns.display())), "host network namespace: {log}");
    pods.delete("hostnet", &DeleteParams::default()).await.unwrap();
    wait_gone(&pods, "hostnet").await;
}
