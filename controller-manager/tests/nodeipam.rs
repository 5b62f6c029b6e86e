//! The node IPAM controller against a real etcd and apiserver.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::time::Duration;

use client::{Api, DeleteParams, PostParams};
use controller_manager::controllers::nodeipam::{Options, NODE_IPAM};
use controller_manager::controllers::Options as AllOptions;
use k8s_openapi::api::core::v1::Node;
use testing::TestCluster;

fn options(cluster_cidr: &str, mask: u8) -> AllOptions {
    AllOptions { node_ipam: Options { allocate_node_cidrs: true, cluster_cidr: cluster_cidr.into(), node_cidr_mask_size: mask } }
}

async fn create_node(nodes: &Api<Node>, name: &str) {
    nodes.create(&PostParams::default(), &testing::objects::node(name, "4", "8Gi")).await.unwrap();
}

async fn cidr_of(nodes: &Api<Node>, name: &str) -> String {
    wait_for(&format!("podCIDR of {name}"), Duration::from_secs(20), async || {
        let n = nodes.get_opt(name).await.unwrap()?;
        let spec = n.spec?;
        let c = spec.pod_cidr.filter(|c| !c.is_empty())?;
        assert_eq!(spec.pod_cidrs.as_deref(), Some(&[c.clone()][..]), "podCIDRs mirrors podCIDR");
        Some(c)
    })
    .await
}

#[tokio::test]
async fn every_node_gets_its_own_block_released_on_delete_and_kept_across_restarts() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let nodes = Api::<Node>::all(client.clone());
    // A /22 in /24s: four blocks, so exhaustion and reuse are visible.
    let running = start_controllers_with(&client, vec![(NODE_IPAM, 1)], options("10.244.0.0/22", 24));
    for n in ["a", "b", "c"] {
        create_node(&nodes, n).await;
    }
    let mut before = Vec::new();
    for n in ["a", "b", "c"] {
        before.push((n, cidr_of(&nodes, n).await));
    }
    let mut got: BTreeSet<String> = before.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(got.len(), 3, "distinct blocks: {got:?}");
    assert!(got.iter().all(|c| c.starts_with("10.244.") && c.ends_with("/24")), "{got:?}");
    running.stop().await;

    // A restarted controller rebuilds the used set from the Nodes: the fourth
    // node gets the only block left, a fifth none.
    let running = start_controllers_with(&client, vec![(NODE_IPAM, 1)], options("10.244.0.0/22", 24));
    create_node(&nodes, "d").await;
    let d = cidr_of(&nodes, "d").await;
    assert!(!got.contains(&d), "{d} given twice");
    got.insert(d.clone());
    let all: BTreeSet<String> = (0..4).map(|i| format!("10.244.{i}.0/24")).collect();
    assert_eq!(got, all);
    create_node(&nodes, "e").await;
    let ev_api = Api::<k8s_openapi::api::core::v1::Event>::all(client.clone());
    wait_for("CIDRNotAvailable event for e", Duration::from_secs(20), async || {
        let list = ev_api.list(&Default::default()).await.unwrap();
        list.items.into_iter().find(|e| e.reason.as_deref() == Some("CIDRNotAvailable") && e.involved_object.name.as_deref() == Some("e"))
    })
    .await;
    assert!(nodes.get("e").await.unwrap().spec.and_then(|s| s.pod_cidr).is_none());

    // Deleting b frees its block, which then goes to e (the only node waiting).
    let b = cidr_of(&nodes, "b").await;
    nodes.delete("b", &DeleteParams::default()).await.unwrap();
    let e = cidr_of(&nodes, "e").await;
    assert_eq!(e, b, "the released block is reused");
    // Nobody else's block changed.
    for (n, c) in before.iter().filter(|(n, _)| *n != "b").cloned().chain([("d", d.clone())]) {
        assert_eq!(cidr_of(&nodes, n).await, c, "{n}");
    }
    let mut final_set: BTreeSet<String> = BTreeSet::new();
    for n in ["a", "c", "d", "e"] {
        assert!(final_set.insert(cidr_of(&nodes, n).await), "duplicate block");
    }
    running.stop().await;
}

#[tokio::test]
async fn without_allocate_node_cidrs_nothing_is_set() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let nodes = Api::<Node>::all(client.clone());
    let running = start_controllers_with(&client, vec![(NODE_IPAM, 1)], AllOptions::default());
    create_node(&nodes, "plain").await;
    // The controller has returned (nothing to run); the node stays as created.
    running.stop().await;
    assert!(nodes.get("plain").await.unwrap().spec.and_then(|s| s.pod_cidr).is_none());
}
