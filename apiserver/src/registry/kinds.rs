//! The table of served kinds.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Kind, Typed};

/// Every kind the server serves, by (group, plural).
#[derive(Clone)]
pub struct Kinds {
    by_resource: HashMap<(String, String), Arc<dyn Kind>>,
    order: Vec<Arc<dyn Kind>>,
}

impl Kinds {
    /// The kinds of this server.
    pub fn new() -> Self {
        let mut k = Kinds { by_resource: HashMap::new(), order: Vec::new() };
        k.add(Typed(super::core::namespace::NamespaceStrategy));
        k.add(Typed(super::core::configmap::ConfigMapStrategy));
        k.add(Typed(super::core::pod::PodStrategy));
        k.add(Typed(super::core::node::NodeStrategy));
        k.add(Typed(super::core::service::ServiceStrategy));
        k.add(Typed(super::core::endpoints::EndpointsStrategy));
        k.add(Typed(super::discovery::endpointslice::EndpointSliceStrategy));
        k.add(Typed(super::core::secret::SecretStrategy));
        k.add(Typed(super::core::serviceaccount::ServiceAccountStrategy));
        k.add(Typed(super::core::event::EventStrategy));
        k.add(Typed(super::coordination::lease::LeaseStrategy));
        k.add(Typed(super::core::replicationcontroller::ReplicationControllerStrategy));
        k.add(Typed(super::apps::replicaset::ReplicaSetStrategy));
        k.add(Typed(super::apps::deployment::DeploymentStrategy));
        k.add(Typed(super::apps::statefulset::StatefulSetStrategy));
        k.add(Typed(super::apps::daemonset::DaemonSetStrategy));
        k.add(Typed(super::batch::job::JobStrategy));
        k.add(Typed(super::batch::cronjob::CronJobStrategy));
        k.add(Typed(super::core::pv::PersistentVolumeStrategy));
        k.add(Typed(super::core::pvc::PersistentVolumeClaimStrategy));
        k.add(Typed(super::storage::storageclass::StorageClassStrategy));
        k.add(Typed(super::scheduling::priorityclass::PriorityClassStrategy));
        k.add(Typed(super::apps::controllerrevision::ControllerRevisionStrategy));
        k.add(Typed(super::core::podtemplate::PodTemplateStrategy));
        k.add(Typed(super::core::limitrange::LimitRangeStrategy));
        k.add(Typed(super::core::resourcequota::ResourceQuotaStrategy));
        k.add(Typed(super::policy::poddisruptionbudget::PodDisruptionBudgetStrategy));
        k
    }

    fn add(&mut self, kind: impl Kind) {
        let kind: Arc<dyn Kind> = Arc::new(kind);
        let info = kind.info();
        self.by_resource.insert((info.group.to_string(), info.plural.to_string()), kind.clone());
        self.order.push(kind);
    }

    pub fn get(&self, group: &str, plural: &str) -> Option<&Arc<dyn Kind>> {
        self.by_resource.get(&(group.to_string(), plural.to_string()))
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Kind>> {
        self.order.iter()
    }
}

impl Default for Kinds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Discovery facts as upstream's APIResourceLists state them.
    #[test]
    fn discovery_matches_upstream() {
        let k = Kinds::new();
        assert_eq!(k.all().count(), k.by_resource.len(), "a (group, plural) is registered twice");
        let mut all: Vec<&str> = k.all().filter(|x| x.info().categories.contains(&"all")).map(|x| x.info().plural).collect();
        all.sort();
        assert_eq!(all, ["cronjobs", "daemonsets", "deployments", "jobs", "pods", "replicasets", "replicationcontrollers", "services", "statefulsets"]);
        for (group, plural, short) in [
            ("", "pods", &["po"][..]),
            ("", "services", &["svc"]),
            ("", "namespaces", &["ns"]),
            ("", "nodes", &["no"]),
            ("", "configmaps", &["cm"]),
            ("", "endpoints", &["ep"]),
            ("", "events", &["ev"]),
            ("", "persistentvolumes", &["pv"]),
            ("", "persistentvolumeclaims", &["pvc"]),
            ("", "serviceaccounts", &["sa"]),
            ("", "replicationcontrollers", &["rc"]),
            ("", "limitranges", &["limits"]),
            ("", "resourcequotas", &["quota"]),
            ("", "secrets", &[]),
            ("apps", "deployments", &["deploy"]),
            ("apps", "replicasets", &["rs"]),
            ("apps", "statefulsets", &["sts"]),
            ("apps", "daemonsets", &["ds"]),
            ("batch", "cronjobs", &["cj"]),
            ("batch", "jobs", &[]),
            ("storage.k8s.io", "storageclasses", &["sc"]),
            ("scheduling.k8s.io", "priorityclasses", &["pc"]),
            ("coordination.k8s.io", "leases", &[]),
            ("discovery.k8s.io", "endpointslices", &[]),
            ("policy", "poddisruptionbudgets", &["pdb"]),
        ] {
            let kind = k.get(group, plural).unwrap_or_else(|| panic!("{group}/{plural} not served"));
            assert_eq!(kind.info().short_names, short, "{plural}");
        }
        let scoped: Vec<&str> = k.all().filter(|x| !x.info().namespaced).map(|x| x.info().plural).collect();
        assert_eq!(scoped, ["namespaces", "nodes", "persistentvolumes", "storageclasses", "priorityclasses"]);
        let generation: Vec<&str> = k.all().filter(|x| x.info().tracks_generation).map(|x| x.info().plural).collect();
        assert_eq!(
            generation,
            ["pods", "endpointslices", "replicationcontrollers", "replicasets", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "poddisruptionbudgets"]
        );
        let scale: Vec<&str> = k.all().filter(|x| x.info().subresources.contains(&"scale")).map(|x| x.info().plural).collect();
        assert_eq!(scale, ["replicationcontrollers", "replicasets", "deployments", "statefulsets"]);
    }
}
