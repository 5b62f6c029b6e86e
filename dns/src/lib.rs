//! ferrokube's cluster DNS (DESIGN.md decision 9; the binary `kube-dns`):
//! the Kubernetes DNS specification's names answered from informer caches
//! on hickory-server, other names forwarded to the node's resolvers.
//!
//! - [`records`]: the names one Service stands for (pure).
//! - [`zone`]: every Service's names as wire records, looked up per query.
//! - [`feed`]: Service and EndpointSlice informers keeping the zone current.
//! - [`forward`]: the upstream forwarder and its cache.
//! - [`handler`]: the hickory-server request handler tying them together.

pub mod feed;
pub mod forward;
pub mod handler;
pub mod metrics;
pub mod records;
pub mod zone;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};

/// A DNS server answering on UDP and TCP at one address until its token is cancelled.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (UDP and TCP; port 0 picks one, the same for both) and serves `handler`.
    pub async fn serve(addr: SocketAddr, handler: handler::Handler, shutdown: client::CancellationToken) -> std::io::Result<Server> {
        let (udp, tcp) = bind_pair(addr).await?;
        let addr = udp.local_addr()?;
        let mut server = hickory_server::Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 64);
        let task = tokio::spawn(async move {
            shutdown.cancelled().await;
            if let Err(e) = server.shutdown_gracefully().await {
                tracing::warn!(error = %e, "dns server stopped with an error");
            }
        });
        Ok(Server { addr, task })
    }

    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// A UDP socket and a TCP listener on the same address (with port 0, a port both can have).
async fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    if addr.port() != 0 {
        return Ok((UdpSocket::bind(addr).await?, TcpListener::bind(addr).await?));
    }
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}

pub use handler::Handler;
pub use zone::Zone;

