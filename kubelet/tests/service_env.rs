//! Service environment variables in a real container: the Services of the
//! pod's namespace that exist when it starts, as upstream's kubelet writes
//! them, with enableServiceLinks honoured and explicit env winning. Needs root.

mod common;

use client::{Api, PostParams};
use common::node::TestNode;
use common::pods::*;
use k8s_openapi::api::core::v1::{Pod, Service};
use serde_json::json;
use testing::TestCluster;

async fn service(tc: &TestCluster, v: serde_json::Value) -> Service {
    let s: Service = serde_json::from_value(v).unwrap();
    Api::<Service>::namespaced(tc.client.clone(), "default").create(&PostParams::default(), &s).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn containers_see_the_services_that_exist_when_they_start() {
    let tc = TestCluster::start().await.unwrap();
    let name = unique("node");
    let node = TestNode::start(&tc.addr.to_string(), &name, &[]);
    let web = service(&tc, json!({"metadata": {"name": "my-web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "metrics", "port": 9100, "protocol": "UDP"}]}})).await;
    let ip = web.spec.unwrap().cluster_ip.unwrap();
    service(&tc, json!({"metadata": {"name": "headless", "namespace": "default"}, "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]}})).await;
    service(&tc, json!({"metadata": {"name": "ext", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "example.com"}})).await;
    let kubernetes = Api::<Service>::namespaced(tc.client.clone(), "default").get("kubernetes").await.expect("the apiserver bootstraps the kubernetes Service");
    let k_ip = kubernetes.spec.unwrap().cluster_ip.unwrap();

    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let p = pod("env", &name, json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
        "env": [{"name": "MY_WEB_SERVICE_PORT_HTTP", "value": "mine"}, {"name": "URL", "value": "http://$(MY_WEB_SERVICE_HOST):$(MY_WEB_SERVICE_PORT)/"}],
        "command": ["sh", "-c", "env | sort"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "env", "Succeeded", |p| p["status"]["phase"] == "Succeeded").await;
    let lines = log_lines(&node, &done, "c");
    let get = |k: &str| lines.iter().find_map(|l| l.strip_prefix(&format!("{k}="))).map(str::to_string);
    assert_eq!(get("MY_WEB_SERVICE_HOST"), Some(ip.clone()), "{lines:#?}");
    assert_eq!(get("MY_WEB_SERVICE_PORT"), Some("80".into()));
    assert_eq!(get("MY_WEB_SERVICE_PORT_METRICS"), Some("9100".into()));
    assert_eq!(get("MY_WEB_SERVICE_PORT_HTTP"), Some("mine".into()), "explicit env wins");
    assert_eq!(get("MY_WEB_PORT"), Some(format!("tcp://{ip}:80")));
    assert_eq!(get("MY_WEB_PORT_80_TCP"), Some(format!("tcp://{ip}:80")));
    assert_eq!(get("MY_WEB_PORT_80_TCP_PROTO"), Some("tcp".into()));
    assert_eq!(get("MY_WEB_PORT_80_TCP_PORT"), Some("80".into()));
    assert_eq!(get("MY_WEB_PORT_80_TCP_ADDR"), Some(ip.clone()));
    assert_eq!(get("MY_WEB_PORT_9100_UDP"), Some(format!("udp://{ip}:9100")));
    assert_eq!(get("URL"), Some(format!("http://{ip}:80/")), "$(VAR) sees service variables");
    assert_eq!(get("KUBERNETES_SERVICE_HOST"), Some(k_ip.clone()));
    assert_eq!(get("KUBERNETES_SERVICE_PORT_HTTPS"), Some("443".into()));
    assert!(lines.iter().all(|l| !l.starts_with("HEADLESS_") && !l.starts_with("EXT_")), "no variables for headless or ExternalName Services: {lines:#?}");

    // enableServiceLinks: false leaves only the master Service's variables.
    let p = pod("nolinks", &name, json!({"restartPolicy": "Never", "enableServiceLinks": false, "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "env | sort"]}]}));
    pods.create(&PostParams::default(), &p).await.unwrap();
    let done = wait_pod(&pods, "nolinks", "Succeeded", |p| p["status"]["phase"] == "Succeeded").await;
    let lines = log_lines(&node, &done, "c");
    assert!(lines.iter().any(|l| l == &format!("KUBERNETES_SERVICE_HOST={k_ip}")), "{lines:#?}");
    assert!(lines.iter().all(|l| !l.starts_with("MY_WEB_")), "{lines:#?}");
}
