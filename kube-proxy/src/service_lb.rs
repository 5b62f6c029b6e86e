//! A built-in service load balancer (as k3s' ServiceLB, or MetalLB's
//! allocator): Services of `type: LoadBalancer` without a
//! `loadBalancerClass` get an address from `--load-balancer-ip-range`,
//! written to `status.loadBalancer.ingress`; every node's kube-proxy then
//! captures that address in KUBE-SERVICES, so it answers on every node.
//!
//! Upstream leaves this to a cloud controller. It lives here, not in the
//! controller-manager, because it is only useful together with the proxier
//! that answers the address; it runs in every kube-proxy behind a Lease
//! (`kube-system/kube-proxy-service-lb`), so one replica allocates.
//! Addresses are not announced (no ARP/NDP): the cluster network routes the
//! range to the nodes.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use client::informer::{Informer, InformerConfig};
use client::leader_election::{LeaderElectionConfig, LeaderElector, LeadershipEnd};
use client::store::Store;
use client::{Api, CancellationToken, Client, Patch, PostParams};
use k8s_openapi::api::core::v1::Service;

/// An inclusive IPv4 range: `10.0.0.0/24` or `10.0.0.10-10.0.0.20`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    first: u32,
    last: u32,
}

impl FromStr for IpRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = |why: &str| format!("invalid --load-balancer-ip-range {s:?}: {why}");
        if let Some((a, b)) = s.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| bad("start is not an IPv4 address"))?;
            let b: Ipv4Addr = b.trim().parse().map_err(|_| bad("end is not an IPv4 address"))?;
            if u32::from(a) > u32::from(b) {
                return Err(bad("start is after end"));
            }
            return Ok(IpRange { first: a.into(), last: b.into() });
        }
        let cidr: api::cidr::Ipv4Cidr = s.parse().map_err(|e: api::cidr::CidrError| bad(&e.0))?;
        let first = u32::from(cidr.network());
        let size = cidr.size();
        // Skip the network and broadcast addresses of ranges that have them.
        let (first, last) = if size > 2 { (first + 1, first + (size - 2) as u32) } else { (first, first + (size - 1) as u32) };
        Ok(IpRange { first, last })
    }
}

impl IpRange {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&u32::from(ip))
    }
    fn iter(&self) -> impl Iterator<Item = Ipv4Addr> {
        (self.first..=self.last).map(Ipv4Addr::from)
    }
}

fn is_ours(svc: &Service) -> bool {
    svc.spec.as_ref().is_some_and(|s| s.type_.as_deref() == Some("LoadBalancer") && s.load_balancer_class.is_none())
}

fn ingress_ips(svc: &Service) -> Vec<Ipv4Addr> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect()
}

/// What to write: (namespace, name, Some(ip) to assign or None to clear).
fn plan(services: &[std::sync::Arc<Service>], range: &IpRange, assigned: &HashMap<String, Ipv4Addr>) -> Vec<(String, String, Option<Ipv4Addr>)> {
    let mut used: BTreeSet<Ipv4Addr> = assigned.values().copied().collect();
    for s in services {
        used.extend(ingress_ips(s).into_iter().filter(|ip| range.contains(*ip)));
    }
    let mut out = Vec::new();
    let mut sorted: Vec<_> = services.iter().collect();
    // Oldest first, so a contested spec.loadBalancerIP goes to the first asker.
    sorted.sort_by(|a, b| (&a.metadata.creation_timestamp, &a.metadata.name).cmp(&(&b.metadata.creation_timestamp, &b.metadata.name)));
    for s in sorted {
        let (ns, name) = (s.metadata.namespace.clone().unwrap_or_default(), s.metadata.name.clone().unwrap_or_default());
        let key = format!("{ns}/{name}");
        let have: Vec<_> = ingress_ips(s).into_iter().filter(|ip| range.contains(*ip)).collect();
        if is_ours(s) {
            if !have.is_empty() || assigned.contains_key(&key) {
                continue;
            }
            let wanted = s.spec.as_ref().and_then(|sp| sp.load_balancer_ip.as_deref()).and_then(|ip| ip.parse::<Ipv4Addr>().ok());
            let ip = match wanted {
                Some(ip) if range.contains(ip) && !used.contains(&ip) => Some(ip),
                Some(ip) => {
                    tracing::warn!(service = %key, %ip, "spec.loadBalancerIP is outside --load-balancer-ip-range or taken; not allocating");
                    None
                }
                None => range.iter().find(|ip| !used.contains(ip)),
            };
            match ip {
                Some(ip) => {
                    used.insert(ip);
                    out.push((ns, name, Some(ip)));
                }
                None if wanted.is_none() => tracing::warn!(service = %key, "--load-balancer-ip-range is exhausted"),
                None => {}
            }
        } else if !have.is_empty() {
            out.push((ns, name, None));
        }
    }
    out
}

async fn allocate(client: Client, range: IpRange, stop: CancellationToken) {
    let informer = Informer::new(Api::<Service>::all(client.clone()), InformerConfig::default());
    let store: Store<Service> = informer.store();
    let mut events = informer.subscribe();
    let task = informer.spawn();
    // Addresses written but maybe not yet seen by the informer.
    let mut assigned: HashMap<String, Ipv4Addr> = HashMap::new();
    tokio::select! { _ = stop.cancelled() => { task.abort(); return; } _ = store.wait_synced() => {} }
    loop {
        // Forget what the cache now shows (or what was deleted).
        assigned.retain(|k, ip| {
            let (ns, name) = client::store::split_key(k);
            store.get(ns, name).is_some_and(|s| !ingress_ips(&s).contains(ip) && is_ours(&s))
        });
        let mut retry = false;
        for (ns, name, ip) in plan(&store.list(), &range, &assigned) {
            let api: Api<Service> = Api::namespaced(client.clone(), &ns);
            let body = match ip {
                Some(ip) => serde_json::json!({"status": {"loadBalancer": {"ingress": [{"ip": ip.to_string(), "ipMode": "VIP"}]}}}),
                None => serde_json::json!({"status": {"loadBalancer": {"ingress": null}}}),
            };
            match api.patch_status(&name, &PostParams::default(), &Patch::Merge(body)).await {
                Ok(_) => {
                    tracing::info!(service = %format!("{ns}/{name}"), ip = ?ip, "load balancer address");
                    if let Some(ip) = ip {
                        assigned.insert(format!("{ns}/{name}"), ip);
                    }
                }
                Err(e) => {
                    tracing::warn!(service = %format!("{ns}/{name}"), error = %e, "writing status.loadBalancer");
                    retry = true;
                }
            }
        }
        let wait = if retry { Duration::from_secs(1) } else { Duration::from_secs(3600) };
        tokio::select! {
            _ = stop.cancelled() => break,
            ev = events.recv() => if ev.is_none() { break },
            _ = tokio::time::sleep(wait) => {}
        }
        while events.try_recv().is_ok() {}
    }
    task.abort();
}

/// Allocates load-balancer addresses while this kube-proxy holds the lease.
pub async fn run(client: Client, range: IpRange, identity: String, shutdown: CancellationToken) {
    loop {
        let cfg = LeaderElectionConfig::new("kube-system", "kube-proxy-service-lb", &identity);
        let c = client.clone();
        let end = LeaderElector::new(client.clone(), cfg).run(shutdown.clone(), move |stop| allocate(c, range, stop)).await;
        if end == LeadershipEnd::Shutdown || shutdown.is_cancelled() {
            return;
        }
        // Lost (or the loop ended): stand for election again.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        let r: IpRange = "10.0.0.0/30".parse().unwrap();
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]);
        let r: IpRange = "192.168.1.10-192.168.1.12".parse().unwrap();
        assert_eq!(r.iter().count(), 3);
        assert!("192.168.1.12-192.168.1.10".parse::<IpRange>().unwrap_err().contains("start is after end"));
        assert!("nope".parse::<IpRange>().is_err());
    }
}
