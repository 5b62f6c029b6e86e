//! A pod's /etc/resolv.conf and /etc/hosts as upstream's kubelet
//! (pkg/kubelet/network/dns, kubelet_pods.go managedHostsFileContent) makes
//! them: from `--cluster-dns`, `--cluster-domain`, `--resolv-conf` and the
//! pod's dnsPolicy and dnsConfig.

use k8s_openapi::api::core::v1::Pod;

/// upstream's validation limits (MaxDNSNameservers, MaxDNSSearchPaths).
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

#[derive(Debug, Clone, Default)]
pub struct DnsSettings {
    /// `--cluster-dns`.
    pub cluster_dns: Vec<String>,
    /// `--cluster-domain`.
    pub cluster_domain: String,
    /// The node's resolv.conf contents (`--resolv-conf`), for dnsPolicy Default.
    pub host_resolv: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    pub fn parse(s: &str) -> ResolvConf {
        let mut r = ResolvConf::default();
        for line in s.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("").trim();
            let mut f = line.split_whitespace();
            match f.next() {
                Some("nameserver") => r.nameservers.extend(f.next().map(str::to_string)),
                // The last search line wins, as in resolv.conf(5).
                Some("search") | Some("domain") => r.searches = f.map(str::to_string).collect(),
                Some("options") => r.options.extend(f.map(str::to_string)),
                _ => {}
            }
        }
        r
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.searches.is_empty() {
            out += &format!("search {}\n", self.searches.join(" "));
        }
        for n in &self.nameservers {
            out += &format!("nameserver {n}\n");
        }
        if !self.options.is_empty() {
            out += &format!("options {}\n", self.options.join(" "));
        }
        out
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|s| seen.insert(s.clone())).collect()
}

/// What the pod's dnsPolicy means on this node (upstream's getPodDNSType):
/// "ClusterFirst", "Default" or "None". A hostNetwork pod's ClusterFirst
/// is Default; without `--cluster-dns` ClusterFirst falls back to Default
/// too (upstream records a MissingClusterDNS event: see [`missing_cluster_dns`]).
pub fn effective_policy(pod: &Pod, s: &DnsSettings) -> &'static str {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec.and_then(|s| s.dns_policy.as_deref()).unwrap_or("ClusterFirst");
    match policy {
        "None" => "None",
        "Default" => "Default",
        "ClusterFirstWithHostNet" | "ClusterFirst" if s.cluster_dns.is_empty() => "Default",
        "ClusterFirstWithHostNet" => "ClusterFirst",
        _ if host_network => "Default",
        _ => "ClusterFirst",
    }
}

/// upstream's MissingClusterDNS warning, when ClusterFirst had to fall back.
pub fn missing_cluster_dns(pod: &Pod, s: &DnsSettings) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let host_network = spec.host_network.unwrap_or(false);
    let wants = policy == "ClusterFirstWithHostNet" || (policy == "ClusterFirst" && !host_network);
    (wants && s.cluster_dns.is_empty()).then(|| {
        format!("kubelet does not have ClusterDNS IP configured and cannot create Pod using \"{policy}\" policy. Falling back to \"Default\" policy.")
    })
}

/// The pod's resolv.conf.
pub fn resolv_conf(pod: &Pod, s: &DnsSettings) -> ResolvConf {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host = ResolvConf::parse(&s.host_resolv);
    let mut r = match effective_policy(pod, s) {
        "None" => ResolvConf::default(),
        "Default" => host,
        _ => {
            let d = &s.cluster_domain;
            let mut searches = if d.is_empty() { vec![] } else { vec![format!("{ns}.svc.{d}"), format!("svc.{d}"), d.clone()] };
            searches.extend(host.searches);
            ResolvConf { nameservers: s.cluster_dns.clone(), searches, options: vec!["ndots:5".into()] }
        }
    };
    if let Some(cfg) = pod.spec.as_ref().and_then(|s| s.dns_config.as_ref()) {
        r.nameservers.extend(cfg.nameservers.iter().flatten().cloned());
        r.searches.extend(cfg.searches.iter().flatten().cloned());
        // dnsConfig options replace same-named ones (upstream's mergeDNSOptions).
        for o in cfg.options.iter().flatten() {
            let rendered = match &o.value {
                Some(v) => format!("{}:{v}", o.name.as_deref().unwrap_or_default()),
                None => o.name.clone().unwrap_or_default(),
            };
            let name = o.name.clone().unwrap_or_default();
            r.options.retain(|x| x.split(':').next() != Some(name.as_str()));
            r.options.push(rendered);
        }
    }
    r.nameservers = dedup(r.nameservers);
    r.nameservers.truncate(MAX_NAMESERVERS);
    r.searches = dedup(r.searches);
    r.searches.truncate(MAX_SEARCHES);
    r
}

/// The managed /etc/hosts of a pod with its own network namespace.
pub fn hosts_file(pod: &Pod, pod_ip: Option<&str>, cluster_domain: &str) -> String {
    let spec = pod.spec.as_ref();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let short = spec.and_then(|s| s.hostname.as_deref()).filter(|h| !h.is_empty()).unwrap_or(name);
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let ip = pod_ip.unwrap_or("127.0.1.1");
    match spec.and_then(|s| s.subdomain.as_deref()).filter(|s| !s.is_empty()) {
        Some(sub) => out += &format!("{ip}\t{short}.{sub}.{ns}.svc.{cluster_domain}\t{short}\n"),
        None => out += &format!("{ip}\t{short}\n"),
    }
    let aliases = spec.and_then(|s| s.host_aliases.as_ref()).filter(|a| !a.is_empty());
    if let Some(aliases) = aliases {
        out += "\n# Entries added by HostAliases.\n";
        for a in aliases {
            out += &format!("{}\t{}\n", a.ip, a.hostnames.clone().unwrap_or_default().join("\t"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "team"}, "spec": spec})).unwrap()
    }

    fn settings() -> DnsSettings {
        DnsSettings {
            cluster_dns: vec!["10.96.0.10".into()],
            cluster_domain: "cluster.local".into(),
            host_resolv: "# host\nnameserver 192.0.2.53\nsearch corp.example\noptions timeout:2\n".into(),
        }
    }

    #[test]
    fn cluster_first_default_and_none() {
        let s = settings();
        let cf = resolv_conf(&pod(json!({"containers": []})), &s).render();
        assert_eq!(cf, "search team.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n");
        let def = resolv_conf(&pod(json!({"dnsPolicy": "Default", "containers": []})), &s).render();
        assert_eq!(def, "search corp.example\nnameserver 192.0.2.53\noptions timeout:2\n");
        // hostNetwork + ClusterFirst is Default; ClusterFirstWithHostNet is cluster DNS.
        assert_eq!(resolv_conf(&pod(json!({"hostNetwork": true, "containers": []})), &s).render(), def);
        let hn = resolv_conf(&pod(json!({"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet", "containers": []})), &s);
        assert_eq!(hn.nameservers, ["10.96.0.10"]);
        let none = resolv_conf(
            &pod(json!({"dnsPolicy": "None", "containers": [], "dnsConfig": {
                "nameservers": ["1.2.3.4"], "searches": ["a.example"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}})),
            &s,
        );
        assert_eq!(none.render(), "search a.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n");
        // dnsConfig options replace the policy's of the same name.
        let merged = resolv_conf(&pod(json!({"containers": [], "dnsConfig": {"nameservers": ["10.96.0.10", "9.9.9.9"], "options": [{"name": "ndots", "value": "1"}]}})), &s);
        assert_eq!(merged.nameservers, ["10.96.0.10", "9.9.9.9"]);
        assert_eq!(merged.options, ["ndots:1"]);
    }

    #[test]
    fn without_cluster_dns_cluster_first_falls_back() {
        let s = DnsSettings { cluster_dns: vec![], ..settings() };
        let p = pod(json!({"containers": []}));
        assert_eq!(effective_policy(&p, &s), "Default");
        assert!(missing_cluster_dns(&p, &s).unwrap().contains("Falling back to \"Default\" policy"));
        assert!(missing_cluster_dns(&p, &settings()).is_none());
    }

    #[test]
    fn hosts_names_the_pod_ip() {
        let p = pod(json!({"hostname": "web-0", "subdomain": "web", "containers": [], "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo", "bar"]}]}));
        let h = hosts_file(&p, Some("10.244.1.5"), "cluster.local");
        assert!(h.contains("10.244.1.5\tweb-0.web.team.svc.cluster.local\tweb-0\n"), "{h}");
        assert!(h.ends_with("# Entries added by HostAliases.\n10.1.2.3\tfoo\tbar\n"), "{h}");
    }
}
