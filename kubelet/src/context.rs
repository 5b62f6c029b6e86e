//! What every part of a running kubelet shares.

use crate::backoff::Backoff;
use crate::events::Events;
use crate::images::store::ImageStore;
use crate::metrics::Metrics;
use crate::runtime::manager::Runtime;
use std::sync::Arc;

pub struct Kubelet {
    pub node_name: String,
    pub host_ip: String,
    pub client: client::Client,
    pub runtime: Runtime,
    pub images: Arc<ImageStore>,
    /// Root of the pod cgroups below each hierarchy, e.g. `kubepods`.
    pub cgroup_root: String,
    pub memory_capacity: i64,
    /// Our own oom_score_adj: containers cannot go below it without CAP_SYS_RESOURCE.
    pub oom_floor: i32,
    pub backoff: Backoff,
    pub metrics: Arc<Metrics>,
    /// Events as "kubelet" on this node.
    pub events: Events,
    /// ConfigMaps and Secrets the pods refer to.
    pub objects: crate::objects::Objects,
    /// The node's allocatable resources (limits the downward API reports for
    /// containers without one).
    pub allocatable: std::collections::BTreeMap<String, String>,
    /// Probe workers and their results.
    pub probes: Arc<crate::probes::Probes>,
    /// Pod IPs, veths, routes, NAT rules, resolv.conf (network/).
    pub network: Arc<crate::network::PodNetwork>,
}
