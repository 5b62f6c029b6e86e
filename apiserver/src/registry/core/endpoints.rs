//! Endpoints (core v1): addresses are IPs, ports named when there are several.

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints};

use crate::registry::pod_template::PROTOCOLS;
use crate::registry::validation::{self as v, dns1123_label, dns1123_subdomain};
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct EndpointsStrategy;

fn validate_address(a: &EndpointAddress, p: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for e in v::ip(&a.ip) {
        errs.push(FieldError::invalid(&p.child("ip"), &a.ip, &e));
    }
    if let Some(h) = a.hostname.as_deref().filter(|h| !h.is_empty()) {
        for e in dns1123_label(h) {
            errs.push(FieldError::invalid(&p.child("hostname"), h, &e));
        }
    }
    if let Some(n) = a.node_name.as_deref().filter(|n| !n.is_empty()) {
        for e in dns1123_subdomain(n) {
            errs.push(FieldError::invalid(&p.child("nodeName"), n, &e));
        }
    }
    errs
}

impl Strategy for EndpointsStrategy {
    type Object = Endpoints;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "endpoints",
        singular: "endpoints",
        kind: "Endpoints",
        namespaced: true,
        short_names: &["ep"],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };
    const RAW_CREATE: bool = true;

    fn default(&self, ep: &mut Endpoints) {
        for p in ep.subsets.iter_mut().flatten().flat_map(|s| s.ports.iter_mut().flatten()) {
            if p.protocol.as_deref().unwrap_or("").is_empty() {
                p.protocol = Some("TCP".into());
            }
        }
    }

    fn validate(&self, ep: &Endpoints) -> ErrorList {
        let mut errs = Vec::new();
        for (i, ss) in ep.subsets.iter().flatten().enumerate() {
            let sp = Path::new("subsets").index(i);
            for (j, a) in ss.addresses.iter().flatten().enumerate() {
                errs.extend(validate_address(a, &sp.child("addresses").index(j)));
            }
            for (j, a) in ss.not_ready_addresses.iter().flatten().enumerate() {
                errs.extend(validate_address(a, &sp.child("notReadyAddresses").index(j)));
            }
            let ports = ss.ports.as_deref().unwrap_or(&[]);
            for (j, port) in ports.iter().enumerate() {
                let pp = sp.child("ports").index(j);
                let name = port.name.as_deref().unwrap_or("");
                if ports.len() > 1 && name.is_empty() {
                    errs.push(FieldError::required(&pp.child("name"), ""));
                } else if !name.is_empty() {
                    for e in dns1123_label(name) {
                        errs.push(FieldError::invalid(&pp.child("name"), name, &e));
                    }
                }
                for e in v::port_num(port.port as i64) {
                    errs.push(FieldError::invalid_raw(&pp.child("port"), port.port, &e));
                }
                match port.protocol.as_deref().unwrap_or("") {
                    "" => errs.push(FieldError::required(&pp.child("protocol"), "")),
                    pr if !PROTOCOLS.contains(&pr) => errs.push(FieldError::not_supported(&pp.child("protocol"), pr, PROTOCOLS)),
                    _ => {}
                }
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn defaults_protocol_and_validates_addresses() {
        let kind = Typed(EndpointsStrategy);
        let ep = kind
            .admit_create(json!({"metadata": {"name": "web", "namespace": "default"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}))
            .unwrap();
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
        let e = kind
            .admit_create(json!({"metadata": {"name": "web", "namespace": "default"}, "subsets": [{"addresses": [{"ip": "x"}], "ports": [{"port": 80}, {"port": 0, "name": "b"}]}]}))
            .unwrap_err();
        assert_eq!(
            e.message,
            r#"Endpoints "web" is invalid: [subsets[0].addresses[0].ip: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff), subsets[0].ports[0].name: Required value, subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive]"#
        );
    }
}
