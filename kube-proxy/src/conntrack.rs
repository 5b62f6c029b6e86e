//! Deleting stale UDP conntrack entries with the `conntrack` tool: UDP has
//! no connection close, so without this a client keeps talking to a removed
//! endpoint (or to the REJECT of a service that had none) for as long as it
//! keeps sending.

use crate::iptables::render::StaleFlow;
use crate::iptables::Exec;

/// Deletes the flows; failures are logged, not fatal (as upstream).
pub fn clear_stale(exec: &Exec, flows: &[StaleFlow]) {
    for f in flows {
        let port = f.orig_port_dst.to_string();
        let (dst, nat) = (f.orig_dst.map(|i| i.to_string()), f.dst_nat.map(|i| i.to_string()));
        let mut args = vec!["-D", "-p", "udp", "--orig-port-dst", &port];
        if let Some(d) = &dst {
            args.extend(["--orig-dst", d]);
        }
        if let Some(n) = &nat {
            args.extend(["--dst-nat", n]);
        }
        match exec.output("conntrack", &args, None) {
            // Exit 1 with "0 flow entries have been deleted" is the usual nothing-to-do.
            Ok(out) if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("0 flow entries") => {
                tracing::debug!(args = %args.join(" "), "conntrack entries cleared");
            }
            Ok(out) => tracing::warn!(args = %args.join(" "), stderr = %String::from_utf8_lossy(&out.stderr).trim(), "conntrack delete failed"),
            Err(e) => tracing::warn!(error = %e, "conntrack not run (install the conntrack package)"),
        }
    }
}
