//! Unit-test wrappers: the `testing` crate's Node and Pod builders, as this
//! crate's NodeInfo and PodInfo. These stay here, under cfg(test), because a
//! dev-dependency cannot hand back this crate's own types (it would link a
//! second copy of the scheduler).

use std::sync::Arc;

use k8s_openapi::api::core::v1::ContainerImage;

use crate::cache::NodeInfo;
use crate::pod_info::PodInfo;

pub use testing::objects::{node, pod};

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

/// A pod from a JSON value: handy for affinity specs.
pub fn pod_from_json(v: serde_json::Value) -> PodInfo {
    PodInfo::new(Arc::new(serde_json::from_value(v).expect("pod json")))
}

pub fn node_from_json(v: serde_json::Value) -> NodeInfo {
    NodeInfo::new(Arc::new(serde_json::from_value(v).expect("node json")))
}
