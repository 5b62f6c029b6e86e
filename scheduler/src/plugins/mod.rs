//! One module per upstream plugin, and the registry that builds them by name.

use std::sync::Arc;

use crate::config::PluginArgs;
use crate::framework::Plugin;

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;

pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
pub const NODE_NAME: &str = "NodeName";
pub const TAINT_TOLERATION: &str = "TaintToleration";
pub const NODE_AFFINITY: &str = "NodeAffinity";
pub const NODE_PORTS: &str = "NodePorts";
pub const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
pub const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
pub const INTER_POD_AFFINITY: &str = "InterPodAffinity";
pub const BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
pub const IMAGE_LOCALITY: &str = "ImageLocality";
pub const DEFAULT_PREEMPTION: &str = "DefaultPreemption";
pub const VOLUME_BINDING: &str = "VolumeBinding";

/// Upstream's default multiPoint plugins, in order, with their score weights.
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    (NODE_UNSCHEDULABLE, 0),
    (NODE_NAME, 0),
    (TAINT_TOLERATION, 3),
    (NODE_AFFINITY, 2),
    (NODE_PORTS, 0),
    (NODE_RESOURCES_FIT, 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    (VOLUME_BINDING, 0),
    ("VolumeZone", 0),
    (POD_TOPOLOGY_SPREAD, 2),
    (INTER_POD_AFFINITY, 2),
    (DEFAULT_PREEMPTION, 0),
    (BALANCED_ALLOCATION, 1),
    (IMAGE_LOCALITY, 1),
    ("DefaultBinder", 0),
];

/// Upstream plugins this scheduler accepts in a configuration but does not
/// need to run: queue sort and binding are built in; volume limits, zones
/// and restrictions concern cloud or CSI volumes this cluster does not have.
pub const BUILT_IN_OR_NOOP: &[&str] = &[
    "SchedulingGates",
    "PrioritySort",
    "DefaultBinder",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeZone",
    "EBSLimits",
    "GCEPDLimits",
    "AzureDiskLimits",
    "CinderLimits",
    "DynamicResources",
    DEFAULT_PREEMPTION,
];

/// Builds the plugin `name`, or None for built-in/no-op or unknown names.
pub fn new_plugin(name: &str, args: &PluginArgs) -> Option<Arc<dyn Plugin>> {
    Some(match name {
        NODE_UNSCHEDULABLE => Arc::new(node_unschedulable::NodeUnschedulable),
        NODE_NAME => Arc::new(node_name::NodeName),
        TAINT_TOLERATION => Arc::new(taint_toleration::TaintToleration),
        NODE_AFFINITY => Arc::new(node_affinity::NodeAffinity),
        NODE_PORTS => Arc::new(node_ports::NodePorts),
        NODE_RESOURCES_FIT => Arc::new(node_resources_fit::NodeResourcesFit::new(args.fit.clone())),
        POD_TOPOLOGY_SPREAD => Arc::new(pod_topology_spread::PodTopologySpread::new(&args.spread)),
        INTER_POD_AFFINITY => Arc::new(inter_pod_affinity::InterPodAffinity { hard_pod_affinity_weight: args.hard_pod_affinity_weight }),
        BALANCED_ALLOCATION => Arc::new(balanced_allocation::BalancedAllocation::new(&args.balanced_resources)),
        IMAGE_LOCALITY => Arc::new(image_locality::ImageLocality),
        VOLUME_BINDING => Arc::new(volume_binding::VolumeBinding),
        _ => return None,
    })
}

pub fn is_known(name: &str) -> bool {
    BUILT_IN_OR_NOOP.contains(&name) || new_plugin(name, &PluginArgs::default()).is_some()
}

#[cfg(test)]
mod tests;
