//! Storage admission on a real etcd: the bootstrap default StorageClass,
//! DefaultStorageClass (claims without a class get the default one) and
//! StorageObjectInUseProtection (claims and volumes get their finalizers).

mod common;

use client::{Api, PostParams};
use common::*;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{json, Value};

fn claim(name: &str, extra: Value) -> PersistentVolumeClaim {
    let mut v = json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    v["spec"].as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn claims_get_the_default_class_and_protection_finalizers() {
    let c = cluster().await;
    let pp = PostParams::default();
    let classes = Api::<StorageClass>::all(c.client.clone());
    let standard = classes.get("standard").await.unwrap();
    assert_eq!(standard.metadata.annotations.as_ref().unwrap()["storageclass.kubernetes.io/is-default-class"], "true");
    assert_eq!(
        (standard.provisioner.as_str(), standard.reclaim_policy.as_deref(), standard.volume_binding_mode.as_deref()),
        ("ferrokube.io/local-path", Some("Delete"), Some("WaitForFirstConsumer"))
    );
    let pvcs = Api::<PersistentVolumeClaim>::namespaced(c.client.clone(), "default");
    let got = pvcs.create(&pp, &claim("plain", json!({}))).await.unwrap();
    assert_eq!(got.spec.unwrap().storage_class_name.as_deref(), Some("standard"));
    assert_eq!(got.metadata.finalizers.unwrap(), ["kubernetes.io/pvc-protection"]);
    // "" asks for no class, a named class is kept.
    let none = pvcs.create(&pp, &claim("none", json!({"storageClassName": ""}))).await.unwrap();
    assert_eq!(none.spec.unwrap().storage_class_name.as_deref(), Some(""));
    let named = pvcs.create(&pp, &claim("named", json!({"storageClassName": "fast"}))).await.unwrap();
    assert_eq!(named.spec.unwrap().storage_class_name.as_deref(), Some("fast"));
    // A newer default class wins (upstream: the most recently created default; the
    // name decides within the same second, and "newer" sorts before "standard").
    let newer: StorageClass = serde_json::from_value(json!({"metadata": {"name": "newer", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "example.com/nfs"}))
    .unwrap();
    classes.create(&pp, &newer).await.unwrap();
    let got = pvcs.create(&pp, &claim("later", json!({}))).await.unwrap();
    assert_eq!(got.spec.unwrap().storage_class_name.as_deref(), Some("newer"));

    let pv: PersistentVolume = serde_json::from_value(json!({"metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv1"}}}))
    .unwrap();
    let pv = Api::<PersistentVolume>::all(c.client.clone()).create(&pp, &pv).await.unwrap();
    assert_eq!(pv.metadata.finalizers.unwrap(), ["kubernetes.io/pv-protection"]);
}
