//! Chain names as upstream's `pkg/proxy/iptables`: fixed top-level chains,
//! and per-service chains named by a hash, because iptables chain names are
//! limited to 28 characters: prefix + the first 16 characters of base32
//! (RFC 4648, standard alphabet) of sha256(servicePortName + protocol
//! [+ endpoint]).

use sha2::{Digest, Sha256};

pub const KUBE_SERVICES: &str = "KUBE-SERVICES";
pub const KUBE_EXTERNAL_SERVICES: &str = "KUBE-EXTERNAL-SERVICES";
pub const KUBE_NODEPORTS: &str = "KUBE-NODEPORTS";
pub const KUBE_POSTROUTING: &str = "KUBE-POSTROUTING";
pub const KUBE_MARK_MASQ: &str = "KUBE-MARK-MASQ";
pub const KUBE_FORWARD: &str = "KUBE-FORWARD";
pub const KUBE_PROXY_FIREWALL: &str = "KUBE-PROXY-FIREWALL";
/// The kubelet's chain guarding localhost NodePorts (kube-proxy writes it too, as upstream).
pub const KUBE_FIREWALL: &str = "KUBE-FIREWALL";

const SVC: &str = "KUBE-SVC-";
const SVL: &str = "KUBE-SVL-";
const FW: &str = "KUBE-FW-";
const EXT: &str = "KUBE-EXT-";
const SEP: &str = "KUBE-SEP-";

/// True for the per-service chains this proxier owns (and may delete).
pub fn is_service_chain(name: &str) -> bool {
    [SVC, SVL, FW, EXT, SEP].iter().any(|p| name.starts_with(p))
}

/// upstream's portProtoHash.
fn port_proto_hash(service_port_name: &str, protocol: &str) -> String {
    hash16(&[service_port_name, protocol])
}

fn hash16(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    let mut s = base32(&h.finalize());
    s.truncate(16);
    s
}

/// RFC 4648 base32, standard alphabet, with padding (Go's base32.StdEncoding).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(ALPHABET[((bits >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// KUBE-SVC-*: dispatch to endpoints under the Cluster traffic policy.
pub fn cluster_policy_chain(spn: &str, protocol: &str) -> String {
    format!("{SVC}{}", port_proto_hash(spn, protocol))
}

/// KUBE-SVL-*: dispatch to this node's endpoints under the Local traffic policy.
pub fn local_policy_chain(spn: &str, protocol: &str) -> String {
    format!("{SVL}{}", port_proto_hash(spn, protocol))
}

/// KUBE-FW-*: loadBalancerSourceRanges filtering.
pub fn firewall_chain(spn: &str, protocol: &str) -> String {
    format!("{FW}{}", port_proto_hash(spn, protocol))
}

/// KUBE-EXT-*: traffic to NodePorts, external IPs and load-balancer IPs.
pub fn external_chain(spn: &str, protocol: &str) -> String {
    format!("{EXT}{}", port_proto_hash(spn, protocol))
}

/// KUBE-SEP-*: one endpoint ("ip:port") of a service port.
pub fn endpoint_chain(spn: &str, protocol: &str, endpoint: &str) -> String {
    format!("{SEP}{}", hash16(&[spn, protocol, endpoint]))
}

/// The probability for the i-th of n remaining endpoints, formatted as upstream (`%0.10f` of 1/n).
pub fn probability(n: usize) -> String {
    format!("{:.10}", 1.0 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_upstream_test_tables() {
        // From upstream's pkg/proxy/iptables/proxier_test.go.
        assert_eq!(cluster_policy_chain("ns1/svc1:p80", "tcp"), "KUBE-SVC-XPGD46QRK7WJZT7O");
        assert_eq!(endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80"), "KUBE-SEP-SXIVWICOYRO3J4NJ");
        assert_eq!(external_chain("ns1/svc1:p80", "tcp"), "KUBE-EXT-XPGD46QRK7WJZT7O");
        assert_eq!(local_policy_chain("ns1/svc1:p80", "tcp"), "KUBE-SVL-XPGD46QRK7WJZT7O");
        assert_eq!(probability(3), "0.3333333333");
        assert_eq!(probability(2), "0.5000000000");
        assert!(is_service_chain("KUBE-SEP-SXIVWICOYRO3J4NJ"));
        assert!(!is_service_chain("KUBE-SERVICES"));
    }

    #[test]
    fn base32_as_go() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY======");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI======");
    }
}
