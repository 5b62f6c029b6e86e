//! PodDisruptionBudget (policy/v1): minAvailable or maxUnavailable (not
//! both), each an int or a percentage up to 100%; the disruption controller
//! owns the status.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};

use crate::registry::validation as v;
use crate::registry::workload::{self as w, nonneg_status};
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct PodDisruptionBudgetStrategy;

fn go_spec(min: Option<&str>, max: Option<&str>) -> String {
    let show = |x: Option<&str>| x.map_or("(*intstr.IntOrString)(nil)".to_string(), |s| format!("&{s}"));
    format!("policy.PodDisruptionBudgetSpec{{MinAvailable:{}, Selector:..., MaxUnavailable:{}}}", show(min), show(max))
}

impl Strategy for PodDisruptionBudgetStrategy {
    type Object = PodDisruptionBudget;

    const INFO: ResourceInfo = ResourceInfo {
        group: "policy",
        version: "v1",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        kind: "PodDisruptionBudget",
        namespaced: true,
        short_names: &["pdb"],
        categories: &[],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };

    fn prepare_for_create(&self, pdb: &mut PodDisruptionBudget) {
        pdb.status = Some(PodDisruptionBudgetStatus {
            current_healthy: Some(0),
            desired_healthy: Some(0),
            disruptions_allowed: Some(0),
            expected_pods: Some(0),
            ..Default::default()
        });
    }

    fn validate(&self, pdb: &PodDisruptionBudget) -> ErrorList {
        let Some(spec) = &pdb.spec else { return vec![] };
        let path = Path::new("spec");
        let mut errs = Vec::new();
        if let (Some(mn), Some(mx)) = (&spec.min_available, &spec.max_unavailable) {
            let shown = go_spec(Some(&w::go_int_or_string(mn)), Some(&w::go_int_or_string(mx)));
            errs.push(FieldError::invalid_raw(&path, shown, "minAvailable and maxUnavailable cannot be both set"));
        }
        for (name, val) in [("minAvailable", &spec.min_available), ("maxUnavailable", &spec.max_unavailable)] {
            if let Some(x) = val {
                w::validate_int_or_percent(x, &path.child(name), &mut errs);
                w::not_more_than_100_percent(x, &path.child(name), &mut errs);
            }
        }
        if let Some(sel) = &spec.selector {
            errs.extend(v::validate_label_selector(sel, &path.child("selector")));
        }
        if let Some(p) = spec.unhealthy_pod_eviction_policy.as_deref() {
            if p != "IfHealthyBudget" && p != "AlwaysAllow" {
                errs.push(FieldError::not_supported(&path.child("unhealthyPodEvictionPolicy"), p, &["AlwaysAllow", "IfHealthyBudget"]));
            }
        }
        errs
    }

    fn validate_status_update(&self, new: &PodDisruptionBudget, _old: &PodDisruptionBudget) -> ErrorList {
        let mut errs = Vec::new();
        let s = new.status.clone().unwrap_or_default();
        nonneg_status(&mut errs, &[
            ("disruptionsAllowed", s.disruptions_allowed.map(Into::into)),
            ("currentHealthy", s.current_healthy.map(Into::into)),
            ("desiredHealthy", s.desired_healthy.map(Into::into)),
            ("expectedPods", s.expected_pods.map(Into::into)),
            ("observedGeneration", s.observed_generation),
        ]);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn pdb(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn budget_rules() {
        let kind = Typed(PodDisruptionBudgetStrategy);
        let p = kind.admit_create(pdb(json!({"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}))).unwrap();
        assert_eq!(p["status"], json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}));
        let e = kind.admit_create(pdb(json!({"maxUnavailable": "150%"}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"PodDisruptionBudget "web" is invalid: spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%"#
        );
        let e = kind.admit_create(pdb(json!({"maxUnavailable": 1, "minAvailable": 1}))).unwrap_err();
        assert!(e.message.ends_with("minAvailable and maxUnavailable cannot be both set"), "{}", e.message);
    }
}
