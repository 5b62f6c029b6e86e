//! The node's pod bridge and each pod's veth pair (upstream's CNI bridge
//! plugin): `cni0` holds the podCIDR's first address as the pods' gateway;
//! a pod's host-side veth (`veth` + 8 hex characters) is a port of it, its
//! other end is the pod's `eth0`.

use std::net::Ipv4Addr;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::netlink::{in_netns, NetError, Netlink};

pub const BRIDGE: &str = "cni0";
pub const POD_IF: &str = "eth0";

/// Create (or adopt) the bridge with the gateway address, up; turn on
/// forwarding in this (the node's) namespace. Returns its index.
pub async fn ensure_bridge(nl: &Netlink, gateway: Ipv4Addr, prefix: u8) -> Result<u32, NetError> {
    let idx = match nl.link_index(BRIDGE).await? {
        Some(i) => i,
        None => {
            nl.add_bridge(BRIDGE).await?;
            nl.link_index(BRIDGE).await?.ok_or_else(|| NetError::Other(format!("bridge {BRIDGE} vanished after creation")))?
        }
    };
    nl.ensure_address(idx, gateway, prefix).await?;
    nl.set_up(idx).await?;
    // /proc/sys/net is the namespace of the writing thread: the node's.
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(|e| NetError::Other(format!("enabling ip_forward: {e}")))?;
    Ok(idx)
}

/// The host-side veth of a pod: stable per pod UID, so a restarted kubelet
/// and a teardown after a crash find it.
pub fn veth_name(uid: &str) -> String {
    let h = Sha256::digest(uid.as_bytes());
    format!("veth{}", hex::encode(&h[..4]))
}

/// Is the pod's eth0 in `netns` configured with `ip`?
async fn pod_side_ok(netns: &Path, ip: Ipv4Addr, prefix: u8) -> bool {
    in_netns(netns.to_path_buf(), move |nl| async move {
        let Some(i) = nl.link_index(POD_IF).await? else { return Ok(false) };
        Ok(nl.addresses(i).await?.contains(&(ip, prefix)) && nl.is_up(i).await?)
    })
    .await
    .unwrap_or(false)
}

/// Wire the pod's namespace to the bridge with `ip`: idempotent, so a
/// restarted kubelet adopts what it set up before.
pub async fn attach(nl: &Netlink, bridge: u32, uid: &str, netns: &Path, ip: Ipv4Addr, prefix: u8, gateway: Ipv4Addr) -> Result<(), NetError> {
    let host = veth_name(uid);
    if let Some(idx) = nl.link_index(&host).await? {
        if pod_side_ok(netns, ip, prefix).await {
            nl.set_controller(idx, bridge).await?;
            nl.set_up(idx).await?;
            return Ok(());
        }
        // Half made, or the other end is in a namespace that is gone: redo.
        nl.del_link(idx).await?;
    }
    let peer = format!("tmp{}", &host[4..]);
    if let Some(stale) = nl.link_index(&peer).await? {
        nl.del_link(stale).await?;
    }
    nl.add_veth(&host, &peer).await?;
    let made = async {
        let peer_idx = nl.link_index(&peer).await?.ok_or_else(|| NetError::Other(format!("veth peer {peer} missing")))?;
        nl.move_to(peer_idx, netns).await?;
        let host_idx = nl.link_index(&host).await?.ok_or_else(|| NetError::Other(format!("veth {host} missing")))?;
        nl.set_controller(host_idx, bridge).await?;
        nl.set_up(host_idx).await?;
        in_netns(netns.to_path_buf(), move |pnl| async move {
            let i = pnl.link_index(&peer).await?.ok_or_else(|| NetError::Other(format!("veth peer {peer} not in the pod's namespace")))?;
            pnl.rename(i, POD_IF).await?;
            pnl.ensure_address(i, ip, prefix).await?;
            pnl.set_up(i).await?;
            if let Some(lo) = pnl.link_index("lo").await? {
                pnl.set_up(lo).await?;
            }
            pnl.replace_default_route(gateway).await?;
            Ok(())
        })
        .await
    };
    if let Err(e) = made.await {
        if let Ok(Some(i)) = nl.link_index(&host).await {
            let _ = nl.del_link(i).await;
        }
        return Err(e);
    }
    Ok(())
}

/// Remove the pod's veth pair, if it is still there.
pub async fn detach(nl: &Netlink, uid: &str) -> Result<(), NetError> {
    if let Some(i) = nl.link_index(&veth_name(uid)).await? {
        match nl.del_link(i).await {
            Ok(()) => {}
            // Gone meanwhile (its namespace went away).
            Err(NetError::Netlink(rtnetlink::Error::NetlinkError(e))) if e.raw_code() == -libc::ENODEV => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
