//! Pod QoS class (upstream's qos.GetPodQOS): a pure function of the pod,
//! shared by the apiserver (status.qosClass on create) and the kubelet.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, Pod};

use super::quantity::Quantity;

pub const GUARANTEED: &str = "Guaranteed";
pub const BURSTABLE: &str = "Burstable";
pub const BEST_EFFORT: &str = "BestEffort";

/// Only cpu and memory decide the class.
fn qos_resource(name: &str) -> bool {
    name == "cpu" || name == "memory"
}

fn positive(list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> Vec<(String, Quantity)> {
    list.into_iter()
        .flatten()
        .filter(|(k, _)| qos_resource(k))
        .filter_map(|(k, v)| Quantity::parse(&v.0).ok().map(|q| (k.clone(), q)))
        .filter(|(_, q)| q.nanos > 0)
        .collect()
}

/// The QoS class of `pod`: "Guaranteed", "Burstable" or "BestEffort".
pub fn pod_qos(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else { return BEST_EFFORT };
    // Pod-level resources, when given, decide alone.
    if let Some(r) = spec.resources.as_ref() {
        let req = positive(r.requests.as_ref());
        let lim = positive(r.limits.as_ref());
        if !req.is_empty() || !lim.is_empty() {
            return classify(req.into_iter().collect(), lim.into_iter().collect(), true);
        }
    }
    let mut requests: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let all: Vec<&Container> = spec.containers.iter().chain(spec.init_containers.iter().flatten()).collect();
    for c in all {
        let res = c.resources.as_ref();
        for (k, q) in positive(res.and_then(|r| r.requests.as_ref())) {
            let e = requests.entry(k).or_insert_with(Quantity::zero);
            *e = e.add(&q);
        }
        let mut found = BTreeSet::new();
        for (k, q) in positive(res.and_then(|r| r.limits.as_ref())) {
            found.insert(k.clone());
            let e = limits.entry(k).or_insert_with(Quantity::zero);
            *e = e.add(&q);
        }
        if !(found.contains("cpu") && found.contains("memory")) {
            guaranteed = false;
        }
    }
    classify(requests, limits, guaranteed)
}

fn classify(requests: BTreeMap<String, Quantity>, limits: BTreeMap<String, Quantity>, mut guaranteed: bool) -> &'static str {
    if requests.is_empty() && limits.is_empty() {
        return BEST_EFFORT;
    }
    if guaranteed {
        guaranteed = requests.iter().all(|(k, r)| limits.get(k).is_some_and(|l| l.nanos == r.nanos));
        // pod-level resources: both cpu and memory limits are needed
        guaranteed &= limits.contains_key("cpu") && limits.contains_key("memory");
    }
    if guaranteed && requests.len() == limits.len() {
        GUARANTEED
    } else {
        BURSTABLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})).unwrap()
    }

    #[test]
    fn best_effort_without_resources() {
        assert_eq!(pod_qos(&pod(json!([{"name": "a"}]))), BEST_EFFORT);
        // non-cpu/memory resources do not count
        assert_eq!(pod_qos(&pod(json!([{"name": "a", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]))), BEST_EFFORT);
    }

    #[test]
    fn guaranteed_when_requests_equal_limits_for_cpu_and_memory() {
        let c = json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}}]);
        assert_eq!(pod_qos(&pod(c)), GUARANTEED);
    }

    #[test]
    fn burstable_cases() {
        let only_cpu = json!([{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]);
        assert_eq!(pod_qos(&pod(only_cpu)), BURSTABLE);
        let lower = json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}}]);
        assert_eq!(pod_qos(&pod(lower)), BURSTABLE);
        let mixed = json!([
            {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}},
            {"name": "b"}
        ]);
        assert_eq!(pod_qos(&pod(mixed)), BURSTABLE);
    }
}
