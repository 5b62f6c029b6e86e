//! VolumeBinding against a real apiserver on etcd, with no PV controller:
//! the tests bind claims as the controller would once the scheduler has
//! pre-bound a volume or picked a node for provisioning
//! (controller-manager/tests/persistentvolume.rs runs the controller itself).

mod common;

use std::time::Duration;

use client::{Api, Client, PostParams};
use common::{node, pod, Env};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{json, Value};

fn with_claim(name: &str, claim: &str) -> Value {
    pod(name, "100m", "", json!({"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}))
}

async fn create<K: serde::Serialize + serde::de::DeserializeOwned + Send + 'static>(api: &Api<K>, v: Value) -> K {
    api.create(&PostParams::default(), &serde_json::from_value(v).unwrap()).await.unwrap()
}

fn pvcs(c: &Client) -> Api<PersistentVolumeClaim> {
    Api::namespaced(c.clone(), "default")
}

/// What the PV controller does to finish a binding: the claim's volumeName
/// and bind-completed annotation (the volume's claimRef is already set).
async fn bind_claim(c: &Client, claim: &str, pv: &str) {
    let mut cl = pvcs(c).get(claim).await.unwrap();
    cl.spec.as_mut().unwrap().volume_name = Some(pv.into());
    cl.metadata.annotations.get_or_insert_with(Default::default).insert("pv.kubernetes.io/bind-completed".into(), "yes".into());
    pvcs(c).replace(&cl).await.unwrap();
}

async fn wait<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn unbound_immediate_claims_and_missing_claims_keep_the_pod_pending() {
    let env = Env::start(vec![node("n1", "4", "8Gi", json!({})), node("n2", "4", "8Gi", json!({}))]).await;
    let c = env.cluster.client.clone();
    create(&pvcs(&c), json!({"metadata": {"name": "now"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": ""}})).await;
    env.create_pod(with_claim("p", "now")).await;
    let msg = env.wait_unschedulable("p").await;
    assert!(msg.starts_with("0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: "), "{msg}");
    env.create_pod(with_claim("q", "nope")).await;
    let msg = env.wait_unschedulable("q").await;
    assert!(msg.starts_with(r#"0/2 nodes are available: persistentvolumeclaim "nope" not found. "#), "{msg}");
    // The claim gets bound: the pod is retried and scheduled.
    create(&Api::<PersistentVolume>::all(c.clone()), json!({"metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv1"},
                 "claimRef": {"namespace": "default", "name": "now"}}})).await;
    bind_claim(&c, "now", "pv1").await;
    env.wait_bound("p").await;
    env.stop().await;
}

#[tokio::test]
async fn wait_for_first_consumer_claims_follow_local_volumes_or_get_provisioned_on_the_chosen_node() {
    let env = Env::start(vec![node("n1", "4", "8Gi", json!({})), node("n2", "4", "8Gi", json!({}))]).await;
    let c = env.cluster.client.clone();
    let classes = Api::<StorageClass>::all(c.clone());
    create(&classes, json!({"metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"})).await;
    let pvs = Api::<PersistentVolume>::all(c.clone());
    // A local volume on n2 only.
    create(&pvs, json!({"metadata": {"name": "local-n2"},
        "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local", "local": {"path": "/mnt/disks/a"},
                 "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]}}}})).await;
    // The PV controller would make it Available.
    let mut v = pvs.get("local-n2").await.unwrap();
    v.status.as_mut().unwrap().phase = Some("Available".into());
    pvs.replace_status(&v).await.unwrap();
    let claim = |name: &str, class: &str| json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": class}});
    let local_claim = create(&pvcs(&c), claim("local-claim", "local")).await;
    env.create_pod(with_claim("on-local", "local-claim")).await;
    // PreBind pre-binds the volume to the claim; the pod waits for the binding to complete.
    let pv = wait("claimRef on local-n2", async || pvs.get("local-n2").await.ok().filter(|p| p.spec.as_ref().unwrap().claim_ref.is_some())).await;
    let r = pv.spec.as_ref().unwrap().claim_ref.clone().unwrap();
    assert_eq!((r.name.as_deref(), r.uid.as_deref()), (Some("local-claim"), local_claim.metadata.uid.as_deref()));
    assert_eq!(pv.metadata.annotations.unwrap()["pv.kubernetes.io/bound-by-controller"], "yes");
    assert!(env.pods().get("on-local").await.unwrap().spec.unwrap().node_name.is_none(), "not bound before its claim");
    bind_claim(&c, "local-claim", "local-n2").await;
    assert_eq!(env.wait_bound("on-local").await, "n2");

    // No volume left and no provisioner: no node fits.
    create(&pvcs(&c), claim("local-2", "local")).await;
    env.create_pod(with_claim("no-room", "local-2")).await;
    let msg = env.wait_unschedulable("no-room").await;
    assert!(msg.starts_with("0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind. "), "{msg}");

    // The default class provisions: the claim gets the chosen node, then the pod.
    create(&pvcs(&c), json!({"metadata": {"name": "dyn"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})).await;
    env.create_pod(with_claim("dyn-pod", "dyn")).await;
    let claim = wait("selected-node", async || pvcs(&c).get("dyn").await.ok().filter(|c| c.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("volume.kubernetes.io/selected-node")))).await;
    assert_eq!(claim.spec.as_ref().unwrap().storage_class_name.as_deref(), Some("standard"));
    let chosen = claim.metadata.annotations.unwrap()["volume.kubernetes.io/selected-node"].clone();
    bind_claim(&c, "dyn", "pvc-x").await;
    // The scheduler only waits for the binding (a volume name suffices here), then binds the pod.
    assert_eq!(env.wait_bound("dyn-pod").await, chosen);

    // A pod of a bound claim whose local volume lives on n2 goes to n2; after a cordon of n2, nowhere.
    env.nodes().patch("n2", &PostParams::default(), &client::Patch::Merge(json!({"spec": {"unschedulable": true}}))).await.unwrap();
    env.create_pod(with_claim("again", "local-claim")).await;
    let msg = env.wait_unschedulable("again").await;
    assert!(msg.starts_with("0/2 nodes are available: 1 node(s) had volume node affinity conflict, 1 node(s) were unschedulable."), "{msg}");
    env.stop().await;
}
