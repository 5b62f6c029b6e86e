//! EndpointSlice (discovery.k8s.io/v1): addresses match the addressType
//! (immutable), at most 1000 endpoints and 100 ports, ports default to TCP
//! with an empty name. Generation counts changes to endpoints and ports.

use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::registry::pod_template::PROTOCOLS;
use crate::registry::validation::{self as v, dns1123_label, dns1123_subdomain};
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct EndpointSliceStrategy;

const ADDRESS_TYPES: &[&str] = &["IPv4", "IPv6", "FQDN"];
const MAX_ENDPOINTS: usize = 1000;
const MAX_PORTS: usize = 100;
const MAX_ADDRESSES: usize = 100;

fn address_errors(ty: &str, a: &str) -> Vec<String> {
    match ty {
        "IPv4" if a.parse::<std::net::Ipv4Addr>().is_err() => vec!["must be a valid IPv4 address".into()],
        "IPv6" if a.parse::<std::net::Ipv6Addr>().is_err() => vec!["must be a valid IPv6 address".into()],
        "FQDN" => dns1123_subdomain(a),
        _ => vec![],
    }
}

impl Strategy for EndpointSliceStrategy {
    type Object = EndpointSlice;

    const INFO: ResourceInfo = ResourceInfo {
        group: "discovery.k8s.io",
        version: "v1",
        plural: "endpointslices",
        singular: "endpointslice",
        kind: "EndpointSlice",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };
    const RAW_CREATE: bool = true;

    fn default(&self, es: &mut EndpointSlice) {
        for p in es.ports.iter_mut().flatten() {
            p.name.get_or_insert_with(String::new);
            p.protocol.get_or_insert_with(|| "TCP".into());
        }
    }

    fn validate(&self, es: &EndpointSlice) -> ErrorList {
        let mut errs = Vec::new();
        let ty = es.address_type.as_str();
        if ty.is_empty() {
            errs.push(FieldError::required(&Path::new("addressType"), ""));
        } else if !ADDRESS_TYPES.contains(&ty) {
            errs.push(FieldError::not_supported(&Path::new("addressType"), ty, ADDRESS_TYPES));
        }
        let eps = es.endpoints.as_deref().unwrap_or(&[]);
        if eps.len() > MAX_ENDPOINTS {
            errs.push(FieldError::too_many(&Path::new("endpoints"), MAX_ENDPOINTS));
        }
        for (i, ep) in eps.iter().enumerate() {
            let p = Path::new("endpoints").index(i);
            if ep.addresses.is_empty() {
                errs.push(FieldError::required(&p.child("addresses"), "must contain at least 1 address"));
            } else if ep.addresses.len() > MAX_ADDRESSES {
                errs.push(FieldError::too_many(&p.child("addresses"), MAX_ADDRESSES));
            }
            for (j, a) in ep.addresses.iter().enumerate() {
                for e in address_errors(ty, a) {
                    errs.push(FieldError::invalid(&p.child("addresses").index(j), a, &e));
                }
            }
            if let Some(n) = ep.node_name.as_deref().filter(|n| !n.is_empty()) {
                for e in dns1123_subdomain(n) {
                    errs.push(FieldError::invalid(&p.child("nodeName"), n, &e));
                }
            }
            if let Some(h) = ep.hostname.as_deref().filter(|h| !h.is_empty()) {
                for e in dns1123_label(h) {
                    errs.push(FieldError::invalid(&p.child("hostname"), h, &e));
                }
            }
        }
        let ports = es.ports.as_deref().unwrap_or(&[]);
        if ports.len() > MAX_PORTS {
            errs.push(FieldError::too_many(&Path::new("ports"), MAX_PORTS));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, port) in ports.iter().enumerate() {
            let p = Path::new("ports").index(i);
            let name = port.name.as_deref().unwrap_or("");
            if !name.is_empty() {
                for e in dns1123_label(name) {
                    errs.push(FieldError::invalid(&p.child("name"), name, &e));
                }
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
            if let Some(n) = port.port {
                for e in v::port_num(n as i64) {
                    errs.push(FieldError::invalid_raw(&p.child("port"), n, &e));
                }
            }
            match port.protocol.as_deref().unwrap_or("") {
                "" => errs.push(FieldError::required(&p.child("protocol"), "")),
                pr if !PROTOCOLS.contains(&pr) => errs.push(FieldError::not_supported(&p.child("protocol"), pr, PROTOCOLS)),
                _ => {}
            }
        }
        errs
    }

    fn validate_update(&self, new: &EndpointSlice, old: &EndpointSlice) -> ErrorList {
        let mut errs = self.validate(new);
        if new.address_type != old.address_type {
            errs.push(FieldError::invalid(&Path::new("addressType"), &new.address_type, "field is immutable"));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn slice(ty: &str, addr: &str) -> serde_json::Value {
        json!({"metadata": {"name": "web-abc", "namespace": "default"}, "addressType": ty,
            "endpoints": [{"addresses": [addr]}], "ports": [{"port": 80}]})
    }

    #[test]
    fn defaults_and_address_type() {
        let kind = Typed(EndpointSliceStrategy);
        let es = kind.admit_create(slice("IPv4", "10.0.0.1")).unwrap();
        assert_eq!(es["ports"][0], json!({"name": "", "port": 80, "protocol": "TCP"}));
        let e = kind.admit_create(slice("IPv4", "fd00::1")).unwrap_err();
        assert_eq!(e.message, r#"EndpointSlice "web-abc" is invalid: endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address"#);
        let e = kind.admit_update(slice("IPv6", "fd00::1"), &es).unwrap_err();
        assert_eq!(e.message, r#"EndpointSlice "web-abc" is invalid: addressType: Invalid value: "IPv6": field is immutable"#);
    }
}
