//! Services, endpoints and endpoint slices, as upstream's describeService,
//! describeEndpoints and describeEndpointSliceV1.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{events, header, Evs, W};
use crate::util::{arr, format_labels, i, s};

/// Upstream's formatEndpointSlices for one service port: at most three
/// "ip:port", then "+ N more...".
pub fn format_endpoint_slices(slices: &[Value], port_name: &str) -> String {
    if slices.is_empty() {
        return "<none>".into();
    }
    let (max, mut list, mut more, mut count) = (3usize, Vec::<String>::new(), false, 0usize);
    for sl in slices {
        let ports = arr(sl, "/ports");
        let eps = arr(sl, "/endpoints");
        if ports.is_empty() {
            for ep in eps {
                if list.len() < max {
                    list.push(arr(ep, "/addresses").first().and_then(Value::as_str).unwrap_or_default().to_string());
                } else {
                    more = true;
                }
                count += 1;
            }
            continue;
        }
        for p in ports.iter().filter(|p| s(p, "/name") == port_name) {
            for ep in eps {
                if list.len() < max {
                    let ip = arr(ep, "/addresses").first().and_then(Value::as_str).unwrap_or_default();
                    let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
                    list.push(format!("{host}:{}", i(p, "/port")));
                } else {
                    more = true;
                }
                count += 1;
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - max)
    } else {
        ret
    }
}

/// `slices`: the EndpointSlices of this service (label kubernetes.io/service-name).
pub fn service(svc: &Value, slices: &[Value], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    header(&mut w, svc, true);
    w.w(0, &format!("Selector:\t{}\n", format_labels(svc.pointer("/spec/selector"))));
    w.w(0, &format!("Type:\t{}\n", s(svc, "/spec/type")));
    if !s(svc, "/spec/ipFamilyPolicy").is_empty() {
        w.w(0, &format!("IP Family Policy:\t{}\n", s(svc, "/spec/ipFamilyPolicy")));
    }
    let fams: Vec<&str> = arr(svc, "/spec/ipFamilies").iter().filter_map(Value::as_str).collect();
    w.w(0, &format!("IP Families:\t{}\n", if fams.is_empty() { "<none>".to_string() } else { fams.join(",") }));
    w.w(0, &format!("IP:\t{}\n", s(svc, "/spec/clusterIP")));
    let ips: Vec<&str> = arr(svc, "/spec/clusterIPs").iter().filter_map(Value::as_str).collect();
    w.w(0, &format!("IPs:\t{}\n", if ips.is_empty() { "<none>".to_string() } else { ips.join(",") }));
    let ext: Vec<&str> = arr(svc, "/spec/externalIPs").iter().filter_map(Value::as_str).collect();
    if !ext.is_empty() {
        w.w(0, &format!("External IPs:\t{}\n", ext.join(",")));
    }
    if !s(svc, "/spec/externalName").is_empty() {
        w.w(0, &format!("External Name:\t{}\n", s(svc, "/spec/externalName")));
    }
    for p in arr(svc, "/spec/ports") {
        let name = match s(p, "/name") {
            "" => "<unset>",
            n => n,
        };
        let proto = match s(p, "/protocol") {
            "" => "TCP",
            x => x,
        };
        w.w(0, &format!("Port:\t{name}\t{}/{proto}\n", i(p, "/port")));
        let tp = match p.get("targetPort") {
            Some(Value::String(x)) => x.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => i(p, "/port").to_string(),
        };
        w.w(0, &format!("TargetPort:\t{tp}/{proto}\n"));
        if i(p, "/nodePort") != 0 {
            w.w(0, &format!("NodePort:\t{name}\t{}/{proto}\n", i(p, "/nodePort")));
        }
        w.w(0, &format!("Endpoints:\t{}\n", format_endpoint_slices(slices, s(p, "/name"))));
    }
    w.w(0, &format!("Session Affinity:\t{}\n", s(svc, "/spec/sessionAffinity")));
    if !s(svc, "/spec/externalTrafficPolicy").is_empty() {
        w.w(0, &format!("External Traffic Policy:\t{}\n", s(svc, "/spec/externalTrafficPolicy")));
    }
    if !s(svc, "/spec/internalTrafficPolicy").is_empty() {
        w.w(0, &format!("Internal Traffic Policy:\t{}\n", s(svc, "/spec/internalTrafficPolicy")));
    }
    events(&mut w, evs, now);
    w.finish()
}

/// Upstream's describeEndpoints.
pub fn endpoints(ep: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    header(&mut w, ep, true);
    w.w(0, "Subsets:\n");
    let ips = |ss: &Value, ptr: &str| {
        let list: Vec<&str> = arr(ss, ptr).iter().map(|a| s(a, "/ip")).collect();
        if list.is_empty() {
            "<none>".to_string()
        } else {
            list.join(",")
        }
    };
    for ss in arr(ep, "/subsets") {
        w.w(1, &format!("Addresses:\t{}\n", ips(ss, "/addresses")));
        w.w(1, &format!("NotReadyAddresses:\t{}\n", ips(ss, "/notReadyAddresses")));
        let ports = arr(ss, "/ports");
        if !ports.is_empty() {
            w.w(1, "Ports:\n");
            w.w(2, "Name\tPort\tProtocol\n");
            w.w(2, "----\t----\t--------\n");
            for p in ports {
                let name = match s(p, "/name") {
                    "" => "<unset>",
                    n => n,
                };
                w.w(2, &format!("{name}\t{}\t{}\n", i(p, "/port"), s(p, "/protocol")));
            }
        }
        w.w(0, "\n");
    }
    events(&mut w, evs, now);
    w.finish()
}

/// Upstream's describeEndpointSliceV1.
pub fn endpointslice(es: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    header(&mut w, es, true);
    w.w(0, &format!("AddressType:\t{}\n", s(es, "/addressType")));
    let ports = arr(es, "/ports");
    if ports.is_empty() {
        w.w(0, "Ports: <unset>\n");
    } else {
        w.w(0, "Ports:\n");
        w.w(1, "Name\tPort\tProtocol\n");
        w.w(1, "----\t----\t--------\n");
        for p in ports {
            let name = match s(p, "/name") {
                "" => "<unset>",
                n => n,
            };
            let port = p.get("port").and_then(Value::as_i64).map_or("<unset>".to_string(), |n| n.to_string());
            w.w(1, &format!("{name}\t{port}\t{}\n", s(p, "/protocol")));
        }
    }
    let eps = arr(es, "/endpoints");
    if eps.is_empty() {
        w.w(0, "Endpoints: <none>\n");
    } else {
        w.w(0, "Endpoints:\n");
        let or_unset = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("<unset>").to_string();
        for e in eps {
            let addrs: Vec<&str> = arr(e, "/addresses").iter().filter_map(Value::as_str).collect();
            w.w(1, &format!("- Addresses:\t{}\n", if addrs.is_empty() { "<none>".to_string() } else { addrs.join(", ") }));
            w.w(2, "Conditions:\n");
            let ready = e.pointer("/conditions/ready").and_then(Value::as_bool).map_or("<unset>".to_string(), |b| b.to_string());
            w.w(3, &format!("Ready:\t{ready}\n"));
            w.w(2, &format!("Hostname:\t{}\n", or_unset(e.get("hostname"))));
            if let Some(t) = e.get("targetRef").filter(|t| !t.is_null()) {
                w.w(2, &format!("TargetRef:\t{}/{}\n", s(t, "/kind"), s(t, "/name")));
            }
            w.w(2, &format!("NodeName:\t{}\n", or_unset(e.get("nodeName"))));
            w.w(2, &format!("Zone:\t{}\n", or_unset(e.get("zone"))));
        }
    }
    events(&mut w, evs, now);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoint_slices_like_upstream() {
        let sl = json!({"ports": [{"name": "http", "port": 8080}], "endpoints": [
            {"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}, {"addresses": ["10.0.0.3"]}, {"addresses": ["fd00::4"]}]});
        assert_eq!(format_endpoint_slices(&[sl.clone()], "http"), "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...");
        assert_eq!(format_endpoint_slices(&[sl], "other"), "");
        assert_eq!(format_endpoint_slices(&[], "http"), "<none>");
    }

    #[test]
    fn endpoints_like_upstream() {
        let ep = json!({"metadata": {"name": "web", "namespace": "default"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]},
            {"notReadyAddresses": [{"ip": "10.0.0.9"}]}]});
        assert_eq!(
            endpoints(&ep, Some(&mut []), chrono::Utc::now()),
            "Name:         web\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\nSubsets:\n\
             \x20 Addresses:          10.0.0.1,10.0.0.2\n  NotReadyAddresses:  <none>\n  Ports:\n\
             \x20   Name     Port  Protocol\n    ----     ----  --------\n    http     80    TCP\n    <unset>  53    UDP\n\n\
             \x20 Addresses:          <none>\n  NotReadyAddresses:  10.0.0.9\n\nEvents:  <none>\n"
        );
    }

    #[test]
    fn endpointslice_like_upstream() {
        let es = json!({"metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"protocol": "UDP"}],
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}, "hostname": "h1", "targetRef": {"kind": "Pod", "name": "web-1"}, "nodeName": "n1"},
                          {"addresses": [], "conditions": {}}]});
        assert_eq!(
            endpointslice(&es, Some(&mut []), chrono::Utc::now()),
            "Name:         web-abc\nNamespace:    default\nLabels:       kubernetes.io/service-name=web\nAnnotations:  <none>\nAddressType:  IPv4\n\
             Ports:\n  Name     Port     Protocol\n  ----     ----     --------\n  http     80       TCP\n  <unset>  <unset>  UDP\n\
             Endpoints:\n  - Addresses:  10.0.0.1\n    Conditions:\n      Ready:    true\n    Hostname:   h1\n    TargetRef:  Pod/web-1\n\
             \x20   NodeName:   n1\n    Zone:       <unset>\n  - Addresses:  <none>\n    Conditions:\n      Ready:   <unset>\n\
             \x20   Hostname:  <unset>\n    NodeName:  <unset>\n    Zone:      <unset>\nEvents:        <none>\n"
        );
        let empty = json!({"metadata": {"name": "e", "namespace": "default"}, "addressType": "IPv6"});
        assert!(endpointslice(&empty, Some(&mut []), chrono::Utc::now()).ends_with("AddressType:  IPv6\nPorts: <unset>\nEndpoints: <none>\nEvents:  <none>\n"));
    }
}
