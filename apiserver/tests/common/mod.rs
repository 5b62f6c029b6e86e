//! Shared helpers for the apiserver's integration tests (real etcd, real server).
#![allow(dead_code)]

use client::{Api, Client, PostParams};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;

pub use testing::TestCluster;

pub async fn cluster() -> TestCluster {
    TestCluster::start().await.expect("test cluster starts (is etcd installed?)")
}

pub fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}, "data": {"k": "v"}
    }))
    .unwrap()
}

pub fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap()
}

pub async fn create_pod(c: &Client, ns: &str, name: &str) -> Pod {
    Api::<Pod>::namespaced(c.clone(), ns).create(&PostParams::default(), &pod(name)).await.expect("pod created")
}

pub fn rv<K: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>>(o: &K) -> String {
    o.metadata().resource_version.clone().unwrap_or_default()
}
