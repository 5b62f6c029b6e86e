//! Volumes and environment sources with real containers, a real apiserver and
//! etcd and a real kubelet process. Needs root.

mod common;

use client::{Api, DeleteParams, Patch, PostParams};
use common::node::TestNode;
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testing::TestCluster;

const LONG: Duration = Duration::from_secs(90);

fn pod(name: &str, node: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "vol-test"}}, "spec": spec}))
    .unwrap()
}

async fn wait_pod(api: &Api<Pod>, name: &str, what: &str, limit: Duration, f: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = Value::Null;
    loop {
        if let Ok(Some(p)) = api.get_opt(name).await {
            last = serde_json::to_value(&p).unwrap();
            if f(&last) {
                return last;
            }
        }
        if start.elapsed() > limit {
            panic!("timed out waiting for {what}; last: {}", serde_json::to_string_pretty(&last["status"]).unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

/// The stdout lines of a container's first run (CRI log format).
fn log_lines(node: &TestNode, pod: &Value, container: &str) -> Vec<String> {
    let (name, uid) = (pod["metadata"]["name"].as_str().unwrap(), pod["metadata"]["uid"].as_str().unwrap());
    let log = std::fs::read_to_string(node.logs().join(format!("default_{name}_{uid}/{container}/0.log"))).unwrap_or_default();
    log.lines().filter_map(|l| l.splitn(4, ' ').nth(3).map(str::to_string)).collect()
}

async fn delete_and_wait(api: &Api<Pod>, node: &TestNode, p: &Value) {
    let (name, uid) = (p["metadata"]["name"].as_str().unwrap(), p["metadata"]["uid"].as_str().unwrap());
    api.delete(name, &DeleteParams::default()).await.unwrap();
    let start = Instant::now();
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(start.elapsed() < LONG, "pod {name} was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for(LONG, "pod dir removal", || (!node.root().join("pods").join(uid).exists()).then_some(()));
}

/// The book's Mosquitto example: a ConfigMap file and a Secret file, each
/// mounted with subPath, read in the container with content and modes; the
/// secret sits on a tmpfs; the host's mount table never sees the pod.
#[tokio::test(flavor = "multi_thread")]
async fn mosquitto_config_and_secret_files_with_sub_path() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(tc.client.clone(), "default");
    let conf = "listener 1883\nallow_anonymous false\npassword_file /mosquitto/secret/passwd\n";
    cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "mosquitto-config"}, "data": {"mosquitto.conf": conf}})).unwrap())
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "mosquitto-secret"}, "stringData": {"passwd": "user:$7$hash"}})).unwrap())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let script = "cat /mosquitto/config/mosquitto.conf; echo \"conf-mode $(stat -c %a /mosquitto/config/mosquitto.conf)\"; \
        echo \"secret $(cat /mosquitto/secret/passwd) mode $(stat -c %a /mosquitto/secret/passwd)\"; \
        echo \"secret-fs $(awk '$2==\"/mosquitto/secret/passwd\"{print $3}' /proc/mounts)\"; \
        echo \"conf-ro $(touch /mosquitto/config/mosquitto.conf 2>/dev/null && echo no || echo yes)\"; \
        echo \"items $(ls /items) $(cat /items/renamed.conf | head -n1) mode $(stat -L -c %a /items/renamed.conf)\"";
    let p = pod("mosquitto", &name, json!({"restartPolicy": "Never",
        "containers": [{"name": "mosquitto", "image": "busybox", "command": ["sh", "-c", script],
            "volumeMounts": [
                {"name": "config", "mountPath": "/mosquitto/config/mosquitto.conf", "subPath": "mosquitto.conf"},
                {"name": "secret", "mountPath": "/mosquitto/secret/passwd", "subPath": "passwd"},
                {"name": "items", "mountPath": "/items"},
            ]}],
        "volumes": [
            {"name": "config", "configMap": {"name": "mosquitto-config"}},
            {"name": "secret", "secret": {"secretName": "mosquitto-secret", "defaultMode": 0o400}},
            {"name": "items", "configMap": {"name": "mosquitto-config", "items": [{"key": "mosquitto.conf", "path": "renamed.conf", "mode": 0o600}]}},
        ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "mosquitto", "Succeeded", LONG, |p| phase(p) == "Succeeded" || phase(p) == "Failed").await;
    let lines = log_lines(&node, &done, "mosquitto");
    assert_eq!(phase(&done), "Succeeded", "{lines:?}");
    let out = lines.join("\n");
    assert!(out.starts_with(conf.trim_end()), "{out}");
    for want in ["conf-mode 644", "secret user:$7$hash mode 400", "secret-fs tmpfs", "conf-ro yes", "items renamed.conf listener 1883 mode 600"] {
        assert!(lines.iter().any(|l| l == want), "missing {want:?} in {lines:?}");
    }
    let uid = done["metadata"]["uid"].as_str().unwrap().to_string();
    // The secret never touched the disk: the host's directory is an empty mount point.
    let host_secret = node.root().join(format!("pods/{uid}/volumes/kubernetes.io~secret/secret"));
    assert!(std::fs::read_dir(&host_secret).map(|d| d.count() == 0).unwrap_or(true), "secret files on disk");
    assert!(mounts_under(&node.root()).is_empty(), "host mounts: {:?}", mounts_under(&node.root()));
    delete_and_wait(&pods, &node, &done).await;
    assert!(mounts_under(&node.root()).is_empty(), "host mounts: {:?}", mounts_under(&node.root()));
}

/// A ConfigMap change reaches a directory mount (not subPath) within a minute.
#[tokio::test(flavor = "multi_thread")]
async fn config_map_change_reaches_a_mounted_directory() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "greeting"}, "data": {"msg": "hello"}})).unwrap())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("reader", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", "while true; do echo \"msg=$(cat /etc/greeting/msg)\"; sleep 0.5; done"],
        "volumeMounts": [{"name": "g", "mountPath": "/etc/greeting"}]}],
        "volumes": [{"name": "g", "configMap": {"name": "greeting"}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "reader", "Running", LONG, |p| phase(p) == "Running").await;
    wait_for(LONG, "first value", || log_lines(&node, &running, "c").iter().any(|l| l == "msg=hello").then_some(()));
    let changed = Instant::now();
    cms.patch("greeting", &PostParams::default(), &Patch::Merge(json!({"data": {"msg": "updated"}}))).await.unwrap();
    wait_for(Duration::from_secs(60), "the update inside the container", || {
        log_lines(&node, &running, "c").iter().any(|l| l == "msg=updated").then_some(())
    });
    eprintln!("ConfigMap update visible in the container after {:?}", changed.elapsed());
    delete_and_wait(&pods, &node, &running).await;
}

/// Env from every source; CreateContainerConfigError until a missing ConfigMap
/// exists, then the container starts by itself; an unsupported volume type is
/// reported, not ignored.
#[tokio::test(flavor = "multi_thread")]
async fn env_from_every_source_and_config_error_until_the_config_map_exists() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let secrets: Api<Secret> = Api::namespaced(tc.client.clone(), "default");
    secrets
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "creds"}, "stringData": {"password": "s3cr3t", "user": "admin", "1st": "x"}})).unwrap())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("envs", &name, json!({"restartPolicy": "Never", "serviceAccountName": "default",
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "env | sort"],
            "resources": {"requests": {"cpu": "250m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
            "envFrom": [{"configMapRef": {"name": "late"}, "prefix": "CFG_"}, {"secretRef": {"name": "creds"}},
                        {"configMapRef": {"name": "never", "optional": true}}],
            "env": [
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "mode"}}},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope", "optional": true}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "COMBINED", "value": "$(MODE)-$(POD_NAME)"},
            ]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let waiting = wait_pod(&pods, "envs", "CreateContainerConfigError", LONG, |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    })
    .await;
    assert_eq!(waiting["status"]["containerStatuses"][0]["state"]["waiting"]["message"], "configmap \"late\" not found");
    assert_eq!(phase(&waiting), "Pending");
    wait_event(&tc.client, "default", "envs", "Failed", |m| m == "Error: configmap \"late\" not found").await;

    // An unsupported volume type and gitRepo are reported, never ignored.
    let nfs = pod("nfs", &name, json!({"containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
        "volumes": [{"name": "share", "nfs": {"server": "10.0.0.1", "path": "/x"}}]}));
    pods.create(&PostParams::default(), &nfs).await.unwrap();
    let stuck = wait_pod(&pods, "nfs", "ContainerCreating with a message", LONG, |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().is_some_and(|m| m.contains("nfs"))
    })
    .await;
    assert_eq!(
        stuck["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "MountVolume.SetUp failed for volume \"share\" : nfs volumes are not supported by this node"
    );
    wait_event(&tc.client, "default", "nfs", "FailedMount", |m| m.contains("volume \"share\"")).await;

    // A missing ConfigMap behind a volume: FailedMount until it exists.
    let vol = pod("cfgvol", &name, json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
        "command": ["cat", "/cfg/mode"], "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "late"}}]}));
    pods.create(&PostParams::default(), &vol).await.unwrap();
    let stuck = wait_pod(&pods, "cfgvol", "ContainerCreating on the missing ConfigMap", LONG, |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().is_some()
    })
    .await;
    assert_eq!(stuck["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating");
    assert_eq!(
        stuck["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "MountVolume.SetUp failed for volume \"cfg\" : configmap \"late\" not found"
    );
    wait_event(&tc.client, "default", "cfgvol", "FailedMount", |m| m == "MountVolume.SetUp failed for volume \"cfg\" : configmap \"late\" not found").await;

    // The ConfigMap appears: the containers start by themselves.
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "late"}, "data": {"mode": "fast", "level": "3"}})).unwrap())
        .await
        .unwrap();
    let done = wait_pod(&pods, "envs", "Succeeded", LONG, |p| phase(p) == "Succeeded" || phase(p) == "Failed").await;
    assert_eq!(phase(&done), "Succeeded");
    let lines = log_lines(&node, &done, "c");
    let uid = done["metadata"]["uid"].as_str().unwrap();
    for want in [
        "CFG_mode=fast".to_string(),
        "CFG_level=3".into(),
        "password=s3cr3t".into(),
        "user=admin".into(),
        "MODE=fast".into(),
        "PASS=s3cr3t".into(),
        "POD_NAME=envs".into(),
        "POD_NS=default".into(),
        format!("POD_UID={uid}"),
        "APP=vol-test".into(),
        format!("NODE={name}"),
        "SA=default".into(),
        "HOST_IP=127.0.0.1".into(),
        "CPU_M=250".into(),
        "MEM_MI=64".into(),
        "COMBINED=fast-envs".into(),
    ] {
        assert!(lines.contains(&want), "missing {want:?} in {lines:?}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("OPT=")), "{lines:?}");
    let vol_done = wait_pod(&pods, "cfgvol", "cfgvol Succeeded", LONG, |p| phase(p) == "Succeeded" || phase(p) == "Failed").await;
    assert_eq!(log_lines(&node, &vol_done, "c"), ["fast"]);
    wait_event(&tc.client, "default", "envs", "InvalidEnvironmentVariableNames", |m| {
        m == "Keys [1st] from the EnvFrom secret default/creds were skipped since they are considered invalid environment variable names."
    })
    .await;
}

/// The fortune pod: one container writes into an emptyDir, another reads it;
/// a memory emptyDir is a tmpfs bounded by sizeLimit; downwardAPI files.
#[tokio::test(flavor = "multi_thread")]
async fn fortune_empty_dir_shared_by_two_containers() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("fortune", &name, json!({"restartPolicy": "Never",
        "containers": [
            {"name": "html-generator", "image": "busybox",
             "command": ["sh", "-c", "echo 'You will write Rust today.' > /var/htdocs/index.html; echo cached > /cache/c; sleep 2"],
             "volumeMounts": [{"name": "html", "mountPath": "/var/htdocs"}, {"name": "cache", "mountPath": "/cache"}]},
            {"name": "web-server", "image": "busybox",
             "command": ["sh", "-c", "until [ -s /usr/share/nginx/html/index.html ] && [ -s /cache/c ]; do sleep 0.1; done; \
                cat /usr/share/nginx/html/index.html; cat /cache/c; \
                echo \"cache $(awk '$2==\"/cache\"{print $3, $4}' /proc/mounts)\"; echo \"size $(df -k /cache | awk 'NR==2{print $2}')\"; \
                echo \"html-ro $(touch /usr/share/nginx/html/x 2>/dev/null && echo no || echo yes)\"; \
                echo \"labels $(cat /podinfo/labels) name $(cat /podinfo/name)\""],
             "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html", "readOnly": true}, {"name": "cache", "mountPath": "/cache"},
                              {"name": "podinfo", "mountPath": "/podinfo"}]},
        ],
        "volumes": [
            {"name": "html", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
            {"name": "podinfo", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "fortune", "Succeeded", LONG, |p| phase(p) == "Succeeded" || phase(p) == "Failed").await;
    let lines = log_lines(&node, &done, "web-server");
    assert_eq!(phase(&done), "Succeeded", "{lines:?}");
    assert_eq!(lines[0], "You will write Rust today.", "{lines:?}");
    assert_eq!(lines[1], "cached");
    assert!(lines.iter().any(|l| l.starts_with("cache tmpfs ")), "{lines:?}");
    assert!(lines.contains(&"size 8192".to_string()), "{lines:?}");
    assert!(lines.contains(&"html-ro yes".to_string()), "{lines:?}");
    assert!(lines.contains(&"labels app=\"vol-test\" name fortune".to_string()), "{lines:?}");
    let uid = done["metadata"]["uid"].as_str().unwrap();
    let html = node.root().join(format!("pods/{uid}/volumes/kubernetes.io~empty-dir/html/index.html"));
    assert_eq!(std::fs::read_to_string(html).unwrap(), "You will write Rust today.\n");
    assert!(mounts_under(&node.root()).is_empty(), "host mounts: {:?}", mounts_under(&node.root()));
    delete_and_wait(&pods, &node, &done).await;
    assert!(mounts_under(&node.root()).is_empty());
}

/// A Secret update reaches a projected volume (tmpfs) in place; a claim bound
/// to a hostPath PersistentVolume is the node's directory.
#[tokio::test(flavor = "multi_thread")]
async fn secret_update_reaches_a_projected_volume_and_a_claim_is_its_host_path() {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let data = tempfile::tempdir().unwrap();
    let secrets: Api<Secret> = Api::namespaced(tc.client.clone(), "default");
    secrets
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "tok"}, "stringData": {"token": "v1"}})).unwrap())
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(tc.client.clone(), "default");
    cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "ca"}, "data": {"ca.crt": "CERT"}})).unwrap())
        .await
        .unwrap();
    let pvs: Api<PersistentVolume> = Api::all(tc.client.clone());
    pvs.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "pv-data"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": data.path(), "type": "Directory"},
                 "claimRef": {"namespace": "default", "name": "claim"}}})).unwrap())
        .await
        .unwrap();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(tc.client.clone(), "default");
    pvcs.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "claim"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-data", "storageClassName": ""}})).unwrap())
        .await
        .unwrap();
    // No PV controller in this test: bind the claim as it would.
    pvcs.patch_status("claim", &PostParams::default(), &Patch::Merge(json!({"status": {"phase": "Bound"}}))).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("proj", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", "echo from-pod > /data/written; while true; do echo \"tok=$(cat /var/run/proj/token) ca=$(cat /var/run/proj/ca.crt) ns=$(cat /var/run/proj/namespace) fs=$(awk '$2==\"/var/run/proj\"{print $3}' /proc/mounts)\"; sleep 0.5; done"],
        "volumeMounts": [{"name": "proj", "mountPath": "/var/run/proj"}, {"name": "data", "mountPath": "/data"}]}],
        "volumes": [
            {"name": "proj", "projected": {"sources": [
                {"secret": {"name": "tok"}},
                {"configMap": {"name": "ca"}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}},
        ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let created = Instant::now();
    let running = wait_pod(&pods, "proj", "Running", LONG, |p| phase(p) == "Running").await;
    eprintln!("Running after {:?}", created.elapsed());
    wait_for(LONG, "projected files", || log_lines(&node, &running, "c").iter().any(|l| l == "tok=v1 ca=CERT ns=default fs=tmpfs").then_some(()));
    assert_eq!(std::fs::read_to_string(data.path().join("written")).unwrap(), "from-pod\n");
    let rotated = Instant::now();
    secrets.patch("tok", &PostParams::default(), &Patch::Merge(json!({"stringData": {"token": "v2"}}))).await.unwrap();
    wait_for(Duration::from_secs(60), "the rotated token", || {
        log_lines(&node, &running, "c").iter().any(|l| l == "tok=v2 ca=CERT ns=default fs=tmpfs").then_some(())
    });
    eprintln!("Secret update visible in the container after {:?}", rotated.elapsed());
    assert!(mounts_under(&node.root()).is_empty(), "host mounts: {:?}", mounts_under(&node.root()));
    delete_and_wait(&pods, &node, &running).await;
    assert!(data.path().join("written").exists(), "a claim's data outlives the pod");
}

/// A restarted kubelet re-adopts a pod with a secret (tmpfs) volume: the
/// container keeps running and later Secret changes still reach it.
#[tokio::test(flavor = "multi_thread")]
async fn restarted_kubelet_keeps_updating_a_secret_volume() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let mut node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let secrets: Api<Secret> = Api::namespaced(tc.client.clone(), "default");
    secrets
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "one"}})).unwrap())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("sec", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", "while true; do echo \"k=$(cat /s/k)\"; sleep 0.5; done"],
        "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
        "volumes": [{"name": "s", "secret": {"secretName": "s"}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "sec", "Running", LONG, |p| phase(p) == "Running").await;
    wait_for(LONG, "k=one", || log_lines(&node, &running, "c").iter().any(|l| l == "k=one").then_some(()));
    node.kill();
    node.spawn();
    secrets.patch("s", &PostParams::default(), &Patch::Merge(json!({"stringData": {"k": "two"}}))).await.unwrap();
    wait_for(Duration::from_secs(60), "k=two after the restart", || log_lines(&node, &running, "c").iter().any(|l| l == "k=two").then_some(()));
    let now = wait_pod(&pods, "sec", "still Running", LONG, |p| phase(p) == "Running").await;
    assert_eq!(now["status"]["containerStatuses"][0]["restartCount"], 0);
    assert!(mounts_under(&node.root()).is_empty(), "host mounts: {:?}", mounts_under(&node.root()));
    delete_and_wait(&pods, &node, &now).await;
}

/// Kubernetes in Action chapter 8: the downward API as environment variables
/// (downward-api-env.yaml) and as a volume (downward-api-volume.yaml), with the
/// book's resources (memory limit 4Mi) and its multi-line annotation.
#[tokio::test(flavor = "multi_thread")]
async fn book_chapter_8_downward_api_env_and_volume() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let resources = json!({"requests": {"cpu": "15m", "memory": "100Ki"}, "limits": {"cpu": "100m", "memory": "4Mi"}});
    let field = |n: &str, f: &str| json!({"name": n, "valueFrom": {"fieldRef": {"fieldPath": f}}});
    let env: Pod = serde_json::from_value(json!({"metadata": {"name": "downward-env"}, "spec": {"nodeName": name, "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox", "resources": resources,
            "command": ["sh", "-c", "env | grep -E '^(POD_|NODE_NAME|SERVICE_ACCOUNT|CONTAINER_)' | sort"],
            "env": [field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"), field("POD_IP", "status.podIP"),
                field("NODE_NAME", "spec.nodeName"), field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                {"name": "CONTAINER_CPU_REQUEST_MILLICORES", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                {"name": "CONTAINER_MEMORY_LIMIT_KIBIBYTES", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Ki"}}}]}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &env).await.unwrap();
    let files = "podName podNamespace labels annotations containerCpuRequestMilliCores containerMemoryLimitBytes";
    let item = |p: &str, f: &str| json!({"path": p, "fieldRef": {"fieldPath": f}});
    let vol: Pod = serde_json::from_value(json!({"metadata": {"name": "downward", "labels": {"foo": "bar"},
            "annotations": {"key1": "value1", "key2": "multi\nline\nvalue\n"}},
        "spec": {"nodeName": name, "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox", "resources": resources,
            "command": ["sh", "-c", format!("for f in {files}; do echo \"== $f\"; cat /etc/downward/$f; echo; done")],
            "volumeMounts": [{"name": "downward", "mountPath": "/etc/downward"}]}],
        "volumes": [{"name": "downward", "downwardAPI": {"items": [
            item("podName", "metadata.name"), item("podNamespace", "metadata.namespace"),
            item("labels", "metadata.labels"), item("annotations", "metadata.annotations"),
            {"path": "containerCpuRequestMilliCores", "resourceFieldRef": {"containerName": "main", "resource": "requests.cpu", "divisor": "1m"}},
            {"path": "containerMemoryLimitBytes", "resourceFieldRef": {"containerName": "main", "resource": "limits.memory", "divisor": 1}}]}}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &vol).await.unwrap();

    let done = wait_pod(&pods, "downward-env", "finished", LONG, |p| phase(p) == "Succeeded" || phase(p) == "Failed").await;
    assert_eq!(phase(&done), "Succeeded", "{}", done["status"]);
    let sa = done["spec"]["serviceAccountName"].as_str().unwrap_or("");
    let ip = done["status"]["podIP"].as_str().unwrap_or("");
    assert_eq!(
        log_lines(&node, &done, "main"),
        [
            "CONTAINER_CPU_REQUEST_MILLICORES=15".to_string(),
            "CONTAINER_MEMORY_LIMIT_KIBIBYTES=4096".into(),
            format!("NODE_NAME={name}"),
            "POD_IP=".to_string() + ip,
            "POD_NAME=downward-env".into(),
            "POD_NAMESPACE=default".into(),
            format!("SERVICE_ACCOUNT={sa}"),
        ]
    );

    let done = wait_pod(&pods, "downward", "finished", LONG, |p| phase(p) == "Succeeded" || phase(p) == "Failed").await;
    assert_eq!(phase(&done), "Succeeded", "{}", done["status"]);
    let lines = log_lines(&node, &done, "main");
    let file = |f: &str| -> Vec<String> {
        let start = lines.iter().position(|l| *l == format!("== {f}")).unwrap() + 1;
        lines[start..].iter().take_while(|l| !l.starts_with("== ")).filter(|l| !l.is_empty()).cloned().collect()
    };
    assert_eq!(file("podName"), ["downward"]);
    assert_eq!(file("podNamespace"), ["default"]);
    assert_eq!(file("labels"), ["foo=\"bar\""]);
    let annotations = file("annotations");
    assert!(annotations.contains(&"key1=\"value1\"".to_string()), "{annotations:?}");
    assert!(annotations.contains(&"key2=\"multi\\nline\\nvalue\\n\"".to_string()), "one quoted line: {annotations:?}");
    assert_eq!(file("containerCpuRequestMilliCores"), ["15"]);
    assert_eq!(file("containerMemoryLimitBytes"), ["4194304"]);
}

/// A projected serviceAccountToken needs the apiserver's TokenRequest, which
/// this cluster does not serve yet: the pod stays ContainerCreating with a
/// message and a FailedMount event naming the volume and why, never starting
/// without its token.
#[tokio::test(flavor = "multi_thread")]
async fn service_account_token_projection_is_reported_not_skipped() {
    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("token", &name, json!({"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"],
            "volumeMounts": [{"name": "api", "mountPath": "/var/run/secrets/tokens"}]}],
        "volumes": [{"name": "api", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "vault"}}]}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let want = "MountVolume.SetUp failed for volume \"api\" : serviceAccountToken projections are not supported by this node (no token issuer yet)";
    let stuck = wait_pod(&pods, "token", "ContainerCreating with a message", LONG, |p| p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == want).await;
    assert_eq!(stuck["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating");
    assert_eq!(phase(&stuck), "Pending");
    wait_event(&tc.client, "default", "token", "FailedMount", |m| m == want).await;
}
