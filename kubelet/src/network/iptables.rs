//! The node's NAT rules for pods, written with one `iptables-restore
//! --noflush` (DESIGN decision 8): hostPort DNAT (KUBE-HOSTPORTS, jumped to
//! from PREROUTING and OUTPUT for local destinations) and masquerading of
//! pod traffic that leaves the cluster (KUBELET-POD-MASQ from POSTROUTING).
//! Only ever run in the node's own network namespace (the kubelet's).

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use api::cidr::Ipv4Cidr;

use super::hostport::{self, HostPort};

pub const HOSTPORTS: &str = "KUBE-HOSTPORTS";
pub const MASQ: &str = "KUBELET-POD-MASQ";

/// The nat table's content for our chains (each chain is flushed and rewritten).
pub fn render(pod_cidr: Ipv4Cidr, non_masquerade: Ipv4Cidr, pods: &[(String, Ipv4Addr, Vec<HostPort>)]) -> String {
    let mut out = format!("*nat\n:{HOSTPORTS} - [0:0]\n:{MASQ} - [0:0]\n");
    let mut pods: Vec<_> = pods.iter().collect();
    pods.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, ip, ports) in pods {
        for r in hostport::rules(name, *ip, ports) {
            out += &r;
            out.push('\n');
        }
    }
    // Inside the cluster pods see each other's real addresses; beyond it
    // (and to multicast) they leave as the node.
    out += &format!("-A {MASQ} -d {non_masquerade} -j RETURN\n");
    out += &format!("-A {MASQ} -d 224.0.0.0/4 -j RETURN\n");
    out += &format!("-A {MASQ} -s {pod_cidr} -j MASQUERADE\n");
    out += "COMMIT\n";
    out
}

/// The jumps into our chains, as `iptables -t nat` arguments after -C/-I.
pub fn jumps() -> Vec<Vec<String>> {
    let v = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    vec![
        v(&format!("PREROUTING -m addrtype --dst-type LOCAL -j {HOSTPORTS}")),
        v(&format!("OUTPUT -m addrtype --dst-type LOCAL -j {HOSTPORTS}")),
        v(&format!("POSTROUTING -j {MASQ}")),
    ]
}

/// Apply `rules` atomically, then make sure the jumps exist.
pub fn apply(rules: &str) -> Result<(), String> {
    let mut child = Command::new("iptables-restore")
        .args(["-w", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running iptables-restore: {e}"))?;
    child.stdin.take().expect("piped").write_all(rules.as_bytes()).map_err(|e| format!("iptables-restore: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("iptables-restore: {e}"))?;
    if !out.status.success() {
        return Err(format!("iptables-restore failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    for j in jumps() {
        let check = Command::new("iptables").args(["-w", "-t", "nat", "-C"]).args(&j).output().map_err(|e| format!("iptables: {e}"))?;
        if !check.status.success() {
            let add = Command::new("iptables").args(["-w", "-t", "nat", "-I"]).args(&j).output().map_err(|e| format!("iptables: {e}"))?;
            if !add.status.success() {
                return Err(format!("iptables -t nat -I {}: {}", j.join(" "), String::from_utf8_lossy(&add.stderr).trim()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_masq_and_hostports() {
        let hp = HostPort { protocol: "tcp".into(), host_port: 8080, container_port: 80, host_ip: String::new() };
        let r = render("10.244.1.0/24".parse().unwrap(), "10.244.0.0/16".parse().unwrap(), &[("ns/p".into(), "10.244.1.5".parse().unwrap(), vec![hp])]);
        assert_eq!(
            r,
            "*nat\n:KUBE-HOSTPORTS - [0:0]\n:KUBELET-POD-MASQ - [0:0]\n\
             -A KUBE-HOSTPORTS -m comment --comment \"ns/p hostport 8080\" -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.1.5:80\n\
             -A KUBELET-POD-MASQ -d 10.244.0.0/16 -j RETURN\n-A KUBELET-POD-MASQ -d 224.0.0.0/4 -j RETURN\n\
             -A KUBELET-POD-MASQ -s 10.244.1.0/24 -j MASQUERADE\nCOMMIT\n"
        );
    }
}
