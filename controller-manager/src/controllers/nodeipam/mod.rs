//! Node IPAM (upstream's pkg/controller/nodeipam with the RangeAllocator):
//! with `--allocate-node-cidrs`, every Node gets one `--node-cidr-mask-size`
//! block of `--cluster-cidr` in `spec.podCIDR`/`spec.podCIDRs`, never a block
//! another node has; a deleted node's block is released. After a restart the
//! set of used blocks is rebuilt from the Nodes before anything is handed
//! out, so a block is never given twice.

pub mod cidrset;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use api::cidr::Ipv4Cidr;
use client::controller::{Action, Controller};
use client::events::{EventRecorder, EventType};
use client::store::Store;
use client::{Api, Client, Patch, PostParams};
use k8s_openapi::api::core::v1::Node;
use parking_lot::Mutex;
use serde_json::json;

use super::{ControllerContext, Descriptor};
use crate::Error;
use cidrset::CidrSet;

pub const NODE_IPAM: Descriptor = Descriptor {
    name: "node-ipam-controller",
    aliases: &["nodeipam"],
    disabled_by_default: false,
    concurrency: None,
    start,
};

/// Its flags (upstream's NodeIPAMControllerConfiguration and
/// KubeCloudShared.AllocateNodeCIDRs/ClusterCIDR).
#[derive(Debug, Clone)]
pub struct Options {
    pub allocate_node_cidrs: bool,
    pub cluster_cidr: String,
    pub node_cidr_mask_size: u8,
}

impl Default for Options {
    fn default() -> Self {
        Options { allocate_node_cidrs: false, cluster_cidr: "10.244.0.0/16".into(), node_cidr_mask_size: 24 }
    }
}

impl Options {
    /// The empty set these options describe, or why they are wrong.
    pub fn cidr_set(&self) -> Result<CidrSet, String> {
        let cluster: Ipv4Cidr = self.cluster_cidr.parse().map_err(|e| format!("--cluster-cidr: {e}"))?;
        CidrSet::new(cluster, self.node_cidr_mask_size).map_err(|e| e.to_string())
    }
}

struct State {
    set: CidrSet,
    /// node name -> (uid, block): what this allocator gave or saw, so a stale
    /// cache (our patch not yet seen) gets the same block again, and a
    /// deleted node's block can be released.
    nodes: HashMap<String, (String, Ipv4Cidr)>,
    /// The blocks of every cached Node are occupied (done once, after sync).
    recovered: bool,
}

struct Ctx {
    client: Client,
    nodes: Store<Node>,
    state: Mutex<State>,
    recorder: EventRecorder,
}

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let opts = ctx.options.node_ipam.clone();
        if !opts.allocate_node_cidrs {
            tracing::info!("node-ipam-controller: --allocate-node-cidrs is false; not allocating pod CIDRs");
            return;
        }
        let set = match opts.cidr_set() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "node-ipam-controller not started");
                return;
            }
        };
        let nodes = ctx.informers.get::<Node>();
        let controller = ctx.metrics.instrument("nodeipam", Controller::new("nodeipam", &nodes).workers(1));
        let c = Arc::new(Ctx {
            client: ctx.client.clone(),
            nodes: nodes.store(),
            state: Mutex::new(State { set, nodes: HashMap::new(), recovered: false }),
            recorder: EventRecorder::new(ctx.client.clone(), "cidrAllocator", None),
        });
        controller.run(c, sync, ctx.shutdown.clone()).await;
    })
}

fn pod_cidr(node: &Node) -> Option<String> {
    let spec = node.spec.as_ref()?;
    spec.pod_cidrs.as_ref().and_then(|v| v.first().cloned()).or_else(|| spec.pod_cidr.clone()).filter(|s| !s.is_empty())
}

impl State {
    /// Record a block a node already has (upstream's occupyCIDRs).
    fn occupy(&mut self, node: &Node) -> Result<(), String> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let Some(c) = pod_cidr(node) else { return Ok(()) };
        let cidr: Ipv4Cidr = c.parse().map_err(|e| format!("node {name}: spec.podCIDR: {e}"))?;
        if let Some((_, old)) = self.nodes.get(&name) {
            if *old != cidr {
                self.set.release(old);
            }
        }
        self.set.occupy(&cidr).map_err(|e| format!("node {name}: {e}"))?;
        self.nodes.insert(name, (node.metadata.uid.clone().unwrap_or_default(), cidr));
        Ok(())
    }
}

async fn sync(ctx: Arc<Ctx>, key: String) -> Result<Action, Error> {
    let name = key.clone();
    let node = ctx.nodes.get("", &name);
    let want = {
        let mut st = ctx.state.lock();
        if !st.recovered {
            // Workers start after the cache synced: every existing Node is in it.
            for n in ctx.nodes.list() {
                if let Err(e) = st.occupy(&n) {
                    tracing::warn!(error = %e, "node-ipam: not occupying");
                }
            }
            st.recovered = true;
        }
        let Some(node) = node.as_ref() else {
            // Deleted: its block is free again (upstream's ReleaseCIDR).
            if let Some((_, cidr)) = st.nodes.remove(&name) {
                st.set.release(&cidr);
                tracing::info!(node = %name, cidr = %cidr, "released the pod CIDR of a deleted node");
            }
            return Ok(Action::Done);
        };
        if node.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        if pod_cidr(node).is_some() {
            st.occupy(node).map_err(Error::Other)?;
            return Ok(Action::Done);
        }
        let uid = node.metadata.uid.clone().unwrap_or_default();
        match st.nodes.get(&name).cloned() {
            // Given already; the cache has not caught up with our patch.
            Some((u, cidr)) if u == uid => cidr,
            prev => {
                if let Some((_, old)) = prev {
                    // A node of the same name was deleted and created again.
                    st.set.release(&old);
                }
                match st.set.allocate() {
                    Ok(c) => {
                        st.nodes.insert(name.clone(), (uid, c));
                        c
                    }
                    Err(e) => {
                        drop(st);
                        // upstream: a CIDRNotAvailable event on the node, retried.
                        ctx.recorder.publish(node.as_ref(), EventType::Normal, "CIDRNotAvailable", format!("Node {name} status is now: CIDRNotAvailable"));
                        return Err(Error::Other(format!("node {name}: {e}")));
                    }
                }
            }
        }
    };
    let api: Api<Node> = Api::all(ctx.client.clone());
    let patch = Patch::Merge(json!({"spec": {"podCIDR": want.to_string(), "podCIDRs": [want.to_string()]}}));
    match api.patch(&name, &PostParams::default(), &patch).await {
        Ok(_) => {
            tracing::info!(node = %name, cidr = %want, "set node pod CIDR");
            Ok(Action::Done)
        }
        Err(e) if e.is_not_found() => {
            let mut st = ctx.state.lock();
            if st.nodes.get(&name).is_some_and(|(_, c)| *c == want) {
                st.nodes.remove(&name);
                st.set.release(&want);
            }
            Ok(Action::Done)
        }
        Err(e) => {
            // E.g. the node got a podCIDR elsewhere (it is immutable once set):
            // adopt what it has, free ours.
            if let Some(fresh) = api.get_opt(&name).await? {
                if pod_cidr(&fresh).is_some() {
                    let mut st = ctx.state.lock();
                    st.set.release(&want);
                    st.nodes.remove(&name);
                    st.occupy(&fresh).map_err(Error::Other)?;
                    return Ok(Action::Done);
                }
            }
            Err(e.into())
        }
    }
}
