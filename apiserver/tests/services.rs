//! Service ClusterIP and NodePort allocation: requested values honoured or
//! refused, random ones unique, everything released on delete.

mod common;

use client::{Api, DeleteParams, Patch, PostParams};
use common::*;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;

fn svc(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

#[tokio::test]
async fn kubernetes_service_holds_the_first_address() {
    let c = cluster().await;
    let api = Api::<Service>::namespaced(c.client.clone(), "default");
    let k = api.get("kubernetes").await.unwrap();
    let spec = k.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
    assert_eq!(spec.ports.unwrap()[0].port, 443);
}

#[tokio::test]
async fn requested_cluster_ip_is_honoured_or_refused() {
    let c = cluster().await;
    let api = Api::<Service>::namespaced(c.client.clone(), "default");
    let pp = PostParams::default();
    let s = api.create(&pp, &svc("a", json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}))).await.unwrap();
    assert_eq!(s.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.10"));
    let e = api.create(&pp, &svc("b", json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}))).await.unwrap_err();
    assert!(e.is_invalid(), "{e:?}");
    assert!(e.to_string().contains("failed to allocate IP 10.96.0.10: provided IP is already allocated"), "{e}");
    let e = api.create(&pp, &svc("c", json!({"clusterIP": "192.168.0.1", "ports": [{"port": 80}]}))).await.unwrap_err();
    assert!(e.to_string().contains("is not in the valid range. The range of valid IPs is 10.96.0.0/12"), "{e}");
    // Released on delete: the address can be requested again.
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let s = api.create(&pp, &svc("d", json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}))).await.unwrap();
    assert_eq!(s.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.10"));
    // Headless services get no address.
    let h = api.create(&pp, &svc("h", json!({"clusterIP": "None", "ports": [{"port": 80}]}))).await.unwrap();
    assert_eq!(h.spec.unwrap().cluster_ip.as_deref(), Some("None"));
}

#[tokio::test]
async fn node_ports_are_honoured_refused_and_released() {
    let c = cluster().await;
    let api = Api::<Service>::namespaced(c.client.clone(), "default");
    let pp = PostParams::default();
    let np = |name: &str, port: i32| svc(name, json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}));
    let s = api.create(&pp, &np("a", 30080)).await.unwrap();
    assert_eq!(s.spec.unwrap().ports.unwrap()[0].node_port, Some(30080));
    let e = api.create(&pp, &np("b", 30080)).await.unwrap_err();
    assert!(e.to_string().contains("spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"), "{e}");
    let e = api.create(&pp, &np("c", 80)).await.unwrap_err();
    assert!(e.to_string().contains("provided port is not in the valid range. The range of valid ports is 30000-32767"), "{e}");
    api.delete("a", &DeleteParams::default()).await.unwrap();
    api.create(&pp, &np("d", 30080)).await.expect("a released port can be taken again");
    // Changing the type to ClusterIP releases the node port.
    api.patch("d", &pp, &Patch::Merge(json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}))).await.unwrap();
    api.create(&pp, &np("e", 30080)).await.expect("port released by the type change");
}
