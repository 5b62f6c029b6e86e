//! A Service's ports as the proxier sees them (upstream's `ServicePort` /
//! `BaseServicePortInfo`): one entry per `spec.ports[]` of a Service that
//! has an IPv4 cluster IP.

use std::fmt;
use std::net::Ipv4Addr;

use api::cidr::Ipv4Cidr;
use k8s_openapi::api::core::v1::Service;

/// Default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours), as upstream.
pub const DEFAULT_AFFINITY_TIMEOUT: i32 = 10800;

/// namespace/name plus the port's name: the key of a service port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePortName {
    pub namespace: String,
    pub name: String,
    pub port: String,
}

impl fmt::Display for ServicePortName {
    /// `ns/name:port`, or `ns/name` for an unnamed port (upstream's ServicePortName.String).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// One service port's proxying parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePort {
    pub name: ServicePortName,
    /// `name` rendered once; it is in most rules' comments and in every chain hash.
    pub name_string: String,
    /// "tcp", "udp" or "sctp", as the iptables match module names them.
    pub protocol: &'static str,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    /// 0 when the service has no NodePort.
    pub node_port: u16,
    pub external_ips: Vec<Ipv4Addr>,
    pub load_balancer_ips: Vec<Ipv4Addr>,
    pub load_balancer_source_ranges: Vec<Ipv4Cidr>,
    /// `Some(timeout seconds)` for `sessionAffinity: ClientIP`.
    pub affinity_timeout: Option<i32>,
    /// `internalTrafficPolicy: Local`.
    pub internal_policy_local: bool,
    /// `externalTrafficPolicy: Local` on an externally reachable service.
    pub external_policy_local: bool,
    pub health_check_node_port: u16,
}

impl ServicePort {
    /// Reachable from outside: a NodePort, an external IP or a load-balancer IP.
    pub fn externally_accessible(&self) -> bool {
        self.node_port != 0 || !self.external_ips.is_empty() || !self.load_balancer_ips.is_empty()
    }
    /// Cluster endpoints are needed for Cluster internal policy, and for any
    /// external traffic (a Local external policy still short-circuits
    /// in-cluster sources to all endpoints).
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.internal_policy_local || self.externally_accessible()
    }
    pub fn uses_local_endpoints(&self) -> bool {
        self.internal_policy_local || (self.external_policy_local && self.externally_accessible())
    }
}

/// The proxied ports of `svc`; empty for headless, ExternalName and IPv6-only services.
pub fn service_ports(svc: &Service) -> Vec<ServicePort> {
    let (Some(spec), Some(ns), Some(name)) = (&svc.spec, &svc.metadata.namespace, &svc.metadata.name) else {
        return Vec::new();
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    // Single-stack IPv4 here: the first IPv4 among clusterIPs (clusterIP "None" and "" are skipped).
    let ips = spec.cluster_ips.clone().unwrap_or_default();
    let cluster_ip = spec.cluster_ip.iter().chain(ips.iter()).find_map(|s| s.parse::<Ipv4Addr>().ok());
    let Some(cluster_ip) = cluster_ip else {
        return Vec::new();
    };
    let parse_ips = |v: &Option<Vec<String>>| -> Vec<Ipv4Addr> { v.iter().flatten().filter_map(|s| s.parse().ok()).collect() };
    let external_ips = parse_ips(&spec.external_ips);
    let load_balancer_ips: Vec<Ipv4Addr> = if spec.type_.as_deref() == Some("LoadBalancer") {
        svc.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            // ipMode Proxy: the load balancer proxies to the nodes; no VIP to capture.
            .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
            .filter_map(|i| i.ip.as_deref().and_then(|ip| ip.parse().ok()))
            .collect()
    } else {
        Vec::new()
    };
    let load_balancer_source_ranges =
        spec.load_balancer_source_ranges.iter().flatten().filter_map(|s| s.trim().parse::<Ipv4Cidr>().ok()).collect::<Vec<_>>();
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    });
    let internal_policy_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let ext_local = spec.external_traffic_policy.as_deref() == Some("Local");
    let mut out = Vec::new();
    for p in spec.ports.iter().flatten() {
        let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
            "TCP" => "tcp",
            "UDP" => "udp",
            "SCTP" => "sctp",
            _ => continue,
        };
        let name = ServicePortName { namespace: ns.clone(), name: name.clone(), port: p.name.clone().unwrap_or_default() };
        let mut sp = ServicePort {
            name_string: name.to_string(),
            name,
            protocol,
            cluster_ip,
            port: p.port as u16,
            node_port: p.node_port.unwrap_or(0) as u16,
            external_ips: external_ips.clone(),
            load_balancer_ips: load_balancer_ips.clone(),
            load_balancer_source_ranges: load_balancer_source_ranges.clone(),
            affinity_timeout,
            internal_policy_local,
            external_policy_local: false,
            health_check_node_port: spec.health_check_node_port.unwrap_or(0) as u16,
        };
        sp.external_policy_local = ext_local && sp.externally_accessible();
        out.push(sp);
    }
    out
}
