//! Service ClusterIP and NodePort allocation.
//!
//! Each allocated address or port is its own etcd key, created in the same
//! transaction as the Service (and deleted with it), so two concurrent
//! creates can never get the same value and nothing leaks when a write
//! fails: `/registry/ipaddresses/<ip>`, `/registry/servicenodeports/<port>`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use api::status::StatusError;
use rand::Rng;
use serde_json::{json, Value};

use crate::registry::{invalid, FieldError, Path, ResourceInfo};
use crate::storage::SideOp;
use crate::watch_cache::WatchCache;

#[derive(Debug, Clone)]
pub struct ServiceRanges {
    base: u32,
    prefix: u8,
    pub node_ports: (u16, u16),
    cidr_text: String,
}

pub fn ip_key(ip: Ipv4Addr) -> String {
    format!("/registry/ipaddresses/{ip}")
}

pub fn port_key(port: u16) -> String {
    format!("/registry/servicenodeports/{port}")
}

impl ServiceRanges {
    /// `cidr` like "10.96.0.0/12", `ports` like "30000-32767".
    pub fn parse(cidr: &str, ports: &str) -> Result<Self, String> {
        let (ip, len) = cidr.split_once('/').ok_or(format!("service CIDR {cidr:?}: expected address/prefix"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|e| format!("service CIDR {cidr:?}: {e}"))?;
        let prefix: u8 = len.parse().map_err(|e| format!("service CIDR {cidr:?}: {e}"))?;
        if !(8..=30).contains(&prefix) {
            return Err(format!("service CIDR {cidr:?}: prefix must be between /8 and /30"));
        }
        let (lo, hi) = ports.split_once('-').ok_or(format!("node port range {ports:?}: expected low-high"))?;
        let lo: u16 = lo.trim().parse().map_err(|e| format!("node port range {ports:?}: {e}"))?;
        let hi: u16 = hi.trim().parse().map_err(|e| format!("node port range {ports:?}: {e}"))?;
        if lo > hi {
            return Err(format!("node port range {ports:?}: low end above high end"));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(ServiceRanges { base: u32::from(ip) & mask, prefix, node_ports: (lo, hi), cidr_text: cidr.to_string() })
    }

    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }

    /// The first usable address: the `kubernetes` Service's ClusterIP.
    pub fn first_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let v = u32::from(ip);
        v > self.base && v < self.base + self.size() - 1
    }

    fn random_ip(&self, cache: &WatchCache, avoid: &BTreeSet<String>) -> Option<Ipv4Addr> {
        let mut rng = rand::rng();
        // Offsets from 2: the first address is kept for the `kubernetes` Service.
        for _ in 0..256 {
            let ip = Ipv4Addr::from(self.base + rng.random_range(2..self.size() - 1));
            if !avoid.contains(&ip_key(ip)) && cache.get(&ip_key(ip)).is_none() {
                return Some(ip);
            }
        }
        None
    }

    fn random_port(&self, cache: &WatchCache, taken: &BTreeSet<u16>, avoid: &BTreeSet<String>) -> Option<u16> {
        let free = |p: u16| !taken.contains(&p) && !avoid.contains(&port_key(p)) && cache.get(&port_key(p)).is_none();
        let mut rng = rand::rng();
        for _ in 0..256 {
            let p = rng.random_range(self.node_ports.0..=self.node_ports.1);
            if free(p) {
                return Some(p);
            }
        }
        (self.node_ports.0..=self.node_ports.1).find(|p| free(*p))
    }
}

/// What a Service holds: its ClusterIP (if allocated) and node ports.
#[derive(Debug, Default, PartialEq)]
pub struct Held {
    pub ip: Option<Ipv4Addr>,
    pub ports: BTreeSet<u16>,
}

pub fn held(svc: &Value) -> Held {
    let ip = svc.pointer("/spec/clusterIP").and_then(|x| x.as_str()).and_then(|s| s.parse().ok());
    let ports = svc
        .pointer("/spec/ports")
        .and_then(|p| p.as_array())
        .map(|ps| ps.iter().filter_map(|p| p.get("nodePort").and_then(|n| n.as_u64())).map(|n| n as u16).collect())
        .unwrap_or_default();
    Held { ip, ports }
}

fn wants_node_ports(svc: &Value) -> bool {
    match svc.pointer("/spec/type").and_then(|t| t.as_str()) {
        Some("NodePort") => true,
        Some("LoadBalancer") => svc.pointer("/spec/allocateLoadBalancerNodePorts").and_then(|b| b.as_bool()) != Some(false),
        _ => false,
    }
}

/// Which requested values must be fresh (rejected if taken) and which were
/// picked at random (retried if taken).
#[derive(Debug, Default)]
pub struct Allocation {
    pub side: Vec<SideOp>,
    /// Keys of values picked at random: taken meanwhile means pick again.
    pub random: Vec<String>,
}

/// Assigns the ClusterIP and node ports of `svc` (create when `old` is None)
/// and returns the side writes that record them. Random picks skip `avoid`:
/// keys found taken by earlier attempts that the cache may not show yet.
pub fn allocate(
    ranges: &ServiceRanges,
    cache: &WatchCache,
    info: &ResourceInfo,
    svc: &mut Value,
    old: Option<&Value>,
    avoid: &BTreeSet<String>,
) -> Result<Allocation, StatusError> {
    let name = svc.pointer("/metadata/name").and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let ns = svc.pointer("/metadata/namespace").and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let record = |ip: Ipv4Addr| {
        serde_json::to_vec(&json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "IPAddress", "metadata": {"name": ip.to_string()},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": ns, "name": name}}
        }))
        .expect("serializes")
    };
    let before = old.map(held).unwrap_or_default();
    let mut out = Allocation::default();
    let ty = svc.pointer("/spec/type").and_then(|t| t.as_str()).unwrap_or("ClusterIP").to_string();

    // ClusterIP: only on create; updates keep it (validation forbids changes).
    if old.is_none() && ty != "ExternalName" {
        let requested = svc.pointer("/spec/clusterIP").and_then(|x| x.as_str()).unwrap_or("").to_string();
        let ip = match requested.as_str() {
            "None" => None,
            "" => {
                let ip = ranges.random_ip(cache, avoid).ok_or_else(|| {
                    StatusError::new(api::Reason::InternalError, "Internal error occurred: failed to allocate a serviceIP: range is full")
                })?;
                out.random.push(ip_key(ip));
                Some(ip)
            }
            s => {
                let bad = |detail: String| invalid(info, &name, vec![FieldError::invalid_raw(&Path::new("spec").child("clusterIPs"), format!("[]string{{{s:?}}}"), &detail)]);
                let ip: Ipv4Addr = s.parse().map_err(|_| bad(format!("failed to allocate IP {s}: must be a valid IP address")))?;
                if !ranges.contains(ip) {
                    return Err(bad(format!(
                        "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                        ranges.cidr_text
                    )));
                }
                Some(ip)
            }
        };
        if let Some(ip) = ip {
            svc["spec"]["clusterIP"] = ip.to_string().into();
            svc["spec"]["clusterIPs"] = json!([ip.to_string()]);
            out.side.push(SideOp::Create { key: ip_key(ip), value: record(ip) });
        } else {
            svc["spec"]["clusterIPs"] = json!(["None"]);
        }
    }

    // Node ports.
    let want_ports = wants_node_ports(svc);
    let mut now_held = BTreeSet::new();
    if let Some(ports) = svc.pointer_mut("/spec/ports").and_then(|p| p.as_array_mut()) {
        for (i, p) in ports.iter_mut().enumerate() {
            if !want_ports {
                if let Some(o) = p.as_object_mut() {
                    o.remove("nodePort");
                }
                continue;
            }
            match p.get("nodePort").and_then(|n| n.as_i64()) {
                Some(n) if n != 0 => {
                    let path = Path::new("spec").child("ports").index(i).child("nodePort");
                    if n < ranges.node_ports.0 as i64 || n > ranges.node_ports.1 as i64 {
                        return Err(invalid(info, &name, vec![FieldError::invalid_raw(&path, n, &format!(
                            "provided port is not in the valid range. The range of valid ports is {}-{}",
                            ranges.node_ports.0, ranges.node_ports.1
                        ))]));
                    }
                    let n = n as u16;
                    if !before.ports.contains(&n) && !now_held.contains(&n) {
                        out.side.push(SideOp::Create { key: port_key(n), value: Vec::new() });
                    }
                    now_held.insert(n);
                }
                _ => {
                    let n = ranges.random_port(cache, &now_held.union(&before.ports).copied().collect(), avoid).ok_or_else(|| {
                        StatusError::new(api::Reason::InternalError, "Internal error occurred: failed to allocate a nodePort: range is full")
                    })?;
                    p["nodePort"] = n.into();
                    out.random.push(port_key(n));
                    out.side.push(SideOp::Create { key: port_key(n), value: Vec::new() });
                    now_held.insert(n);
                }
            }
        }
    }
    for gone in before.ports.difference(&now_held) {
        out.side.push(SideOp::Delete { key: port_key(*gone) });
    }
    Ok(out)
}

/// The side deletes that free what a deleted Service held.
pub fn release(svc: &Value) -> Vec<SideOp> {
    let h = held(svc);
    h.ip.map(|ip| SideOp::Delete { key: ip_key(ip) })
        .into_iter()
        .chain(h.ports.into_iter().map(|p| SideOp::Delete { key: port_key(p) }))
        .collect()
}

/// The Invalid error for a requested value found taken at write time.
pub fn taken(info: &ResourceInfo, svc: &Value, key: &str) -> StatusError {
    let name = svc.pointer("/metadata/name").and_then(|x| x.as_str()).unwrap_or_default();
    if let Some(ip) = key.strip_prefix("/registry/ipaddresses/") {
        return invalid(info, name, vec![FieldError::invalid_raw(
            &Path::new("spec").child("clusterIPs"),
            format!("[]string{{{ip:?}}}"),
            &format!("failed to allocate IP {ip}: provided IP is already allocated"),
        )]);
    }
    let port: i64 = key.rsplit('/').next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let idx = svc
        .pointer("/spec/ports")
        .and_then(|p| p.as_array())
        .and_then(|ps| ps.iter().position(|p| p.get("nodePort").and_then(|n| n.as_i64()) == Some(port)))
        .unwrap_or(0);
    invalid(info, name, vec![FieldError::invalid_raw(
        &Path::new("spec").child("ports").index(idx).child("nodePort"),
        port,
        "provided port is already allocated",
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = ServiceRanges::parse("10.96.0.0/12", "30000-32767").unwrap();
        assert_eq!(r.first_ip(), Ipv4Addr::new(10, 96, 0, 1));
        assert!(r.contains(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!r.contains(Ipv4Addr::new(10, 112, 0, 1)));
        assert!(!r.contains(Ipv4Addr::new(10, 96, 0, 0)));
        assert!(ServiceRanges::parse("10.96.0.0", "1-2").is_err());
    }
}
