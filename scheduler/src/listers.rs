//! What plugins read beyond nodes and pods (upstream's informer listers):
//! Namespaces (affinity namespaceSelector), Services / ReplicationControllers /
//! ReplicaSets / StatefulSets (default spreading), PodDisruptionBudgets
//! (preemption), and claims, volumes and StorageClasses (VolumeBinding). The scheduler backs them with informer stores; unit tests
//! use [`StaticListers`].

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim, ReplicationController, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use api::selector::{Labels, Selector};

pub trait Listers: Send + Sync {
    /// Labels of namespace `name`; empty when it is unknown, as upstream.
    fn namespace_labels(&self, name: &str) -> Labels;
    /// Names of the namespaces `sel` selects.
    fn namespaces_matching(&self, sel: &Selector) -> Vec<String>;
    /// Services in namespace `ns`.
    fn services(&self, ns: &str) -> Vec<Arc<Service>>;
    fn replication_controller(&self, ns: &str, name: &str) -> Option<Arc<ReplicationController>>;
    fn replica_set(&self, ns: &str, name: &str) -> Option<Arc<ReplicaSet>>;
    fn stateful_set(&self, ns: &str, name: &str) -> Option<Arc<StatefulSet>>;
    /// Every PodDisruptionBudget.
    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>>;
    /// Claim `ns/name` (VolumeBinding).
    fn pvc(&self, _ns: &str, _name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        None
    }
    fn pv(&self, _name: &str) -> Option<Arc<PersistentVolume>> {
        None
    }
    /// Every PersistentVolume.
    fn pvs(&self) -> Vec<Arc<PersistentVolume>> {
        Vec::new()
    }
    fn storage_class(&self, _name: &str) -> Option<Arc<StorageClass>> {
        None
    }
}

/// The listers a snapshot carries (cheap to clone).
#[derive(Clone)]
pub struct ListerHandle(pub Arc<dyn Listers>);

impl Default for ListerHandle {
    fn default() -> Self {
        ListerHandle(Arc::new(StaticListers::default()))
    }
}

impl fmt::Debug for ListerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ListerHandle")
    }
}

impl std::ops::Deref for ListerHandle {
    type Target = dyn Listers;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

fn ns_of<K: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>>(o: &K) -> &str {
    o.metadata().namespace.as_deref().unwrap_or("")
}

fn name_of<K: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>>(o: &K) -> &str {
    o.metadata().name.as_deref().unwrap_or("")
}

/// Fixed objects: for unit tests and as the empty default.
#[derive(Default)]
pub struct StaticListers {
    pub namespaces: Vec<Arc<Namespace>>,
    pub services: Vec<Arc<Service>>,
    pub replication_controllers: Vec<Arc<ReplicationController>>,
    pub replica_sets: Vec<Arc<ReplicaSet>>,
    pub stateful_sets: Vec<Arc<StatefulSet>>,
    pub pdbs: Vec<Arc<PodDisruptionBudget>>,
    pub pvcs: Vec<Arc<PersistentVolumeClaim>>,
    pub pvs: Vec<Arc<PersistentVolume>>,
    pub storage_classes: Vec<Arc<StorageClass>>,
}

fn find<K>(items: &[Arc<K>], ns: &str, name: &str) -> Option<Arc<K>>
where
    K: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
{
    items.iter().find(|o| ns_of(&***o) == ns && name_of(&***o) == name).cloned()
}

impl Listers for StaticListers {
    fn namespace_labels(&self, name: &str) -> Labels {
        self.namespaces.iter().find(|n| name_of(&***n) == name).and_then(|n| n.metadata.labels.clone()).unwrap_or_default()
    }
    fn namespaces_matching(&self, sel: &Selector) -> Vec<String> {
        namespaces_matching(self.namespaces.iter(), sel)
    }
    fn services(&self, ns: &str) -> Vec<Arc<Service>> {
        self.services.iter().filter(|s| ns_of(&***s) == ns).cloned().collect()
    }
    fn replication_controller(&self, ns: &str, name: &str) -> Option<Arc<ReplicationController>> {
        find(&self.replication_controllers, ns, name)
    }
    fn replica_set(&self, ns: &str, name: &str) -> Option<Arc<ReplicaSet>> {
        find(&self.replica_sets, ns, name)
    }
    fn stateful_set(&self, ns: &str, name: &str) -> Option<Arc<StatefulSet>> {
        find(&self.stateful_sets, ns, name)
    }
    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.pdbs.clone()
    }
    fn pvc(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        find(&self.pvcs, ns, name)
    }
    fn pv(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        find(&self.pvs, "", name)
    }
    fn pvs(&self) -> Vec<Arc<PersistentVolume>> {
        self.pvs.clone()
    }
    fn storage_class(&self, name: &str) -> Option<Arc<StorageClass>> {
        find(&self.storage_classes, "", name)
    }
}

fn namespaces_matching<'a>(nss: impl Iterator<Item = &'a Arc<Namespace>>, sel: &Selector) -> Vec<String> {
    let empty = Labels::new();
    nss.filter(|n| sel.matches(n.metadata.labels.as_ref().unwrap_or(&empty))).map(|n| name_of(&**n).to_string()).collect()
}

/// Index of services and PDBs by namespace.
pub const BY_NAMESPACE: &str = "namespace";

/// Listers on informer stores (the running scheduler's).
pub struct InformerListers {
    pub namespaces: client::store::Store<Namespace>,
    /// Indexed by [`BY_NAMESPACE`].
    pub services: client::store::Store<Service>,
    pub replication_controllers: client::store::Store<ReplicationController>,
    pub replica_sets: client::store::Store<ReplicaSet>,
    pub stateful_sets: client::store::Store<StatefulSet>,
    pub pdbs: client::store::Store<PodDisruptionBudget>,
    pub pvcs: client::store::Store<PersistentVolumeClaim>,
    pub pvs: client::store::Store<PersistentVolume>,
    pub storage_classes: client::store::Store<StorageClass>,
}

impl Listers for InformerListers {
    fn namespace_labels(&self, name: &str) -> Labels {
        self.namespaces.get("", name).and_then(|n| n.metadata.labels.clone()).unwrap_or_default()
    }
    fn namespaces_matching(&self, sel: &Selector) -> Vec<String> {
        namespaces_matching(self.namespaces.list().iter(), sel)
    }
    fn services(&self, ns: &str) -> Vec<Arc<Service>> {
        self.services.by_index(BY_NAMESPACE, ns)
    }
    fn replication_controller(&self, ns: &str, name: &str) -> Option<Arc<ReplicationController>> {
        self.replication_controllers.get(ns, name)
    }
    fn replica_set(&self, ns: &str, name: &str) -> Option<Arc<ReplicaSet>> {
        self.replica_sets.get(ns, name)
    }
    fn stateful_set(&self, ns: &str, name: &str) -> Option<Arc<StatefulSet>> {
        self.stateful_sets.get(ns, name)
    }
    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.pdbs.list()
    }
    fn pvc(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.pvcs.get(ns, name)
    }
    fn pv(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.pvs.get("", name)
    }
    fn pvs(&self) -> Vec<Arc<PersistentVolume>> {
        self.pvs.list()
    }
    fn storage_class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.storage_classes.get("", name)
    }
}

impl InformerListers {
    /// Resolves once every store has its first list.
    pub async fn wait_synced(&self) {
        self.namespaces.wait_synced().await;
        self.services.wait_synced().await;
        self.replication_controllers.wait_synced().await;
        self.replica_sets.wait_synced().await;
        self.stateful_sets.wait_synced().await;
        self.pdbs.wait_synced().await;
        self.pvcs.wait_synced().await;
        self.pvs.wait_synced().await;
        self.storage_classes.wait_synced().await;
    }
}
