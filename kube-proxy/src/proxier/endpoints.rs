//! Endpoints of service ports from discovery.k8s.io/v1 EndpointSlices (upstream's
//! EndpointSliceCache): every slice labelled `kubernetes.io/service-name`
//! contributes, ports are matched by name, duplicates across slices count once.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label naming the Service an EndpointSlice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One endpoint of one service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    /// On this proxier's node (`nodeName`), for the Local traffic policies.
    pub local: bool,
    /// "ip:port", as hashed into the KUBE-SEP chain name.
    pub addr: String,
}

/// The Service key ("ns/name") an EndpointSlice feeds, from its label.
pub fn service_key(slice: &EndpointSlice) -> Option<String> {
    let svc = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some(format!("{}/{}", slice.metadata.namespace.as_deref()?, svc))
}

/// Endpoints by port name ("" for an unnamed port), sorted by address.
pub fn endpoints_by_port<'a>(slices: impl IntoIterator<Item = &'a Arc<EndpointSlice>>, node_name: &str) -> HashMap<String, Vec<Endpoint>> {
    let mut by_port: HashMap<String, BTreeMap<String, Endpoint>> = HashMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        for port in slice.ports.iter().flatten() {
            let Some(number) = port.port.filter(|p| *p > 0 && *p <= 65535) else { continue };
            let entry = by_port.entry(port.name.clone().unwrap_or_default()).or_default();
            for ep in slice.endpoints.iter().flatten() {
                let Some(ip) = ep.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else { continue };
                let c = ep.conditions.as_ref();
                // Unset ready means ready; unset serving follows ready; unset terminating means not (as upstream).
                let ready = c.and_then(|c| c.ready).unwrap_or(true);
                let serving = c.and_then(|c| c.serving).unwrap_or(ready);
                let terminating = c.and_then(|c| c.terminating).unwrap_or(false);
                let addr = format!("{ip}:{number}");
                let new = Endpoint {
                    ip,
                    port: number as u16,
                    ready,
                    serving,
                    terminating,
                    local: ep.node_name.as_deref() == Some(node_name),
                    addr: addr.clone(),
                };
                // The same endpoint in two slices (during a move): keep the ready copy.
                match entry.get(&addr) {
                    Some(old) if old.ready || !new.ready => {}
                    _ => {
                        entry.insert(addr, new);
                    }
                }
            }
        }
    }
    by_port.into_iter().map(|(k, v)| (k, v.into_values().collect())).collect()
}

/// Upstream's CategorizeEndpoints: the endpoints for the Cluster policy, for
/// the Local policy, all endpoints this node may route to, and whether the
/// service has any usable endpoint anywhere. Terminating-but-serving
/// endpoints are used only when no ready one exists.
pub struct Categorized<'a> {
    pub cluster: Vec<&'a Endpoint>,
    pub local: Vec<&'a Endpoint>,
    pub reachable: Vec<&'a Endpoint>,
    pub has_any: bool,
}

pub fn categorize<'a>(endpoints: &'a [Endpoint], uses_cluster: bool, uses_local: bool) -> Categorized<'a> {
    let mut cluster = Vec::new();
    let mut has_any = false;
    if uses_cluster {
        cluster = endpoints.iter().filter(|e| e.ready).collect();
        if cluster.is_empty() {
            cluster = endpoints.iter().filter(|e| e.serving && e.terminating).collect();
        }
        has_any = !cluster.is_empty();
    }
    if !uses_local {
        let reachable = cluster.clone();
        return Categorized { cluster, local: Vec::new(), reachable, has_any };
    }
    let (mut local_ready, mut local_serving) = (false, false);
    for e in endpoints {
        if e.ready {
            has_any = true;
            local_ready |= e.local;
        } else if e.serving && e.terminating {
            has_any = true;
            local_serving |= e.local;
        }
    }
    let local: Vec<&Endpoint> = if local_ready {
        endpoints.iter().filter(|e| e.ready && e.local).collect()
    } else if local_serving {
        endpoints.iter().filter(|e| e.serving && e.terminating && e.local).collect()
    } else {
        Vec::new()
    };
    if !uses_cluster {
        let reachable = local.clone();
        return Categorized { cluster, local, reachable, has_any };
    }
    let mut reachable = cluster.clone();
    for l in &local {
        if !reachable.iter().any(|c| c.addr == l.addr) {
            reachable.push(l);
        }
    }
    Categorized { cluster, local, reachable, has_any }
}
