//! What the Endpoints, EndpointSlice and mirroring controllers share
//! (upstream's pkg/controller/util/endpoint and endpointslice/util): which
//! pods back a Service, their addresses, and Service ports resolved per pod.

use std::sync::Arc;

use client::store::Store;
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::informers::NAMESPACE_INDEX;

/// The label naming a slice's (or mirrored object's) Service.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// Set (empty) on Endpoints and slices of headless Services.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";

/// The Service's selector, when it has one (a Service without one is
/// managed by hand; an empty map selects nothing, as upstream).
pub fn selector(svc: &Service) -> Option<&std::collections::BTreeMap<String, String>> {
    svc.spec.as_ref()?.selector.as_ref().filter(|s| !s.is_empty())
}

/// The Service's type, "ClusterIP" when unset.
pub fn service_type(svc: &Service) -> &str {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()).unwrap_or("ClusterIP")
}

pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

pub fn publish_not_ready(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false)
}

/// Whether `labels` (a pod's) satisfy the map selector `sel`.
pub fn selects(sel: &std::collections::BTreeMap<String, String>, labels: Option<&std::collections::BTreeMap<String, String>>) -> bool {
    let Some(labels) = labels else { return false };
    sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The keys of the Services in `pod`'s namespace whose selector matches it
/// (upstream's GetPodServiceMemberships).
pub fn services_of_pod(services: &Store<Service>, pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    services
        .by_index(NAMESPACE_INDEX, ns)
        .iter()
        .filter(|s| selector(s).is_some_and(|sel| selects(sel, pod.metadata.labels.as_ref())))
        .map(|s| client::store::key_of(s.as_ref()))
        .collect()
}

/// The pods of the Service's namespace its selector matches.
pub fn pods_of_service(pods: &Store<Pod>, svc: &Service) -> Vec<Arc<Pod>> {
    let Some(sel) = selector(svc) else { return Vec::new() };
    let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
    let mut v: Vec<_> = pods.by_index(NAMESPACE_INDEX, ns).into_iter().filter(|p| selects(sel, p.metadata.labels.as_ref())).collect();
    // A stable order keeps the objects written stable.
    v.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    v
}

/// upstream's ShouldPodBeInEndpoints: a pod with an IP that can still run
/// (by its restartPolicy), and, unless `include_terminating`, not being deleted.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
    let restart = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    // A pod that will never run again is out, whatever it says about readiness.
    if (restart == "Never" && (phase == "Failed" || phase == "Succeeded")) || (restart == "OnFailure" && phase == "Succeeded") {
        return false;
    }
    if pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The pod's IPs: status.podIPs (or podIP); a hostNetwork pod without one
/// is reached on its node's address (status.hostIP).
pub fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(st) = pod.status.as_ref() else { return Vec::new() };
    let mut ips: Vec<String> = st.pod_ips.iter().flatten().map(|p| p.ip.clone()).filter(|ip| !ip.is_empty()).collect();
    if ips.is_empty() {
        ips.extend(st.pod_ip.clone().filter(|ip| !ip.is_empty()));
    }
    let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
    if ips.is_empty() && host_network {
        ips.extend(st.host_ips.iter().flatten().map(|h| h.ip.clone()).filter(|ip| !ip.is_empty()));
        if ips.is_empty() {
            ips.extend(st.host_ip.clone().filter(|ip| !ip.is_empty()));
        }
    }
    ips
}

/// The pod's IP of the family `ipv6`, if any.
pub fn pod_ip_of_family(pod: &Pod, ipv6: bool) -> Option<String> {
    pod_ips(pod).into_iter().find(|ip| ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_ipv6() == ipv6))
}

/// upstream's podutil.FindPort: the Service port's targetPort (its port
/// when unset) as a number on this pod; a name is looked up among the pod's
/// container ports of the same protocol.
pub fn find_port(pod: &Pod, sp: &ServicePort) -> Result<i32, String> {
    let protocol = sp.protocol.as_deref().unwrap_or("TCP");
    match sp.target_port.as_ref() {
        None => Ok(sp.port),
        Some(IntOrString::Int(0)) => Ok(sp.port),
        Some(IntOrString::Int(n)) => Ok(*n),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref();
            for c in spec.map(|s| s.containers.as_slice()).unwrap_or(&[]) {
                for p in c.ports.iter().flatten() {
                    if p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol {
                        return Ok(p.container_port);
                    }
                }
            }
            // Restartable init containers (sidecars) serve too.
            for c in spec.and_then(|s| s.init_containers.as_deref()).unwrap_or(&[]) {
                if c.restart_policy.as_deref() != Some("Always") {
                    continue;
                }
                for p in c.ports.iter().flatten() {
                    if p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol {
                        return Ok(p.container_port);
                    }
                }
            }
            Err(format!("no suitable port for manifest: {}", pod.metadata.uid.as_deref().unwrap_or_default()))
        }
    }
}

/// upstream's ShouldSetHostname: the pod names itself and its subdomain is this Service.
pub fn hostname_for(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == svc.metadata.name.as_deref() && pod.metadata.namespace == svc.metadata.namespace).then(|| hostname.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn named_target_ports_resolve_per_pod_and_protocol() {
        let p = pod(json!({"metadata": {"name": "a", "uid": "u1"}, "spec": {"containers": [
            {"name": "c", "image": "i", "ports": [{"name": "http", "containerPort": 8080}, {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]}}));
        let sp = |v| serde_json::from_value::<ServicePort>(v).unwrap();
        assert_eq!(find_port(&p, &sp(json!({"port": 80, "targetPort": "http"}))), Ok(8080));
        assert_eq!(find_port(&p, &sp(json!({"port": 80, "targetPort": 9090}))), Ok(9090));
        assert_eq!(find_port(&p, &sp(json!({"port": 80}))), Ok(80));
        assert_eq!(find_port(&p, &sp(json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}))), Ok(53));
        assert!(find_port(&p, &sp(json!({"port": 53, "targetPort": "dns"}))).is_err(), "a UDP port does not serve TCP");
    }

    #[test]
    fn which_pods_count() {
        let running = pod(json!({"metadata": {"name": "a"}, "spec": {"containers": []}, "status": {"phase": "Running", "podIP": "10.0.0.1"}}));
        assert!(should_pod_be_in_endpoints(&running, false));
        let no_ip = pod(json!({"metadata": {"name": "a"}, "spec": {"containers": []}, "status": {"phase": "Pending"}}));
        assert!(!should_pod_be_in_endpoints(&no_ip, true));
        let done = pod(json!({"metadata": {"name": "a"}, "spec": {"containers": [], "restartPolicy": "Never"}, "status": {"phase": "Succeeded", "podIP": "10.0.0.1"}}));
        assert!(!should_pod_be_in_endpoints(&done, true));
        let deleting = pod(json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"containers": []}, "status": {"phase": "Running", "podIP": "10.0.0.1"}}));
        assert!(!should_pod_be_in_endpoints(&deleting, false));
        assert!(should_pod_be_in_endpoints(&deleting, true));
        let host = pod(json!({"metadata": {"name": "a"}, "spec": {"containers": [], "hostNetwork": true}, "status": {"phase": "Running", "hostIP": "192.168.1.5"}}));
        assert_eq!(pod_ips(&host), ["192.168.1.5"]);
    }
}
