//! Deployment (apps/v1): replicas 1, RollingUpdate 25%/25%, revision history
//! 10, progress deadline 600s; selector required, matching, immutable.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy as Rollout, RollingUpdateDeployment};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::registry::pod_template::default_template_spec;
use crate::registry::workload::{self as w, immutable_selector, nonneg, spec, validate_selector_and_template};
use crate::registry::{ErrorList, FieldError, NameRule, ResourceInfo, Strategy};

pub struct DeploymentStrategy;

/// Go's %#v of the strategy, as upstream's NotSupported error shows it.
fn go_strategy(s: &Rollout) -> String {
    let ru = match &s.rolling_update {
        None => "(*apps.RollingUpdateDeployment)(nil)".to_string(),
        Some(_) => "&apps.RollingUpdateDeployment{...}".to_string(),
    };
    format!("apps.DeploymentStrategy{{Type:{:?}, RollingUpdate:{ru}}}", s.type_.clone().unwrap_or_default())
}

fn validate_strategy(s: &Rollout) -> ErrorList {
    let path = spec().child("strategy");
    let mut errs = Vec::new();
    match s.type_.as_deref().unwrap_or("") {
        "Recreate" => {
            if s.rolling_update.is_some() {
                errs.push(FieldError::forbidden(&path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"));
            }
        }
        "RollingUpdate" => match &s.rolling_update {
            None => errs.push(FieldError::required(&path.child("rollingUpdate"), "this should be defaulted and never be nil")),
            Some(ru) => {
                let p = path.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let mu = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let ms = ru.max_surge.as_ref().unwrap_or(&zero);
                w::validate_int_or_percent(mu, &p.child("maxUnavailable"), &mut errs);
                w::validate_int_or_percent(ms, &p.child("maxSurge"), &mut errs);
                if w::iop(Some(mu)) == 0 && w::iop(Some(ms)) == 0 {
                    errs.push(FieldError::invalid_raw(&p.child("maxUnavailable"), w::go_int_or_string(mu), "may not be 0 when `maxSurge` is 0"));
                }
                w::not_more_than_100_percent(mu, &p.child("maxUnavailable"), &mut errs);
            }
        },
        _ => errs.push(w::not_supported_raw(&path, go_strategy(s), &["Recreate", "RollingUpdate"])),
    }
    errs
}

impl Strategy for DeploymentStrategy {
    type Object = Deployment;

    const INFO: ResourceInfo = ResourceInfo {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &["status", "scale"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        w::require_json(v, &[("/spec", "spec"), ("/spec/selector", "spec.selector"), ("/spec/template", "spec.template")])
    }

    fn default(&self, d: &mut Deployment) {
        let spec = &mut d.spec;
        spec.replicas.get_or_insert(1);
        let st = spec.strategy.get_or_insert_with(Default::default);
        if st.type_.as_deref().unwrap_or("").is_empty() {
            st.type_ = Some("RollingUpdate".into());
        }
        if st.type_.as_deref() == Some("RollingUpdate") {
            let ru = st.rolling_update.get_or_insert_with(RollingUpdateDeployment::default);
            ru.max_unavailable.get_or_insert_with(|| IntOrString::String("25%".into()));
            ru.max_surge.get_or_insert_with(|| IntOrString::String("25%".into()));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        default_template_spec(&mut spec.template);
    }

    fn prepare_for_create(&self, d: &mut Deployment) {
        d.status = Some(Default::default());
    }

    fn validate(&self, d: &Deployment) -> ErrorList {
        let s = &d.spec;
        let mut errs = Vec::new();
        nonneg(&mut errs, "replicas", s.replicas.map(Into::into));
        errs.extend(validate_selector_and_template(Some(&s.selector), Some(&s.template), "deployment", "ReplicaSet"));
        if let Some(st) = &s.strategy {
            errs.extend(validate_strategy(st));
        }
        nonneg(&mut errs, "minReadySeconds", s.min_ready_seconds.map(Into::into));
        nonneg(&mut errs, "revisionHistoryLimit", s.revision_history_limit.map(Into::into));
        if let Some(pd) = s.progress_deadline_seconds {
            nonneg(&mut errs, "progressDeadlineSeconds", Some(pd.into()));
            if pd <= s.min_ready_seconds.unwrap_or(0) {
                errs.push(FieldError::invalid_raw(&spec().child("progressDeadlineSeconds"), pd, "must be greater than minReadySeconds"));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Deployment, old: &Deployment) -> ErrorList {
        let mut errs = self.validate(new);
        errs.extend(immutable_selector(Some(&new.spec.selector), Some(&old.spec.selector)));
        errs
    }

    fn validate_status_update(&self, new: &Deployment, _old: &Deployment) -> ErrorList {
        let mut errs = Vec::new();
        let s = new.status.clone().unwrap_or_default();
        w::nonneg_status(&mut errs, &[
            ("observedGeneration", s.observed_generation),
            ("replicas", s.replicas.map(Into::into)),
            ("updatedReplicas", s.updated_replicas.map(Into::into)),
            ("readyReplicas", s.ready_replicas.map(Into::into)),
            ("availableReplicas", s.available_replicas.map(Into::into)),
            ("unavailableReplicas", s.unavailable_replicas.map(Into::into)),
            ("collisionCount", s.collision_count.map(Into::into)),
        ]);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn deploy(spec_extra: serde_json::Value) -> serde_json::Value {
        let mut spec = json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}});
        spec.as_object_mut().unwrap().extend(spec_extra.as_object().unwrap().clone());
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn defaults_match_upstream() {
        let d = Typed(DeploymentStrategy).admit_create(deploy(json!({}))).unwrap();
        let s = &d["spec"];
        assert_eq!(s["replicas"], 1);
        assert_eq!(s["strategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}));
        assert_eq!(s["revisionHistoryLimit"], 10);
        assert_eq!(s["progressDeadlineSeconds"], 600);
        let c = &s["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(s["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(d["status"], json!({}));
    }

    #[test]
    fn selector_mismatch_message() {
        let mut v = deploy(json!({}));
        v["spec"]["template"]["metadata"]["labels"] = json!({"app": "x"});
        let e = Typed(DeploymentStrategy).admit_create(v).unwrap_err();
        assert_eq!(
            e.message,
            r#"Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`"#
        );
    }

    #[test]
    fn strategy_errors() {
        let kind = Typed(DeploymentStrategy);
        let e = kind.admit_create(deploy(json!({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}))).unwrap_err();
        assert_eq!(e.message, r#"Deployment "web" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"#);
        let e = kind.admit_create(deploy(json!({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"Deployment "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0"#
        );
        let e = kind.admit_create(deploy(json!({"strategy": {"type": "Blue"}}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"Deployment "web" is invalid: spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Blue", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate""#
        );
        let e = kind.admit_create(deploy(json!({"minReadySeconds": 700}))).unwrap_err();
        assert_eq!(e.message, r#"Deployment "web" is invalid: spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"#);
    }

    #[test]
    fn selector_is_immutable_and_missing_selector_required() {
        let kind = Typed(DeploymentStrategy);
        let old = kind.admit_create(deploy(json!({}))).unwrap();
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "fe"}});
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("fe");
        let e = kind.admit_update(new, &old).unwrap_err();
        assert!(e.message.ends_with(r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"fe"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#), "{}", e.message);
        let mut v = deploy(json!({}));
        v["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(kind.admit_create(v).unwrap_err().message, r#"Deployment "web" is invalid: spec.selector: Required value"#);
    }
}
