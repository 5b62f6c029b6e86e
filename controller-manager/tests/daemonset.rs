//! The DaemonSet controller against a real etcd and apiserver, on hollow
//! nodes (Running and Ready for bound pods, graceful deletions finalized).
//! There is no scheduler: a binder task binds each daemon pod to the node
//! its required node affinity names, as the scheduler would.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::time::Duration;

use client::{Api, Client, ListParams, Patch, PostParams};
use controller_manager::controllers::{self, daemonset::DAEMONSET};
use controller_manager::metrics::ControllerMetrics;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use testing::hollow::{HollowConfig, HollowNodes};
use testing::TestCluster;

const NS: &str = "default";


/// Binds unbound pods to the node their affinity pins them to.
fn binder(client: Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api = Api::<Pod>::namespaced(client, NS);
        loop {
            if let Ok(list) = api.list(&ListParams::default()).await {
                for p in list.items.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                    if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() {
                        if let Some(node) = controller_manager::controllers::daemonset::target_node(p) {
                            let _ = api.bind(p.metadata.name.as_deref().unwrap(), &node).await;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    })
}

/// Live pods of the DaemonSet `name`: node → pods.
async fn pods_by_node(client: &Client, name: &str) -> BTreeMap<String, Vec<Pod>> {
    let list = Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    let mut m: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for p in list.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        if api::owner::controller_of(&p.metadata).is_some_and(|r| r.name == name && r.kind == "DaemonSet") {
            let node = controller_manager::controllers::daemonset::target_node(&p).unwrap_or_default();
            m.entry(node).or_default().push(p);
        }
    }
    m
}

fn ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn hash(p: &Pod) -> String {
    p.metadata.labels.as_ref().and_then(|l| l.get("controller-revision-hash")).cloned().unwrap_or_default()
}

fn daemonset(name: &str, extra: serde_json::Value) -> DaemonSet {
    let mut spec = serde_json::json!({"containers": [{"name": "main", "image": "busybox:1"}]});
    spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}
    }))
    .unwrap()
}

async fn status(client: &Client, name: &str) -> DaemonSetStatus {
    Api::<DaemonSet>::namespaced(client.clone(), NS).get(name).await.unwrap().status.unwrap_or_default()
}

#[tokio::test]
async fn daemonset_runs_one_pod_per_eligible_node_follows_nodes_and_rolls() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let names: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
    let _nodes = HollowNodes::start(client.clone(), names, HollowConfig::default()).await.unwrap();
    let nodes = Api::<Node>::all(client.clone());
    nodes.patch("n3", &PostParams::default(), &Patch::Merge(serde_json::json!({"spec": {"taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]}}))).await.unwrap();
    nodes.patch("n1", &PostParams::default(), &Patch::Merge(serde_json::json!({"metadata": {"labels": {"disk": "ssd"}}}))).await.unwrap();
    let binder = binder(client.clone());
    let metrics = ControllerMetrics::new(&daemon::metrics::Registry::new());
    let shutdown = client::CancellationToken::new();
    let task = tokio::spawn(controllers::run(client.clone(), vec![(DAEMONSET, 2)], metrics, shutdown.clone()));

    let sets = Api::<DaemonSet>::namespaced(client.clone(), NS);
    sets.create(&PostParams::default(), &daemonset("agent", serde_json::json!({}))).await.unwrap();
    sets.create(&PostParams::default(), &daemonset("ssd", serde_json::json!({"nodeSelector": {"disk": "ssd"}}))).await.unwrap();

    // One pod per node, not on the node whose taint it does not tolerate.
    let st = wait_for("agent on n1, n2", Duration::from_secs(30), async || {
        Some(status(&client, "agent").await).filter(|s| s.number_ready == 2 && s.observed_generation == Some(1))
    })
    .await;
    assert_eq!((st.desired_number_scheduled, st.current_number_scheduled, st.number_misscheduled), (2, 2, 0));
    assert_eq!((st.updated_number_scheduled, st.number_available, st.number_unavailable), (Some(2), Some(2), Some(0)));
    let by_node = pods_by_node(&client, "agent").await;
    assert_eq!(by_node.keys().collect::<Vec<_>>(), ["n1", "n2"]);
    let p = &by_node["n1"][0];
    assert!(by_node.values().all(|ps| ps.len() == 1));
    assert_eq!(p.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"), "bound to the pinned node");
    let aff = serde_json::to_value(&p.spec.as_ref().unwrap().affinity).unwrap();
    assert_eq!(aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"],
        serde_json::json!([{"key": "metadata.name", "operator": "In", "values": ["n1"]}]));
    let tols: Vec<String> = p.spec.as_ref().unwrap().tolerations.iter().flatten().map(|t| format!("{}:{}", t.key.clone().unwrap_or_default(), t.effect.clone().unwrap_or_default())).collect();
    for want in ["node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/disk-pressure:NoSchedule",
        "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"] {
        assert!(tols.contains(&want.to_string()), "{want} in {tols:?}");
    }
    let rev1 = hash(p);
    assert!(!rev1.is_empty());
    assert_eq!(p.metadata.labels.as_ref().unwrap()["pod-template-generation"], "1");

    // nodeSelector: only the ssd node.
    wait_for("ssd on n1", Duration::from_secs(20), async || Some(status(&client, "ssd").await).filter(|s| s.number_ready == 1)).await;
    assert_eq!(pods_by_node(&client, "ssd").await.keys().collect::<Vec<_>>(), ["n1"]);

    // A new node gets a pod.
    let _n4 = HollowNodes::start(client.clone(), vec!["n4".into()], HollowConfig::default()).await.unwrap();
    wait_for("agent on n4", Duration::from_secs(20), async || Some(pods_by_node(&client, "agent").await).filter(|m| m.get("n4").is_some_and(|p| ready(&p[0])))).await;
    let st = wait_for("3 desired", Duration::from_secs(20), async || Some(status(&client, "agent").await).filter(|s| s.number_ready == 3)).await;
    assert_eq!(st.desired_number_scheduled, 3);

    // A template change replaces every pod (maxUnavailable 1).
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}}}});
    sets.patch("agent", &PostParams::default(), &Patch::Merge(patch)).await.unwrap();
    let mut max_unready_seen = 0;
    let by_node = wait_for("rolled", Duration::from_secs(60), async || {
        let m = pods_by_node(&client, "agent").await;
        let ready_count = m.values().flatten().filter(|p| ready(p)).count();
        max_unready_seen = max_unready_seen.max(3usize.saturating_sub(ready_count));
        Some(m).filter(|m| m.len() == 3 && m.values().all(|ps| ps.len() == 1 && hash(&ps[0]) != rev1 && ready(&ps[0])))
    })
    .await;
    assert!(by_node.values().all(|ps| ps[0].spec.as_ref().unwrap().containers[0].image.as_deref() == Some("busybox:2")));
    assert!(max_unready_seen <= 1, "at most maxUnavailable=1 node without a ready pod, saw {max_unready_seen}");
    let st = wait_for("updated status", Duration::from_secs(20), async || {
        Some(status(&client, "agent").await).filter(|s| s.updated_number_scheduled == Some(3) && s.number_available == Some(3) && s.observed_generation == Some(2))
    })
    .await;
    assert_eq!(st.number_unavailable, Some(0));
    let revs: Vec<ControllerRevision> = Api::<ControllerRevision>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| api::owner::controller_of(&r.metadata).is_some_and(|o| o.name == "agent"))
        .collect();
    let mut numbers: Vec<i64> = revs.iter().map(|r| r.revision.unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2]);

    // Tainting a node NoExecute evicts the daemon from it; the count follows.
    nodes.patch("n2", &PostParams::default(), &Patch::Merge(serde_json::json!({"spec": {"taints": [{"key": "dedicated", "effect": "NoExecute"}]}}))).await.unwrap();
    wait_for("agent off n2", Duration::from_secs(20), async || Some(pods_by_node(&client, "agent").await).filter(|m| !m.contains_key("n2"))).await;
    wait_for("2 desired", Duration::from_secs(20), async || Some(status(&client, "agent").await).filter(|s| s.desired_number_scheduled == 2 && s.current_number_scheduled == 2)).await;

    shutdown.cancel();
    task.await.unwrap();
    binder.abort();
}
