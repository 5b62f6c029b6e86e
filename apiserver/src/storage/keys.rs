//! The etcd key layout, as upstream: `/registry/<resource>/[<namespace>/]<name>`.
//!
//! Resources of API groups other than core and apps-like built-ins use the
//! plural alone, as upstream does for every built-in kind (e.g.
//! `/registry/deployments/...`, `/registry/leases/...`).

pub const RESOURCE_PREFIX: &str = "/registry/";

/// The key of one object.
pub fn key_for(plural: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("/registry/{plural}/{ns}/{name}"),
        _ => format!("/registry/{plural}/{name}"),
    }
}

/// The prefix of every object of a kind, or of a kind in one namespace.
pub fn prefix_for(plural: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("/registry/{plural}/{ns}/"),
        _ => format!("/registry/{plural}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(key_for("pods", Some("default"), "web"), "/registry/pods/default/web");
        assert_eq!(key_for("nodes", None, "n1"), "/registry/nodes/n1");
        assert_eq!(prefix_for("pods", None), "/registry/pods/");
        assert_eq!(super::super::prefix_end("/registry/pods/"), b"/registry/pods0".to_vec());
    }
}
