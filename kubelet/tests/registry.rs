//! Pulls from a real local registry (Debian's docker-registry on a free loopback
//! port), with the project's busybox image pushed to it by skopeo. Needs root.

mod common;

use testing::{free_port, TestCluster};
use client::{Api, PostParams};
use common::node::TestNode;
use common::wait_event;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n", dir.path().join("data").display()),
        )
        .unwrap();
        let child = Command::new("docker-registry").arg("serve").arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, addr, _dir: dir }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_pod(api: &Api<Pod>, name: &str, f: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let p = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
        if f(&p) {
            return p;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "timed out; last status {}", p["status"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pulls_from_a_local_registry_and_reports_missing_images() {
    let reg = Registry::start();
    let images = tempfile::tempdir().unwrap();
    let archives = kubelet::images::testimages::build(images.path()).unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci-archive:{}", archives[0].display()))
        .arg(format!("docker://{}/test/busybox:v1", reg.addr))
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));

    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let mk = |pod: &str, image: String| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": pod}, "spec": {"nodeName": name, "restartPolicy": "Never",
            "containers": [{"name": "c", "image": image, "command": ["sh", "-c", "echo pulled"]}]}}))
        .unwrap()
    };
    pods.create(&PostParams::default(), &mk("pulled", format!("{}/test/busybox:v1", reg.addr))).await.unwrap();
    pods.create(&PostParams::default(), &mk("missing", format!("{}/test/nothing:v1", reg.addr))).await.unwrap();

    let ok = wait_pod(&pods, "pulled", |p| p["status"]["phase"] == "Succeeded").await;
    let id = ok["status"]["containerStatuses"][0]["imageID"].as_str().unwrap().to_string();
    assert!(id.starts_with(&format!("{}/test/busybox@sha256:", reg.addr)), "{id}");
    let uid = ok["metadata"]["uid"].as_str().unwrap();
    let log = std::fs::read_to_string(node.logs().join(format!("default_pulled_{uid}/c/0.log"))).unwrap();
    assert!(log.contains("stdout F pulled"));

    // Watch rather than poll: ErrImagePull may last less than a polling interval.
    let reason = |p: &Value| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str().unwrap_or("").to_string();
    let wp = client::WatchParams::default().fields("metadata.name=missing");
    let mut events = Box::pin(pods.watch(&wp, "0").await.unwrap());
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(seen.iter().any(|r| r == "ErrImagePull") && seen.last().map(String::as_str) == Some("ImagePullBackOff")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let p = match tokio::time::timeout(left, futures::StreamExt::next(&mut events)).await {
            Err(_) => panic!("timed out; reasons seen {seen:?}"),
            Ok(None) => panic!("watch ended; reasons seen {seen:?}"),
            Ok(Some(Err(e))) => panic!("watch failed: {e}"),
            Ok(Some(Ok(client::WatchEvent::Added(p) | client::WatchEvent::Modified(p)))) => p,
            Ok(Some(Ok(_))) => continue,
        };
        let v = serde_json::to_value(&p).unwrap();
        let r = reason(&v);
        if r == "ErrImagePull" {
            assert_eq!(v["status"]["phase"], "Pending");
        }
        if !r.is_empty() && seen.last() != Some(&r) {
            seen.push(r);
        }
    }
    let first = seen.iter().position(|r| r == "ErrImagePull").unwrap();
    assert!(seen[first..].iter().any(|r| r == "ImagePullBackOff"), "ErrImagePull then ImagePullBackOff: {seen:?}");

    // The kubelet's events, worded as upstream's.
    let c = &tc.client;
    let good = format!("{}/test/busybox:v1", reg.addr);
    wait_event(c, "default", "pulled", "Pulling", |m| m == format!("Pulling image {good:?}")).await;
    let pulled = wait_event(c, "default", "pulled", "Pulled", |m| m.starts_with(&format!("Successfully pulled image {good:?} in "))).await;
    assert!(pulled.message.as_deref().unwrap().contains(" including waiting). Image size: "), "{pulled:?}");
    let bad = format!("{}/test/nothing:v1", reg.addr);
    let failed = wait_event(c, "default", "missing", "Failed", |m| m.starts_with(&format!("Failed to pull image {bad:?}: "))).await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    wait_event(c, "default", "missing", "Failed", |m| m == "Error: ErrImagePull").await;
    wait_event(c, "default", "missing", "BackOff", |m| m == format!("Back-off pulling image {bad:?}")).await;
    wait_event(c, "default", "missing", "Failed", |m| m == "Error: ImagePullBackOff").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pulls_from_an_authenticated_registry_with_image_pull_secrets() {
    // docker-registry with htpasswd (bcrypt) basic auth.
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let out = Command::new("htpasswd").args(["-Bbc"]).arg(&htpasswd).args(["puller", "s3cret"]).output().unwrap();
    assert!(out.status.success(), "htpasswd: {}", String::from_utf8_lossy(&out.stderr));
    let addr = format!("127.0.0.1:{}", free_port());
    let cfg = dir.path().join("config.yml");
    std::fs::write(&cfg, format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: test\n    path: {}\n",
        dir.path().join("data").display(), htpasswd.display())).unwrap();
    let child = Command::new("docker-registry").arg("serve").arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let reg = Registry { child, addr: addr.clone(), _dir: dir };
    let start = Instant::now();
    while std::net::TcpStream::connect(&reg.addr).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let images = tempfile::tempdir().unwrap();
    let archives = kubelet::images::testimages::build(images.path()).unwrap();
    for tag in ["v1", "v2", "v3"] {
        let out = Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", "puller:s3cret"])
            .arg(format!("oci-archive:{}", archives[0].display()))
            .arg(format!("docker://{addr}/private/busybox:{tag}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
    }

    let tc = TestCluster::start().await.unwrap();
    let name = format!("node-{:06x}", rand::random::<u32>() & 0xffffff);
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(tc.client.clone(), "default");
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode("puller:s3cret");
    let json_cfg = json!({"auths": {addr.clone(): {"auth": auth}}}).to_string();
    let legacy_cfg = json!({format!("http://{addr}"): {"username": "puller", "password": "s3cret"}}).to_string();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for (n, ty, key, val) in [("regcred", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", &json_cfg), ("legacy", "kubernetes.io/dockercfg", ".dockercfg", &legacy_cfg)] {
        let s = serde_json::from_value(json!({"metadata": {"name": n}, "type": ty, "data": {key: b64(val)}})).unwrap();
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let mk = |pod: &str, tag: &str, secret: Option<&str>| -> Pod {
        let mut spec = json!({"nodeName": name, "restartPolicy": "Never",
            "containers": [{"name": "c", "image": format!("{addr}/private/busybox:{tag}"), "command": ["true"]}]});
        if let Some(s) = secret {
            spec["imagePullSecrets"] = json!([{"name": s}]);
        }
        serde_json::from_value(json!({"metadata": {"name": pod}, "spec": spec})).unwrap()
    };
    pods.create(&PostParams::default(), &mk("anon", "v1", None)).await.unwrap();
    // Without credentials the registry refuses (ErrImagePull, then its back-off quoting it).
    let denied = wait_pod(&pods, "anon", |p| {
        let r = &p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"];
        r == "ErrImagePull" || r == "ImagePullBackOff"
    })
    .await;
    let msg = denied["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("failed to pull and unpack image") && msg.contains("Not authorized"), "{msg}");
    pods.create(&PostParams::default(), &mk("withjson", "v1", Some("regcred"))).await.unwrap();
    wait_pod(&pods, "withjson", |p| p["status"]["phase"] == "Succeeded").await;
    pods.create(&PostParams::default(), &mk("withcfg", "v2", Some("legacy"))).await.unwrap();
    wait_pod(&pods, "withcfg", |p| p["status"]["phase"] == "Succeeded").await;

    // The apiserver's ServiceAccount admission gives a pod without pull secrets its account's.
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(tc.client.clone(), "default");
    let sa = serde_json::from_value(json!({"metadata": {"name": "puller"}, "imagePullSecrets": [{"name": "regcred"}]})).unwrap();
    sas.create(&PostParams::default(), &sa).await.unwrap();
    let mut p = mk("viasa", "v3", None);
    p.spec.as_mut().unwrap().service_account_name = Some("puller".into());
    let created = pods.create(&PostParams::default(), &p).await.unwrap();
    assert_eq!(created.spec.unwrap().image_pull_secrets.unwrap()[0].name, "regcred");
    wait_pod(&pods, "viasa", |p| p["status"]["phase"] == "Succeeded").await;
}
