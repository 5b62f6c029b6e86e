//! The DNS names one Service stands for (the Kubernetes DNS specification,
//! as CoreDNS' kubernetes plugin answers it), computed from the Service and
//! its EndpointSlices:
//!
//! - ClusterIP: `<svc>.<ns>.svc.<zone>` A/AAAA -> the ClusterIPs, SRV
//!   `_<port>._<proto>.<svc>...` -> the Service name, PTR for each ClusterIP.
//! - Headless: `<svc>...` -> every ready endpoint address; each endpoint is
//!   `<hostname>.<svc>...` (its hostname, or its address with dashes), SRV per
//!   named port -> each endpoint's name, PTR for endpoint addresses.
//! - ExternalName: `<svc>...` CNAME -> spec.externalName.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// What one name answers (before it becomes wire records).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameData {
    pub addrs: Vec<IpAddr>,
    pub cname: Option<String>,
    /// (port, target name).
    pub srv: Vec<(u16, String)>,
}

/// The names of one Service: name (lowercase, no trailing dot) -> data, and
/// reverse entries address -> name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServiceRecords {
    pub names: BTreeMap<String, NameData>,
    pub ptrs: Vec<(IpAddr, String)>,
}

/// The records of `svc` with `slices` (all slices labelled with its name) in `domain`.
pub fn service_records(svc: &Service, slices: &[Arc<EndpointSlice>], domain: &str) -> ServiceRecords {
    let mut out = ServiceRecords::default();
    let (Some(name), Some(ns)) = (svc.metadata.name.as_deref(), svc.metadata.namespace.as_deref()) else { return out };
    let Some(spec) = svc.spec.as_ref() else { return out };
    let base = format!("{name}.{ns}.svc.{domain}").to_ascii_lowercase();
    if spec.type_.as_deref() == Some("ExternalName") {
        if let Some(ext) = spec.external_name.as_deref().filter(|e| !e.is_empty()) {
            out.names.insert(base, NameData { cname: Some(ext.trim_end_matches('.').to_ascii_lowercase()), ..Default::default() });
        }
        return out;
    }
    let headless = spec.cluster_ip.as_deref() == Some("None");
    if !headless {
        let ips: Vec<IpAddr> = spec.cluster_ips.iter().flatten().chain(spec.cluster_ip.iter()).filter_map(|ip| ip.parse().ok()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        if ips.is_empty() {
            return out;
        }
        for ip in &ips {
            out.ptrs.push((*ip, base.clone()));
        }
        out.names.insert(base.clone(), NameData { addrs: ips, ..Default::default() });
        for p in spec.ports.iter().flatten() {
            let Some(pname) = p.name.as_deref().filter(|n| !n.is_empty()) else { continue };
            let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
            let srv = format!("_{}._{proto}.{base}", pname.to_ascii_lowercase());
            out.names.entry(srv).or_default().srv.push((p.port as u16, base.clone()));
        }
        return out;
    }
    // Headless: every ready endpoint, once per address, from every slice.
    let mut seen = std::collections::BTreeSet::new();
    let mut all = NameData::default();
    for slice in slices {
        for ep in slice.endpoints.iter().flatten() {
            // An unset condition means ready (as consumers of the API read it).
            if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            for a in &ep.addresses {
                let Ok(ip) = a.parse::<IpAddr>() else { continue };
                if !seen.insert(ip) {
                    continue;
                }
                let host = ep.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| dashed(&ip));
                let fqdn = format!("{}.{base}", host.to_ascii_lowercase());
                all.addrs.push(ip);
                out.names.entry(fqdn.clone()).or_default().addrs.push(ip);
                out.ptrs.push((ip, fqdn.clone()));
                for p in slice.ports.iter().flatten() {
                    let (Some(pname), Some(port)) = (p.name.as_deref().filter(|n| !n.is_empty()), p.port) else { continue };
                    let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
                    let srv = format!("_{}._{proto}.{base}", pname.to_ascii_lowercase());
                    out.names.entry(srv).or_default().srv.push((port as u16, fqdn.clone()));
                }
            }
        }
    }
    // The Service's own name exists even with no endpoints (an answer without records).
    out.names.insert(base, all);
    out
}

/// An address as a DNS label: 10.0.0.1 -> 10-0-0-1, fd00::1 -> fd00--1.
pub fn dashed(ip: &IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn cluster_ip_service_has_a_ptr_and_srv_per_named_port() {
        let s = svc(json!({"metadata": {"name": "Web", "namespace": "default"}, "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
            "ports": [{"name": "http", "port": 80}, {"port": 81}]}}));
        let r = service_records(&s, &[], "cluster.local");
        assert_eq!(r.names["web.default.svc.cluster.local"].addrs, ["10.96.0.20".parse::<IpAddr>().unwrap()]);
        assert_eq!(r.names["_http._tcp.web.default.svc.cluster.local"].srv, [(80, "web.default.svc.cluster.local".to_string())]);
        assert_eq!(r.names.len(), 2, "an unnamed port has no SRV name");
        assert_eq!(r.ptrs, [("10.96.0.20".parse().unwrap(), "web.default.svc.cluster.local".to_string())]);
    }

    #[test]
    fn headless_service_lists_ready_endpoints_by_hostname_or_address() {
        let s = svc(json!({"metadata": {"name": "db", "namespace": "ns1"}, "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}));
        let slice: EndpointSlice = serde_json::from_value(json!({"metadata": {"name": "db-x"}, "addressType": "IPv4",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.1.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
                          {"addresses": ["10.1.0.6"], "conditions": {"ready": true}},
                          {"addresses": ["10.1.0.7"], "conditions": {"ready": false}}]})).unwrap();
        let r = service_records(&s, &[Arc::new(slice)], "cluster.local");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(r.names["db.ns1.svc.cluster.local"].addrs, [ip("10.1.0.5"), ip("10.1.0.6")]);
        assert_eq!(r.names["db-0.db.ns1.svc.cluster.local"].addrs, [ip("10.1.0.5")]);
        assert_eq!(r.names["10-1-0-6.db.ns1.svc.cluster.local"].addrs, [ip("10.1.0.6")]);
        assert_eq!(r.names["_pg._tcp.db.ns1.svc.cluster.local"].srv.len(), 2);
    }

    #[test]
    fn external_name_is_a_cname() {
        let s = svc(json!({"metadata": {"name": "ext", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "api.example.com."}}));
        let r = service_records(&s, &[], "cluster.local");
        assert_eq!(r.names["ext.default.svc.cluster.local"].cname.as_deref(), Some("api.example.com"));
    }
}
