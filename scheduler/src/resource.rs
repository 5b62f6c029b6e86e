//! The scheduler's resource vector (upstream framework.Resource): integer
//! amounts per resource, summed per node. What a pod requests comes from
//! `api::resources` (upstream's PodRequests); this module only turns those
//! lists into integers once per pod, so the filters and scorers never parse.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};

use api::quantity::{resource_list, Format, Quantity, ResourceList};
use api::resources::{
    is_pod_level_requests_set, pod_requests as api_pod_requests, PodResourcesOptions, DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST,
};
pub use api::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, PODS};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pod_number: i64,
    /// Extended resources (e.g. nvidia.com/gpu, hugepages-2Mi).
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// upstream's Resource.Add of a ResourceList: cpu in millicores, the rest in units.
    pub fn from_list(list: &ResourceList) -> Self {
        let mut r = Resource::default();
        for (k, q) in list {
            match k.as_str() {
                CPU => r.milli_cpu = q.milli_value(),
                MEMORY => r.memory = q.value(),
                EPHEMERAL_STORAGE => r.ephemeral_storage = q.value(),
                PODS => r.allowed_pod_number = q.value(),
                other => {
                    r.scalar.insert(other.to_string(), q.value());
                }
            }
        }
        r
    }

    pub fn add(&mut self, o: &Resource) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        self.allowed_pod_number += o.allowed_pod_number;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, o: &Resource) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        self.allowed_pod_number -= o.allowed_pod_number;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// One named resource ("cpu" in millicores, the rest in base units).
    pub fn get(&self, name: &str) -> i64 {
        self.get_key(&ResKey::parse(name))
    }

    /// One resource by a pre-parsed key (the scorers' hot path; inlined
    /// across codegen units, as it runs per node per resource per pod).
    #[inline]
    pub fn get_key(&self, k: &ResKey) -> i64 {
        match k {
            ResKey::Cpu => self.milli_cpu,
            ResKey::Memory => self.memory,
            ResKey::EphemeralStorage => self.ephemeral_storage,
            ResKey::Pods => self.allowed_pod_number,
            ResKey::Scalar(n) => self.scalar.get(n).copied().unwrap_or(0),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalar.values().all(|v| *v == 0)
    }
}

/// A resource name parsed once, so scoring does not compare strings per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResKey {
    Cpu,
    Memory,
    EphemeralStorage,
    Pods,
    Scalar(String),
}

impl ResKey {
    pub fn parse(name: &str) -> Self {
        match name {
            CPU => ResKey::Cpu,
            MEMORY => ResKey::Memory,
            EPHEMERAL_STORAGE => ResKey::EphemeralStorage,
            PODS => ResKey::Pods,
            other => ResKey::Scalar(other.to_string()),
        }
    }
}

/// upstream's getNonMissingContainerRequests: without pod-level requests every
/// container lacking cpu/memory counts 100m / 200Mi; with them, only a
/// resource the whole pod leaves unset gets the default.
fn non_missing_container_requests(requests: &ResourceList, pod_level_set: bool) -> ResourceList {
    let mut out = ResourceList::new();
    if !pod_level_set || !requests.contains_key(CPU) {
        out.insert(CPU.into(), Quantity::from_milli(DEFAULT_MILLI_CPU_REQUEST, Format::DecimalSI));
    }
    if !pod_level_set || !requests.contains_key(MEMORY) {
        out.insert(MEMORY.into(), Quantity::from_value(DEFAULT_MEMORY_REQUEST, Format::DecimalSI));
    }
    out
}

/// A pod's requests and its non-zero requests (scoring: the defaults above
/// for what is unset), as upstream's calculateResource.
pub fn pod_requests(pod: &Pod) -> (Resource, Resource) {
    let requests = api_pod_requests(pod, &PodResourcesOptions::default());
    let non_missing = non_missing_container_requests(&requests, is_pod_level_requests_set(pod));
    let non_zero = if non_missing.is_empty() {
        Resource::from_list(&requests)
    } else {
        let opts = PodResourcesOptions { non_missing_container_requests: non_missing, ..Default::default() };
        Resource::from_list(&api_pod_requests(pod, &opts))
    };
    (Resource::from_list(&requests), non_zero)
}

/// The node's allocatable resources (capacity when allocatable is unset).
pub fn node_allocatable(node: &Node) -> Resource {
    let st = node.status.as_ref();
    Resource::from_list(&resource_list(st.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn requests_as_integers_with_sidecars_and_overhead() {
        let p = pod(json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi", "nvidia.com/gpu": "1"}}}],
            "initContainers": [{"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "0.1"}}}],
            "overhead": {"cpu": "50m", "ephemeral-storage": "1Gi"}
        }));
        let (r, nz) = pod_requests(&p);
        assert_eq!((r.milli_cpu, r.memory, r.ephemeral_storage), (250, 100 << 20, 1 << 30));
        assert_eq!(r.get("nvidia.com/gpu"), 1);
        // the sidecar sets no memory: it counts the 200Mi default for scoring
        assert_eq!((nz.milli_cpu, nz.memory), (250, (100 << 20) + DEFAULT_MEMORY_REQUEST));
    }

    #[test]
    fn non_zero_defaults_per_container_unless_pod_level_requests() {
        let p = pod(json!({"containers": [{"name": "a", "resources": {"requests": {"memory": "1Gi"}}}, {"name": "b"}]}));
        let (r, nz) = pod_requests(&p);
        assert_eq!((r.milli_cpu, r.memory), (0, 1 << 30));
        assert_eq!((nz.milli_cpu, nz.memory), (200, (1 << 30) + DEFAULT_MEMORY_REQUEST));
        // pod-level cpu wins and no default applies to it; memory is unset everywhere
        let p = pod(json!({"containers": [{"name": "a"}, {"name": "b"}], "resources": {"requests": {"cpu": "2"}}}));
        let (r, nz) = pod_requests(&p);
        assert_eq!((r.milli_cpu, r.memory), (2000, 0));
        assert_eq!((nz.milli_cpu, nz.memory), (2000, 2 * DEFAULT_MEMORY_REQUEST));
    }

    #[test]
    fn node_allocatable_falls_back_to_capacity() {
        let n: Node = serde_json::from_value(json!({"status": {"capacity": {"cpu": "4", "memory": "32Gi", "pods": "110", "bad": "x"}}})).unwrap();
        let a = node_allocatable(&n);
        assert_eq!((a.milli_cpu, a.memory, a.allowed_pod_number), (4000, 32 << 30, 110));
        assert!(a.scalar.is_empty(), "unparsable quantities are left out");
    }
}
