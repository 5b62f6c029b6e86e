//! Pod builders and waits shared by the kubelet's integration tests.

use super::node::TestNode;
use client::Api;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const LONG: Duration = Duration::from_secs(90);

/// A pod in `default` bound to `node` with this spec.
pub fn pod(name: &str, node: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})).unwrap()
}

/// Polls the pod until `f` accepts it (as JSON); panics after LONG with its last status.
pub async fn wait_pod(api: &Api<Pod>, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
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

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:06x}", rand::random::<u32>() & 0xffffff)
}

/// The status ("True"/"False") of the pod condition `t`, "" when absent.
pub fn condition(p: &Value, t: &str) -> String {
    p["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == t).and_then(|c| c["status"].as_str()).unwrap_or("").to_string()
}

pub fn finished(p: &Value) -> bool {
    p["status"]["phase"] == "Succeeded" || p["status"]["phase"] == "Failed"
}

/// The status of container `name` (app or init).
pub fn container_status(p: &Value, name: &str) -> Value {
    let all = p["status"]["containerStatuses"].as_array().into_iter().chain(p["status"]["initContainerStatuses"].as_array()).flatten();
    all.into_iter().find(|c| c["name"] == name).cloned().unwrap_or(Value::Null)
}

/// The first attempt's log lines of a container (CRI framing removed).
pub fn log_lines(node: &TestNode, pod: &Value, container: &str) -> Vec<String> {
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let name = pod["metadata"]["name"].as_str().unwrap();
    let text = std::fs::read_to_string(node.logs().join(format!("default_{name}_{uid}/{container}/0.log"))).unwrap();
    text.lines().map(|l| l.splitn(4, ' ').nth(3).unwrap_or("").to_string()).collect()
}
