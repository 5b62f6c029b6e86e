//! The scheduler cache: nodes, the pods on them (bound and assumed) and the
//! per-node aggregates the plugins read; plus the per-cycle snapshot.
//!
//! Node infos are `Arc`s shared with the snapshot and copied on write, so a
//! snapshot update only swaps the entries that changed since the last cycle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use api::selector::Labels;

use crate::listers::ListerHandle;
use crate::pod_info::{normalize_image, HostPort, PodInfo};
use crate::resource::{node_allocatable, Resource};

#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// None while pods point at a node the cache has not seen (yet).
    pub node: Option<Arc<Node>>,
    pub name: String,
    pub labels: Labels,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resource,
    /// Sum of the pods' requests (`allowed_pod_number` = number of pods).
    pub requested: Resource,
    /// Same with the scoring defaults for pods without requests.
    pub non_zero_requested: Resource,
    pub pods: Vec<Arc<PodInfo>>,
    pub pods_with_affinity: usize,
    pub pods_with_required_anti_affinity: usize,
    pub used_ports: Vec<HostPort>,
    /// Normalized image name -> size in bytes, from node.status.images.
    pub images: Arc<HashMap<String, i64>>,
    pub generation: u64,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> Self {
        let mut ni = NodeInfo::default();
        ni.set_node(node);
        ni
    }

    pub fn set_node(&mut self, node: Arc<Node>) {
        self.name = node.metadata.name.clone().unwrap_or_default();
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.allocatable = node_allocatable(&node);
        let mut images = HashMap::new();
        for img in node.status.as_ref().and_then(|s| s.images.as_ref()).into_iter().flatten() {
            // The kubelet reports fully qualified names; pods' images are normalized the same way.
            for n in img.names.iter().flatten() {
                images.insert(normalize_image(n), img.size_bytes.unwrap_or(0));
            }
        }
        self.images = Arc::new(images);
        self.node = Some(node);
    }

    pub fn add_pod(&mut self, p: Arc<PodInfo>) {
        self.requested.add(&p.requests);
        self.requested.allowed_pod_number += 1;
        self.non_zero_requested.milli_cpu += p.non_zero.milli_cpu;
        self.non_zero_requested.memory += p.non_zero.memory;
        self.non_zero_requested.allowed_pod_number += 1;
        if p.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !p.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.used_ports.extend(p.host_ports.iter().cloned());
        self.pods.push(p);
    }

    /// Removes the pod with `key`; false if it was not here.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.key == key) else { return false };
        let p = self.pods.swap_remove(i);
        self.requested.sub(&p.requests);
        self.requested.allowed_pod_number -= 1;
        self.non_zero_requested.milli_cpu -= p.non_zero.milli_cpu;
        self.non_zero_requested.memory -= p.non_zero.memory;
        self.non_zero_requested.allowed_pod_number -= 1;
        if p.has_affinity() {
            self.pods_with_affinity -= 1;
        }
        if !p.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        for hp in &p.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        true
    }

    pub fn node(&self) -> &Node {
        self.node.as_deref().expect("snapshot holds only known nodes")
    }
}

#[derive(Debug, Clone)]
struct PodState {
    pod: Arc<PodInfo>,
    node: String,
    assumed: bool,
}

/// What `Cache::update_snapshot` fills: the nodes in a stable order.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub nodes: Vec<Arc<NodeInfo>>,
    index: HashMap<String, usize>,
    /// Indexes of nodes with pods that have (anti-)affinity terms.
    pub have_pods_with_affinity: Vec<usize>,
    pub have_pods_with_required_anti_affinity: Vec<usize>,
    /// Image name -> number of nodes that have it.
    pub image_nodes: Arc<HashMap<String, usize>>,
    /// Namespaces, workloads and PDBs (set by the scheduler; empty by default).
    pub listers: ListerHandle,
    generation: u64,
}

impl Snapshot {
    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    /// A copy with one node replaced (preemption's what-if).
    pub fn with_node(&self, ni: NodeInfo) -> Snapshot {
        let mut s = self.clone();
        if let Some(&i) = s.index.get(&ni.name) {
            s.nodes[i] = Arc::new(ni);
            s.have_pods_with_affinity = (0..s.nodes.len()).filter(|i| s.nodes[*i].pods_with_affinity > 0).collect();
            s.have_pods_with_required_anti_affinity =
                (0..s.nodes.len()).filter(|i| s.nodes[*i].pods_with_required_anti_affinity > 0).collect();
        }
        s
    }

    /// Builds a snapshot straight from node infos (tests, preemption what-ifs).
    pub fn from_nodes(nodes: Vec<NodeInfo>) -> Self {
        let mut c = Cache::default();
        for n in nodes {
            let name = n.name.clone();
            c.image_add(&n, 1);
            c.nodes.insert(name, Arc::new(n));
        }
        c.structure_changed = true;
        let mut s = Snapshot::default();
        c.update_snapshot(&mut s);
        s
    }
}

#[derive(Debug, Default)]
pub struct Cache {
    nodes: BTreeMap<String, Arc<NodeInfo>>,
    pods: HashMap<String, PodState>,
    image_nodes: HashMap<String, usize>,
    generation: u64,
    dirty: HashSet<String>,
    structure_changed: bool,
    affinity_changed: bool,
    images_changed: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CacheError {
    #[error("pod {0} is already in the cache")]
    AlreadyPresent(String),
    #[error("pod {0} is not assumed")]
    NotAssumed(String),
}

impl Cache {
    pub fn new() -> Self {
        Self::default()
    }

    fn touch(&mut self, name: &str) -> &mut NodeInfo {
        self.generation += 1;
        let g = self.generation;
        self.dirty.insert(name.to_string());
        let e = self.nodes.entry(name.to_string()).or_insert_with(|| Arc::new(NodeInfo { name: name.to_string(), ..Default::default() }));
        let ni = Arc::make_mut(e);
        ni.generation = g;
        ni
    }

    fn image_add(&mut self, ni: &NodeInfo, delta: isize) {
        let mut seen = HashSet::new();
        for (name, _) in ni.images.iter() {
            if seen.insert(name) {
                let e = self.image_nodes.entry(name.clone()).or_default();
                *e = (*e as isize + delta).max(0) as usize;
            }
        }
        self.images_changed = true;
    }

    pub fn add_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(old) = self.nodes.get(&name).cloned() {
            self.image_add(&old, -1);
        }
        let existed = self.nodes.get(&name).is_some_and(|n| n.node.is_some());
        let ni = self.touch(&name);
        ni.set_node(node);
        let ni = ni.clone();
        self.image_add(&ni, 1);
        if !existed {
            self.structure_changed = true;
        }
    }

    pub fn update_node(&mut self, node: Arc<Node>) {
        self.add_node(node);
    }

    pub fn remove_node(&mut self, name: &str) {
        if let Some(old) = self.nodes.get(name).cloned() {
            self.image_add(&old, -1);
            if old.pods.is_empty() {
                self.nodes.remove(name);
            } else {
                // Pods still point at it: keep the aggregates, drop the node.
                let ni = self.touch(name);
                ni.node = None;
            }
            self.structure_changed = true;
            self.generation += 1;
        }
    }

    fn add_to_node(&mut self, pod: &Arc<PodInfo>, node: &str) {
        if pod.has_affinity() {
            self.affinity_changed = true;
        }
        self.touch(node).add_pod(pod.clone());
    }

    fn remove_from_node(&mut self, key: &str, node: &str) {
        let Some(ni) = self.nodes.get(node) else { return };
        if ni.pods.iter().any(|p| p.key == key && p.has_affinity()) {
            self.affinity_changed = true;
        }
        self.touch(node).remove_pod(key);
        if let Some(ni) = self.nodes.get(node) {
            if ni.node.is_none() && ni.pods.is_empty() {
                self.nodes.remove(node);
                self.structure_changed = true;
            }
        }
    }

    /// Counts a pod on `node` before its binding is confirmed by the watch.
    pub fn assume_pod(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        if self.pods.contains_key(&pod.key) {
            return Err(CacheError::AlreadyPresent(pod.key.clone()));
        }
        self.add_to_node(&pod, node);
        self.pods.insert(pod.key.clone(), PodState { pod, node: node.to_string(), assumed: true });
        Ok(())
    }

    /// Undoes `assume_pod` after a failed bind.
    pub fn forget_pod(&mut self, key: &str) -> Result<(), CacheError> {
        match self.pods.get(key) {
            Some(ps) if ps.assumed => {
                let node = ps.node.clone();
                self.pods.remove(key);
                self.remove_from_node(key, &node);
                Ok(())
            }
            _ => Err(CacheError::NotAssumed(key.to_string())),
        }
    }

    /// The cached pod with `key` and the node it is on (bound or assumed).
    pub fn pod(&self, key: &str) -> Option<(Arc<PodInfo>, String)> {
        self.pods.get(key).map(|p| (p.pod.clone(), p.node.clone()))
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// An assigned pod seen by the informer (added or updated): confirms an
    /// assumed pod or (re)places it on its node.
    pub fn add_or_update_pod(&mut self, pod: Arc<PodInfo>) {
        let Some(node) = pod.node_name.clone() else { return };
        if let Some(old) = self.pods.get(&pod.key).cloned() {
            self.remove_from_node(&pod.key, &old.node);
        }
        self.add_to_node(&pod, &node);
        self.pods.insert(pod.key.clone(), PodState { pod, node, assumed: false });
    }

    pub fn remove_pod(&mut self, key: &str) {
        if let Some(ps) = self.pods.remove(key) {
            self.remove_from_node(key, &ps.node);
        }
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }
    pub fn node_count(&self) -> usize {
        self.nodes.values().filter(|n| n.node.is_some()).count()
    }
    pub fn node_info(&self, name: &str) -> Option<Arc<NodeInfo>> {
        self.nodes.get(name).cloned()
    }

    /// Brings `snap` up to date, copying only the nodes changed since the last call.
    pub fn update_snapshot(&mut self, snap: &mut Snapshot) {
        if snap.generation == self.generation && !self.structure_changed && self.dirty.is_empty() {
            return;
        }
        if self.structure_changed {
            snap.nodes = self.nodes.values().filter(|n| n.node.is_some()).cloned().collect();
            snap.index = snap.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
            self.affinity_changed = true;
        } else {
            for name in &self.dirty {
                if let (Some(i), Some(ni)) = (snap.index.get(name), self.nodes.get(name)) {
                    snap.nodes[*i] = ni.clone();
                }
            }
        }
        if self.affinity_changed {
            snap.have_pods_with_affinity = (0..snap.nodes.len()).filter(|i| snap.nodes[*i].pods_with_affinity > 0).collect();
            snap.have_pods_with_required_anti_affinity =
                (0..snap.nodes.len()).filter(|i| snap.nodes[*i].pods_with_required_anti_affinity > 0).collect();
        }
        if self.images_changed {
            snap.image_nodes = Arc::new(self.image_nodes.clone());
        }
        self.dirty.clear();
        self.structure_changed = false;
        self.affinity_changed = false;
        self.images_changed = false;
        snap.generation = self.generation;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::{node, pod};

    #[test]
    fn assume_confirm_forget() {
        let mut c = Cache::new();
        c.add_node(Arc::new(node("n1", "4", "8Gi")));
        let p = Arc::new(PodInfo::new(Arc::new(pod("p1", "1", "1Gi"))));
        c.assume_pod(p.clone(), "n1").unwrap();
        assert!(c.is_assumed("default/p1"));
        assert_eq!(c.node_info("n1").unwrap().requested.milli_cpu, 1000);
        assert_eq!(c.assume_pod(p.clone(), "n1"), Err(CacheError::AlreadyPresent("default/p1".into())));
        c.forget_pod("default/p1").unwrap();
        assert_eq!(c.node_info("n1").unwrap().requested.milli_cpu, 0);
        assert_eq!(c.node_info("n1").unwrap().requested.allowed_pod_number, 0);

        // Assumed, then confirmed by the watch: counted once.
        c.assume_pod(p.clone(), "n1").unwrap();
        let mut bound = pod("p1", "1", "1Gi");
        bound.spec.as_mut().unwrap().node_name = Some("n1".into());
        c.add_or_update_pod(Arc::new(PodInfo::new(Arc::new(bound))));
        assert!(!c.is_assumed("default/p1"));
        let ni = c.node_info("n1").unwrap();
        assert_eq!((ni.requested.milli_cpu, ni.pods.len()), (1000, 1));
        assert!(c.forget_pod("default/p1").is_err(), "a confirmed pod cannot be forgotten");
        c.remove_pod("default/p1");
        assert_eq!(c.node_info("n1").unwrap().pods.len(), 0);
    }

    #[test]
    fn snapshot_copies_only_changed_nodes() {
        let mut c = Cache::new();
        for i in 0..3 {
            c.add_node(Arc::new(node(&format!("n{i}"), "4", "8Gi")));
        }
        let mut s = Snapshot::default();
        c.update_snapshot(&mut s);
        assert_eq!(s.len(), 3);
        let before: Vec<_> = s.nodes.iter().map(Arc::as_ptr).collect();
        c.assume_pod(Arc::new(PodInfo::new(Arc::new(pod("p", "1", "1Gi")))), "n1").unwrap();
        c.update_snapshot(&mut s);
        assert_eq!(s.get("n1").unwrap().requested.milli_cpu, 1000);
        assert!(std::ptr::eq(before[0], Arc::as_ptr(&s.nodes[0])), "unchanged node shared");
        assert!(!std::ptr::eq(before[1], Arc::as_ptr(&s.nodes[1])));
        c.remove_node("n2");
        c.update_snapshot(&mut s);
        assert_eq!(s.len(), 2);
        assert!(s.get("n2").is_none());
    }

    #[test]
    fn pods_on_unknown_nodes_are_kept_until_the_node_arrives() {
        let mut c = Cache::new();
        let mut p = pod("p", "1", "1Gi");
        p.spec.as_mut().unwrap().node_name = Some("late".into());
        c.add_or_update_pod(Arc::new(PodInfo::new(Arc::new(p))));
        let mut s = Snapshot::default();
        c.update_snapshot(&mut s);
        assert_eq!(s.len(), 0);
        c.add_node(Arc::new(node("late", "2", "1Gi")));
        c.update_snapshot(&mut s);
        assert_eq!(s.get("late").unwrap().requested.milli_cpu, 1000);
    }
}
