//! Resource vectors (upstream framework.Resource) and the pod request rules.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity;

/// Default requests assumed for scoring when a container sets none
/// (upstream's DefaultMilliCPURequest / DefaultMemoryRequest).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

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
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Self {
        let mut r = Resource::default();
        for (k, q) in list.into_iter().flatten() {
            match k.as_str() {
                CPU => r.milli_cpu = quantity::milli_value(&q.0),
                MEMORY => r.memory = quantity::value(&q.0),
                EPHEMERAL_STORAGE => r.ephemeral_storage = quantity::value(&q.0),
                PODS => r.allowed_pod_number = quantity::value(&q.0),
                other => {
                    r.scalar.insert(other.to_string(), quantity::value(&q.0));
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

    /// Element-wise maximum.
    pub fn max_with(&mut self, o: &Resource) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        self.allowed_pod_number = self.allowed_pod_number.max(o.allowed_pod_number);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    /// One named resource ("cpu" in millicores, the rest in base units).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    /// One resource by a pre-parsed key (the scorers' hot path).
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

fn container_requests(c: &Container, non_zero: bool) -> Resource {
    let res = c.resources.as_ref();
    // The apiserver defaults requests to limits; do the same for objects that skipped it.
    let mut r = Resource::from_list(res.and_then(|r| r.limits.as_ref()));
    let req = Resource::from_list(res.and_then(|r| r.requests.as_ref()));
    let has = |name: &str| res.and_then(|r| r.requests.as_ref()).is_some_and(|m| m.contains_key(name));
    let has_limit = |name: &str| res.and_then(|r| r.limits.as_ref()).is_some_and(|m| m.contains_key(name));
    if has(CPU) || !has_limit(CPU) {
        r.milli_cpu = req.milli_cpu;
    }
    if has(MEMORY) || !has_limit(MEMORY) {
        r.memory = req.memory;
    }
    if has(EPHEMERAL_STORAGE) || !has_limit(EPHEMERAL_STORAGE) {
        r.ephemeral_storage = req.ephemeral_storage;
    }
    for (k, v) in req.scalar {
        r.scalar.insert(k, v);
    }
    r.allowed_pod_number = 0;
    if non_zero {
        if !has(CPU) && !has_limit(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has(MEMORY) && !has_limit(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// The pod's effective requests as upstream's `resource.PodRequests`:
/// max(sum of app containers (+ sidecars), each init container (+ sidecars started before it)) + overhead.
/// With `non_zero`, containers without cpu/memory requests count as 100m / 200Mi (scoring only).
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else { return Resource::default() };
    let mut reqs = Resource::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for ic in spec.init_containers.iter().flatten() {
        let r = container_requests(ic, non_zero);
        let this = if ic.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r);
            sidecars.add(&r);
            sidecars.clone()
        } else {
            let mut t = r;
            t.add(&sidecars);
            t
        };
        init_max.max_with(&this);
    }
    reqs.max_with(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        reqs.add(&Resource::from_list(Some(overhead)));
    }
    reqs
}

/// The node's allocatable resources (capacity when allocatable is unset).
pub fn node_allocatable(node: &Node) -> Resource {
    let st = node.status.as_ref();
    Resource::from_list(st.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    pub fn container(cpu: Option<&str>, mem: Option<&str>) -> Container {
        let mut req = BTreeMap::new();
        if let Some(c) = cpu {
            req.insert("cpu".to_string(), Quantity(c.into()));
        }
        if let Some(m) = mem {
            req.insert("memory".to_string(), Quantity(m.into()));
        }
        Container { name: "c".into(), resources: Some(ResourceRequirements { requests: Some(req), ..Default::default() }), ..Default::default() }
    }

    #[test]
    fn init_containers_count_as_max_of_init_vs_sum_of_app() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container(Some("100m"), Some("100Mi")), container(Some("200m"), Some("100Mi"))],
                init_containers: Some(vec![container(Some("500m"), Some("50Mi"))]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = pod_requests(&pod, false);
        assert_eq!(r.milli_cpu, 500);
        assert_eq!(r.memory, 200 << 20);
    }

    #[test]
    fn sidecars_add_to_app_sum() {
        let mut side = container(Some("100m"), None);
        side.restart_policy = Some("Always".into());
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container(Some("100m"), None)],
                init_containers: Some(vec![side, container(Some("150m"), None)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        // app 100 + sidecar 100 = 200; later init 150 + sidecar 100 = 250.
        assert_eq!(pod_requests(&pod, false).milli_cpu, 250);
    }

    #[test]
    fn non_zero_defaults_only_for_missing_requests() {
        let pod = Pod { spec: Some(PodSpec { containers: vec![container(None, Some("1Gi"))], ..Default::default() }), ..Default::default() };
        let r = pod_requests(&pod, true);
        assert_eq!((r.milli_cpu, r.memory), (100, 1 << 30));
        assert_eq!(pod_requests(&pod, false).milli_cpu, 0);
    }
}
