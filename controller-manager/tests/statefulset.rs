//! The StatefulSet controller against a real etcd and apiserver. A hollow
//! node reports pods bound to it Running and Ready and finalizes their
//! graceful deletions; the test binds pods itself (there is no scheduler),
//! by hand while it checks the OrderedReady order, then with a binder task.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::time::Duration;

use client::{Api, Client, DeleteParams, ListParams, Patch, PostParams};
use controller_manager::controllers::statefulset::STATEFULSET;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use testing::hollow::{HollowConfig, HollowNodes};
use testing::TestCluster;

fn start(client: &Client) -> Running {
    start_controllers(client, vec![(STATEFULSET, 2)])
}

const NS: &str = "default";





/// Live (not being deleted) pods by name.
async fn pods(client: &Client) -> BTreeMap<String, Pod> {
    let list = Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    list.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).map(|p| (p.metadata.name.clone().unwrap(), p)).collect()
}

fn ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn label<'a>(p: &'a Pod, k: &str) -> &'a str {
    p.metadata.labels.as_ref().and_then(|l| l.get(k)).map(String::as_str).unwrap_or_default()
}

async fn bind(client: &Client, name: &str) {
    Api::<Pod>::namespaced(client.clone(), NS).bind(name, "n1").await.unwrap();
}

/// Binds every unbound pod to n1 until stopped (a stand-in for the scheduler).
fn binder(client: Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api = Api::<Pod>::namespaced(client, NS);
        loop {
            if let Ok(list) = api.list(&ListParams::default()).await {
                for p in list.items {
                    if p.metadata.deletion_timestamp.is_none() && p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() {
                        let _ = api.bind(p.metadata.name.as_deref().unwrap(), "n1").await;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    })
}

fn web(replicas: i32) -> StatefulSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"serviceName": "nginx", "replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1",
                "volumeMounts": [{"name": "data", "mountPath": "/usr/share/nginx/html"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}
    }))
    .unwrap()
}

async fn claim_uid(client: &Client, name: &str) -> Option<String> {
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), NS).get_opt(name).await.unwrap().and_then(|c| c.metadata.uid)
}

async fn status(client: &Client) -> k8s_openapi::api::apps::v1::StatefulSetStatus {
    Api::<StatefulSet>::namespaced(client.clone(), NS).get("web").await.unwrap().status.unwrap_or_default()
}

#[tokio::test]
async fn statefulset_orders_pods_keeps_claims_scales_down_and_rolls_in_reverse() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let _nodes = HollowNodes::start(client.clone(), vec!["n1".into()], HollowConfig::default()).await.unwrap();
    let running = start(&client);
    let sets = Api::<StatefulSet>::namespaced(client.clone(), NS);
    sets.create(&PostParams::default(), &web(3)).await.unwrap();

    // OrderedReady: web-1 only once web-0 is Running and Ready.
    let web0 = wait_for("web-0", Duration::from_secs(20), async || pods(&client).await.remove("web-0")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pods(&client).await.keys().collect::<Vec<_>>(), ["web-0"], "web-1 must wait for web-0 to be Ready");
    assert_eq!((label(&web0, "statefulset.kubernetes.io/pod-name"), label(&web0, "apps.kubernetes.io/pod-index")), ("web-0", "0"));
    let spec = web0.spec.as_ref().unwrap();
    assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some("web-0"), Some("nginx")));
    let vol = &spec.volumes.as_ref().unwrap().iter().find(|v| v.name == "data").unwrap();
    assert_eq!(vol.persistent_volume_claim.as_ref().unwrap().claim_name, "data-web-0");
    assert!(claim_uid(&client, "data-web-0").await.is_some(), "a claim per pod");
    let rev0 = label(&web0, "controller-revision-hash").to_string();
    assert!(rev0.starts_with("web-"), "{rev0}");

    bind(&client, "web-0").await;
    wait_for("web-1", Duration::from_secs(20), async || pods(&client).await.remove("web-1")).await;
    assert!(ready(&pods(&client).await["web-0"]), "web-1 came after web-0 was Ready");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!pods(&client).await.contains_key("web-2"), "web-2 must wait for web-1");
    let binder = binder(client.clone());
    let all = wait_for("3 ready pods", Duration::from_secs(30), async || Some(pods(&client).await).filter(|p| p.len() == 3 && p.values().all(ready))).await;
    assert_eq!(all.keys().collect::<Vec<_>>(), ["web-0", "web-1", "web-2"]);
    let st = wait_for("status", Duration::from_secs(20), async || Some(status(&client).await).filter(|s| s.ready_replicas == Some(3) && s.current_replicas == Some(3))).await;
    assert_eq!((st.replicas, st.updated_replicas, st.available_replicas), (3, Some(3), Some(3)));
    assert_eq!(st.current_revision.as_deref(), Some(rev0.as_str()));
    assert_eq!(st.update_revision.as_deref(), Some(rev0.as_str()));
    let revs = Api::<ControllerRevision>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    assert_eq!(revs.iter().map(|r| (r.metadata.name.clone().unwrap(), r.revision)).collect::<Vec<_>>(), [(rev0.clone(), Some(1))]);

    // A deleted pod comes back under its name, with its claim.
    let claim1 = claim_uid(&client, "data-web-1").await.unwrap();
    let old_uid = all["web-1"].metadata.uid.clone();
    Api::<Pod>::namespaced(client.clone(), NS).delete("web-1", &DeleteParams::default()).await.unwrap();
    let back = wait_for("web-1 again", Duration::from_secs(30), async || {
        pods(&client).await.remove("web-1").filter(|p| p.metadata.uid != old_uid && ready(p))
    })
    .await;
    let vol = back.spec.unwrap().volumes.unwrap().into_iter().find(|v| v.name == "data").unwrap();
    assert_eq!(vol.persistent_volume_claim.unwrap().claim_name, "data-web-1");
    assert_eq!(claim_uid(&client, "data-web-1").await.unwrap(), claim1, "the same claim");

    // A template change rolls highest ordinal first, down to the partition.
    let patch = serde_json::json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}},
        "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2", "volumeMounts": [{"name": "data", "mountPath": "/usr/share/nginx/html"}]}]}}}});
    // The order pods are created in, from a watch: polling can see two
    // replacements land between two looks.
    let pod_api = Api::<Pod>::namespaced(client.clone(), NS);
    let from = pod_api.list(&ListParams::default()).await.unwrap().resource_version;
    let mut stream = Box::pin(pod_api.watch(&client::WatchParams::default(), &from).await.unwrap());
    let created = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let watcher = {
        let created = created.clone();
        tokio::spawn(async move {
            use futures::StreamExt;
            while let Some(Ok(ev)) = stream.next().await {
                if let client::WatchEvent::Added(p) = ev {
                    created.lock().unwrap().push(p.metadata.name.unwrap_or_default());
                }
            }
        })
    };
    sets.patch("web", &PostParams::default(), &Patch::Merge(patch)).await.unwrap();
    let rev1 = wait_for("web-2 and web-1 updated", Duration::from_secs(40), async || {
        let ps = pods(&client).await;
        let updated = |n: &str| ps.get(n).filter(|p| label(p, "controller-revision-hash") != rev0 && ready(p)).map(|p| label(p, "controller-revision-hash").to_string());
        match (updated("web-2"), updated("web-1")) {
            (Some(a), Some(_)) => Some(a),
            _ => None,
        }
    })
    .await;
    watcher.abort();
    let order = created.lock().unwrap().clone();
    assert_eq!(order, ["web-2", "web-1"], "reverse ordinal order");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let ps = pods(&client).await;
    assert_eq!(label(&ps["web-0"], "controller-revision-hash"), rev0, "the partition keeps web-0");
    assert_eq!(ps["web-2"].spec.as_ref().unwrap().containers[0].image.as_deref(), Some("nginx:2"));
    let st = wait_for("partitioned status", Duration::from_secs(20), async || Some(status(&client).await).filter(|s| s.updated_replicas == Some(2) && s.ready_replicas == Some(3))).await;
    assert_eq!((st.current_revision.as_deref(), st.update_revision.as_deref(), st.current_replicas), (Some(rev0.as_str()), Some(rev1.as_str()), Some(1)));
    let mut revs: Vec<(String, i64)> = Api::<ControllerRevision>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| (r.metadata.name.unwrap(), r.revision.unwrap()))
        .collect();
    revs.sort_by_key(|r| r.1);
    assert_eq!(revs, [(rev0.clone(), 1), (rev1.clone(), 2)]);

    // Partition 0 finishes the rollout; the update revision becomes current.
    sets.patch("web", &PostParams::default(), &Patch::Merge(serde_json::json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}))).await.unwrap();
    let st = wait_for("rollout done", Duration::from_secs(40), async || {
        Some(status(&client).await).filter(|s| s.current_revision.as_deref() == Some(rev1.as_str()) && s.current_replicas == Some(3) && s.ready_replicas == Some(3))
    })
    .await;
    assert_eq!(st.updated_replicas, Some(3));
    assert!(pods(&client).await.values().all(|p| label(p, "controller-revision-hash") == rev1));

    // Scale down: the highest ordinal goes; its claim stays (whenScaled: Retain).
    sets.patch("web", &PostParams::default(), &Patch::Merge(serde_json::json!({"spec": {"replicas": 2}}))).await.unwrap();
    wait_for("web-2 gone", Duration::from_secs(30), async || Some(pods(&client).await).filter(|p| !p.contains_key("web-2"))).await;
    let ps = pods(&client).await;
    assert_eq!(ps.keys().collect::<Vec<_>>(), ["web-0", "web-1"]);
    assert!(claim_uid(&client, "data-web-2").await.is_some(), "claims outlive scaled-down pods by default");
    let st = wait_for("2 replicas", Duration::from_secs(20), async || Some(status(&client).await).filter(|s| s.replicas == 2)).await;
    assert_eq!(st.ready_replicas, Some(2));

    binder.abort();
    running.stop().await;
}

#[tokio::test]
async fn parallel_creates_all_at_once_and_the_book_manifest_is_accepted() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    // kubia-statefulset.yaml: the volumeMount names the claim template, no volumes.
    let book: StatefulSet = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kubia"},
        "spec": {"serviceName": "kubia", "replicas": 2, "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "kubia"}},
            "template": {"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia-pet",
                "ports": [{"name": "http", "containerPort": 8080}], "volumeMounts": [{"name": "data", "mountPath": "/var/data"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Mi"}}, "accessModes": ["ReadWriteOnce"]}}]}
    }))
    .unwrap();
    let mut book = book;
    book.metadata.namespace = Some(NS.into());
    Api::<StatefulSet>::namespaced(client.clone(), NS).create(&PostParams::default(), &book).await.unwrap();
    // Parallel: both pods without either being Ready.
    let ps = wait_for("kubia-0 and kubia-1", Duration::from_secs(20), async || Some(pods(&client).await).filter(|p| p.len() == 2)).await;
    assert_eq!(ps.keys().collect::<Vec<_>>(), ["kubia-0", "kubia-1"]);
    for (i, name) in ["kubia-0", "kubia-1"].iter().enumerate() {
        let claim = format!("data-kubia-{i}");
        assert!(claim_uid(&client, &claim).await.is_some(), "{claim}");
        let c = Api::<PersistentVolumeClaim>::namespaced(client.clone(), NS).get(&claim).await.unwrap();
        assert_eq!(c.metadata.labels.unwrap()["app"], "kubia", "claims carry the selector's labels");
        let vols = ps[*name].spec.as_ref().unwrap().volumes.clone().unwrap();
        assert_eq!(vols.iter().find(|v| v.name == "data").unwrap().persistent_volume_claim.as_ref().unwrap().claim_name, claim);
    }
    running.stop().await;
}
