//! Pod graceful deletion, binding, the spec/status split, generation and
//! finalizers, against a real etcd.

mod common;

use client::{Api, DeleteParams, Patch, PostParams};
use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;

#[tokio::test]
async fn deleting_a_bound_pod_leaves_it_terminating_until_confirmed() {
    let c = cluster().await;
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let p = create_pod(&c.client, "default", "graceful").await;
    pods.bind("graceful", "node-1").await.unwrap();
    let (pending, gone) = pods.delete("graceful", &DeleteParams::default().grace_period(30)).await.unwrap();
    assert!(!gone, "a bound pod is not removed at once");
    assert_eq!(pending.metadata.deletion_grace_period_seconds, Some(30));
    assert!(pending.metadata.deletion_timestamp.is_some());
    // Still there, terminating.
    let still = pods.get("graceful").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());
    // A second delete may shorten the grace period but not extend it.
    let (again, _) = pods.delete("graceful", &DeleteParams::default().grace_period(60)).await.unwrap();
    assert_eq!(again.metadata.deletion_grace_period_seconds, Some(30));
    // The kubelet confirms with grace 0 and the uid precondition: now it is gone.
    let dp = DeleteParams { grace_period_seconds: Some(0), precondition_uid: p.metadata.uid.clone(), ..Default::default() };
    let (_, gone) = pods.delete("graceful", &dp).await.unwrap();
    assert!(gone);
    assert!(pods.get("graceful").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn unbound_pods_are_deleted_at_once_and_uid_preconditions_hold() {
    let c = cluster().await;
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    create_pod(&c.client, "default", "unbound").await;
    let dp = DeleteParams { precondition_uid: Some("not-the-uid".into()), ..Default::default() };
    let e = pods.delete("unbound", &dp).await.unwrap_err();
    assert!(e.is_conflict());
    assert!(e.to_string().contains("Precondition failed: UID in precondition: not-the-uid"), "{e}");
    let (_, gone) = pods.delete("unbound", &DeleteParams::default()).await.unwrap();
    assert!(gone, "a pod never scheduled has nothing to stop");
}

#[tokio::test]
async fn binding_sets_node_once() {
    let c = cluster().await;
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    create_pod(&c.client, "default", "b").await;
    pods.bind("b", "node-1").await.unwrap();
    let p = pods.get("b").await.unwrap();
    assert_eq!(p.spec.as_ref().unwrap().node_name.as_deref(), Some("node-1"));
    let cond = p.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "PodScheduled").unwrap();
    assert_eq!(cond.status, "True");
    let e = pods.bind("b", "node-2").await.unwrap_err();
    assert!(e.is_conflict());
    assert!(e.to_string().contains(r#"pod b is already assigned to node "node-1""#), "{e}");
    assert!(pods.bind("missing", "node-1").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn spec_and_status_are_written_through_separate_verbs() {
    let c = cluster().await;
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let p = create_pod(&c.client, "default", "split").await;
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
    // A status change through update is ignored...
    let mut upd = p.clone();
    upd.status.as_mut().unwrap().phase = Some("Running".into());
    upd.metadata.labels.get_or_insert_with(Default::default).insert("x".into(), "y".into());
    let after = pods.replace(&upd).await.unwrap();
    assert_eq!(after.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
    assert_eq!(after.metadata.labels.as_ref().unwrap()["x"], "y");
    // ...and a spec change through update-status is ignored.
    let mut st = after.clone();
    st.status.as_mut().unwrap().phase = Some("Running".into());
    st.spec.as_mut().unwrap().active_deadline_seconds = Some(99);
    let after = pods.replace_status(&st).await.unwrap();
    assert_eq!(after.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(after.spec.as_ref().unwrap().active_deadline_seconds, None);
    // Status patches go through the status subresource.
    let after = pods
        .patch_status("split", &PostParams::default(), &Patch::Merge(json!({"status": {"podIP": "10.0.0.5"}})))
        .await
        .unwrap();
    assert_eq!(after.status.unwrap().pod_ip.as_deref(), Some("10.0.0.5"));
}

#[tokio::test]
async fn pod_spec_is_mostly_immutable() {
    let c = cluster().await;
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let p = create_pod(&c.client, "default", "imm").await;
    let mut upd = p.clone();
    upd.spec.as_mut().unwrap().containers[0].image = Some("busybox:1.36".into());
    pods.replace(&upd).await.expect("image updates are allowed");
    let e = pods
        .patch("imm", &PostParams::default(), &Patch::Strategic(json!({"spec": {"restartPolicy": "Never"}})))
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "{e:?}");
    assert!(e.to_string().contains("pod updates may not change fields other than"), "{e}");
}

#[tokio::test]
async fn generation_moves_with_spec_only() {
    let c = cluster().await;
    let api = Api::<Deployment>::namespaced(c.client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    let d = api.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(d.spec.replicas, Some(1), "defaulted");
    let pp = PostParams::default();
    let d = api.patch("web", &pp, &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}))).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1), "metadata changes keep the generation");
    let d = api.patch("web", &pp, &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.unwrap();
    assert_eq!(d.metadata.generation, Some(2));
    let d = api.patch_status("web", &pp, &Patch::Merge(json!({"status": {"replicas": 3}}))).await.unwrap();
    assert_eq!(d.metadata.generation, Some(2), "status changes keep the generation");
    let e = api
        .patch("web", &pp, &Patch::Merge(json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}})))
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "selector is immutable: {e:?}");
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let mut o = cm("fin");
    o.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &o).await.unwrap();
    let (held, gone) = api.delete("fin", &DeleteParams::default()).await.unwrap();
    assert!(!gone);
    assert!(held.metadata.deletion_timestamp.is_some());
    let e = api.patch("fin", &PostParams::default(), &Patch::Merge(json!({"data": {"k": "changed"}}))).await;
    assert!(e.is_ok(), "updates are still allowed while terminating");
    api.patch("fin", &PostParams::default(), &Patch::Json(json!([{"op": "remove", "path": "/metadata/finalizers"}])))
        .await
        .unwrap();
    assert!(api.get("fin").await.unwrap_err().is_not_found(), "removing the last finalizer deletes");
    // Orphan propagation is recorded as a finalizer for the garbage collector.
    api.create(&PostParams::default(), &cm("orph")).await.unwrap();
    let (o, gone) = api.delete("orph", &DeleteParams::default().propagation("Orphan")).await.unwrap();
    assert!(!gone);
    assert_eq!(o.metadata.finalizers, Some(vec!["orphan".to_string()]));
}

#[tokio::test]
async fn pods_are_defaulted_as_upstream() {
    let c = cluster().await;
    let p = create_pod(&c.client, "default", "defaults").await;
    let spec = p.spec.unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(spec.containers[0].image_pull_policy.as_deref(), Some("Always"), "untagged image means :latest");
    assert_eq!(spec.containers[0].termination_message_path.as_deref(), Some("/dev/termination-log"));
    assert_eq!(p.status.unwrap().qos_class.as_deref(), Some("BestEffort"));
}

#[tokio::test]
async fn scale_subresource_reads_and_sets_replicas() {
    use client::proto::v1::{GetRequest, PatchRequest, PatchType, ResourceRef};
    let c = cluster().await;
    let api = Api::<Deployment>::namespaced(c.client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &d).await.unwrap();
    let target = ResourceRef { group: "apps".into(), version: "v1".into(), resource: "deployments".into(), namespace: "default".into(), name: "web".into(), subresource: "scale".into() };
    let got = c.client.grpc().get(GetRequest { target: Some(target.clone()), resource_version: String::new() }).await.unwrap().into_inner();
    let scale: serde_json::Value = serde_json::from_slice(&got.raw).unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=web");
    let req = PatchRequest {
        target: Some(target),
        patch_type: PatchType::MergePatch as i32,
        patch: br#"{"spec":{"replicas":5}}"#.to_vec(),
        ..Default::default()
    };
    let out: serde_json::Value = serde_json::from_slice(&c.client.grpc().patch(req).await.unwrap().into_inner().raw).unwrap();
    assert_eq!(out["spec"]["replicas"], 5);
    let d = api.get("web").await.unwrap();
    assert_eq!(d.spec.replicas, Some(5));
    assert_eq!(d.metadata.generation, Some(2), "scaling is a spec change");
}
