//! host-gw routing: a route to every other node's podCIDR via that node's
//! InternalIP, kept equal to what the Node objects say.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use api::cidr::Ipv4Cidr;
use k8s_openapi::api::core::v1::Node;

use super::netlink::{NetError, Netlink};

/// podCIDR -> InternalIP of every node but `me` that has both.
pub fn desired<'a>(nodes: impl IntoIterator<Item = &'a Node>, me: &str) -> BTreeMap<Ipv4Cidr, Ipv4Addr> {
    let mut out = BTreeMap::new();
    for n in nodes {
        if n.metadata.name.as_deref() == Some(me) {
            continue;
        }
        let Some(cidr) = n.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()).and_then(|c| c.parse::<Ipv4Cidr>().ok()) else { continue };
        let ip = n
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .and_then(|a| a.address.parse::<Ipv4Addr>().ok());
        if let Some(ip) = ip {
            out.insert(cidr, ip);
        }
    }
    out
}

/// Make our routes (those with our protocol mark) exactly `want`.
pub async fn sync(nl: &Netlink, want: &BTreeMap<Ipv4Cidr, Ipv4Addr>) -> Result<(), NetError> {
    let have = nl.own_routes().await?;
    for (dst, gw, msg) in have.iter().cloned() {
        if want.get(&dst) != gw.as_ref() {
            nl.del_route(msg).await?;
        }
    }
    for (dst, gw) in want {
        if !have.iter().any(|(d, g, _)| d == dst && g.as_ref() == Some(gw)) {
            nl.replace_route(*dst, *gw).await?;
            tracing::info!(%dst, via = %gw, "route to a node's pod CIDR");
        }
    }
    Ok(())
}
