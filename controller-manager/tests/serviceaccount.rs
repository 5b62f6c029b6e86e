//! The ServiceAccount controller against a real etcd and apiserver.

mod common;
use common::*;

use std::time::Duration;

use client::{Api, DeleteParams, PostParams};
use controller_manager::controllers::{self, serviceaccount::SERVICE_ACCOUNT};
use controller_manager::metrics::ControllerMetrics;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use testing::TestCluster;


#[tokio::test]
async fn every_namespace_gets_a_default_service_account_recreated_if_deleted() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let shutdown = client::CancellationToken::new();
    let metrics = ControllerMetrics::new(&daemon::metrics::Registry::new());
    let task = tokio::spawn(controllers::run(client.clone(), vec![(SERVICE_ACCOUNT, 1)], metrics, shutdown.clone()));

    // Namespaces that existed before, and a new one.
    for ns in ["default", "kube-system"] {
        let sas = Api::<ServiceAccount>::namespaced(client.clone(), ns);
        wait_for(&format!("default SA in {ns}"), Duration::from_secs(20), async || sas.get_opt("default").await.unwrap()).await;
    }
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "fresh"}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.unwrap();
    let sas = Api::<ServiceAccount>::namespaced(client.clone(), "fresh");
    let first = wait_for("default SA in fresh", Duration::from_secs(20), async || sas.get_opt("default").await.unwrap()).await;

    sas.delete("default", &DeleteParams::default()).await.unwrap();
    let again = wait_for("default SA recreated", Duration::from_secs(20), async || {
        sas.get_opt("default").await.unwrap().filter(|s| s.metadata.uid != first.metadata.uid)
    })
    .await;
    assert_eq!(again.metadata.name.as_deref(), Some("default"));

    // A terminating namespace gets none.
    Api::<Namespace>::all(client.clone()).delete("fresh", &DeleteParams::default()).await.unwrap();
    sas.delete("default", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sas.get_opt("default").await.unwrap().is_none());

    shutdown.cancel();
    task.await.unwrap();
}
