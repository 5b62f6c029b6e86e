//! iptables: chain names, rendering, and applying rules with one
//! `iptables-restore --noflush` per sync, in the iptables flavour (nft or
//! legacy) the node already uses.

pub mod chains;
pub mod exec;
pub mod render;

use std::fmt;

pub use exec::{Exec, ExecError};

/// The two iptables backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Nft,
    Legacy,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Nft => "nft",
            Mode::Legacy => "legacy",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "nft" => Ok(Mode::Nft),
            "legacy" => Ok(Mode::Legacy),
            other => Err(format!("unknown iptables mode {other:?}: want nft or legacy")),
        }
    }
}

/// The chains the kubelet creates to mark which backend it uses.
const HINT_CHAINS: [&str; 2] = [":KUBE-IPTABLES-HINT", ":KUBE-KUBELET-CANARY"];

/// Picks the backend as upstream's iptables-wrapper does: a kubelet hint
/// chain in nft's mangle table, else in legacy's tables; else whichever
/// backend holds more rules (nft on a tie: Debian's default).
pub fn detect_mode(exec: &Exec) -> Mode {
    let save = |program: &str, args: &[&str]| -> String {
        exec.output(program, args, None).map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    };
    let nft_mangle = save("iptables-nft-save", &["-t", "mangle"]);
    if nft_mangle.lines().any(|l| HINT_CHAINS.iter().any(|h| l.starts_with(h))) {
        return Mode::Nft;
    }
    // Not `-t mangle` for legacy: that would create the table.
    let legacy = save("iptables-legacy-save", &[]);
    if legacy.lines().any(|l| HINT_CHAINS.iter().any(|h| l.starts_with(h))) {
        return Mode::Legacy;
    }
    let count = |s: &str| s.lines().filter(|l| l.starts_with('-')).count();
    let nft = save("iptables-nft-save", &[]);
    let (n_legacy, n_nft) = (count(&legacy), count(&nft));
    tracing::debug!(legacy_rules = n_legacy, nft_rules = n_nft, "iptables backend detection");
    if n_legacy > n_nft {
        Mode::Legacy
    } else {
        Mode::Nft
    }
}

/// iptables commands of one backend.
#[derive(Clone, Debug)]
pub struct Iptables {
    pub mode: Mode,
    pub exec: Exec,
}

/// Base chains that jump to ours: (table, source chain, extra match args, comment, our chain).
pub const JUMPS: &[(&str, &str, &[&str], &str, &str)] = &[
    ("filter", "INPUT", &["-m", "conntrack", "--ctstate", "NEW"], "kubernetes externally-visible service portals", chains::KUBE_EXTERNAL_SERVICES),
    ("filter", "FORWARD", &["-m", "conntrack", "--ctstate", "NEW"], "kubernetes externally-visible service portals", chains::KUBE_EXTERNAL_SERVICES),
    ("filter", "INPUT", &[], "kubernetes health check service ports", chains::KUBE_NODEPORTS),
    ("filter", "FORWARD", &["-m", "conntrack", "--ctstate", "NEW"], "kubernetes service portals", chains::KUBE_SERVICES),
    ("filter", "OUTPUT", &["-m", "conntrack", "--ctstate", "NEW"], "kubernetes service portals", chains::KUBE_SERVICES),
    ("filter", "FORWARD", &[], "kubernetes forwarding rules", chains::KUBE_FORWARD),
    ("filter", "INPUT", &["-m", "conntrack", "--ctstate", "NEW"], "kubernetes load balancer firewall", chains::KUBE_PROXY_FIREWALL),
    ("filter", "OUTPUT", &["-m", "conntrack", "--ctstate", "NEW"], "kubernetes load balancer firewall", chains::KUBE_PROXY_FIREWALL),
    ("filter", "FORWARD", &["-m", "conntrack", "--ctstate", "NEW"], "kubernetes load balancer firewall", chains::KUBE_PROXY_FIREWALL),
    ("nat", "OUTPUT", &[], "kubernetes service portals", chains::KUBE_SERVICES),
    ("nat", "PREROUTING", &[], "kubernetes service portals", chains::KUBE_SERVICES),
    ("nat", "POSTROUTING", &[], "kubernetes postrouting rules", chains::KUBE_POSTROUTING),
];

/// The kubelet's localhost guard, jumped to from INPUT and OUTPUT.
pub const FIREWALL_JUMPS: &[(&str, &str, &[&str], &str, &str)] =
    &[("filter", "INPUT", &[], "", chains::KUBE_FIREWALL), ("filter", "OUTPUT", &[], "", chains::KUBE_FIREWALL)];

impl Iptables {
    pub fn new(mode: Mode, exec: Exec) -> Self {
        Iptables { mode, exec }
    }

    fn program(&self, tool: &str) -> String {
        format!("{tool}-{}", self.mode)
    }

    /// Applies `input` atomically per table, leaving chains it does not name alone.
    pub fn restore(&self, input: &str) -> Result<(), ExecError> {
        let prog = format!("iptables-{}-restore", self.mode);
        self.exec.run(&prog, &["-w", "5", "--noflush"], Some(input.as_bytes())).map(|_| ())
    }

    /// `iptables-save -t <table>`.
    pub fn save(&self, table: &str) -> Result<String, ExecError> {
        let prog = format!("iptables-{}-save", self.mode);
        let out = self.exec.run(&prog, &["-t", table], None)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Makes sure `src` jumps to `dst` (inserted first when missing), as upstream's EnsureRule(Prepend).
    pub fn ensure_jump(&self, table: &str, src: &str, extra: &[&str], comment: &str, dst: &str) -> Result<(), ExecError> {
        let prog = self.program("iptables");
        let mut rule: Vec<&str> = extra.to_vec();
        if !comment.is_empty() {
            rule.extend(["-m", "comment", "--comment", comment]);
        }
        rule.extend(["-j", dst]);
        let mut check = vec!["-w", "5", "-t", table, "-C", src];
        check.extend(&rule);
        if self.exec.output(&prog, &check, None)?.status.success() {
            return Ok(());
        }
        let mut insert = vec!["-w", "5", "-t", table, "-I", src];
        insert.extend(&rule);
        self.exec.run(&prog, &insert, None).map(|_| ())
    }

    /// The chain names in `table` (from iptables-save).
    pub fn chains(&self, table: &str) -> Result<Vec<String>, ExecError> {
        Ok(self.save(table)?.lines().filter_map(|l| l.strip_prefix(':')).filter_map(|l| l.split_whitespace().next()).map(String::from).collect())
    }
}
