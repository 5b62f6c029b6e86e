//! Probes and lifecycle against a real apiserver + etcd and a real kubelet
//! process running real containers. Needs root.

mod common;

use client::{Api, DeleteParams, PostParams};
use common::node::TestNode;
use common::pods::*;
use common::*;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use std::time::{Duration, Instant};
use testing::TestCluster;

#[tokio::test(flavor = "multi_thread")]
async fn failing_exec_liveness_probe_restarts_the_container() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    // Healthy for ~2 s after each start, then the probe's file is gone.
    let p = pod("live", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600"],
        "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let restarted = wait_pod(&pods, "live", "a restart", |p| p["status"]["containerStatuses"][0]["restartCount"].as_u64().unwrap_or(0) >= 1).await;
    let cs = &restarted["status"]["containerStatuses"][0];
    assert!(cs["lastState"]["terminated"].is_object() || cs["state"]["waiting"].is_object(), "{cs}");
    let e = wait_event(&tc.client, "default", "live", "Unhealthy", |m| m.starts_with("Liveness probe failed: ")).await;
    assert!(e.message.as_deref().unwrap().contains("/tmp/healthy"), "{:?}", e.message);
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    wait_event(&tc.client, "default", "live", "Killing", |m| m == "Container c failed liveness probe, will be restarted").await;
    pods.delete("live", &DeleteParams::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn http_readiness_flips_ready_both_ways_and_tcp_liveness_keeps_it_running() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let www = tempfile::tempdir().unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("web", &name, json!({"terminationGracePeriodSeconds": 1,
        "volumes": [{"name": "www", "hostPath": {"path": www.path(), "type": "Directory"}}],
        "containers": [{"name": "c", "image": "busybox", "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "volumeMounts": [{"name": "www", "mountPath": "/www"}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http", "httpHeaders": [{"name": "X-Probe", "value": "1"}]}, "periodSeconds": 1},
        "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "web", "running", |p| p["status"]["containerStatuses"][0]["state"]["running"].is_object()).await;
    // Not ready while /ready is a 404.
    assert_eq!(running["status"]["containerStatuses"][0]["ready"], false);
    wait_event(&tc.client, "default", "web", "Unhealthy", |m| m == "Readiness probe failed: HTTP probe failed with statuscode: 404").await;
    std::fs::write(www.path().join("ready"), "ok").unwrap();
    let ready = wait_pod(&pods, "web", "Ready", |p| condition(p, "Ready") == "True").await;
    assert_eq!(ready["status"]["containerStatuses"][0]["ready"], true);
    assert_eq!(ready["status"]["containerStatuses"][0]["started"], true);
    assert_eq!(condition(&ready, "ContainersReady"), "True");
    std::fs::remove_file(www.path().join("ready")).unwrap();
    let unready = wait_pod(&pods, "web", "not Ready again", |p| condition(p, "Ready") == "False").await;
    assert_eq!(unready["status"]["containerStatuses"][0]["ready"], false);
    // The TCP liveness probe succeeds all along: no restart.
    assert_eq!(unready["status"]["containerStatuses"][0]["restartCount"], 0);
    pods.delete("web", &DeleteParams::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn startup_probe_holds_started_and_readiness_back() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("slow", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", "sleep 3; touch /tmp/up; sleep 600"],
        "startupProbe": {"exec": {"command": ["test", "-e", "/tmp/up"]}, "periodSeconds": 1, "failureThreshold": 30},
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "slow", "running", |p| p["status"]["containerStatuses"][0]["state"]["running"].is_object()).await;
    assert_eq!(running["status"]["containerStatuses"][0]["started"], false);
    assert_eq!(running["status"]["containerStatuses"][0]["ready"], false);
    let ready = wait_pod(&pods, "slow", "started and ready", |p| condition(p, "Ready") == "True").await;
    assert_eq!(ready["status"]["containerStatuses"][0]["started"], true);
    pods.delete("slow", &DeleteParams::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn post_start_and_pre_stop_hooks_run_and_grace_bounds_pre_stop() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let host = tempfile::tempdir().unwrap();
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let vol = json!([{"name": "h", "hostPath": {"path": host.path(), "type": "Directory"}}]);
    let p = pod("hooks", &name, json!({"terminationGracePeriodSeconds": 30, "volumes": vol,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "trap 'echo term >> /h/log; exit 0' TERM; while true; do sleep 0.1; done"],
        "volumeMounts": [{"name": "h", "mountPath": "/h"}],
        "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo post-start >> /h/log"]}},
                      "preStop": {"exec": {"command": ["sh", "-c", "echo pre-stop >> /h/log; sleep 1"]}}}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    wait_pod(&pods, "hooks", "running", |p| p["status"]["containerStatuses"][0]["state"]["running"].is_object()).await;
    wait_for(LONG, "postStart output", || std::fs::read_to_string(host.path().join("log")).ok().filter(|s| s.contains("post-start")));
    pods.delete("hooks", &DeleteParams::default()).await.unwrap();
    let log = wait_for(LONG, "preStop then SIGTERM", || std::fs::read_to_string(host.path().join("log")).ok().filter(|s| s.contains("term")));
    assert_eq!(log, "post-start\npre-stop\nterm\n");

    // A preStop hook that outlasts the grace period is cut off by it.
    let p = pod("slowstop", &name, json!({"terminationGracePeriodSeconds": 3, "volumes": vol,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"],
        "volumeMounts": [{"name": "h", "mountPath": "/h"}],
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo waiting > /h/slow; sleep 600"]}}}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    wait_pod(&pods, "slowstop", "running", |p| p["status"]["containerStatuses"][0]["state"]["running"].is_object()).await;
    let t = Instant::now();
    pods.delete("slowstop", &DeleteParams::default()).await.unwrap();
    while pods.get_opt("slowstop").await.unwrap().is_some() {
        assert!(t.elapsed() < Duration::from_secs(30), "deletion not bounded by the grace period");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = t.elapsed();
    assert!(host.path().join("slow").exists(), "the preStop hook ran");
    // 3 s of hook, then at least upstream's 2 s minimum for SIGTERM before SIGKILL.
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(12), "took {took:?}");
    wait_event(&tc.client, "default", "slowstop", "FailedPreStopHook", |m| m.contains("PreStopHook failed to complete within 3s")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn termination_message_from_file_and_from_logs_on_error() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("msg", &name, json!({"restartPolicy": "Never", "containers": [
        {"name": "file", "image": "busybox", "command": ["sh", "-c", "echo -n bye > /dev/termination-log; exit 3"]},
        {"name": "custom", "image": "busybox", "terminationMessagePath": "/tmp/why", "command": ["sh", "-c", "echo -n custom > /tmp/why"]},
        {"name": "logs", "image": "busybox", "terminationMessagePolicy": "FallbackToLogsOnError", "command": ["sh", "-c", "echo one; echo two; exit 1"]},
        {"name": "quiet", "image": "busybox", "terminationMessagePolicy": "FallbackToLogsOnError", "command": ["sh", "-c", "echo fine"]},
    ]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "msg", "Failed", |p| p["status"]["phase"] == "Failed").await;
    let cs = |n: &str| done["status"]["containerStatuses"].as_array().unwrap().iter().find(|c| c["name"] == n).unwrap()["state"]["terminated"].clone();
    assert_eq!(cs("file")["message"], "bye");
    assert_eq!(cs("file")["exitCode"], 3);
    assert_eq!(cs("custom")["message"], "custom");
    assert_eq!(cs("logs")["message"], "one\ntwo\n");
    assert!(cs("quiet").get("message").is_none(), "{}", cs("quiet"));
}

#[tokio::test(flavor = "multi_thread")]
async fn active_deadline_fails_the_pod_with_deadline_exceeded() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("deadline", &name, json!({"activeDeadlineSeconds": 3, "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let t = Instant::now();
    let failed = wait_pod(&pods, "deadline", "Failed", |p| p["status"]["phase"] == "Failed").await;
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(failed["status"]["reason"], "DeadlineExceeded");
    assert_eq!(failed["status"]["message"], "Pod was active on the node longer than the specified deadline");
    let done = wait_pod(&pods, "deadline", "container stopped", |p| p["status"]["containerStatuses"][0]["state"]["terminated"].is_object()).await;
    assert_eq!(done["status"]["containerStatuses"][0]["restartCount"], 0);
    wait_event(&tc.client, "default", "deadline", "DeadlineExceeded", |m| m == "Pod was active on the node longer than the specified deadline").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sidecar_init_container_runs_beside_the_main_one_and_stops_with_it() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    // The sidecar serves; the main container talks to it over the pod's loopback, then exits.
    let p = pod("side", &name, json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
        "initContainers": [
            {"name": "setup", "image": "busybox", "command": ["true"]},
            {"name": "proxy", "image": "busybox", "restartPolicy": "Always", "command": ["sh", "-c", "mkdir /w; echo hi > /w/index.html; httpd -f -p 9090 -h /w"],
             "readinessProbe": {"tcpSocket": {"port": 9090}, "periodSeconds": 1}}],
        "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "until wget -q -O - http://127.0.0.1:9090/; do sleep 0.2; done; sleep 2"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let both = wait_pod(&pods, "side", "app and sidecar running", |p| {
        p["status"]["containerStatuses"][0]["state"]["running"].is_object() && p["status"]["initContainerStatuses"][1]["ready"] == true
    })
    .await;
    assert_eq!(both["status"]["initContainerStatuses"][0]["ready"], true, "a completed init container is ready");
    assert!(both["status"]["initContainerStatuses"][1]["state"]["running"].is_object());
    assert_eq!(both["status"]["initContainerStatuses"][1]["started"], true);
    let done = wait_pod(&pods, "side", "Succeeded", |p| p["status"]["phase"] == "Succeeded").await;
    assert_eq!(done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0);
    wait_pod(&pods, "side", "sidecar stopped", |p| p["status"]["initContainerStatuses"][1]["state"]["terminated"].is_object()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_readiness_probe_follows_the_health_service() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("grpc", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"],
        "readinessProbe": {"grpc": {"port": 9555, "service": "app"}, "periodSeconds": 1}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = wait_pod(&pods, "grpc", "running", |p| p["status"]["containerStatuses"][0]["state"]["running"].is_object()).await;
    // Nothing listens yet.
    wait_event(&tc.client, "default", "grpc", "Unhealthy", |m| m.starts_with("Readiness probe failed: ") && m.contains("failed to connect service")).await;
    assert_eq!(condition(&running, "Ready"), "False");

    // The health server, in the pod's network namespace (see common::grpc_health).
    let uid = running["metadata"]["uid"].as_str().unwrap();
    let sandbox = kubelet::runtime::shim_state::SandboxState::load(&node.root().join("pods").join(uid).join("sandbox.json")).unwrap();
    let health = grpc_health::Health::default();
    health.set("app", grpc_health::SERVING);
    let _server = grpc_health::serve_in_netns(sandbox.pid, 9555, health.clone());
    let ready = wait_pod(&pods, "grpc", "Ready", |p| condition(p, "Ready") == "True").await;
    assert_eq!(ready["status"]["containerStatuses"][0]["ready"], true);
    assert!(health.asked.lock().iter().all(|s| s == "app"), "the probe names its service: {:?}", health.asked.lock());

    health.set("app", grpc_health::NOT_SERVING);
    wait_pod(&pods, "grpc", "not Ready", |p| condition(p, "Ready") == "False").await;
    wait_event(&tc.client, "default", "grpc", "Unhealthy", |m| m == "Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")").await;
    pods.delete("grpc", &DeleteParams::default()).await.unwrap();
}

/// Kubernetes in Action chapter 17: a postStart hook that fails (exit 15) gets the
/// container killed with upstream's event; a preStop httpGet hook nothing answers
/// is reported and does not hold deletion back; a termination message file.
#[tokio::test(flavor = "multi_thread")]
async fn book_chapter_17_hooks_and_termination_message() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let _node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let hook = "echo 'hook will fail with exit code 15'; sleep 5 ; exit 15";
    let p = pod("pod-with-poststart-hook", &name, json!({"terminationGracePeriodSeconds": 1, "containers": [{"name": "kubia", "image": "busybox",
        "command": ["sleep", "600"], "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", hook]}}}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let p = pod("pod-with-prestop-http-hook", &name, json!({"containers": [{"name": "kubia", "image": "busybox", "command": ["sleep", "600"],
        "lifecycle": {"preStop": {"httpGet": {"port": 8080, "path": "shutdown"}}}}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let p = pod("pod-with-termination-message", &name, json!({"containers": [{"name": "main", "image": "busybox",
        "command": ["sh", "-c", "echo \"I've had enough\" > /var/termination-reason ; exit 1"], "terminationMessagePath": "/var/termination-reason"}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();

    let post = wait_pod(&pods, "pod-with-poststart-hook", "uid", |p| p["metadata"]["uid"].is_string()).await;
    let e = wait_event(&tc.client, "default", "pod-with-poststart-hook", "FailedPostStartHook", |_| true).await;
    assert_eq!(
        e.message.as_deref().unwrap(),
        format!(
            "Exec lifecycle hook ([sh -c {hook}]) for Container \"kubia\" in Pod \"pod-with-poststart-hook_default({})\" failed - error: command 'sh -c {hook}' exited with 15: , message: \"hook will fail with exit code 15\\n\"",
            post["metadata"]["uid"].as_str().unwrap()
        )
    );
    wait_event(&tc.client, "default", "pod-with-poststart-hook", "Killing", |m| m == "FailedPostStartHook").await;

    let msg = wait_pod(&pods, "pod-with-termination-message", "a termination message", |p| {
        let cs = &p["status"]["containerStatuses"][0];
        cs["lastState"]["terminated"]["message"].is_string() || cs["state"]["terminated"]["message"].is_string()
    })
    .await;
    let cs = &msg["status"]["containerStatuses"][0];
    let t = if cs["state"]["terminated"].is_object() { &cs["state"]["terminated"] } else { &cs["lastState"]["terminated"] };
    assert_eq!(t["message"], "I've had enough\n");
    assert_eq!(t["exitCode"], 1);

    wait_pod(&pods, "pod-with-prestop-http-hook", "running", |p| p["status"]["containerStatuses"][0]["state"]["running"].is_object()).await;
    pods.delete("pod-with-prestop-http-hook", &DeleteParams::default()).await.unwrap();
    let e = wait_event(&tc.client, "default", "pod-with-prestop-http-hook", "FailedPreStopHook", |_| true).await;
    let m = e.message.unwrap();
    assert!(m.starts_with("HTTP lifecycle hook (shutdown) for Container \"kubia\" in Pod \"pod-with-prestop-http-hook_default("), "{m}");
    assert!(m.contains(":8080/shutdown\": ") && m.ends_with(", message: \"\""), "{m}");
}
