//! The PersistentVolume binder, the built-in local-path provisioner and the
//! protection controllers against a real etcd and apiserver (with its
//! DefaultStorageClass and StorageObjectInUseProtection admission and the
//! bootstrap `standard` class), hollow nodes and no scheduler: the tests
//! set the claim's selected-node annotation as the scheduler's VolumeBinding
//! would, and finish the deletion helper pod as its node's kubelet would
//! (kubelet/tests/storage.rs runs it for real).

mod common;
use common::*;

use std::time::Duration;

use client::{Api, Client, DeleteParams, ListParams, Patch, PostParams};
use controller_manager::controllers::persistentvolume::{self, LocalPathOptions, PVC_PROTECTION, PV_BINDER, PV_PROTECTION};
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{json, Value};
use testing::hollow::{HollowConfig, HollowNodes};
use testing::TestCluster;

const NS: &str = "default";
const T: Duration = Duration::from_secs(20);

fn start(client: &Client) -> Running {
    start_controllers(client, vec![(PV_BINDER, 1), (PV_PROTECTION, 1), (PVC_PROTECTION, 1)])
}

/// A typed object from JSON.
macro_rules! from {
    ($v:expr) => {
        serde_json::from_value($v).unwrap()
    };
}

fn pvs(c: &Client) -> Api<PersistentVolume> {
    Api::all(c.clone())
}

fn pvcs(c: &Client) -> Api<PersistentVolumeClaim> {
    Api::namespaced(c.clone(), NS)
}

fn phase_pv(pv: &PersistentVolume) -> &str {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn phase_pvc(c: &PersistentVolumeClaim) -> &str {
    c.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn ann<'a>(m: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, k: &str) -> Option<&'a str> {
    m.annotations.as_ref().and_then(|a| a.get(k)).map(String::as_str)
}

async fn pv_phase(c: &Client, name: &str, phase: &str) -> PersistentVolume {
    wait_for(&format!("PV {name} {phase}"), T, async || pvs(c).get_opt(name).await.unwrap().filter(|p| phase_pv(p) == phase)).await
}

async fn pvc_phase(c: &Client, name: &str, phase: &str) -> PersistentVolumeClaim {
    wait_for(&format!("claim {name} {phase}"), T, async || pvcs(c).get_opt(name).await.unwrap().filter(|p| phase_pvc(p) == phase)).await
}

/// The first event about `name` with `reason`.
async fn event(c: &Client, name: &str, reason: &str) -> Event {
    wait_for(&format!("event {reason} on {name}"), T, async || {
        let evs = Api::<Event>::namespaced(c.clone(), NS).list(&ListParams::default()).await.unwrap().items;
        evs.into_iter().find(|e| e.involved_object.name.as_deref() == Some(name) && e.reason.as_deref() == Some(reason))
    })
    .await
}

/// Kubernetes in Action, chapter 6: mongodb-pv-hostpath.yaml, mongodb-pvc.yaml
/// and mongodb-pod-pvc.yaml bind, protect and release as upstream; beside
/// them, smallest fit, claimRef and volumeName pre-binding, selectors and the
/// FailedBinding event.
#[tokio::test]
async fn the_books_volume_and_claim_bind_are_protected_and_released() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let _nodes = HollowNodes::start(client.clone(), vec!["n1".into()], HollowConfig::default()).await.unwrap();
    let running = start(&client);
    let pp = PostParams::default();

    let book_pv: PersistentVolume = from!(json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "mongodb-pv"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "persistentVolumeReclaimPolicy": "Retain",
                 "hostPath": {"path": "/tmp/mongodb"}}}));
    pvs(&client).create(&pp, &book_pv).await.unwrap();
    let pv = |name: &str, size: &str, extra: Value| -> PersistentVolume {
        let mut v = json!({"metadata": {"name": name, "labels": {"tier": "bulk"}},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": format!("/tmp/{name}")}}});
        v["spec"].as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        from!(v)
    };
    pvs(&client).create(&pp, &pv("big", "10Gi", json!({}))).await.unwrap();
    pvs(&client).create(&pp, &pv("pre", "5Gi", json!({"claimRef": {"namespace": NS, "name": "pre-claim"}}))).await.unwrap();
    let available = pv_phase(&client, "mongodb-pv", "Available").await;
    assert!(available.metadata.finalizers.unwrap().contains(&"kubernetes.io/pv-protection".to_string()), "StorageObjectInUseProtection");
    pv_phase(&client, "pre", "Available").await;

    let claim = |name: &str, size: &str, extra: Value| -> PersistentVolumeClaim {
        let mut v = json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, "storageClassName": ""}});
        v["spec"].as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        from!(v)
    };
    let book_claim: PersistentVolumeClaim = from!(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "mongodb-pvc"},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}, "accessModes": ["ReadWriteOnce"], "storageClassName": ""}}));
    pvcs(&client).create(&pp, &book_claim).await.unwrap();
    // Smallest fit: the 1Gi volume, not the 10Gi one.
    let bound = pvc_phase(&client, "mongodb-pvc", "Bound").await;
    assert_eq!(bound.spec.as_ref().unwrap().volume_name.as_deref(), Some("mongodb-pv"));
    assert_eq!(bound.status.as_ref().unwrap().capacity.as_ref().unwrap()["storage"].0, "1Gi");
    assert_eq!(bound.status.as_ref().unwrap().access_modes.as_deref().unwrap(), ["ReadWriteOnce", "ReadOnlyMany"]);
    assert_eq!(ann(&bound.metadata, "pv.kubernetes.io/bind-completed"), Some("yes"));
    assert_eq!(ann(&bound.metadata, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    assert!(bound.metadata.finalizers.as_ref().unwrap().contains(&"kubernetes.io/pvc-protection".to_string()));
    let pv_bound = pv_phase(&client, "mongodb-pv", "Bound").await;
    let r = pv_bound.spec.as_ref().unwrap().claim_ref.clone().unwrap();
    assert_eq!((r.namespace.as_deref(), r.name.as_deref(), r.uid.as_deref()), (Some(NS), Some("mongodb-pvc"), bound.metadata.uid.as_deref()));
    assert_eq!(ann(&pv_bound.metadata, "pv.kubernetes.io/bound-by-controller"), Some("yes"));

    // claimRef pre-binding wins over a smaller fit; volumeName pre-binding names the volume.
    pvs(&client).create(&pp, &pv("small", "2Gi", json!({}))).await.unwrap();
    pv_phase(&client, "small", "Available").await;
    pvcs(&client).create(&pp, &claim("pre-claim", "1Gi", json!({}))).await.unwrap();
    let c = pvc_phase(&client, "pre-claim", "Bound").await;
    assert_eq!(c.spec.as_ref().unwrap().volume_name.as_deref(), Some("pre"));
    assert_eq!(ann(&pv_phase(&client, "pre", "Bound").await.metadata, "pv.kubernetes.io/bound-by-controller"), None, "pre-bound by the user");
    pvcs(&client).create(&pp, &claim("named", "1Gi", json!({"volumeName": "big"}))).await.unwrap();
    let c = pvc_phase(&client, "named", "Bound").await;
    assert_eq!(ann(&c.metadata, "pv.kubernetes.io/bound-by-controller"), None, "the user named the volume");
    pv_phase(&client, "big", "Bound").await;
    // A selector that no volume matches, and a size none has.
    pvcs(&client).create(&pp, &claim("picky", "1Gi", json!({"selector": {"matchLabels": {"tier": "gold"}}}))).await.unwrap();
    pvcs(&client).create(&pp, &claim("huge", "100Gi", json!({}))).await.unwrap();
    let e = event(&client, "huge", "FailedBinding").await;
    assert_eq!(e.message.as_deref(), Some("no persistent volumes available for this claim and no storage class is set"));
    assert_eq!(e.type_.as_deref(), Some("Normal"));
    assert_eq!(e.source.as_ref().and_then(|s| s.component.as_deref()), Some("persistentvolume-controller"));
    event(&client, "picky", "FailedBinding").await;
    assert_eq!(phase_pvc(&pvcs(&client).get("picky").await.unwrap()), "Pending");
    assert_eq!(phase_pv(&pvs(&client).get("small").await.unwrap()), "Available", "the selector kept it free");

    // mongodb-pod-pvc.yaml, on a node: the claim stays while the pod uses it.
    let pods = Api::<Pod>::namespaced(client.clone(), NS);
    let pod: Pod = from!(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mongodb"},
        "spec": {"nodeName": "n1", "containers": [{"image": "mongo", "name": "mongodb", "volumeMounts": [{"name": "mongodb-data", "mountPath": "/data/db"}],
                 "ports": [{"containerPort": 27017, "protocol": "TCP"}]}],
                 "volumes": [{"name": "mongodb-data", "persistentVolumeClaim": {"claimName": "mongodb-pvc"}}]}}));
    pods.create(&pp, &pod).await.unwrap();
    pvcs(&client).delete("mongodb-pvc", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let terminating = pvcs(&client).get("mongodb-pvc").await.expect("kept while the pod uses it");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(phase_pv(&pvs(&client).get("mongodb-pv").await.unwrap()), "Bound");
    // A Bound volume is protected too.
    pvs(&client).delete("big", &DeleteParams::default()).await.unwrap();
    // The pod goes: the claim goes, and the Retain volume is Released with its claimRef.
    pods.delete("mongodb", &DeleteParams::default().grace_period(0)).await.unwrap();
    wait_for("claim gone", T, async || pvcs(&client).get_opt("mongodb-pvc").await.unwrap().is_none().then_some(())).await;
    let released = pv_phase(&client, "mongodb-pv", "Released").await;
    assert_eq!(released.spec.unwrap().claim_ref.unwrap().name.as_deref(), Some("mongodb-pvc"));
    let big = pvs(&client).get("big").await.expect("a Bound volume outlives its deletion");
    assert!(big.metadata.deletion_timestamp.is_some());
    // Its claim goes: the volume is Released, unprotected and gone.
    pvcs(&client).delete("named", &DeleteParams::default()).await.unwrap();
    wait_for("volume big gone", T, async || pvs(&client).get_opt("big").await.unwrap().is_none().then_some(())).await;
    pvs(&client).delete("mongodb-pv", &DeleteParams::default()).await.unwrap();
    wait_for("mongodb-pv gone", T, async || pvs(&client).get_opt("mongodb-pv").await.unwrap().is_none().then_some(())).await;
    running.stop().await;
}

/// A claim of the default class (WaitForFirstConsumer) waits for the
/// scheduler's node, is provisioned there as a local-path directory and
/// bound; deleting it deletes the volume through a helper pod on the node.
/// A class of an external provisioner and a missing class are announced as upstream.
#[tokio::test]
async fn default_class_claims_are_provisioned_on_the_selected_node_and_deleted() {
    // Only names are checked here: no node makes or removes the directories.
    let base = std::env::temp_dir().join(format!("local-path-{:08x}", rand::random::<u32>()));
    persistentvolume::set_local_path_options(LocalPathOptions { base_dir: base.to_str().unwrap().to_string(), ..Default::default() });
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let _nodes = HollowNodes::start(client.clone(), vec!["n1".into()], HollowConfig::default()).await.unwrap();
    let running = start(&client);
    let pp = PostParams::default();

    let standard = Api::<StorageClass>::all(client.clone()).get("standard").await.unwrap();
    assert_eq!(standard.provisioner, "ferrokube.io/local-path");
    assert_eq!(standard.volume_binding_mode.as_deref(), Some("WaitForFirstConsumer"));
    // The book's mongodb-pvc-dp-nostorageclass.yaml: no class, so the default one.
    let claim: PersistentVolumeClaim = from!(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "mongodb-pvc2"},
        "spec": {"resources": {"requests": {"storage": "100Mi"}}, "accessModes": ["ReadWriteOnce"]}}));
    let created = pvcs(&client).create(&pp, &claim).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().storage_class_name.as_deref(), Some("standard"), "DefaultStorageClass");
    let e = event(&client, "mongodb-pvc2", "WaitForFirstConsumer").await;
    assert_eq!(e.message.as_deref(), Some("waiting for first consumer to be created before binding"));
    assert_eq!(phase_pvc(&pvcs(&client).get("mongodb-pvc2").await.unwrap()), "Pending");

    // The scheduler picked n1.
    let patch = Patch::Merge(json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n1"}}}));
    pvcs(&client).patch("mongodb-pvc2", &pp, &patch).await.unwrap();
    let bound = pvc_phase(&client, "mongodb-pvc2", "Bound").await;
    let uid = bound.metadata.uid.clone().unwrap();
    let pv_name = format!("pvc-{uid}");
    assert_eq!(bound.spec.as_ref().unwrap().volume_name.as_deref(), Some(pv_name.as_str()));
    assert_eq!(ann(&bound.metadata, "volume.kubernetes.io/storage-provisioner"), Some("ferrokube.io/local-path"));
    assert_eq!(ann(&bound.metadata, "volume.beta.kubernetes.io/storage-provisioner"), Some("ferrokube.io/local-path"));
    let e = event(&client, "mongodb-pvc2", "ProvisioningSucceeded").await;
    assert_eq!(e.message.unwrap(), format!("Successfully provisioned volume {pv_name} using ferrokube.io/local-path"));
    let pv = pv_phase(&client, &pv_name, "Bound").await;
    let spec = pv.spec.clone().unwrap();
    let path = format!("{}/{pv_name}_default_mongodb-pvc2", base.display());
    let hp = spec.host_path.clone().unwrap();
    assert_eq!((hp.path.as_str(), hp.type_.as_deref()), (path.as_str(), Some("DirectoryOrCreate")));
    let term = &spec.node_affinity.unwrap().required.unwrap().node_selector_terms[0];
    let expr = &term.match_expressions.as_ref().unwrap()[0];
    assert_eq!((expr.key.as_str(), expr.operator.as_str(), expr.values.clone().unwrap()), ("kubernetes.io/hostname", "In", vec!["n1".to_string()]));
    assert_eq!((spec.persistent_volume_reclaim_policy.as_deref(), spec.storage_class_name.as_deref()), (Some("Delete"), Some("standard")));
    assert_eq!(spec.capacity.unwrap()["storage"].0, "100Mi");
    assert_eq!(ann(&pv.metadata, "pv.kubernetes.io/provisioned-by"), Some("ferrokube.io/local-path"));

    // Delete: a helper pod removes the directory on n1, then the volume goes.
    pvcs(&client).delete("mongodb-pvc2", &DeleteParams::default()).await.unwrap();
    let helpers = Api::<Pod>::namespaced(client.clone(), "kube-system");
    let helper_name = format!("helper-pod-delete-{pv_name}");
    let helper = wait_for("helper pod", T, async || helpers.get_opt(&helper_name).await.unwrap()).await;
    let hs = helper.spec.clone().unwrap();
    assert_eq!(hs.node_name.as_deref(), Some("n1"));
    assert_eq!(hs.containers[0].command.clone().unwrap(), ["rm", "-rf", path.as_str()]);
    assert_eq!(hs.volumes.unwrap()[0].host_path.as_ref().unwrap().path, base.to_str().unwrap());
    assert!(pvs(&client).get_opt(&pv_name).await.unwrap().is_some(), "kept until the directory is gone");
    // As the node's kubelet would, once `rm -rf` exited 0.
    helpers.patch_status(&helper_name, &pp, &Patch::Merge(json!({"status": {"phase": "Succeeded"}}))).await.unwrap();
    wait_for("volume deleted", T, async || pvs(&client).get_opt(&pv_name).await.unwrap().is_none().then_some(())).await;
    // Deleted (a hollow node leaves a finished pod's deletion to a real kubelet).
    wait_for("helper pod deleted", T, async || helpers.get_opt(&helper_name).await.unwrap().is_none_or(|p| p.metadata.deletion_timestamp.is_some()).then_some(())).await;

    // An external provisioner's class binds immediately: announced, not provisioned here.
    let fast: StorageClass = from!(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
        "provisioner": "kubernetes.io/gce-pd", "parameters": {"type": "pd-ssd", "zone": "europe-west1-b"}}));
    Api::<StorageClass>::all(client.clone()).create(&pp, &fast).await.unwrap();
    let dp: PersistentVolumeClaim = from!(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "mongodb-pvc"},
        "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "100Mi"}}, "accessModes": ["ReadWriteOnce"]}}));
    pvcs(&client).create(&pp, &dp).await.unwrap();
    let e = event(&client, "mongodb-pvc", "ExternalProvisioning").await;
    assert_eq!(
        e.message.as_deref(),
        Some("Waiting for a volume to be created either by the external provisioner 'kubernetes.io/gce-pd' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.")
    );
    let missing: PersistentVolumeClaim = from!(json!({"metadata": {"name": "nowhere"},
        "spec": {"storageClassName": "nope", "resources": {"requests": {"storage": "1Mi"}}, "accessModes": ["ReadWriteOnce"]}}));
    pvcs(&client).create(&pp, &missing).await.unwrap();
    let e = event(&client, "nowhere", "ProvisioningFailed").await;
    assert_eq!(e.message.as_deref(), Some(r#"storageclass.storage.k8s.io "nope" not found"#));
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    running.stop().await;
}
