//! rtnetlink calls the pod network needs. A netlink socket belongs to the
//! network namespace it was created in (DESIGN, measured facts): a
//! [`Netlink`] made by [`Netlink::connect`] talks to the kubelet's own
//! namespace (the node's); [`in_netns`] gives one for another namespace,
//! created on a thread that has `setns`'d into it.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use api::cidr::Ipv4Cidr;
use futures::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("netlink: {0}")]
    Netlink(#[from] rtnetlink::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// A handle on one namespace's rtnetlink socket.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

/// Routes the kubelet installs carry this protocol number, so it can tell
/// its own from the kernel's and an admin's (upstream CNI plugins use "boot";
/// a distinct value makes stale-route cleanup safe). 0x46 = 'F'.
pub const ROUTE_PROTO: u8 = 0x46;

impl Netlink {
    /// A socket in the calling thread's current network namespace; its
    /// connection task runs on the current tokio runtime.
    pub fn connect() -> Result<Netlink, NetError> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn link_index(&self, name: &str) -> Result<Option<u32>, NetError> {
        let mut s = self.handle.link().get().match_name(name.to_string()).execute();
        match s.try_next().await {
            Ok(Some(m)) => Ok(Some(m.header.index)),
            Ok(None) => Ok(None),
            // ENODEV: no such link.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Names of every link whose name starts with `prefix`, with their index.
    pub async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u32)>, NetError> {
        let mut out = Vec::new();
        let mut s = self.handle.link().get().execute();
        while let Some(m) = s.try_next().await? {
            for a in &m.attributes {
                if let LinkAttribute::IfName(n) = a {
                    if n.starts_with(prefix) {
                        out.push((n.clone(), m.header.index));
                    }
                }
            }
        }
        Ok(out)
    }

    pub async fn add_bridge(&self, name: &str) -> Result<(), NetError> {
        self.handle.link().add(LinkBridge::new(name).up().build()).execute().await?;
        Ok(())
    }

    /// A veth pair `name` <-> `peer`, both in this namespace.
    pub async fn add_veth(&self, name: &str, peer: &str) -> Result<(), NetError> {
        self.handle.link().add(LinkVeth::new(name, peer).build()).execute().await?;
        Ok(())
    }

    pub async fn set_up(&self, index: u32) -> Result<(), NetError> {
        self.handle.link().set(LinkUnspec::new_with_index(index).up().build()).execute().await?;
        Ok(())
    }

    pub async fn is_up(&self, index: u32) -> Result<bool, NetError> {
        let mut s = self.handle.link().get().match_index(index).execute();
        Ok(s.try_next().await?.is_some_and(|m| m.header.flags.contains(LinkFlags::Up)))
    }

    /// Make `index` a port of the bridge `bridge`.
    pub async fn set_controller(&self, index: u32, bridge: u32) -> Result<(), NetError> {
        self.handle.link().set(LinkUnspec::new_with_index(index).controller(bridge).build()).execute().await?;
        Ok(())
    }

    pub async fn rename(&self, index: u32, name: &str) -> Result<(), NetError> {
        self.handle.link().set(LinkUnspec::new_with_index(index).name(name.to_string()).build()).execute().await?;
        Ok(())
    }

    /// Move a link into the namespace `netns` (a path such as /proc/<pid>/ns/net).
    pub async fn move_to(&self, index: u32, netns: &std::path::Path) -> Result<(), NetError> {
        let f = std::fs::File::open(netns)?;
        self.handle.link().set(LinkUnspec::new_with_index(index).setns_by_fd(f.as_raw_fd()).build()).execute().await?;
        Ok(())
    }

    pub async fn del_link(&self, index: u32) -> Result<(), NetError> {
        self.handle.link().del(index).execute().await?;
        Ok(())
    }

    /// The IPv4 addresses (with prefix length) of a link.
    pub async fn addresses(&self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>, NetError> {
        let mut out = Vec::new();
        let mut s = self.handle.address().get().set_link_index_filter(index).execute();
        while let Some(m) = s.try_next().await? {
            for a in &m.attributes {
                if let AddressAttribute::Address(IpAddr::V4(ip)) = a {
                    out.push((*ip, m.header.prefix_len));
                }
            }
        }
        Ok(out)
    }

    /// Add the address unless the link has it already.
    pub async fn ensure_address(&self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<(), NetError> {
        if self.addresses(index).await?.contains(&(ip, prefix)) {
            return Ok(());
        }
        self.handle.address().add(index, IpAddr::V4(ip), prefix).replace().execute().await?;
        Ok(())
    }

    /// `ip route replace default via <gw>`.
    pub async fn replace_default_route(&self, gw: Ipv4Addr) -> Result<(), NetError> {
        let r = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).build();
        self.handle.route().add(r).replace().execute().await?;
        Ok(())
    }

    /// `ip route replace <dst> via <gw> proto ROUTE_PROTO`.
    pub async fn replace_route(&self, dst: Ipv4Cidr, gw: Ipv4Addr) -> Result<(), NetError> {
        let r = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(dst.network(), dst.prefix())
            .gateway(gw)
            .protocol(RouteProtocol::Other(ROUTE_PROTO))
            .build();
        self.handle.route().add(r).replace().execute().await?;
        Ok(())
    }

    /// The main table's IPv4 routes that carry [`ROUTE_PROTO`]: (destination, gateway).
    pub async fn own_routes(&self) -> Result<Vec<(Ipv4Cidr, Option<Ipv4Addr>, RouteMessage)>, NetError> {
        let filter = RouteMessageBuilder::<Ipv4Addr>::new().build();
        let mut s = self.handle.route().get(filter).execute();
        let mut out = Vec::new();
        while let Some(m) = s.try_next().await? {
            if m.header.address_family != AddressFamily::Inet || m.header.protocol != RouteProtocol::Other(ROUTE_PROTO) {
                continue;
            }
            let mut dst = Ipv4Addr::UNSPECIFIED;
            let mut gw = None;
            for a in &m.attributes {
                match a {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = *ip,
                    RouteAttribute::Gateway(RouteAddress::Inet(ip)) => gw = Some(*ip),
                    _ => {}
                }
            }
            if let Ok(c) = Ipv4Cidr::new(dst, m.header.destination_prefix_length) {
                out.push((c, gw, m));
            }
        }
        Ok(out)
    }

    pub async fn del_route(&self, m: RouteMessage) -> Result<(), NetError> {
        self.handle.route().del(m).execute().await?;
        Ok(())
    }
}

/// Runs `f` with a [`Netlink`] of the namespace at `netns`, on a thread of
/// its own that joined that namespace (the kubelet's threads stay where they are).
pub async fn in_netns<T, F, Fut>(netns: PathBuf, f: F) -> Result<T, NetError>
where
    T: Send + 'static,
    F: FnOnce(Netlink) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, NetError>> + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("netns".into()).spawn(move || {
        let run = || -> Result<T, NetError> {
            let ns = std::fs::File::open(&netns).map_err(|e| NetError::Other(format!("opening {}: {e}", netns.display())))?;
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(NetError::Other(format!("setns {}: {}", netns.display(), std::io::Error::last_os_error())));
            }
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async move { f(Netlink::connect()?).await })
        };
        let _ = tx.send(run());
    })?;
    rx.await.map_err(|_| NetError::Other("netns thread panicked".into()))?
}
