//! upstream's endpoints.RepackSubsets: (address, port) pairs grouped into
//! subsets whose addresses share one port set, in a stable order so that an
//! unchanged set of pods writes nothing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset};

/// One address served on one port (None: a headless Service without ports).
pub struct Entry {
    pub address: EndpointAddress,
    pub ready: bool,
    pub port: Option<EndpointPort>,
}

type PortKey = (String, i32, String);

fn port_key(p: &EndpointPort) -> PortKey {
    (p.name.clone().unwrap_or_default(), p.port, p.protocol.clone().unwrap_or_default())
}

/// The subsets, and whether addresses were dropped to stay within `max`
/// addresses (ready ones are kept first).
pub fn repack(entries: Vec<Entry>, max: usize) -> (Vec<EndpointSubset>, bool) {
    // port -> ip -> (address, ready)
    let mut by_port: BTreeMap<Option<PortKey>, (Option<EndpointPort>, BTreeMap<String, (EndpointAddress, bool)>)> = BTreeMap::new();
    for e in entries {
        let slot = by_port.entry(e.port.as_ref().map(port_key)).or_insert_with(|| (e.port.clone(), BTreeMap::new()));
        slot.1.insert(e.address.ip.clone(), (e.address, e.ready));
    }
    // Ports with identical address sets share a subset.
    let mut groups: Vec<(Vec<EndpointPort>, BTreeMap<String, (EndpointAddress, bool)>)> = Vec::new();
    for (_, (port, addrs)) in by_port {
        match groups.iter_mut().find(|(_, a)| same_addresses(a, &addrs)) {
            Some(g) => g.0.extend(port),
            None => groups.push((port.into_iter().collect(), addrs)),
        }
    }
    let mut budget = max;
    let total: usize = groups.iter().map(|(_, a)| a.len()).sum();
    let truncated = total > max;
    let mut subsets: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(mut ports, addrs)| {
            ports.sort_by_key(port_key);
            let ready: Vec<_> = addrs.values().filter(|(_, r)| *r).map(|(a, _)| a.clone()).collect();
            let not_ready: Vec<_> = addrs.values().filter(|(_, r)| !*r).map(|(a, _)| a.clone()).collect();
            (ports, ready, not_ready)
        })
        .collect::<Vec<_>>()
        .into_iter()
        // Ready addresses get the budget first.
        .map(|(ports, mut ready, not_ready)| {
            ready.truncate(budget);
            budget -= ready.len();
            (ports, ready, not_ready)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(ports, ready, mut not_ready)| {
            not_ready.truncate(budget);
            budget -= not_ready.len();
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .filter(|s| s.addresses.is_some() || s.not_ready_addresses.is_some())
        .collect();
    subsets.sort_by_key(|s| s.ports.iter().flatten().map(port_key).collect::<Vec<_>>());
    (subsets, truncated)
}

fn same_addresses(a: &BTreeMap<String, (EndpointAddress, bool)>, b: &BTreeMap<String, (EndpointAddress, bool)>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, (aa, ra)), (kb, (ab, rb)))| ka == kb && ra == rb && aa == ab)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(ip: &str, ready: bool, port: Option<(&str, i32)>) -> Entry {
        Entry {
            address: EndpointAddress { ip: ip.into(), ..Default::default() },
            ready,
            port: port.map(|(n, p)| EndpointPort { name: Some(n.into()), port: p, protocol: Some("TCP".into()), ..Default::default() }),
        }
    }

    #[test]
    fn ports_with_the_same_addresses_share_a_subset() {
        let (s, truncated) = repack(vec![e("10.0.0.2", true, Some(("http", 80))), e("10.0.0.2", true, Some(("https", 443))), e("10.0.0.1", false, Some(("http", 80))), e("10.0.0.1", false, Some(("https", 443)))], 1000);
        assert!(!truncated);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].addresses.as_ref().unwrap()[0].ip, "10.0.0.2");
        assert_eq!(s[0].not_ready_addresses.as_ref().unwrap()[0].ip, "10.0.0.1");
        assert_eq!(s[0].ports.as_ref().unwrap().len(), 2);
        // A pod resolving only one of the ports gets a subset of its own.
        let (s, _) = repack(vec![e("10.0.0.1", true, Some(("http", 80))), e("10.0.0.2", true, Some(("http", 8080)))], 1000);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn over_capacity_keeps_ready_addresses_first() {
        let mut v: Vec<_> = (0..5).map(|i| e(&format!("10.0.1.{i}"), false, Some(("http", 80)))).collect();
        v.extend((0..5).map(|i| e(&format!("10.0.0.{i}"), true, Some(("http", 80)))));
        let (s, truncated) = repack(v, 7);
        assert!(truncated);
        assert_eq!(s[0].addresses.as_ref().unwrap().len(), 5);
        assert_eq!(s[0].not_ready_addresses.as_ref().unwrap().len(), 2);
    }
}
