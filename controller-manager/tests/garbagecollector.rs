//! The garbage collector against a real etcd and apiserver, with the
//! ReplicaSet controller creating the dependents: deletion with each
//! propagation policy, and dependents of owners that no longer exist.

mod common;
use common::*;

use std::time::Duration;

use client::{Api, Client, DeleteParams, ListParams, Patch, PostParams};
use controller_manager::controllers::{garbagecollector::GARBAGE_COLLECTOR, replicaset::REPLICASET};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use testing::TestCluster;

fn start(client: &Client) -> Running {
    start_controllers(client, vec![(REPLICASET, 5), (GARBAGE_COLLECTOR, 5)])
}

const NS: &str = "default";





fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap()
}

async fn pods_labelled(client: &Client, app: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default().labels(&format!("app={app}"))).await.unwrap().items
}

/// Creates the ReplicaSet and waits for its `n` pods.
async fn replicaset_with_pods(client: &Client, name: &str, n: usize) -> (ReplicaSet, Vec<Pod>) {
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), NS).create(&PostParams::default(), &replicaset(name, n as i32)).await.unwrap();
    let pods = wait_for(&format!("{n} pods of {name}"), Duration::from_secs(20), async || Some(pods_labelled(client, name).await).filter(|p| p.len() == n)).await;
    (rs, pods)
}

fn finalizers_of(rs: &ReplicaSet) -> Vec<String> {
    rs.metadata.finalizers.clone().unwrap_or_default()
}

#[tokio::test]
async fn deleting_a_replicaset_with_each_propagation_policy() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let rs_api = Api::<ReplicaSet>::namespaced(client.clone(), NS);
    let pod_api = Api::<Pod>::namespaced(client.clone(), NS);

    // Background: the ReplicaSet goes at once, the garbage collector deletes its pods.
    replicaset_with_pods(&client, "bg", 2).await;
    let (_, gone) = rs_api.delete("bg", &DeleteParams::default().propagation("Background")).await.unwrap();
    assert!(gone, "background deletion removes the owner at once");
    wait_for("bg's pods deleted", Duration::from_secs(20), async || pods_labelled(&client, "bg").await.is_empty().then_some(())).await;

    // Foreground: the ReplicaSet stays, with the foregroundDeletion finalizer, until its pods are gone.
    let (rs, pods) = replicaset_with_pods(&client, "fg", 2).await;
    let held = pods[0].metadata.name.clone().unwrap();
    pod_api.patch(&held, &PostParams::default(), &Patch::Merge(serde_json::json!({"metadata": {"finalizers": ["example.com/hold"]}}))).await.unwrap();
    let (deleting, gone) = rs_api.delete("fg", &DeleteParams::default().propagation("Foreground")).await.unwrap();
    assert!(!gone);
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(finalizers_of(&deleting), ["foregroundDeletion"]);
    // The pod without a finalizer goes; the held one is terminating; the owner waits for it.
    wait_for("fg's free pod deleted and the held one terminating", Duration::from_secs(20), async || {
        let p = pods_labelled(&client, "fg").await;
        (p.len() == 1 && p[0].metadata.name.as_deref() == Some(held.as_str()) && p[0].metadata.deletion_timestamp.is_some()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = rs_api.get("fg").await.unwrap();
    assert_eq!(waiting.metadata.uid, rs.metadata.uid);
    assert_eq!(finalizers_of(&waiting), ["foregroundDeletion"], "the owner waits for its blocking dependent");
    pod_api.patch(&held, &PostParams::default(), &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}}))).await.unwrap();
    wait_for("fg deleted once its pods are gone", Duration::from_secs(20), async || rs_api.get_opt("fg").await.unwrap().is_none().then_some(())).await;
    assert!(pods_labelled(&client, "fg").await.is_empty());

    // Orphan: the ReplicaSet goes, its pods stay without the ownerReference.
    let (rs, _) = replicaset_with_pods(&client, "or", 2).await;
    rs_api.delete("or", &DeleteParams::default().propagation("Orphan")).await.unwrap();
    wait_for("or deleted after orphaning", Duration::from_secs(20), async || rs_api.get_opt("or").await.unwrap().is_none().then_some(())).await;
    let pods = pods_labelled(&client, "or").await;
    assert_eq!(pods.len(), 2, "orphaned pods stay");
    for p in &pods {
        assert!(p.metadata.deletion_timestamp.is_none());
        assert!(!api::owner::is_owned_by(&p.metadata, rs.metadata.uid.as_deref().unwrap()), "ownerReference removed: {:?}", p.metadata.owner_references);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pods_labelled(&client, "or").await.len(), 2, "nothing deletes orphans later");
    running.stop().await;
}

fn configmap(name: &str, owners: serde_json::Value) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": NS, "ownerReferences": owners}})).unwrap()
}

fn owner_ref(kind: &str, api_version: &str, name: &str, uid: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid})
}

#[tokio::test]
async fn dependents_of_vanished_owners_are_deleted_and_live_owners_keep_theirs() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let cms = Api::<ConfigMap>::namespaced(client.clone(), NS);
    let pp = PostParams::default();

    let owner = cms.create(&pp, &configmap("owner", serde_json::json!([]))).await.unwrap();
    let owner_uid = owner.metadata.uid.clone().unwrap();
    // Owned by a live object: stays.
    cms.create(&pp, &configmap("kept", serde_json::json!([owner_ref("ConfigMap", "v1", "owner", &owner_uid)]))).await.unwrap();
    // Owned by an object that never existed, and by a name that exists with another uid: deleted.
    cms.create(&pp, &configmap("ghost-owned", serde_json::json!([owner_ref("ReplicaSet", "apps/v1", "ghost", "00000000-0000-0000-0000-000000000001")]))).await.unwrap();
    cms.create(&pp, &configmap("wrong-uid", serde_json::json!([owner_ref("ConfigMap", "v1", "owner", "00000000-0000-0000-0000-000000000002")]))).await.unwrap();
    // One live owner and one gone: only the dead reference is removed.
    let mixed = serde_json::json!([owner_ref("ConfigMap", "v1", "owner", &owner_uid), owner_ref("ReplicaSet", "apps/v1", "ghost", "00000000-0000-0000-0000-000000000003")]);
    cms.create(&pp, &configmap("mixed", mixed)).await.unwrap();

    wait_for("dependents of absent owners deleted", Duration::from_secs(20), async || {
        let a = cms.get_opt("ghost-owned").await.unwrap();
        let b = cms.get_opt("wrong-uid").await.unwrap();
        (a.is_none() && b.is_none()).then_some(())
    })
    .await;
    let mixed = wait_for("the dead reference dropped from mixed", Duration::from_secs(20), async || {
        cms.get("mixed").await.ok().filter(|c| c.metadata.owner_references.as_ref().is_some_and(|r| r.len() == 1))
    })
    .await;
    assert_eq!(mixed.metadata.owner_references.unwrap()[0].uid, owner_uid);
    assert!(cms.get_opt("kept").await.unwrap().is_some());

    // The owner goes (no policy: background for ConfigMaps): its dependents follow.
    cms.delete("owner", &DeleteParams::default()).await.unwrap();
    wait_for("dependents of the deleted owner deleted", Duration::from_secs(20), async || {
        let a = cms.get_opt("kept").await.unwrap();
        let b = cms.get_opt("mixed").await.unwrap();
        (a.is_none() && b.is_none()).then_some(())
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn invalid_propagation_policy_is_refused_and_defaults_follow_the_kind() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let cms = Api::<ConfigMap>::namespaced(client.clone(), NS);
    cms.create(&PostParams::default(), &configmap("c", serde_json::json!([]))).await.unwrap();
    let e = cms.delete("c", &DeleteParams::default().propagation("Sideways")).await.unwrap_err();
    assert_eq!(e.reason(), Some(api::Reason::Invalid));
    assert!(e.to_string().contains(r#"propagationPolicy: Unsupported value: "Sideways""#), "{e}");
    // A v1 ReplicationController orphans by default (no GC running here: the finalizer stays).
    let rc: k8s_openapi::api::core::v1::ReplicationController = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "rc", "namespace": NS},
        "spec": {"replicas": 0, "selector": {"app": "rc"}, "template": {"metadata": {"labels": {"app": "rc"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    let rcs = Api::<k8s_openapi::api::core::v1::ReplicationController>::namespaced(client.clone(), NS);
    rcs.create(&PostParams::default(), &rc).await.unwrap();
    let (rc, gone) = rcs.delete("rc", &DeleteParams::default()).await.unwrap();
    assert!(!gone);
    assert_eq!(rc.metadata.finalizers.unwrap_or_default(), ["orphan"]);
}
