//! The dependency graph (upstream's GraphBuilder): one node per object uid
//! seen by any informer, with its ownerReferences and the uids of its
//! dependents. Owners referenced before they are observed are "virtual"
//! nodes, whose existence a worker checks against the apiserver. Changes
//! are applied by one task, in informer order; what they imply is queued for
//! the workers (attemptToDelete, attemptToOrphan).

use std::collections::{HashMap, HashSet};

use client::dynamic::PartialObjectMetadata;
use client::workqueue::WorkQueue;
use client::ApiResourceRef;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub const ORPHAN_FINALIZER: &str = "orphan";
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// What names an object: its coordinates and uid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    /// None for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

impl Identity {
    /// The owner an ownerReference names, in the dependent's namespace.
    pub fn of_owner(r: &OwnerReference, dependent_namespace: Option<&str>) -> Self {
        Identity {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: dependent_namespace.map(str::to_string),
            name: r.name.clone(),
            uid: r.uid.clone(),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}/{}, namespace: {}, name: {}, uid: {}]", self.api_version, self.kind, self.namespace.as_deref().unwrap_or(""), self.name, self.uid)
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub dependents: HashSet<String>,
    /// Seen by an informer (false: only referenced as an owner so far).
    pub observed: bool,
    pub being_deleted: bool,
    /// Being deleted with the foregroundDeletion finalizer.
    pub deleting_dependents: bool,
}

/// A change for the graph: from an informer, or a worker's finding that an
/// object is gone (a "virtual" delete).
pub enum Change {
    Observed { resource: ApiResourceRef, kind: ChangeKind, old: Option<std::sync::Arc<PartialObjectMetadata>>, obj: std::sync::Arc<PartialObjectMetadata> },
    VirtualDelete(Identity),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    AddOrUpdate,
    Delete,
}

fn has_finalizer(o: &PartialObjectMetadata, f: &str) -> bool {
    o.metadata.finalizers.as_ref().is_some_and(|fs| fs.iter().any(|x| x == f))
}

fn being_deleted(o: &PartialObjectMetadata) -> bool {
    o.metadata.deletion_timestamp.is_some()
}

/// The object just started waiting for `finalizer`'s work (deleted with it
/// now, not before).
fn starts_waiting(old: Option<&PartialObjectMetadata>, new: &PartialObjectMetadata, finalizer: &str) -> bool {
    if !(being_deleted(new) && has_finalizer(new, finalizer)) {
        return false;
    }
    old.is_none_or(|o| !(being_deleted(o) && has_finalizer(o, finalizer)))
}

/// The graph and the queues its changes feed.
pub struct Graph {
    pub nodes: HashMap<String, Node>,
    /// Owner uids verified absent (upstream's absentOwnerCache), so their
    /// other dependents need no second lookup. Bounded: cleared when full.
    pub absent: HashSet<String>,
    attempt_to_delete: WorkQueue<String>,
    attempt_to_orphan: WorkQueue<String>,
}

const ABSENT_CACHE_SIZE: usize = 500;

impl Graph {
    pub fn new(attempt_to_delete: WorkQueue<String>, attempt_to_orphan: WorkQueue<String>) -> Self {
        Graph { nodes: HashMap::new(), absent: HashSet::new(), attempt_to_delete, attempt_to_orphan }
    }

    pub fn mark_absent(&mut self, uid: &str) {
        if self.absent.len() >= ABSENT_CACHE_SIZE {
            self.absent.clear();
        }
        self.absent.insert(uid.to_string());
    }

    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Observed { resource, kind: ChangeKind::AddOrUpdate, old, obj } => self.observe(&resource, old.as_deref(), &obj),
            Change::Observed { resource, kind: ChangeKind::Delete, obj, .. } => {
                let uid = obj.metadata.uid.clone().unwrap_or_default();
                let identity = identity_of(&resource, &obj);
                self.remove(&uid, &identity, false);
            }
            Change::VirtualDelete(identity) => {
                let uid = identity.uid.clone();
                self.remove(&uid, &identity, true);
            }
        }
    }

    fn observe(&mut self, resource: &ApiResourceRef, old: Option<&PartialObjectMetadata>, obj: &PartialObjectMetadata) {
        let Some(uid) = obj.metadata.uid.clone() else { return };
        let identity = identity_of(resource, obj);
        let owners = obj.metadata.owner_references.clone().unwrap_or_default();
        match self.nodes.get_mut(&uid) {
            None => {
                let node = Node {
                    identity,
                    owners: owners.clone(),
                    dependents: HashSet::new(),
                    observed: true,
                    being_deleted: being_deleted(obj),
                    deleting_dependents: being_deleted(obj) && has_finalizer(obj, FOREGROUND_FINALIZER),
                };
                self.nodes.insert(uid.clone(), node);
                self.add_dependent_to_owners(&uid, &owners);
            }
            Some(node) => {
                if !node.observed {
                    // A virtual node is now real: its true coordinates replace the referenced ones.
                    node.observed = true;
                    if node.identity != identity {
                        node.identity = identity;
                        // Dependents that named it differently get re-checked.
                        for d in node.dependents.clone() {
                            self.attempt_to_delete.add(d);
                        }
                    }
                }
                let node = self.nodes.get_mut(&uid).expect("present");
                let old_owners = std::mem::replace(&mut node.owners, owners.clone());
                if being_deleted(obj) {
                    node.being_deleted = true;
                }
                let (added, removed, unblocked) = owner_diff(&old_owners, &owners);
                // Owners waiting for this dependent may be free now.
                for o in removed.iter().filter(|r| r.block_owner_deletion == Some(true)).chain(unblocked.iter()) {
                    if self.nodes.get(&o.uid).is_some_and(|n| n.deleting_dependents) {
                        self.attempt_to_delete.add(o.uid.clone());
                    }
                }
                for r in &removed {
                    if let Some(owner) = self.nodes.get_mut(&r.uid) {
                        owner.dependents.remove(&uid);
                    }
                }
                self.add_dependent_to_owners(&uid, &added);
            }
        }
        self.process_transitions(&uid, old, obj);
    }

    /// Links `uid` under each owner, creating virtual owners (to be
    /// verified by a worker) for those not seen yet.
    fn add_dependent_to_owners(&mut self, uid: &str, owners: &[OwnerReference]) {
        let namespace = self.nodes.get(uid).and_then(|n| n.identity.namespace.clone());
        for r in owners {
            let owner = self.nodes.entry(r.uid.clone()).or_insert_with(|| Node {
                identity: Identity::of_owner(r, namespace.as_deref()),
                owners: Vec::new(),
                dependents: HashSet::new(),
                observed: false,
                being_deleted: false,
                deleting_dependents: false,
            });
            owner.dependents.insert(uid.to_string());
            if !owner.observed {
                self.attempt_to_delete.add(r.uid.clone());
            }
        }
    }

    fn process_transitions(&mut self, uid: &str, old: Option<&PartialObjectMetadata>, obj: &PartialObjectMetadata) {
        if starts_waiting(old, obj, ORPHAN_FINALIZER) {
            self.attempt_to_orphan.add(uid.to_string());
            return;
        }
        if starts_waiting(old, obj, FOREGROUND_FINALIZER) {
            let node = self.nodes.get_mut(uid).expect("observed node");
            node.deleting_dependents = true;
            for d in node.dependents.clone() {
                self.attempt_to_delete.add(d);
            }
            self.attempt_to_delete.add(uid.to_string());
        }
    }

    /// An object is gone (observed, or verified by a worker when `virtual_`).
    fn remove(&mut self, uid: &str, identity: &Identity, virtual_: bool) {
        let Some(node) = self.nodes.get(uid) else { return };
        if virtual_ && node.observed && node.identity != *identity {
            // A worker found nothing under other coordinates than the real object's:
            // only the dependents that named those coordinates are affected.
            self.mark_absent(uid);
            return;
        }
        let node = self.nodes.remove(uid).expect("present");
        if !node.dependents.is_empty() {
            self.mark_absent(uid);
        }
        for d in &node.dependents {
            self.attempt_to_delete.add(d.clone());
        }
        for o in &node.owners {
            if let Some(owner) = self.nodes.get_mut(&o.uid) {
                owner.dependents.remove(uid);
                if owner.deleting_dependents {
                    self.attempt_to_delete.add(o.uid.clone());
                }
            }
        }
    }

    /// Dependents whose reference to `uid` has blockOwnerDeletion.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<Node> {
        let Some(node) = self.nodes.get(uid) else { return vec![] };
        node.dependents
            .iter()
            .filter_map(|d| self.nodes.get(d))
            .filter(|d| d.owners.iter().any(|r| r.uid == uid && r.block_owner_deletion == Some(true)))
            .cloned()
            .collect()
    }
}

pub fn identity_of(resource: &ApiResourceRef, obj: &PartialObjectMetadata) -> Identity {
    Identity {
        api_version: resource.api_version(),
        kind: resource.kind.clone(),
        namespace: obj.metadata.namespace.clone().filter(|n| !n.is_empty()),
        name: obj.metadata.name.clone().unwrap_or_default(),
        uid: obj.metadata.uid.clone().unwrap_or_default(),
    }
}

/// Owners added, removed, and those whose blockOwnerDeletion went from true to false.
fn owner_diff(old: &[OwnerReference], new: &[OwnerReference]) -> (Vec<OwnerReference>, Vec<OwnerReference>, Vec<OwnerReference>) {
    let added = new.iter().filter(|n| !old.iter().any(|o| o.uid == n.uid)).cloned().collect();
    let removed = old.iter().filter(|o| !new.iter().any(|n| n.uid == o.uid)).cloned().collect();
    let unblocked = old
        .iter()
        .filter(|o| o.block_owner_deletion == Some(true))
        .filter(|o| new.iter().any(|n| n.uid == o.uid && n.block_owner_deletion != Some(true)))
        .cloned()
        .collect();
    (added, removed, unblocked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rs() -> ApiResourceRef {
        ApiResourceRef { group: "apps".into(), version: "v1".into(), plural: "replicasets".into(), kind: "ReplicaSet".into(), namespaced: true }
    }
    fn pods() -> ApiResourceRef {
        ApiResourceRef { group: "".into(), version: "v1".into(), plural: "pods".into(), kind: "Pod".into(), namespaced: true }
    }
    fn obj(name: &str, uid: &str, owners: serde_json::Value, extra: serde_json::Value) -> Arc<PartialObjectMetadata> {
        let mut v = serde_json::json!({"metadata": {"name": name, "namespace": "ns", "uid": uid, "ownerReferences": owners}});
        v["metadata"].as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        Arc::new(serde_json::from_value(v).unwrap())
    }
    fn owner_ref(uid: &str, block: bool) -> serde_json::Value {
        serde_json::json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": uid, "blockOwnerDeletion": block}])
    }
    fn add(g: &mut Graph, r: ApiResourceRef, o: Arc<PartialObjectMetadata>, old: Option<Arc<PartialObjectMetadata>>) {
        g.apply(Change::Observed { resource: r, kind: ChangeKind::AddOrUpdate, old, obj: o });
    }
    async fn drain(q: &WorkQueue<String>) -> Vec<String> {
        let mut out = Vec::new();
        while !q.is_empty() {
            let k = q.get().await.unwrap();
            q.done(&k);
            out.push(k);
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn unseen_owners_are_virtual_and_checked_then_made_real() {
        let (del, orph) = (WorkQueue::new(), WorkQueue::new());
        let mut g = Graph::new(del.clone(), orph.clone());
        add(&mut g, pods(), obj("p", "p1", owner_ref("rs1", true), serde_json::json!({})), None);
        assert!(!g.nodes["rs1"].observed);
        assert_eq!(g.nodes["rs1"].identity.namespace.as_deref(), Some("ns"));
        assert_eq!(drain(&del).await, ["rs1"]);
        add(&mut g, rs(), obj("web", "rs1", serde_json::json!([]), serde_json::json!({})), None);
        assert!(g.nodes["rs1"].observed);
        assert_eq!(g.blocking_dependents("rs1").len(), 1);
    }

    #[tokio::test]
    async fn foreground_and_orphan_deletions_queue_the_right_work() {
        let (del, orph) = (WorkQueue::new(), WorkQueue::new());
        let mut g = Graph::new(del.clone(), orph.clone());
        let owner = obj("web", "rs1", serde_json::json!([]), serde_json::json!({}));
        add(&mut g, rs(), owner.clone(), None);
        add(&mut g, pods(), obj("p", "p1", owner_ref("rs1", true), serde_json::json!({})), None);
        drain(&del).await;
        let fg = obj("web", "rs1", serde_json::json!([]), serde_json::json!({"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["foregroundDeletion"]}));
        add(&mut g, rs(), fg.clone(), Some(owner.clone()));
        assert!(g.nodes["rs1"].deleting_dependents);
        assert_eq!(drain(&del).await, ["p1", "rs1"]);
        // The dependent goes: its waiting owner is checked again.
        g.apply(Change::Observed { resource: pods(), kind: ChangeKind::Delete, old: None, obj: obj("p", "p1", owner_ref("rs1", true), serde_json::json!({})) });
        assert_eq!(drain(&del).await, ["rs1"]);
        assert!(g.nodes["rs1"].dependents.is_empty());

        let orphaned = obj("web", "rs1", serde_json::json!([]), serde_json::json!({"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["orphan"]}));
        let mut g = Graph::new(del.clone(), orph.clone());
        add(&mut g, rs(), owner.clone(), None);
        add(&mut g, rs(), orphaned, Some(owner));
        assert_eq!(drain(&orph).await, ["rs1"]);
    }

    #[tokio::test]
    async fn a_vanished_owner_queues_its_dependents() {
        let (del, orph) = (WorkQueue::new(), WorkQueue::new());
        let mut g = Graph::new(del.clone(), orph);
        add(&mut g, pods(), obj("p", "p1", owner_ref("rs1", false), serde_json::json!({})), None);
        drain(&del).await;
        let id = g.nodes["rs1"].identity.clone();
        g.apply(Change::VirtualDelete(id));
        assert!(!g.nodes.contains_key("rs1"));
        assert!(g.absent.contains("rs1"));
        assert_eq!(drain(&del).await, ["p1"]);
    }
}
