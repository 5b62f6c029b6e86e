//! Renders upstream's iptables-mode rules as `iptables-restore` input.
//!
//! Each Service renders to a [`Section`]: the lines it adds to the shared
//! top-level chains (KUBE-SERVICES, KUBE-NODEPORTS, ...) and the chains it
//! owns (KUBE-SVC/SVL/EXT/FW/SEP-*). A full sync writes everything; a
//! partial sync rewrites only the changed Services' own chains, and a
//! top-level chain only when its text differs from what was last restored
//! (with `--noflush`, a chain left out of the input is left alone). So one
//! endpoint change at 10,000 services restores a handful of chains, not the
//! 10,000-line KUBE-SERVICES.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use api::cidr::Ipv4Cidr;

use super::chains::{self, *};
use crate::proxier::{Endpoint, PortEndpoints, ServicePort};

/// Above this many endpoints, per-endpoint comments are left out (upstream's largeClusterEndpointsThreshold).
pub const LARGE_CLUSTER_ENDPOINTS: usize = 1000;

/// Where NodePorts are answered.
#[derive(Clone, Debug, PartialEq)]
pub enum NodePortAddresses {
    /// Every local address (`-m addrtype --dst-type LOCAL`).
    All,
    /// Only these node addresses (from `--nodeport-addresses`).
    Only(Vec<Ipv4Addr>),
}

#[derive(Clone, Debug)]
pub struct RenderConfig {
    /// e.g. "0x00004000" (bit 14, upstream's default --iptables-masquerade-bit).
    pub masquerade_mark: String,
    pub masquerade_all: bool,
    /// Traffic from outside it to a cluster IP is masqueraded (upstream's LocalDetector by cluster CIDR).
    pub cluster_cidr: Option<Ipv4Cidr>,
    /// NodePorts answer on 127.0.0.1 (upstream's --iptables-localhost-nodeports, default true).
    pub localhost_nodeports: bool,
}

impl RenderConfig {
    pub fn new() -> Self {
        RenderConfig { masquerade_mark: format!("{:#08x}", 1u32 << 14), masquerade_all: false, cluster_cidr: None, localhost_nodeports: true }
    }
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A UDP conntrack flow to delete after the rules changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StaleFlow {
    /// Original destination IP (a service IP), or None for a NodePort (matched by port).
    pub orig_dst: Option<Ipv4Addr>,
    pub orig_port_dst: u16,
    /// Only flows DNATed to this endpoint; None: every flow to the destination.
    pub dst_nat: Option<Ipv4Addr>,
}

#[derive(Default, Clone)]
struct Section {
    ports: Vec<PortEndpoints>,
    nat_services: String,
    nat_nodeports: String,
    filter_services: String,
    filter_external: String,
    filter_nodeports: String,
    filter_firewall: String,
    /// The chains this Service owns, in write order.
    chains: Vec<String>,
    /// Rules of `chains`.
    rules: String,
    endpoints: usize,
}

/// One sync's `iptables-restore` input and what it changes.
pub struct Restore {
    pub text: String,
    pub full: bool,
    /// Rules now in our chains, per table (after this restore).
    pub nat_rules: usize,
    pub filter_rules: usize,
    /// Rules written by this restore.
    pub nat_rules_written: usize,
    pub filter_rules_written: usize,
    pub deleted_chains: Vec<String>,
    pub stale_flows: Vec<StaleFlow>,
    created_chains: Vec<String>,
    top: Vec<(&'static str, String)>,
}

/// Top-level chains: (table, chain).
const FILTER_TOP: [&str; 5] = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL];
const NAT_TOP: [&str; 4] = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ];

/// Keeps the rendered Services between syncs.
pub struct Renderer {
    cfg: RenderConfig,
    sections: BTreeMap<String, Section>,
    /// Text of each top-level chain ("filter KUBE-SERVICES") as last restored.
    last_top: HashMap<&'static str, String>,
    /// Service chains believed to exist in the kernel's nat table.
    known_chains: HashSet<String>,
    total_endpoints: usize,
}

fn lines(s: &str) -> usize {
    s.as_bytes().iter().filter(|b| **b == b'\n').count()
}

impl Renderer {
    pub fn new(cfg: RenderConfig) -> Self {
        Renderer { cfg, sections: BTreeMap::new(), last_top: HashMap::new(), known_chains: HashSet::new(), total_endpoints: 0 }
    }

    pub fn config(&self) -> &RenderConfig {
        &self.cfg
    }

    /// The Services rendered so far (a full sync also revisits these, to drop deleted ones).
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.sections.keys()
    }

    /// Service chains found in the kernel (e.g. by iptables-save at start): a full sync deletes those no longer wanted.
    pub fn adopt_existing_chains(&mut self, names: impl IntoIterator<Item = String>) {
        self.known_chains.extend(names.into_iter().filter(|n| chains::is_service_chain(n)));
    }

    /// Renders the changed Services (`desired` None: deleted). A full sync
    /// writes every chain; a partial one the changed parts only.
    pub fn render(&mut self, full: bool, changed: Vec<(String, Option<Vec<PortEndpoints>>)>, nodeports: &NodePortAddresses) -> Restore {
        let mut stale_flows = Vec::new();
        let mut changed_keys = Vec::with_capacity(changed.len());
        let mut maybe_stale: Vec<String> = Vec::new();
        // Endpoint count decides comment-less rules (as upstream, computed before rendering).
        for (key, desired) in &changed {
            let old = self.sections.get(key).map(|s| s.endpoints).unwrap_or(0);
            let new = desired.as_ref().map(|d| d.iter().map(|(_, e)| e.len()).sum()).unwrap_or(0);
            self.total_endpoints = self.total_endpoints + new - old.min(self.total_endpoints);
        }
        let large = self.total_endpoints > LARGE_CLUSTER_ENDPOINTS;
        for (key, desired) in changed {
            let old = self.sections.remove(&key);
            let empty = Vec::new();
            stale_flows.extend(stale_udp_flows(old.as_ref().map(|s| &s.ports).unwrap_or(&empty), desired.as_ref().unwrap_or(&empty)));
            if let Some(old) = old {
                maybe_stale.extend(old.chains);
            }
            if let Some(ports) = desired {
                let section = self.section(ports, large);
                self.sections.insert(key.clone(), section);
            }
            changed_keys.push(key);
        }

        // Top-level chains, concatenated over all Services in key order.
        let mut top: Vec<(&'static str, String)> = Vec::new();
        let m = &self.cfg.masquerade_mark;
        let mut f_services = String::new();
        let mut f_external = String::new();
        let mut f_nodeports = String::new();
        let mut f_firewall = String::new();
        let mut n_services = String::new();
        let mut n_nodeports = String::new();
        for s in self.sections.values() {
            f_services.push_str(&s.filter_services);
            f_external.push_str(&s.filter_external);
            f_nodeports.push_str(&s.filter_nodeports);
            f_firewall.push_str(&s.filter_firewall);
            n_services.push_str(&s.nat_services);
            n_nodeports.push_str(&s.nat_nodeports);
        }
        // The NodePort catch-all must be KUBE-SERVICES' last rule.
        let np_comment = r#"-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain""#;
        match nodeports {
            NodePortAddresses::All => {
                let _ = write!(n_services, "-A {KUBE_SERVICES} {np_comment} -m addrtype --dst-type LOCAL");
                if !self.cfg.localhost_nodeports {
                    n_services.push_str(" ! -d 127.0.0.0/8");
                }
                let _ = writeln!(n_services, " -j {KUBE_NODEPORTS}");
            }
            NodePortAddresses::Only(ips) => {
                for ip in ips {
                    if ip.is_loopback() && !self.cfg.localhost_nodeports {
                        continue;
                    }
                    let _ = writeln!(n_services, "-A {KUBE_SERVICES} {np_comment} -d {ip} -j {KUBE_NODEPORTS}");
                }
            }
        }
        let mut f_forward = String::new();
        let _ = writeln!(f_forward, "-A {KUBE_FORWARD} -m conntrack --ctstate INVALID -j DROP");
        let _ = writeln!(f_forward, r#"-A {KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark {m}/{m} -j ACCEPT"#);
        let _ = writeln!(f_forward, r#"-A {KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"#);
        let mut n_post = String::new();
        let _ = writeln!(n_post, "-A {KUBE_POSTROUTING} -m mark ! --mark {m}/{m} -j RETURN");
        let _ = writeln!(n_post, "-A {KUBE_POSTROUTING} -j MARK --xor-mark {m}");
        let _ = writeln!(n_post, r#"-A {KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully"#);
        let n_mark = format!("-A {KUBE_MARK_MASQ} -j MARK --or-mark {m}\n");

        top.push(("filter KUBE-SERVICES", f_services));
        top.push(("filter KUBE-EXTERNAL-SERVICES", f_external));
        top.push(("filter KUBE-FORWARD", f_forward));
        top.push(("filter KUBE-NODEPORTS", f_nodeports));
        top.push(("filter KUBE-PROXY-FIREWALL", f_firewall));
        if self.cfg.localhost_nodeports {
            // Kube-proxy's route_localnet opens 127.0.0.1 to other hosts; this closes it (issue 90259), as the kubelet's copy.
            top.push(("filter KUBE-FIREWALL", format!(
                "-A {KUBE_FIREWALL} -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n"
            )));
        }
        top.push(("nat KUBE-SERVICES", n_services));
        top.push(("nat KUBE-NODEPORTS", n_nodeports));
        top.push(("nat KUBE-POSTROUTING", n_post));
        top.push(("nat KUBE-MARK-MASQ", n_mark));
        debug_assert!(FILTER_TOP.len() + NAT_TOP.len() <= top.len());

        // Which chains to write.
        let mut filter_chains = String::new();
        let mut filter_rules = String::new();
        let mut nat_chains = String::new();
        let mut nat_rules = String::new();
        for (name, text) in &top {
            if !full && self.last_top.get(name) == Some(text) {
                continue;
            }
            let (table, chain) = name.split_once(' ').expect("table chain");
            let (c, r) = if table == "filter" { (&mut filter_chains, &mut filter_rules) } else { (&mut nat_chains, &mut nat_rules) };
            let _ = writeln!(c, ":{chain} - [0:0]");
            r.push_str(text);
        }
        let mut active: HashSet<&str> = HashSet::new();
        let mut created = Vec::new();
        let write_section = |s: &Section, nat_chains: &mut String, nat_rules: &mut String, created: &mut Vec<String>| {
            for c in &s.chains {
                let _ = writeln!(nat_chains, ":{c} - [0:0]");
                created.push(c.clone());
            }
            nat_rules.push_str(&s.rules);
        };
        if full {
            for s in self.sections.values() {
                write_section(s, &mut nat_chains, &mut nat_rules, &mut created);
                active.extend(s.chains.iter().map(String::as_str));
            }
        } else {
            for key in &changed_keys {
                if let Some(s) = self.sections.get(key) {
                    write_section(s, &mut nat_chains, &mut nat_rules, &mut created);
                    active.extend(s.chains.iter().map(String::as_str));
                }
            }
        }
        // Chains no longer used: flush (chain line) then delete, after every rule that jumped to them is rewritten.
        let candidates: Vec<String> = if full { self.known_chains.iter().cloned().collect() } else { maybe_stale };
        let mut deleted: Vec<String> = candidates.into_iter().filter(|c| !active.contains(c.as_str()) && self.known_chains.contains(c)).collect();
        deleted.sort();
        deleted.dedup();
        for c in &deleted {
            let _ = writeln!(nat_chains, ":{c} - [0:0]");
            let _ = writeln!(nat_rules, "-X {c}");
        }

        let mut text = String::with_capacity(filter_chains.len() + filter_rules.len() + nat_chains.len() + nat_rules.len() + 32);
        if !filter_chains.is_empty() {
            text.push_str("*filter\n");
            text.push_str(&filter_chains);
            text.push_str(&filter_rules);
            text.push_str("COMMIT\n");
        }
        if !nat_chains.is_empty() {
            text.push_str("*nat\n");
            text.push_str(&nat_chains);
            text.push_str(&nat_rules);
            text.push_str("COMMIT\n");
        }
        let (mut nat_total, mut filter_total) = (0, 0);
        for (name, t) in &top {
            if name.starts_with("nat") {
                nat_total += lines(t);
            } else {
                filter_total += lines(t);
            }
        }
        nat_total += self.sections.values().map(|s| lines(&s.rules)).sum::<usize>();
        Restore {
            full,
            nat_rules: nat_total,
            filter_rules: filter_total,
            nat_rules_written: lines(&nat_rules) - deleted.len(),
            filter_rules_written: lines(&filter_rules),
            text,
            deleted_chains: deleted,
            stale_flows,
            created_chains: created,
            top,
        }
    }

    /// Records that `restore` went in: the kernel now has its chains.
    pub fn commit(&mut self, restore: &Restore) {
        for c in &restore.deleted_chains {
            self.known_chains.remove(c);
        }
        self.known_chains.extend(restore.created_chains.iter().cloned());
        for (name, text) in &restore.top {
            self.last_top.insert(name, text.clone());
        }
    }

    /// A failed restore leaves the kernel unknown: the next top-level comparison must not skip anything.
    pub fn forget_written(&mut self) {
        self.last_top.clear();
    }

    fn section(&self, ports: Vec<PortEndpoints>, large: bool) -> Section {
        let mut s = Section { endpoints: ports.iter().map(|(_, e)| e.len()).sum(), ..Default::default() };
        for (sp, eps) in &ports {
            self.render_port(&mut s, sp, eps, large);
        }
        s.ports = ports;
        s
    }

    /// Upstream's per-service-port body of syncProxyRules.
    fn render_port(&self, s: &mut Section, svc: &ServicePort, endpoints: &[Endpoint], large: bool) {
        let proto = svc.protocol;
        let spn = svc.name_string.as_str();
        let cat = crate::proxier::endpoints::categorize(endpoints, svc.uses_cluster_endpoints(), svc.uses_local_endpoints());
        let has_endpoints = cat.has_any;
        let cluster_chain = chains::cluster_policy_chain(spn, proto);
        let local_chain = chains::local_policy_chain(spn, proto);
        let uses_cluster_chain = !cat.cluster.is_empty() && svc.uses_cluster_endpoints();
        let uses_local_chain = !cat.local.is_empty() && svc.uses_local_endpoints();

        let (internal_chain, mut has_internal) = (if svc.internal_policy_local { &local_chain } else { &cluster_chain }, has_endpoints);
        if svc.internal_policy_local && cat.local.is_empty() {
            has_internal = false;
        }
        let (external_policy_chain, mut has_external) = (if svc.external_policy_local { &local_chain } else { &cluster_chain }, has_endpoints);
        if svc.external_policy_local && cat.local.is_empty() {
            has_external = false;
        }
        let ext_chain = chains::external_chain(spn, proto);
        let uses_ext_chain = has_endpoints && svc.externally_accessible();
        let fw_chain = chains::firewall_chain(spn, proto);
        let uses_fw = has_endpoints && !svc.load_balancer_ips.is_empty() && !svc.load_balancer_source_ranges.is_empty();
        let lb_chain = if uses_fw { &fw_chain } else { &ext_chain };

        let (mut int_target, mut int_comment, mut ext_target, mut ext_comment) = ("", String::new(), "", String::new());
        if !has_endpoints {
            int_target = "REJECT";
            int_comment = format!("\"{spn} has no endpoints\"");
            ext_target = "REJECT";
            ext_comment = int_comment.clone();
        } else {
            if !has_internal {
                int_target = "DROP";
                int_comment = format!("\"{spn} has no local endpoints\"");
            }
            if !has_external {
                ext_target = "DROP";
                ext_comment = format!("\"{spn} has no local endpoints\"");
            }
        }
        let port = svc.port;
        let cip = svc.cluster_ip;

        // Capture the cluster IP.
        if has_internal {
            let _ = writeln!(s.nat_services, "-A {KUBE_SERVICES} -m comment --comment \"{spn} cluster IP\" -m {proto} -p {proto} -d {cip} --dport {port} -j {internal_chain}");
        } else {
            let _ = writeln!(s.filter_services, "-A {KUBE_SERVICES} -m comment --comment {int_comment} -m {proto} -p {proto} -d {cip} --dport {port} -j {int_target}");
        }
        // External IPs.
        for ip in &svc.external_ips {
            if has_endpoints {
                let _ = writeln!(s.nat_services, "-A {KUBE_SERVICES} -m comment --comment \"{spn} external IP\" -m {proto} -p {proto} -d {ip} --dport {port} -j {ext_chain}");
            }
            if !has_external {
                let _ = writeln!(s.filter_external, "-A {KUBE_EXTERNAL_SERVICES} -m comment --comment {ext_comment} -m {proto} -p {proto} -d {ip} --dport {port} -j {ext_target}");
            }
        }
        // Load-balancer IPs.
        for ip in &svc.load_balancer_ips {
            if has_endpoints {
                let _ = writeln!(s.nat_services, "-A {KUBE_SERVICES} -m comment --comment \"{spn} loadbalancer IP\" -m {proto} -p {proto} -d {ip} --dport {port} -j {lb_chain}");
            }
            if uses_fw {
                let _ = writeln!(s.filter_firewall, "-A {KUBE_PROXY_FIREWALL} -m comment --comment \"{spn} traffic not accepted by {fw_chain}\" -m {proto} -p {proto} -d {ip} --dport {port} -j DROP");
            }
        }
        if !has_external {
            for ip in &svc.load_balancer_ips {
                let _ = writeln!(s.filter_external, "-A {KUBE_EXTERNAL_SERVICES} -m comment --comment {ext_comment} -m {proto} -p {proto} -d {ip} --dport {port} -j {ext_target}");
            }
        }
        // NodePorts.
        if svc.node_port != 0 {
            let np = svc.node_port;
            if has_endpoints {
                let _ = writeln!(s.nat_nodeports, "-A {KUBE_NODEPORTS} -m comment --comment {spn} -m {proto} -p {proto} --dport {np} -j {ext_chain}");
            }
            if !has_external {
                let _ = writeln!(s.filter_external, "-A {KUBE_EXTERNAL_SERVICES} -m comment --comment {ext_comment} -m addrtype --dst-type LOCAL -m {proto} -p {proto} --dport {np} -j {ext_target}");
            }
        }
        if svc.health_check_node_port != 0 {
            let hc = svc.health_check_node_port;
            let _ = writeln!(s.filter_nodeports, "-A {KUBE_NODEPORTS} -m comment --comment \"{spn} health check node port\" -m tcp -p tcp --dport {hc} -j ACCEPT");
        }

        // The Service's own chains.
        let r = &mut s.rules;
        if has_internal {
            let args = format!("-m comment --comment \"{spn} cluster IP\" -m {proto} -p {proto} -d {cip} --dport {port}");
            if self.cfg.masquerade_all {
                let _ = writeln!(r, "-A {internal_chain} {args} -j {KUBE_MARK_MASQ}");
            } else if let Some(cidr) = &self.cfg.cluster_cidr {
                // Off-cluster sources reaching a cluster IP through this node may bounce off-node: masquerade them.
                let _ = writeln!(r, "-A {internal_chain} {args} ! -s {cidr} -j {KUBE_MARK_MASQ}");
            }
        }
        if uses_ext_chain {
            s.chains.push(ext_chain.clone());
            if !svc.external_policy_local {
                let _ = writeln!(r, "-A {ext_chain} -m comment --comment \"masquerade traffic for {spn} external destinations\" -j {KUBE_MARK_MASQ}");
            } else {
                if let Some(cidr) = &self.cfg.cluster_cidr {
                    let _ = writeln!(r, "-A {ext_chain} -m comment --comment \"pod traffic for {spn} external destinations\" -s {cidr} -j {cluster_chain}");
                }
                let _ = writeln!(r, "-A {ext_chain} -m comment --comment \"masquerade LOCAL traffic for {spn} external destinations\" -m addrtype --src-type LOCAL -j {KUBE_MARK_MASQ}");
                let _ = writeln!(r, "-A {ext_chain} -m comment --comment \"route LOCAL traffic for {spn} external destinations\" -m addrtype --src-type LOCAL -j {cluster_chain}");
            }
            if has_external {
                let _ = writeln!(r, "-A {ext_chain} -j {external_policy_chain}");
            }
        }
        if uses_fw {
            s.chains.push(fw_chain.clone());
            let args = format!("-A {fw_chain} -m comment --comment \"{spn} loadbalancer IP\"");
            for cidr in &svc.load_balancer_source_ranges {
                let _ = writeln!(r, "{args} -s {cidr} -j {ext_chain}");
            }
            let _ = writeln!(r, "-A {fw_chain} -m comment --comment \"other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL\"");
        }
        if uses_cluster_chain {
            s.chains.push(cluster_chain.clone());
            service_to_endpoint_rules(r, spn, svc, &cluster_chain, &cat.cluster, large);
        }
        if uses_local_chain {
            s.chains.push(local_chain.clone());
            service_to_endpoint_rules(r, spn, svc, &local_chain, &cat.local, large);
        }
        for ep in &cat.reachable {
            let sep = chains::endpoint_chain(spn, proto, &ep.addr);
            let comment = if large { String::new() } else { format!(" -m comment --comment {spn}") };
            // Hairpin: a pod reaching itself through its service must be masqueraded, or the reply bypasses the DNAT.
            let _ = writeln!(r, "-A {sep}{comment} -s {} -j {KUBE_MARK_MASQ}", ep.ip);
            let affinity = if svc.affinity_timeout.is_some() { format!(" -m recent --name {sep} --set") } else { String::new() };
            let _ = writeln!(r, "-A {sep}{comment}{affinity} -m {proto} -p {proto} -j DNAT --to-destination {}", ep.addr);
            s.chains.push(sep);
        }
    }
}

/// upstream's writeServiceToEndpointRules: affinity checks first, then
/// random-probability rules, the last endpoint a sure match.
fn service_to_endpoint_rules(r: &mut String, spn: &str, svc: &ServicePort, chain: &str, eps: &[&Endpoint], large: bool) {
    let comment = |ep: &Endpoint| if large { String::new() } else { format!(" -m comment --comment \"{spn} -> {}\"", ep.addr) };
    if let Some(timeout) = svc.affinity_timeout {
        for ep in eps {
            let sep = chains::endpoint_chain(spn, svc.protocol, &ep.addr);
            let _ = writeln!(r, "-A {chain}{} -m recent --name {sep} --rcheck --seconds {timeout} --reap -j {sep}", comment(ep));
        }
    }
    let n = eps.len();
    for (i, ep) in eps.iter().enumerate() {
        let sep = chains::endpoint_chain(spn, svc.protocol, &ep.addr);
        if i < n - 1 {
            let _ = writeln!(r, "-A {chain}{} -m statistic --mode random --probability {} -j {sep}", comment(ep), chains::probability(n - i));
        } else {
            let _ = writeln!(r, "-A {chain}{} -j {sep}", comment(ep));
        }
    }
}

/// UDP flows that would keep going to a removed endpoint, or to the
/// REJECT of a service that had none (upstream's conntrack cleanup).
fn stale_udp_flows(old: &[PortEndpoints], new: &[PortEndpoints]) -> Vec<StaleFlow> {
    let mut out = Vec::new();
    let usable = |eps: &[Endpoint]| -> Vec<Ipv4Addr> { eps.iter().filter(|e| e.ready || (e.serving && e.terminating)).map(|e| e.ip).collect() };
    for (osp, oeps) in old.iter().filter(|(p, _)| p.protocol == "udp") {
        let now = new.iter().find(|(p, _)| p.name == osp.name).map(|(_, e)| usable(e)).unwrap_or_default();
        for ip in usable(oeps).into_iter().filter(|ip| !now.contains(ip)) {
            for dst in std::iter::once(osp.cluster_ip).chain(osp.external_ips.iter().copied()).chain(osp.load_balancer_ips.iter().copied()) {
                out.push(StaleFlow { orig_dst: Some(dst), orig_port_dst: osp.port, dst_nat: Some(ip) });
            }
            if osp.node_port != 0 {
                out.push(StaleFlow { orig_dst: None, orig_port_dst: osp.node_port, dst_nat: Some(ip) });
            }
        }
    }
    for (nsp, neps) in new.iter().filter(|(p, _)| p.protocol == "udp") {
        let had = old.iter().find(|(p, _)| p.name == nsp.name).is_some_and(|(_, e)| !usable(e).is_empty());
        if !had && !usable(neps).is_empty() {
            for dst in std::iter::once(nsp.cluster_ip).chain(nsp.external_ips.iter().copied()).chain(nsp.load_balancer_ips.iter().copied()) {
                out.push(StaleFlow { orig_dst: Some(dst), orig_port_dst: nsp.port, dst_nat: None });
            }
            if nsp.node_port != 0 {
                out.push(StaleFlow { orig_dst: None, orig_port_dst: nsp.node_port, dst_nat: None });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxier::ServicePortName;

    fn port(name: &str, ip: [u8; 4]) -> ServicePort {
        let n = ServicePortName { namespace: "ns1".into(), name: name.into(), port: "p80".into() };
        ServicePort {
            name_string: n.to_string(),
            name: n,
            protocol: "tcp",
            cluster_ip: Ipv4Addr::from(ip),
            port: 80,
            node_port: 0,
            external_ips: vec![],
            load_balancer_ips: vec![],
            load_balancer_source_ranges: vec![],
            affinity_timeout: None,
            internal_policy_local: false,
            external_policy_local: false,
            health_check_node_port: 0,
        }
    }

    fn ep(ip: &str) -> Endpoint {
        Endpoint { ip: ip.parse().unwrap(), port: 80, ready: true, serving: true, terminating: false, local: false, addr: format!("{ip}:80") }
    }

    #[test]
    fn full_then_partial_sync_writes_only_what_changed() {
        let mut r = Renderer::new(RenderConfig::new());
        let svc1 = vec![(port("svc1", [172, 30, 0, 41]), vec![ep("10.180.0.1")])];
        let svc2 = vec![(port("svc2", [172, 30, 0, 42]), vec![ep("10.180.0.2")])];
        let full = r.render(true, vec![("ns1/svc1".into(), Some(svc1)), ("ns1/svc2".into(), Some(svc2))], &NodePortAddresses::All);
        // Upstream's expected lines for ns1/svc1:p80 (proxier_test.go).
        for line in [
            "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O",
            "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j KUBE-SEP-SXIVWICOYRO3J4NJ",
            "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
            "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
            "-A KUBE-MARK-MASQ -j MARK --or-mark 0x004000",
        ] {
            assert!(full.text.lines().any(|l| l == line), "missing {line:?} in\n{}", full.text);
        }
        r.commit(&full);

        // One endpoint added to svc2: only svc2's chains; KUBE-SERVICES is unchanged so it is not rewritten.
        let svc2 = vec![(port("svc2", [172, 30, 0, 42]), vec![ep("10.180.0.2"), ep("10.180.0.3")])];
        let part = r.render(false, vec![("ns1/svc2".into(), Some(svc2))], &NodePortAddresses::All);
        assert!(!part.text.contains("*filter"), "{}", part.text);
        assert!(!part.text.contains(":KUBE-SERVICES"), "{}", part.text);
        assert!(!part.text.contains("svc1"), "{}", part.text);
        assert!(part.text.contains("--probability 0.5000000000"), "{}", part.text);
        r.commit(&part);

        // svc1 deleted: KUBE-SERVICES rewritten, its chains flushed and deleted.
        let del = r.render(false, vec![("ns1/svc1".into(), None)], &NodePortAddresses::All);
        assert!(del.text.contains(":KUBE-SERVICES - [0:0]"), "{}", del.text);
        assert!(del.text.contains("-X KUBE-SVC-XPGD46QRK7WJZT7O\n") && del.text.contains("-X KUBE-SEP-SXIVWICOYRO3J4NJ\n"), "{}", del.text);
        assert_eq!(del.deleted_chains.len(), 2);
    }

    #[test]
    fn no_endpoints_rejects_in_filter() {
        let mut r = Renderer::new(RenderConfig::new());
        let out = r.render(true, vec![("ns1/svc1".into(), Some(vec![(port("svc1", [172, 30, 0, 41]), vec![])]))], &NodePortAddresses::All);
        assert!(out.text.lines().any(|l| l
            == "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT"));
        assert!(!out.text.contains("KUBE-SVC-"), "{}", out.text);
    }
}
