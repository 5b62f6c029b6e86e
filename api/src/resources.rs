//! Pod resource requests and limits as upstream's component-helpers
//! `resource.PodRequests` / `PodLimits`: max(sum of app containers and
//! sidecars, each init container plus the sidecars started before it),
//! pod-level resources, plus overhead.

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::quantity::{resource_list, Quantity, ResourceList};

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// The scheduler's assumed requests for containers that set none
/// (upstream's DefaultMilliCPURequest, DefaultMemoryRequest).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// upstream's PodResourcesOptions (the parts this project uses).
#[derive(Debug, Clone, Default)]
pub struct PodResourcesOptions {
    /// Leave out spec.overhead.
    pub exclude_overhead: bool,
    /// Ignore spec.resources (pod-level resources).
    pub skip_pod_level_resources: bool,
    /// Requests assumed for a container that sets none of these names
    /// (the scheduler's non-zero requests: see `non_zero_requests`).
    pub non_missing_container_requests: ResourceList,
}

/// cpu 100m and memory 200Mi, the scheduler's NonMissingContainerRequests for scoring.
pub fn non_zero_requests() -> ResourceList {
    [
        (CPU.to_string(), Quantity::from_milli(DEFAULT_MILLI_CPU_REQUEST, crate::quantity::Format::DecimalSI)),
        (MEMORY.to_string(), Quantity::from_value(DEFAULT_MEMORY_REQUEST, crate::quantity::Format::BinarySI)),
    ]
    .into()
}

/// Whether a pod-level resource name is supported (upstream's IsSupportedPodLevelResource).
pub fn is_supported_pod_level_resource(name: &str) -> bool {
    name == CPU || name == MEMORY
}

/// Whether spec.resources.requests sets cpu or memory (upstream's IsPodLevelRequestsSet).
pub fn is_pod_level_requests_set(pod: &Pod) -> bool {
    let reqs = pod.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref());
    reqs.into_iter().flatten().any(|(k, _)| is_supported_pod_level_resource(k))
}

/// A container's requests, each missing one defaulted to its limit as the
/// apiserver's defaulting does (a no-op for objects that went through it).
pub fn container_requests(c: &Container) -> ResourceList {
    let res = c.resources.as_ref();
    let mut reqs = resource_list(res.and_then(|r| r.requests.as_ref()));
    for (k, v) in resource_list(res.and_then(|r| r.limits.as_ref())) {
        reqs.entry(k).or_insert(v);
    }
    reqs
}

pub fn container_limits(c: &Container) -> ResourceList {
    resource_list(c.resources.as_ref().and_then(|r| r.limits.as_ref()))
}

/// upstream's addResourceList.
pub fn add_list(list: &mut ResourceList, new: &ResourceList) {
    for (k, v) in new {
        match list.get_mut(k) {
            Some(q) => q.add(v),
            None => {
                list.insert(k.clone(), *v);
            }
        }
    }
}

/// upstream's maxResourceList.
pub fn max_list(list: &mut ResourceList, new: &ResourceList) {
    for (k, v) in new {
        match list.get_mut(k) {
            Some(q) if *v > *q => *q = *v,
            Some(_) => {}
            None => {
                list.insert(k.clone(), *v);
            }
        }
    }
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// upstream's AggregateContainerRequests/Limits over one per-container list.
fn aggregate(pod: &Pod, per_container: impl Fn(&Container) -> ResourceList) -> ResourceList {
    let Some(spec) = pod.spec.as_ref() else { return ResourceList::new() };
    let mut total = ResourceList::new();
    for c in &spec.containers {
        add_list(&mut total, &per_container(c));
    }
    // InitContainerUse(i) = sum(sidecars before i) + init container i
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in spec.init_containers.iter().flatten() {
        let r = per_container(c);
        let used = if is_sidecar(c) {
            add_list(&mut total, &r);
            add_list(&mut sidecars, &r);
            sidecars.clone()
        } else {
            let mut t = r;
            add_list(&mut t, &sidecars);
            t
        };
        max_list(&mut init_max, &used);
    }
    max_list(&mut total, &init_max);
    total
}

/// Pod-level resources of one kind (requests or limits), supported names only.
fn pod_level(pod: &Pod, limits: bool) -> ResourceList {
    let r = pod.spec.as_ref().and_then(|s| s.resources.as_ref());
    let list = r.and_then(|r| if limits { r.limits.as_ref() } else { r.requests.as_ref() });
    resource_list(list).into_iter().filter(|(k, _)| is_supported_pod_level_resource(k)).collect()
}

/// upstream's PodRequests.
pub fn pod_requests(pod: &Pod, opts: &PodResourcesOptions) -> ResourceList {
    let mut reqs = aggregate(pod, |c| {
        let mut r = container_requests(c);
        for (k, v) in &opts.non_missing_container_requests {
            r.entry(k.clone()).or_insert(*v);
        }
        r
    });
    if !opts.skip_pod_level_resources {
        reqs.extend(pod_level(pod, false));
    }
    if !opts.exclude_overhead {
        if let Some(o) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
            add_list(&mut reqs, &resource_list(Some(o)));
        }
    }
    reqs
}

/// upstream's PodLimits: overhead is added only to limits that are set.
pub fn pod_limits(pod: &Pod, opts: &PodResourcesOptions) -> ResourceList {
    let mut limits = aggregate(pod, container_limits);
    if !opts.skip_pod_level_resources {
        limits.extend(pod_level(pod, true));
    }
    if !opts.exclude_overhead {
        if let Some(o) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
            for (k, v) in resource_list(Some(o)) {
                if let Some(l) = limits.get_mut(&k) {
                    l.add(&v);
                }
            }
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn milli(l: &ResourceList, k: &str) -> i64 {
        l.get(k).map_or(0, Quantity::milli_value)
    }

    fn c(name: &str, req: serde_json::Value) -> serde_json::Value {
        json!({"name": name, "resources": {"requests": req}})
    }

    #[test]
    fn init_containers_count_as_max_of_init_vs_sum_of_app() {
        let p = pod(json!({
            "containers": [c("a", json!({"cpu": "100m", "memory": "100Mi"})), c("b", json!({"cpu": "200m", "memory": "100Mi"}))],
            "initContainers": [c("i", json!({"cpu": "500m", "memory": "50Mi"}))]
        }));
        let r = pod_requests(&p, &PodResourcesOptions::default());
        assert_eq!(milli(&r, CPU), 500);
        assert_eq!(r[MEMORY].value(), 200 << 20);
        assert_eq!(r[MEMORY].to_string(), "200Mi");
    }

    #[test]
    fn sidecars_add_to_the_app_sum_and_to_later_init_containers() {
        // upstream helpers_test.go "restartable init container": sidecar 100m,
        // then a plain init 150m: max(100+100, 150+100) = 250m.
        let mut side = c("s", json!({"cpu": "100m"}));
        side["restartPolicy"] = json!("Always");
        let p = pod(json!({"containers": [c("a", json!({"cpu": "100m"}))], "initContainers": [side, c("i", json!({"cpu": "150m"}))]}));
        assert_eq!(milli(&pod_requests(&p, &PodResourcesOptions::default()), CPU), 250);
        // a plain init container before the sidecar does not see it: max(200, 150) = 200m
        let mut side = c("s", json!({"cpu": "100m"}));
        side["restartPolicy"] = json!("Always");
        let p = pod(json!({"containers": [c("a", json!({"cpu": "100m"}))], "initContainers": [c("i", json!({"cpu": "150m"})), side]}));
        assert_eq!(milli(&pod_requests(&p, &PodResourcesOptions::default()), CPU), 200);
    }

    #[test]
    fn overhead_pod_level_and_defaults() {
        let p = pod(json!({
            "containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
            "overhead": {"cpu": "250m", "memory": "100Mi"}
        }));
        let r = pod_requests(&p, &PodResourcesOptions::default());
        assert_eq!(milli(&r, CPU), 1250, "requests default to limits, plus overhead");
        let l = pod_limits(&p, &PodResourcesOptions::default());
        assert_eq!(milli(&l, CPU), 1250);
        let no = PodResourcesOptions { exclude_overhead: true, ..Default::default() };
        assert_eq!(milli(&pod_requests(&p, &no), CPU), 1000);
        // overhead adds only to limits that are set
        let p = pod(json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}}}], "overhead": {"memory": "100Mi"}}));
        assert!(!pod_limits(&p, &PodResourcesOptions::default()).contains_key(MEMORY));

        let p = pod(json!({"containers": [c("a", json!({"cpu": "100m"}))], "resources": {"requests": {"cpu": "2", "nvidia.com/gpu": "1"}}}));
        let r = pod_requests(&p, &PodResourcesOptions::default());
        assert_eq!(milli(&r, CPU), 2000, "pod-level requests win");
        assert!(!r.contains_key("nvidia.com/gpu"), "only cpu and memory are pod-level resources");

        assert!(is_pod_level_requests_set(&p));
        let p = pod(json!({"containers": [c("a", json!({"cpu": "100m"}))], "resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"cpu": "1"}}}));
        assert!(!is_pod_level_requests_set(&p), "limits and unsupported names do not count");

        let p = pod(json!({"containers": [{"name": "a"}, {"name": "b", "resources": {"limits": {"memory": "1Gi"}}}]}));
        let nz = PodResourcesOptions { non_missing_container_requests: non_zero_requests(), ..Default::default() };
        let r = pod_requests(&p, &nz);
        assert_eq!(milli(&r, CPU), 200);
        assert_eq!(r[MEMORY].value(), (1 << 30) + DEFAULT_MEMORY_REQUEST);
        assert!(pod_requests(&p, &PodResourcesOptions::default()).get(CPU).is_none());
    }
}
