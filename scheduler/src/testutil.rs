//! Builders for nodes and pods used by unit and integration tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, ContainerImage, Node, NodeSpec, NodeStatus, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;

/// A Node with cpu/memory allocatable, 110 pods and the hostname label.
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

pub fn node_info(name: &str, cpu: &str, mem: &str) -> NodeInfo {
    NodeInfo::new(Arc::new(node(name, cpu, mem)))
}

pub fn pod_info(name: &str, cpu: &str, mem: &str) -> PodInfo {
    PodInfo::new(Arc::new(pod(name, cpu, mem)))
}

pub fn node_with_images(name: &str, images: &[(&str, i64)]) -> NodeInfo {
    let mut n = node(name, "4", "8Gi");
    n.status.as_mut().unwrap().images = Some(
        images.iter().map(|(i, s)| ContainerImage { names: Some(vec![i.to_string()]), size_bytes: Some(*s) }).collect(),
    );
    NodeInfo::new(Arc::new(n))
}

pub fn pod_with_image(name: &str, image: &str) -> PodInfo {
    let mut p = pod(name, "", "");
    p.spec.as_mut().unwrap().containers[0].image = Some(image.into());
    PodInfo::new(Arc::new(p))
}

/// A pod from a JSON/YAML-ish value merged over `pod(name)`: handy for affinity specs.
pub fn pod_from_json(v: serde_json::Value) -> PodInfo {
    PodInfo::new(Arc::new(serde_json::from_value(v).expect("pod json")))
}

pub fn node_from_json(v: serde_json::Value) -> NodeInfo {
    NodeInfo::new(Arc::new(serde_json::from_value(v).expect("node json")))
}
