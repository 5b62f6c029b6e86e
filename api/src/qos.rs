//! Pod QoS class as upstream's qos.GetPodQOS / ComputePodQOS: a pure function
//! of the pod, so the apiserver, the kubelet and kubectl agree.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

use crate::quantity::{resource_list, ResourceList};
use crate::resources::{add_list, container_requests, is_supported_pod_level_resource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl QosClass {
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Guaranteed" => QosClass::Guaranteed,
            "Burstable" => QosClass::Burstable,
            "BestEffort" => QosClass::BestEffort,
            _ => return None,
        })
    }
}

impl std::fmt::Display for QosClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Only cpu and memory decide the class (upstream's isSupportedQoSComputeResource).
fn qos_resource(name: &str) -> bool {
    name == "cpu" || name == "memory"
}

/// Positive cpu/memory entries of a list.
fn positive(list: ResourceList) -> ResourceList {
    list.into_iter().filter(|(k, q)| qos_resource(k) && q.nanos > 0).collect()
}

/// upstream's GetPodQOS: status.qosClass when set, computed otherwise.
pub fn pod_qos(pod: &Pod) -> QosClass {
    pod.status.as_ref().and_then(|s| s.qos_class.as_deref()).and_then(QosClass::parse).unwrap_or_else(|| compute_pod_qos(pod))
}

/// upstream's ComputePodQOS. Container requests default to limits first, as
/// the apiserver's defaulting does, so undefaulted (static) pods get the
/// class they will have once defaulted.
pub fn compute_pod_qos(pod: &Pod) -> QosClass {
    let Some(spec) = pod.spec.as_ref() else { return QosClass::BestEffort };
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    let mut guaranteed = true;
    let pod_level = spec.resources.as_ref().filter(|r| {
        r.requests.iter().chain(r.limits.iter()).flatten().any(|(k, _)| is_supported_pod_level_resource(k))
    });
    if let Some(r) = pod_level {
        // Pod-level resources, when set, decide alone.
        requests = positive(resource_list(r.requests.as_ref()));
        if r.limits.as_ref().is_some_and(|l| !l.is_empty()) {
            limits = positive(resource_list(r.limits.as_ref()));
            guaranteed = limits.contains_key("cpu") && limits.contains_key("memory");
        }
    } else {
        for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
            add_list(&mut requests, &positive(container_requests(c)));
            let lim = positive(crate::resources::container_limits(c));
            let found: BTreeSet<&str> = lim.keys().map(String::as_str).collect();
            if !(found.contains("cpu") && found.contains("memory")) {
                guaranteed = false;
            }
            add_list(&mut limits, &lim);
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return QosClass::BestEffort;
    }
    if guaranteed {
        guaranteed = requests.iter().all(|(k, r)| limits.get(k) == Some(r));
    }
    if guaranteed && requests.len() == limits.len() {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})).unwrap()
    }

    fn res(req: serde_json::Value, lim: serde_json::Value) -> serde_json::Value {
        json!({"name": "c", "resources": {"requests": req, "limits": lim}})
    }

    #[test]
    fn upstream_table() {
        // upstream pkg/apis/core/helper/qos TestComputePodQOS cases
        let g = |cpu: &str, mem: &str| res(json!({"cpu": cpu, "memory": mem}), json!({"cpu": cpu, "memory": mem}));
        for (containers, want) in [
            (json!([{"name": "c"}]), QosClass::BestEffort),
            (json!([{"name": "c"}, {"name": "d"}]), QosClass::BestEffort),
            (json!([{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]), QosClass::BestEffort),
            (json!([res(json!({"cpu": "0"}), json!({"cpu": "0"}))]), QosClass::BestEffort),
            (json!([g("100m", "100Mi")]), QosClass::Guaranteed),
            (json!([g("100m", "100Mi"), g("100m", "100Mi")]), QosClass::Guaranteed),
            (json!([g("100m", "100Mi"), {"name": "d"}]), QosClass::Burstable),
            (json!([g("100m", "100Mi"), res(json!({"cpu": "100m"}), json!({}))]), QosClass::Burstable),
            (json!([res(json!({"cpu": "100m", "memory": "100Mi"}), json!({"cpu": "200m", "memory": "200Mi"}))]), QosClass::Burstable),
            (json!([res(json!({"cpu": "100m"}), json!({"cpu": "100m"}))]), QosClass::Burstable),
            (json!([res(json!({"memory": "100Mi"}), json!({"memory": "100Mi"}))]), QosClass::Burstable),
            (json!([res(json!({}), json!({"cpu": "100m", "memory": "100Mi"}))]), QosClass::Guaranteed),
            (json!([res(json!({"cpu": "100m", "memory": "100Mi", "nvidia.com/gpu": "2"}), json!({"cpu": "100m", "memory": "100Mi", "nvidia.com/gpu": "2"}))]), QosClass::Guaranteed),
            (json!([res(json!({"cpu": "1000m", "memory": "1Gi"}), json!({"cpu": "1", "memory": "1Gi"}))]), QosClass::Guaranteed),
        ] {
            assert_eq!(compute_pod_qos(&pod(containers.clone())), want, "{containers}");
        }
    }

    #[test]
    fn equal_quantities_in_other_forms_are_guaranteed() {
        // issue #9: requests memory 1Gi, limits "1073741824", cpu equal too
        let p = pod(json!([res(json!({"cpu": "500m", "memory": "1Gi"}), json!({"cpu": "0.5", "memory": "1073741824"}))]));
        assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed);
    }

    #[test]
    fn init_containers_pod_level_and_status() {
        let p: Pod = serde_json::from_value(json!({"spec": {
            "containers": [res(json!({"cpu": "1", "memory": "1Gi"}), json!({"cpu": "1", "memory": "1Gi"}))],
            "initContainers": [res(json!({"cpu": "1"}), json!({"cpu": "2"}))]
        }}))
        .unwrap();
        assert_eq!(compute_pod_qos(&p), QosClass::Burstable);
        let p: Pod = serde_json::from_value(json!({"spec": {
            "containers": [{"name": "c"}],
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
        }}))
        .unwrap();
        assert_eq!(compute_pod_qos(&p), QosClass::Guaranteed, "pod-level resources decide");
        let p: Pod = serde_json::from_value(json!({"spec": {"containers": [{"name": "c"}]}, "status": {"qosClass": "Burstable"}})).unwrap();
        assert_eq!(pod_qos(&p), QosClass::Burstable, "status.qosClass wins");
        assert_eq!(compute_pod_qos(&p), QosClass::BestEffort);
        assert_eq!(QosClass::parse("BestEffort").map(QosClass::as_str), Some("BestEffort"));
    }
}
