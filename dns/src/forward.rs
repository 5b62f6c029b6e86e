//! Names outside the cluster zone go to the node's resolvers (CoreDNS'
//! `forward . /etc/resolv.conf` with `cache 30`): tried in order over UDP,
//! answers (and NXDOMAINs) cached for their TTL, at most 30 s.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RecordType, DNSClass};
use parking_lot::Mutex;
use tokio::net::UdpSocket;

/// Longest time an answer is served from the cache.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(30);
/// Entries kept at most (oldest dropped first when full).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream resolver answered {0}")]
    NoAnswer(String),
}

pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    cache: Mutex<HashMap<(String, RecordType, DNSClass), (Instant, Arc<Message>)>>,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration) -> Self {
        Forwarder { upstreams, timeout, cache: Mutex::new(HashMap::new()) }
    }

    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// The upstream answer to `query` (from the cache while fresh), and whether it was cached.
    pub async fn resolve(&self, query: &Query) -> Result<(Arc<Message>, bool), ForwardError> {
        let key = (query.name().to_ascii().to_ascii_lowercase(), query.query_type(), query.query_class());
        if let Some((expires, msg)) = self.cache.lock().get(&key) {
            if *expires > Instant::now() {
                return Ok((msg.clone(), true));
            }
        }
        for up in &self.upstreams {
            match self.ask(*up, query).await {
                Ok(msg) => {
                    let msg = Arc::new(msg);
                    if let Some(ttl) = cache_ttl(&msg) {
                        let mut cache = self.cache.lock();
                        if cache.len() >= MAX_ENTRIES {
                            let now = Instant::now();
                            cache.retain(|_, (e, _)| *e > now);
                            if cache.len() >= MAX_ENTRIES {
                                cache.clear();
                            }
                        }
                        cache.insert(key, (Instant::now() + ttl, msg.clone()));
                    }
                    return Ok((msg, false));
                }
                Err(e) => tracing::debug!(upstream = %up, error = %e, "upstream failed"),
            }
        }
        Err(ForwardError::NoAnswer(query.name().to_string()))
    }

    async fn ask(&self, upstream: SocketAddr, query: &Query) -> std::io::Result<Message> {
        let bind: SocketAddr = if upstream.is_ipv4() { "0.0.0.0:0".parse().unwrap() } else { "[::]:0".parse().unwrap() };
        let sock = UdpSocket::bind(bind).await?;
        sock.connect(upstream).await?;
        let mut msg = Message::new(rand_id(), MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = true;
        msg.add_query(query.clone());
        let bytes = msg.to_vec().map_err(std::io::Error::other)?;
        sock.send(&bytes).await?;
        let mut buf = vec![0u8; 4096];
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await.map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))??;
            let Ok(resp) = Message::from_vec(&buf[..n]) else { continue };
            if resp.metadata.id != msg.metadata.id {
                continue;
            }
            // A server failure is not an answer worth keeping: try the next resolver.
            if resp.metadata.response_code == ResponseCode::ServFail || resp.metadata.response_code == ResponseCode::Refused {
                return Err(std::io::Error::other(format!("upstream answered {}", resp.metadata.response_code)));
            }
            return Ok(resp);
        }
    }
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Unpredictable enough for a resolver on loopback/node networks: time-seeded counter.
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos() as u16;
    NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(40503) ^ t
}

/// How long an upstream answer may be cached: its smallest TTL (the SOA
/// minimum for negative answers), at most [`MAX_CACHE_TTL`].
fn cache_ttl(msg: &Message) -> Option<Duration> {
    let ttls = msg.answers.iter().chain(&msg.authorities).map(|r| r.ttl);
    let min = ttls.min()?;
    Some(Duration::from_secs(u64::from(min)).min(MAX_CACHE_TTL)).filter(|d| !d.is_zero())
}

/// The nameservers of a resolv.conf, as port-53 socket addresses.
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "nameserver").then(|| w.next()).flatten()
        })
        // A scoped IPv6 address (fe80::1%eth0) drops its zone here.
        .filter_map(|a| a.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Parses an `--upstream` entry: an address with or without a port.
pub fn parse_upstream(s: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)).map_err(|_| format!("--upstream {s:?}: not an IP address or IP:port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let ns = nameservers("# comment\nsearch example.com\nnameserver 192.168.1.1\nnameserver fe80::1%eth0\noptions ndots:5\n");
        assert_eq!(ns, ["192.168.1.1:53".parse::<SocketAddr>().unwrap(), "[fe80::1]:53".parse().unwrap()]);
        assert_eq!(parse_upstream("127.0.0.1:5353"), Ok("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(parse_upstream("8.8.8.8"), Ok("8.8.8.8:53".parse().unwrap()));
        assert!(parse_upstream("dns.google").is_err());
    }
}
