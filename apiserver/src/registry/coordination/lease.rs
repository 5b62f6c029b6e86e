//! Lease (coordination.k8s.io/v1): leader election and node heartbeats.

use k8s_openapi::api::coordination::v1::Lease;

use crate::registry::validation::NEGATIVE;
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct LeaseStrategy;

impl Strategy for LeaseStrategy {
    type Object = Lease;

    const INFO: ResourceInfo = ResourceInfo {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };
    const RAW_CREATE: bool = true;

    fn validate(&self, lease: &Lease) -> ErrorList {
        let mut errs = Vec::new();
        let Some(spec) = &lease.spec else { return errs };
        let p = Path::new("spec");
        if let Some(d) = spec.lease_duration_seconds {
            if d <= 0 {
                errs.push(FieldError::invalid_raw(&p.child("leaseDurationSeconds"), d, "must be greater than 0"));
            }
        }
        if let Some(t) = spec.lease_transitions {
            if t < 0 {
                errs.push(FieldError::invalid_raw(&p.child("leaseTransitions"), t, NEGATIVE));
            }
        }
        if spec.preferred_holder.as_deref().is_some_and(|h| !h.is_empty()) && spec.strategy.as_deref().unwrap_or("").is_empty() {
            errs.push(FieldError::forbidden(&p.child("preferredHolder"), "may only be specified if `strategy` is defined"));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn duration_must_be_positive() {
        let kind = Typed(LeaseStrategy);
        let ok = json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}});
        kind.admit_create(ok).unwrap();
        let bad = json!({"metadata": {"name": "l", "namespace": "default"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}});
        let e = kind.admit_create(bad).unwrap_err();
        assert_eq!(
            e.message,
            r#"Lease "l" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]"#
        );
    }
}
