//! DaemonSet (apps/v1): RollingUpdate with maxUnavailable 1 / maxSurge 0,
//! revision history 10; exactly one of maxSurge/maxUnavailable non-zero.

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::registry::pod_template::default_template_spec;
use crate::registry::workload::{self as w, immutable_selector, nonneg, spec, validate_selector_and_template};
use crate::registry::{ErrorList, FieldError, NameRule, ResourceInfo, Strategy};

pub struct DaemonSetStrategy;

fn go_strategy(s: &DaemonSetUpdateStrategy) -> String {
    let ru = if s.rolling_update.is_some() { "&apps.RollingUpdateDaemonSet{...}" } else { "(*apps.RollingUpdateDaemonSet)(nil)" };
    format!("apps.DaemonSetUpdateStrategy{{Type:{:?}, RollingUpdate:{ru}}}", s.type_.clone().unwrap_or_default())
}

fn validate_update_strategy(s: &DaemonSetUpdateStrategy) -> ErrorList {
    let path = spec().child("updateStrategy");
    let mut errs = Vec::new();
    match s.type_.as_deref().unwrap_or("") {
        "OnDelete" => {}
        "RollingUpdate" => match &s.rolling_update {
            None => errs.push(FieldError::required(&path.child("rollingUpdate"), "")),
            Some(ru) => {
                let p = path.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let mu = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let ms = ru.max_surge.as_ref().unwrap_or(&zero);
                w::validate_int_or_percent(mu, &p.child("maxUnavailable"), &mut errs);
                w::validate_int_or_percent(ms, &p.child("maxSurge"), &mut errs);
                w::not_more_than_100_percent(mu, &p.child("maxUnavailable"), &mut errs);
                w::not_more_than_100_percent(ms, &p.child("maxSurge"), &mut errs);
                match (w::iop(Some(mu)) != 0, w::iop(Some(ms)) != 0) {
                    (true, true) => errs.push(FieldError::invalid_raw(&p.child("maxSurge"), w::go_int_or_string(ms), "may not be set when maxUnavailable is non-zero")),
                    (false, false) => errs.push(FieldError::required(&p.child("maxUnavailable"), "cannot be 0 when maxSurge is 0")),
                    _ => {}
                }
            }
        },
        _ => errs.push(w::not_supported_raw(&path, go_strategy(s), &["RollingUpdate", "OnDelete"])),
    }
    errs
}

impl Strategy for DaemonSetStrategy {
    type Object = DaemonSet;

    const INFO: ResourceInfo = ResourceInfo {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        kind: "DaemonSet",
        namespaced: true,
        short_names: &["ds"],
        categories: &["all"],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        w::require_json(v, &[("/spec", "spec"), ("/spec/selector", "spec.selector"), ("/spec/template", "spec.template")])
    }

    fn default(&self, ds: &mut DaemonSet) {
        let spec = &mut ds.spec;
        let us = spec.update_strategy.get_or_insert_with(Default::default);
        if us.type_.as_deref().unwrap_or("").is_empty() {
            us.type_ = Some("RollingUpdate".into());
        }
        if us.type_.as_deref() == Some("RollingUpdate") {
            let ru = us.rolling_update.get_or_insert_with(RollingUpdateDaemonSet::default);
            ru.max_unavailable.get_or_insert(IntOrString::Int(1));
            ru.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        default_template_spec(&mut spec.template);
    }

    fn prepare_for_create(&self, ds: &mut DaemonSet) {
        ds.status = Some(Default::default());
    }

    fn validate(&self, ds: &DaemonSet) -> ErrorList {
        let s = &ds.spec;
        let mut errs = validate_selector_and_template(Some(&s.selector), Some(&s.template), "daemonset", "DaemonSet");
        nonneg(&mut errs, "minReadySeconds", s.min_ready_seconds.map(Into::into));
        if let Some(us) = &s.update_strategy {
            errs.extend(validate_update_strategy(us));
        }
        nonneg(&mut errs, "revisionHistoryLimit", s.revision_history_limit.map(Into::into));
        errs
    }

    fn validate_update(&self, new: &DaemonSet, old: &DaemonSet) -> ErrorList {
        let mut errs = self.validate(new);
        errs.extend(immutable_selector(Some(&new.spec.selector), Some(&old.spec.selector)));
        errs
    }

    fn validate_status_update(&self, new: &DaemonSet, _old: &DaemonSet) -> ErrorList {
        let mut errs = Vec::new();
        let s = new.status.clone().unwrap_or_default();
        w::nonneg_status(&mut errs, &[
            ("currentNumberScheduled", Some(s.current_number_scheduled.into())),
            ("desiredNumberScheduled", Some(s.desired_number_scheduled.into())),
            ("numberMisscheduled", Some(s.number_misscheduled.into())),
            ("numberReady", Some(s.number_ready.into())),
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

    fn ds(strategy: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "agent", "namespace": "kube-system"}, "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "updateStrategy": strategy,
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": "agent:1"}]}}}})
    }

    #[test]
    fn defaults_and_rolling_rules() {
        let kind = Typed(DaemonSetStrategy);
        let d = kind.admit_create(ds(json!({}))).unwrap();
        assert_eq!(d["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}));
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        let e = kind.admit_create(ds(json!({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"DaemonSet "agent" is invalid: spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:""}: may not be set when maxUnavailable is non-zero"#
        );
        let e = kind.admit_create(ds(json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}))).unwrap_err();
        assert_eq!(e.message, r#"DaemonSet "agent" is invalid: spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"#);
        let mut bad = ds(json!({}));
        bad["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
        let e = kind.admit_create(bad).unwrap_err();
        assert_eq!(e.message, r#"DaemonSet "agent" is invalid: spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#);
    }
}
