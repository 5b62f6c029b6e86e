//! A pod with everything the plugins need precomputed once (upstream framework.PodInfo).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, Toleration, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use api::affinity::{preferred_terms, NodeTerm, RequiredNodeAffinity};
use api::selector::{Labels, Operator, Requirement, Selector};

use crate::resource::{pod_requests, Resource};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    /// Same port and protocol, and the IPs overlap (0.0.0.0 overlaps every IP).
    pub fn conflicts(&self, o: &HostPort) -> bool {
        self.port == o.port && self.protocol == o.protocol && (self.ip == o.ip || self.ip == "0.0.0.0" || o.ip == "0.0.0.0")
    }
}

/// A pod (anti-)affinity term with its selectors compiled (upstream framework.AffinityTerm).
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    pub selector: Selector,
    /// `namespaces`, or the pod's own namespace when both `namespaces` and
    /// `namespaceSelector` are unset.
    pub namespaces: Vec<String>,
    /// `namespaceSelector`: nil selects no namespace, `{}` every namespace.
    pub namespace_selector: Selector,
    pub topology_key: String,
}

/// A metav1.LabelSelector compiled; one the apiserver would refuse selects
/// nothing rather than everything.
fn compile(sel: Option<&LabelSelector>) -> Selector {
    Selector::from_label_selector(sel).unwrap_or_else(|_| Selector::nothing())
}

/// Adds `key <op> (value of key on the incoming pod)` for each of `keys` the
/// pod has (matchLabelKeys / mismatchLabelKeys).
fn add_label_keys(selector: &mut Selector, keys: Option<&Vec<String>>, op: Operator, pod_labels: &Labels) {
    for k in keys.into_iter().flatten() {
        let Some(v) = pod_labels.get(k) else { continue };
        match Requirement::new(k, op, vec![v.clone()]) {
            Ok(r) => selector.add(r),
            Err(_) => *selector = Selector::nothing(),
        }
    }
}

impl AffinityTerm {
    fn new(t: &PodAffinityTerm, pod_ns: &str, pod_labels: &Labels) -> Self {
        let mut selector = compile(t.label_selector.as_ref());
        add_label_keys(&mut selector, t.match_label_keys.as_ref(), Operator::In, pod_labels);
        add_label_keys(&mut selector, t.mismatch_label_keys.as_ref(), Operator::NotIn, pod_labels);
        let mut namespaces = t.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && t.namespace_selector.is_none() {
            namespaces.push(pod_ns.to_string());
        }
        let namespace_selector = compile(t.namespace_selector.as_ref());
        AffinityTerm { selector, namespaces, namespace_selector, topology_key: t.topology_key.clone() }
    }

    /// Whether `pod`, in a namespace labelled `ns_labels`, is selected by this term.
    pub fn matches(&self, pod: &PodInfo, ns_labels: &Labels) -> bool {
        (self.namespaces.iter().any(|n| *n == pod.namespace) || self.namespace_selector.matches(ns_labels))
            && self.selector.matches(&pod.labels)
    }

    /// Whether the term selects pods regardless of their namespace's labels
    /// (no namespaceSelector, or `{}`): then [`Self::matches`] needs no labels.
    pub fn namespaces_resolved(&self) -> bool {
        self.namespace_selector.is_nothing() || self.namespace_selector.is_empty()
    }

    /// upstream mergeAffinityTermNamespacesIfNotEmpty: for the incoming pod's
    /// terms, the namespaces a non-empty namespaceSelector selects now are
    /// added to `namespaces`, so that matching needs no namespace labels.
    pub fn resolve_namespaces(&self, listers: &dyn crate::listers::Listers) -> AffinityTerm {
        let mut t = self.clone();
        if !t.namespaces_resolved() {
            t.namespaces.extend(listers.namespaces_matching(&t.namespace_selector));
            t.namespace_selector = Selector::nothing();
        }
        t
    }
}

/// The incoming pod's terms with their namespaceSelectors resolved.
pub fn resolve_terms(terms: &[AffinityTerm], listers: &dyn crate::listers::Listers) -> Vec<AffinityTerm> {
    terms.iter().map(|t| t.resolve_namespaces(listers)).collect()
}

/// Same for weighted terms.
pub fn resolve_weighted(terms: &[WeightedTerm], listers: &dyn crate::listers::Listers) -> Vec<WeightedTerm> {
    terms.iter().map(|w| WeightedTerm { weight: w.weight, term: w.term.resolve_namespaces(listers) }).collect()
}

#[derive(Debug, Clone)]
pub struct WeightedTerm {
    pub weight: i64,
    pub term: AffinityTerm,
}

/// A compiled topologySpreadConstraint.
#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub do_not_schedule: bool,
    pub selector: Selector,
    pub min_domains: Option<i32>,
    /// nodeAffinityPolicy Honor (default): only nodes matching the pod's node affinity count.
    pub honor_node_affinity: bool,
    /// nodeTaintsPolicy Honor: only nodes whose taints the pod tolerates count (default Ignore).
    pub honor_node_taints: bool,
}

impl SpreadConstraint {
    pub fn new(c: &TopologySpreadConstraint, pod_labels: &Labels) -> Self {
        let mut selector = compile(c.label_selector.as_ref());
        add_label_keys(&mut selector, c.match_label_keys.as_ref(), Operator::In, pod_labels);
        SpreadConstraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            do_not_schedule: c.when_unsatisfiable == "DoNotSchedule",
            selector,
            min_domains: c.min_domains,
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// "namespace/name".
    pub key: String,
    pub labels: Labels,
    pub priority: i32,
    pub node_name: Option<String>,
    pub scheduler_name: String,
    pub requests: Resource,
    /// Requests with the scoring defaults for unset cpu/memory.
    pub non_zero: Resource,
    pub host_ports: Vec<HostPort>,
    pub tolerations: Vec<Toleration>,
    /// spec.nodeSelector and the required node affinity terms.
    pub required_node_affinity: RequiredNodeAffinity,
    /// The preferred node affinity terms with a non-zero weight.
    pub preferred_node_affinity: Vec<(i32, NodeTerm)>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedTerm>,
    pub preferred_anti_affinity: Vec<WeightedTerm>,
    pub spread: Vec<SpreadConstraint>,
    /// Normalized image names of all containers.
    pub images: Vec<String>,
    pub preemption_never: bool,
    pub terminating: bool,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> Self {
        let md = &pod.metadata;
        let namespace = md.namespace.clone().unwrap_or_default();
        let name = md.name.clone().unwrap_or_default();
        let labels: Labels = md.labels.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let mut host_ports = vec![];
        for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.filter(|p| *p > 0) {
                    let ip = p.host_ip.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
                    host_ports.push(HostPort { protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()), ip, port: hp });
                }
            }
        }
        let aff = spec.affinity.as_ref();
        let na = aff.and_then(|a| a.node_affinity.as_ref());
        let preferred = na.and_then(|n| n.preferred_during_scheduling_ignored_during_execution.as_deref()).unwrap_or_default();
        let preferred_node_affinity = preferred_terms(preferred).into_iter().filter(|(w, _)| *w != 0).collect();
        let pa = aff.and_then(|a| a.pod_affinity.as_ref());
        let paa = aff.and_then(|a| a.pod_anti_affinity.as_ref());
        let terms = |v: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            v.into_iter().flatten().map(|t| AffinityTerm::new(t, &namespace, &labels)).collect()
        };
        let required_affinity = terms(pa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()));
        let required_anti_affinity = terms(paa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()));
        let weighted = |v: Option<&Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| -> Vec<WeightedTerm> {
            v.into_iter()
                .flatten()
                .map(|w| WeightedTerm { weight: w.weight as i64, term: AffinityTerm::new(&w.pod_affinity_term, &namespace, &labels) })
                .collect()
        };
        let preferred_affinity = weighted(pa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()));
        let preferred_anti_affinity = weighted(paa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()));
        let spread = spec.topology_spread_constraints.iter().flatten().map(|c| SpreadConstraint::new(c, &labels)).collect();
        let images =
            spec.init_containers.iter().flatten().chain(&spec.containers).filter_map(|c| c.image.as_deref()).map(normalize_image).collect();
        let (requests, non_zero) = pod_requests(&pod);
        PodInfo {
            key: format!("{namespace}/{name}"),
            uid: md.uid.clone().unwrap_or_default(),
            priority: spec.priority.unwrap_or(0),
            node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            scheduler_name: spec.scheduler_name.clone().unwrap_or_else(|| "default-scheduler".into()),
            requests,
            non_zero,
            host_ports,
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            required_node_affinity: RequiredNodeAffinity::from_pod(&pod),
            preferred_node_affinity,
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            spread,
            images,
            preemption_never: spec.preemption_policy.as_deref() == Some("Never"),
            terminating: md.deletion_timestamp.is_some(),
            namespace,
            name,
            labels,
            pod,
        }
    }

    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }
}

/// The fully qualified image reference ("busybox" -> "docker.io/library/busybox:latest"),
/// so pod specs and node.status.images compare equal; an invalid name is kept as written.
pub fn normalize_image(name: &str) -> String {
    api::image::normalize(name).unwrap_or_else(|_| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_conflicts() {
        let p = |ip: &str, port| HostPort { protocol: "TCP".into(), ip: ip.into(), port };
        assert!(p("0.0.0.0", 80).conflicts(&p("10.0.0.1", 80)));
        assert!(!p("10.0.0.2", 80).conflicts(&p("10.0.0.1", 80)));
        assert!(!p("0.0.0.0", 80).conflicts(&p("0.0.0.0", 81)));
    }
}
