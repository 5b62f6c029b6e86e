//! Service: SetDefaults_Service, the REST layer's IP-family defaults and
//! allocated-value carry-over on update, and ValidateService. ClusterIP and
//! NodePort allocation (crate::admission::services) runs in the store through
//! this strategy's allocate/release hooks.

use std::collections::BTreeSet;

use api::status::StatusError;
use k8s_openapi::api::core::v1::{ClientIPConfig, Service, ServicePort, ServiceSpec, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::admission::services::{self, Allocation};
use crate::storage::SideOp;
use crate::store::Store;

use crate::registry::pod_template::PROTOCOLS;
use crate::registry::validation::{self as v, dns1123_label, dns1123_subdomain};
use crate::registry::{ErrorList, FieldError, Fields, NameRule, Path, ResourceInfo, Strategy};

pub struct ServiceStrategy;

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
const FAMILY_POLICIES: &[&str] = &["SingleStack", "PreferDualStack", "RequireDualStack"];

fn ty(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or("")
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    ty(spec) != "ExternalName"
}

fn needs_node_ports(spec: &ServiceSpec) -> bool {
    matches!(ty(spec), "NodePort" | "LoadBalancer")
}

fn headless(spec: &ServiceSpec) -> bool {
    spec.cluster_ip.as_deref() == Some("None")
}

/// NodePort, LoadBalancer, or a ClusterIP with external IPs.
fn externally_accessible(spec: &ServiceSpec) -> bool {
    needs_node_ports(spec) || (ty(spec) == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()))
}

/// clusterIP and clusterIPs[0] are one value in v1 (conversion keeps them in sync).
fn sync_cluster_ips(spec: &mut ServiceSpec) {
    let ip = spec.cluster_ip.clone().filter(|s| !s.is_empty());
    let ips = spec.cluster_ips.clone().filter(|v| !v.is_empty());
    match (ip, ips) {
        (Some(ip), None) => spec.cluster_ips = Some(vec![ip]),
        (None, Some(ips)) => spec.cluster_ip = Some(ips[0].clone()),
        _ => {}
    }
}

/// The REST layer's IP family defaults for a single-stack IPv4 cluster.
fn default_ip_families(spec: &mut ServiceSpec) {
    if !needs_cluster_ip(spec) {
        return;
    }
    if headless(spec) && spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
        let policy = spec.ip_family_policy.get_or_insert_with(|| "RequireDualStack".into()).clone();
        let fams = spec.ip_families.get_or_insert_with(|| vec!["IPv4".into()]);
        if fams.len() < 2 && policy != "SingleStack" {
            let other = if fams[0] == "IPv4" { "IPv6" } else { "IPv4" };
            fams.push(other.into());
        }
        return;
    }
    spec.ip_family_policy.get_or_insert_with(|| "SingleStack".into());
    if spec.ip_families.as_ref().is_none_or(|f| f.is_empty()) {
        let v6 = spec.cluster_ip.as_deref().is_some_and(|ip| ip.contains(':'));
        spec.ip_families = Some(vec![if v6 { "IPv6" } else { "IPv4" }.into()]);
    }
}

/// Go's %#v of the (protocol, port) key upstream reports duplicates with.
fn go_port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{protocol:?}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"
    )
}

fn validate_port(sp: &ServicePort, require_name: bool, names: &mut std::collections::BTreeSet<String>, p: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let name = sp.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&p.child("name"), ""));
    } else if !name.is_empty() {
        for e in dns1123_label(name) {
            errs.push(FieldError::invalid(&p.child("name"), name, &e));
        }
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
    }
    for e in v::port_num(sp.port as i64) {
        errs.push(FieldError::invalid_raw(&p.child("port"), sp.port, &e));
    }
    match sp.protocol.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&p.child("protocol"), "")),
        pr if !PROTOCOLS.contains(&pr) => errs.push(FieldError::not_supported(&p.child("protocol"), pr, PROTOCOLS)),
        _ => {}
    }
    match &sp.target_port {
        Some(IntOrString::Int(n)) => {
            for e in v::port_num(*n as i64) {
                errs.push(FieldError::invalid_raw(&p.child("targetPort"), n, &e));
            }
        }
        Some(IntOrString::String(s)) => {
            for e in v::port_name(s) {
                errs.push(FieldError::invalid(&p.child("targetPort"), s, &e));
            }
        }
        None => {}
    }
    errs
}

fn validate_spec(spec: &ServiceSpec) -> ErrorList {
    let path = Path::new("spec");
    let mut errs = Vec::new();
    let ports = spec.ports.clone().unwrap_or_default();
    match ty(spec) {
        "" => errs.push(FieldError::required(&path.child("type"), "")),
        t if !TYPES.contains(&t) => errs.push(FieldError::not_supported(&path.child("type"), t, TYPES)),
        _ => {}
    }
    if ty(spec) == "ExternalName" {
        if spec.cluster_ips.as_ref().is_some_and(|c| !c.is_empty()) {
            errs.push(FieldError::forbidden(&path.child("clusterIPs"), "may not be set for ExternalName services"));
        }
        match spec.external_name.as_deref().unwrap_or("") {
            "" => errs.push(FieldError::required(&path.child("externalName"), "")),
            n => {
                for e in dns1123_subdomain(n.strip_suffix('.').unwrap_or(n)) {
                    errs.push(FieldError::invalid(&path.child("externalName"), n, &e));
                }
            }
        }
    } else if ports.is_empty() && !headless(spec) {
        errs.push(FieldError::required(&path.child("ports"), ""));
    }
    let mut names = std::collections::BTreeSet::new();
    let mut keys = std::collections::BTreeSet::new();
    let mut node_ports = std::collections::BTreeSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let p = path.child("ports").index(i);
        errs.extend(validate_port(sp, ports.len() > 1, &mut names, &p));
        let protocol = sp.protocol.clone().unwrap_or_default();
        if !keys.insert((protocol.clone(), sp.port)) {
            errs.push(FieldError { field: p.clone(), kind: crate::registry::field::ErrorType::Duplicate(go_port_key(&protocol, sp.port)), detail: String::new() });
        }
        let np = sp.node_port.unwrap_or(0);
        if np != 0 {
            if ty(spec) == "ClusterIP" {
                errs.push(FieldError::forbidden(&p.child("nodePort"), "may not be used when `type` is 'ClusterIP'"));
            }
            for e in v::port_num(np as i64) {
                errs.push(FieldError::invalid_raw(&p.child("nodePort"), np, &e));
            }
            if !node_ports.insert((protocol, np)) {
                errs.push(FieldError { field: p.child("nodePort"), kind: crate::registry::field::ErrorType::Duplicate(np.to_string()), detail: String::new() });
            }
        }
    }
    if let Some(sel) = &spec.selector {
        errs.extend(v::validate_labels(sel, &path.child("selector")));
    }
    match spec.session_affinity.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&path.child("sessionAffinity"), "")),
        "ClientIP" => {
            let t = spec.session_affinity_config.as_ref().and_then(|c| c.client_ip.as_ref()).and_then(|c| c.timeout_seconds).unwrap_or(0);
            if !(1..=86400).contains(&t) {
                let p = path.child("sessionAffinityConfig").child("clientIP").child("timeoutSeconds");
                errs.push(FieldError::invalid_raw(&p, t, "must be greater than 0 and less than 86400"));
            }
        }
        "None" => {}
        a => errs.push(FieldError::not_supported(&path.child("sessionAffinity"), a, &["ClientIP", "None"])),
    }
    for (i, ip) in spec.cluster_ips.iter().flatten().enumerate() {
        if ip == "None" && i == 0 {
            continue;
        }
        for e in v::ip(ip) {
            errs.push(FieldError::invalid(&path.child("clusterIPs").index(i), ip, &e));
        }
    }
    if let (Some(ip), Some(ips)) = (&spec.cluster_ip, &spec.cluster_ips) {
        if ips.first().is_some_and(|first| first != ip) {
            errs.push(FieldError::invalid(&path.child("clusterIPs").index(0), &ips[0], "must match `clusterIP`"));
        }
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        for e in v::ip(ip) {
            errs.push(FieldError::invalid(&path.child("externalIPs").index(i), ip, &e));
        }
    }
    match spec.external_traffic_policy.as_deref() {
        None | Some("") if externally_accessible(spec) => errs.push(FieldError::required(&path.child("externalTrafficPolicy"), "")),
        None | Some("") => {}
        Some(p) if !TRAFFIC_POLICIES.contains(&p) => errs.push(FieldError::not_supported(&path.child("externalTrafficPolicy"), p, TRAFFIC_POLICIES)),
        Some(p) if !externally_accessible(spec) => {
            errs.push(FieldError::invalid(&path.child("externalTrafficPolicy"), p, "may only be set for externally-accessible services"))
        }
        Some(_) => {}
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(ty(spec), "ClusterIP" | "NodePort" | "LoadBalancer") => errs.push(FieldError::required(&path.child("internalTrafficPolicy"), "")),
        Some(p) if !TRAFFIC_POLICIES.contains(&p) => errs.push(FieldError::not_supported(&path.child("internalTrafficPolicy"), p, TRAFFIC_POLICIES)),
        _ => {}
    }
    if let Some(p) = spec.ip_family_policy.as_deref() {
        if !FAMILY_POLICIES.contains(&p) {
            errs.push(FieldError::not_supported(&path.child("ipFamilyPolicy"), p, FAMILY_POLICIES));
        }
    }
    for (i, f) in spec.ip_families.iter().flatten().enumerate() {
        if f != "IPv4" && f != "IPv6" {
            errs.push(FieldError::not_supported(&path.child("ipFamilies").index(i), f, &["IPv4", "IPv6"]));
        }
    }
    errs
}

/// Carries allocated values over an update that does not mention them, and
/// drops them when the new type no longer uses them (upstream's
/// patchAllocatedValues and dropTypeDependentFields).
fn carry_allocated(new: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        if new.cluster_ip.as_deref().unwrap_or("").is_empty() {
            new.cluster_ip = old.cluster_ip.clone();
            new.cluster_ips = old.cluster_ips.clone();
        }
        if new.ip_families.as_ref().is_none_or(|f| f.is_empty()) {
            new.ip_families = old.ip_families.clone();
        }
        if new.ip_family_policy.is_none() {
            new.ip_family_policy = old.ip_family_policy.clone();
        }
    } else if needs_cluster_ip(old) && new.cluster_ip == old.cluster_ip {
        new.cluster_ip = None;
        new.cluster_ips = None;
        new.ip_families = None;
        new.ip_family_policy = None;
    }
    if needs_node_ports(old) && needs_node_ports(new) {
        let old_ports = old.ports.clone().unwrap_or_default();
        for p in new.ports.iter_mut().flatten() {
            if p.node_port.unwrap_or(0) == 0 {
                if let Some(o) = old_ports.iter().find(|o| o.port == p.port && o.protocol == p.protocol) {
                    p.node_port = o.node_port;
                }
            }
        }
        if new.health_check_node_port.unwrap_or(0) == 0 {
            new.health_check_node_port = old.health_check_node_port;
        }
    } else if needs_node_ports(old) {
        for (p, o) in new.ports.iter_mut().flatten().zip(old.ports.iter().flatten()) {
            if p.node_port == o.node_port {
                p.node_port = None;
            }
        }
    }
    // Upstream's dropTypeDependentFields: what only the old type used goes
    // with it, unless the client changed it in this very update.
    if externally_accessible(old) && !externally_accessible(new) {
        if new.external_traffic_policy == old.external_traffic_policy {
            new.external_traffic_policy = None;
        }
        if new.health_check_node_port == old.health_check_node_port {
            new.health_check_node_port = None;
        }
    }
    if old.type_.as_deref() == Some("LoadBalancer") && new.type_.as_deref() != Some("LoadBalancer") {
        if new.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports {
            new.allocate_load_balancer_node_ports = None;
        }
        if new.load_balancer_class == old.load_balancer_class {
            new.load_balancer_class = None;
        }
    }
}

impl Strategy for ServiceStrategy {
    type Object = Service;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        categories: &["all"],
        subresources: &["status"],
        name_rule: NameRule::Rfc1035Label,
        tracks_generation: false,
    };
    const ALLOCATES: bool = true;

    fn allocate(&self, store: &Store, obj: &mut Value, old: Option<&Value>, avoid: &BTreeSet<String>) -> Result<Allocation, StatusError> {
        services::allocate(store.ranges(), store.cache(), &Self::INFO, obj, old, avoid)
    }

    fn side_key_taken(&self, obj: &Value, key: &str) -> StatusError {
        services::taken(&Self::INFO, obj, key)
    }

    fn release(&self, obj: &Value) -> Vec<SideOp> {
        services::release(obj)
    }

    fn default(&self, svc: &mut Service) {
        let spec = svc.spec.get_or_insert_with(Default::default);
        let affinity = spec.session_affinity.get_or_insert_with(|| "None".into()).clone();
        if affinity == "None" {
            spec.session_affinity_config = None;
        } else if affinity == "ClientIP"
            && spec.session_affinity_config.as_ref().and_then(|c| c.client_ip.as_ref()).and_then(|c| c.timeout_seconds).is_none()
        {
            spec.session_affinity_config = Some(SessionAffinityConfig { client_ip: Some(ClientIPConfig { timeout_seconds: Some(10800) }) });
        }
        if spec.type_.as_deref().unwrap_or("").is_empty() {
            spec.type_ = Some("ClusterIP".into());
        }
        for p in spec.ports.iter_mut().flatten() {
            if p.protocol.as_deref().unwrap_or("").is_empty() {
                p.protocol = Some("TCP".into());
            }
            let unset = matches!(&p.target_port, None | Some(IntOrString::Int(0))) || matches!(&p.target_port, Some(IntOrString::String(s)) if s.is_empty());
            if unset {
                p.target_port = Some(IntOrString::Int(p.port));
            }
        }
        if externally_accessible(spec) && spec.external_traffic_policy.as_deref().unwrap_or("").is_empty() {
            spec.external_traffic_policy = Some("Cluster".into());
        }
        if spec.internal_traffic_policy.is_none() && matches!(ty(spec), "NodePort" | "LoadBalancer" | "ClusterIP") {
            spec.internal_traffic_policy = Some("Cluster".into());
        }
        if ty(spec) == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
            spec.allocate_load_balancer_node_ports = Some(true);
        }
        sync_cluster_ips(spec);
    }

    fn prepare_for_create(&self, svc: &mut Service) {
        svc.status = Some(Default::default());
        if let Some(spec) = svc.spec.as_mut() {
            default_ip_families(spec);
        }
    }

    fn prepare_for_update(&self, new: &mut Service, old: &Service) {
        if let (Some(n), Some(o)) = (new.spec.as_mut(), old.spec.as_ref()) {
            carry_allocated(n, o);
            default_ip_families(n);
        }
    }

    fn validate(&self, svc: &Service) -> ErrorList {
        svc.spec.as_ref().map(validate_spec).unwrap_or_default()
    }

    fn validate_update(&self, new: &Service, old: &Service) -> ErrorList {
        let mut errs = self.validate(new);
        let (n, o) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        let old_ip = o.cluster_ip.clone().unwrap_or_default();
        if needs_cluster_ip(&o) && needs_cluster_ip(&n) && !old_ip.is_empty() && n.cluster_ip.clone().unwrap_or_default() != old_ip {
            errs.push(FieldError::invalid(&Path::new("spec").child("clusterIP"), n.cluster_ip.unwrap_or_default(), "field is immutable"));
        }
        errs
    }

    fn validate_status_update(&self, new: &Service, _old: &Service) -> ErrorList {
        let mut errs = Vec::new();
        let ingress = new.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.clone()).unwrap_or_default();
        for (i, ing) in ingress.iter().enumerate() {
            if let Some(ip) = ing.ip.as_deref().filter(|s| !s.is_empty()) {
                let p = Path::new("status").child("loadBalancer").child("ingress").index(i).child("ip");
                for e in v::ip(ip) {
                    errs.push(FieldError::invalid(&p, ip, &e));
                }
            }
        }
        errs
    }

    fn fields(&self, svc: &serde_json::Value, out: &mut Fields) {
        out.insert("spec.clusterIP".into(), crate::registry::str_at(svc, "/spec/clusterIP"));
        out.insert("spec.type".into(), crate::registry::str_at(svc, "/spec/type"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn create(spec: serde_json::Value) -> Result<serde_json::Value, api::status::StatusError> {
        Typed(ServiceStrategy).admit_create(svc(spec))
    }

    #[test]
    fn defaults() {
        let s = create(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]})).unwrap();
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["sessionAffinity"], "None");
        assert_eq!(s["spec"]["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
        assert_eq!(s["spec"]["internalTrafficPolicy"], "Cluster");
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(s["spec"]["ipFamilyPolicy"], "SingleStack");
        assert!(s["spec"].get("externalTrafficPolicy").is_none());
        let np = create(json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}], "sessionAffinity": "ClientIP"})).unwrap();
        assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(np["spec"]["ports"][0]["targetPort"], "http");
        assert_eq!(np["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"], 10800);
        let headless = create(json!({"clusterIP": "None", "ports": [{"port": 80}]})).unwrap();
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    }

    #[test]
    fn validation_messages() {
        let e = create(json!({"type": "Magic", "ports": []})).unwrap_err();
        assert_eq!(
            e.message,
            r#"Service "web" is invalid: [spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort", spec.ports: Required value]"#
        );
        let e = create(json!({"ports": [{"port": 80, "nodePort": 30080}, {"port": 0, "name": "b"}], "clusterIP": "10.0.0.300"})).unwrap_err();
        let m = e.message;
        assert!(m.contains("spec.ports[0].name: Required value"), "{m}");
        assert!(m.contains("spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"));
        assert!(m.contains("spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive"));
        assert!(m.contains(r#"spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#));
        let e = create(json!({"type": "NodePort", "ports": [{"port": 80, "name": "a", "nodePort": 30080}, {"port": 80, "name": "b", "nodePort": 30080}]})).unwrap_err();
        assert!(e.message.contains(r#"spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}"#), "{}", e.message);
        assert!(e.message.contains("spec.ports[1].nodePort: Duplicate value: 30080"));
        let e = create(json!({"type": "ExternalName"})).unwrap_err();
        assert_eq!(e.message, r#"Service "web" is invalid: spec.externalName: Required value"#);
        let e = Typed(ServiceStrategy).admit_create(json!({"metadata": {"name": "1web", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}})).unwrap_err();
        assert!(e.message.starts_with(r#"Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label"#), "{}", e.message);
    }

    #[test]
    fn update_keeps_allocations_and_cluster_ip_is_immutable() {
        let kind = Typed(ServiceStrategy);
        let mut old = create(json!({"type": "NodePort", "ports": [{"port": 80}]})).unwrap();
        old["spec"]["clusterIP"] = json!("10.96.0.10");
        old["spec"]["clusterIPs"] = json!(["10.96.0.10"]);
        old["spec"]["ports"][0]["nodePort"] = json!(30080);
        // a re-applied manifest without the allocated values keeps them
        let new = svc(json!({"type": "NodePort", "ports": [{"port": 80}]}));
        let got = kind.admit_update(new, &old).unwrap();
        assert_eq!(got["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(got["spec"]["ports"][0]["nodePort"], 30080);
        // back to ClusterIP drops the node port
        let got = kind.admit_update(svc(json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30080}]})), &old).unwrap();
        assert!(got["spec"]["ports"][0].get("nodePort").is_none());
        let e = kind.admit_update(svc(json!({"type": "NodePort", "clusterIP": "10.96.0.11", "ports": [{"port": 80}]})), &old).unwrap_err();
        assert!(e.message.contains(r#"spec.clusterIP: Invalid value: "10.96.0.11": field is immutable"#), "{}", e.message);
    }
}
