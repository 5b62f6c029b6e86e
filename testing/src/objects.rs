//! Node and Pod builders for tests and benchmarks.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, NodeSpec, NodeStatus, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A Node with cpu/memory allocatable, 110 pods, 100Gi ephemeral storage and
/// the hostname label.
pub fn node(name: &str, cpu: &str, mem: &str) -> Node {
    let mut alloc = BTreeMap::new();
    alloc.insert("cpu".to_string(), Quantity(cpu.into()));
    alloc.insert("memory".to_string(), Quantity(mem.into()));
    alloc.insert("pods".to_string(), Quantity("110".into()));
    alloc.insert("ephemeral-storage".to_string(), Quantity("100Gi".into()));
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus { capacity: Some(alloc.clone()), allocatable: Some(alloc), ..Default::default() }),
    }
}

/// A pod in "default" with one container requesting cpu/memory ("" = unset).
pub fn pod(name: &str, cpu: &str, mem: &str) -> Pod {
    let mut req = BTreeMap::new();
    if !cpu.is_empty() {
        req.insert("cpu".to_string(), Quantity(cpu.into()));
    }
    if !mem.is_empty() {
        req.insert("memory".to_string(), Quantity(mem.into()));
    }
    Pod {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), uid: Some(format!("uid-{name}")), ..Default::default() },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                resources: Some(ResourceRequirements { requests: Some(req), ..Default::default() }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}
