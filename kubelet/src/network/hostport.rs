//! hostPort mappings (upstream's kubelet hostport manager / the CNI portmap
//! plugin): a container port published on the node's addresses by DNAT in
//! the node's network namespace.

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPort {
    /// "tcp", "udp" or "sctp".
    pub protocol: String,
    #[serde(rename = "hostPort")]
    pub host_port: u16,
    #[serde(rename = "containerPort")]
    pub container_port: u16,
    /// Only this node address (empty: all of them).
    #[serde(default, rename = "hostIP", skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

/// The pod's hostPort mappings (containers' ports with a hostPort), deduplicated.
pub fn of_pod(pod: &Pod) -> Vec<HostPort> {
    let mut out: Vec<HostPort> = Vec::new();
    let Some(spec) = pod.spec.as_ref() else { return out };
    for c in spec.init_containers.iter().flatten().chain(spec.containers.iter()) {
        for p in c.ports.iter().flatten() {
            let Some(hp) = p.host_port.filter(|h| *h > 0 && *h < 65536) else { continue };
            let m = HostPort {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()).to_lowercase(),
                host_port: hp as u16,
                container_port: p.container_port as u16,
                host_ip: p.host_ip.clone().filter(|h| h != "0.0.0.0").unwrap_or_default(),
            };
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// The DNAT rules of one pod's mappings, for the KUBE-HOSTPORTS chain.
pub fn rules(pod: &str, pod_ip: std::net::Ipv4Addr, ports: &[HostPort]) -> Vec<String> {
    ports
        .iter()
        .map(|m| {
            let dst = if m.host_ip.is_empty() { String::new() } else { format!("-d {}/32 ", m.host_ip) };
            format!(
                "-A KUBE-HOSTPORTS -m comment --comment \"{pod} hostport {hp}\" {dst}-p {proto} -m {proto} --dport {hp} -j DNAT --to-destination {pod_ip}:{cp}",
                hp = m.host_port,
                proto = m.protocol,
                cp = m.container_port,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_and_rules() {
        let pod: Pod = serde_json::from_value(serde_json::json!({"spec": {"containers": [
            {"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "10.0.0.2"}, {"containerPort": 81}]}
        ]}}))
        .unwrap();
        let m = of_pod(&pod);
        assert_eq!(m.len(), 2);
        let r = rules("ns/p", "10.244.1.5".parse().unwrap(), &m);
        assert_eq!(r[0], "-A KUBE-HOSTPORTS -m comment --comment \"ns/p hostport 8080\" -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.1.5:80");
        assert_eq!(r[1], "-A KUBE-HOSTPORTS -m comment --comment \"ns/p hostport 5353\" -d 10.0.0.2/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.244.1.5:53");
    }
}
