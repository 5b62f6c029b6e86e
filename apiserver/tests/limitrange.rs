//! LimitRanger admission against a real etcd, with the book's manifests
//! (Kubernetes in Action, ch. 14): limits.yaml defaults a pod that sets no
//! resources, and pods or claims outside its bounds are refused with
//! upstream's messages.

use client::{Api, ListParams, PostParams};
use k8s_openapi::api::core::v1::{LimitRange, PersistentVolumeClaim, Pod};
use serde_json::json;
use testing::TestCluster;

const NS: &str = "default";

/// The book's limits.yaml.
fn book_limits() -> LimitRange {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "example"}, "spec": {"limits": [
        {"type": "Pod", "min": {"cpu": "50m", "memory": "5Mi"}, "max": {"cpu": 1, "memory": "1Gi"}},
        {"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "10Mi"}, "default": {"cpu": "200m", "memory": "100Mi"},
         "min": {"cpu": "50m", "memory": "5Mi"}, "max": {"cpu": 1, "memory": "1Gi"}, "maxLimitRequestRatio": {"cpu": 4, "memory": 10}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}
    ]}}))
    .unwrap()
}

fn pod(name: &str, resources: serde_json::Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "image": "busybox", "resources": resources}]}})).unwrap()
}

#[tokio::test]
async fn the_books_limit_range_defaults_and_bounds_pods_and_claims() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ranges = Api::<LimitRange>::namespaced(client.clone(), NS);
    let pods = Api::<Pod>::namespaced(client.clone(), NS);
    ranges.create(&PostParams::default(), &book_limits()).await.unwrap();
    // A consistent list returns once the apiserver's watch cache holds the
    // LimitRange; pods created from then on see it.
    assert_eq!(ranges.list(&ListParams::default()).await.unwrap().items.len(), 1);

    // kubia-manual sets no resources: it gets the Container defaults.
    let p = pods.create(&PostParams::default(), &pod("kubia-manual", json!({}))).await.unwrap();
    let r = serde_json::to_value(&p.spec.unwrap().containers[0].resources).unwrap();
    assert_eq!(r, json!({"requests": {"cpu": "100m", "memory": "10Mi"}, "limits": {"cpu": "200m", "memory": "100Mi"}}));
    let note = p.metadata.annotations.unwrap_or_default().get("kubernetes.io/limit-ranger").cloned();
    assert_eq!(note.as_deref(), Some("LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main"));

    // limits-pod-too-big.yaml: cpu 2 requested; the default limit of 200m makes it invalid.
    let err = pods.create(&PostParams::default(), &pod("too-big", json!({"requests": {"cpu": "2"}}))).await.unwrap_err();
    assert!(err.to_string().contains(r#"Pod "too-big" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 200m"#), "{err}");
    // With a limit of its own, the maximums refuse it.
    let err = pods.create(&PostParams::default(), &pod("too-big", json!({"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}))).await.unwrap_err();
    assert!(
        err.to_string().contains(r#"pods "too-big" is forbidden: [maximum cpu usage per Pod is 1, but limit is 2, maximum cpu usage per Container is 1, but limit is 2]"#),
        "{err}"
    );
    assert!(pods.get_opt("too-big").await.unwrap().is_none());

    // Claims: storage between 1Gi and 10Gi.
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), NS);
    let claim = |name: &str, size: &str| -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})).unwrap()
    };
    claims.create(&PostParams::default(), &claim("fits", "5Gi")).await.unwrap();
    let err = claims.create(&PostParams::default(), &claim("huge", "20Gi")).await.unwrap_err();
    assert!(err.to_string().contains(r#"persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"#), "{err}");
}
