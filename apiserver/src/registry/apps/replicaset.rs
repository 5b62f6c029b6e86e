//! ReplicaSet (apps/v1): replicas default 1, selector required and matching
//! the template labels, immutable selector.

use k8s_openapi::api::apps::v1::ReplicaSet;

use crate::registry::pod_template::default_template;
use crate::registry::workload::{self as w, immutable_selector, nonneg, validate_selector_and_template};
use crate::registry::{ErrorList, NameRule, ResourceInfo, Strategy};

pub struct ReplicaSetStrategy;

impl Strategy for ReplicaSetStrategy {
    type Object = ReplicaSet;

    const INFO: ResourceInfo = ResourceInfo {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        singular: "replicaset",
        kind: "ReplicaSet",
        namespaced: true,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &["status", "scale"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        w::require_json(v, &[("/spec", "spec"), ("/spec/selector", "spec.selector")])
    }

    fn default(&self, rs: &mut ReplicaSet) {
        rs.spec.replicas.get_or_insert(1);
        default_template(&mut rs.spec.template);
    }

    fn prepare_for_create(&self, rs: &mut ReplicaSet) {
        rs.status = Some(Default::default());
    }

    fn validate(&self, rs: &ReplicaSet) -> ErrorList {
        let spec = &rs.spec;
        let mut errs = Vec::new();
        nonneg(&mut errs, "replicas", spec.replicas.map(Into::into));
        nonneg(&mut errs, "minReadySeconds", spec.min_ready_seconds.map(Into::into));
        errs.extend(validate_selector_and_template(Some(&spec.selector), spec.template.as_ref(), "deployment", "ReplicaSet"));
        errs
    }

    fn validate_update(&self, new: &ReplicaSet, old: &ReplicaSet) -> ErrorList {
        let mut errs = self.validate(new);
        errs.extend(immutable_selector(Some(&new.spec.selector), Some(&old.spec.selector)));
        errs
    }

    fn fields(&self, o: &serde_json::Value, out: &mut crate::registry::Fields) {
        out.insert("status.replicas".into(), crate::registry::int_at(o, "/status/replicas"));
    }

    fn validate_status_update(&self, new: &ReplicaSet, _old: &ReplicaSet) -> ErrorList {
        let mut errs = Vec::new();
        let s = new.status.clone().unwrap_or_default();
        w::nonneg_status(&mut errs, &[
            ("replicas", Some(s.replicas.into())),
            ("fullyLabeledReplicas", s.fully_labeled_replicas.map(Into::into)),
            ("readyReplicas", s.ready_replicas.map(Into::into)),
            ("availableReplicas", s.available_replicas.map(Into::into)),
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

    fn rs(selector: serde_json::Value, labels: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": selector,
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    }

    #[test]
    fn defaults_and_selector_rules() {
        let kind = Typed(ReplicaSetStrategy);
        let v = kind.admit_create(rs(json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}))).unwrap();
        assert_eq!(v["spec"]["replicas"], 1);
        assert_eq!(v["spec"]["template"]["spec"]["restartPolicy"], "Always");
        let e = kind.admit_create(rs(json!({"matchLabels": {"app": "web"}}), json!({"app": "x"}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"ReplicaSet "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`"#
        );
        let e = kind.admit_create(rs(json!({}), json!({"app": "x"}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"ReplicaSet "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"#
        );
        let mut missing = rs(json!({}), json!({}));
        missing["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(kind.admit_create(missing).unwrap_err().message, r#"ReplicaSet "web" is invalid: spec.selector: Required value"#);
    }

    #[test]
    fn selector_is_immutable() {
        let kind = Typed(ReplicaSetStrategy);
        let old = kind.admit_create(rs(json!({"matchLabels": {"app": "web"}}), json!({"app": "web", "v": "2"}))).unwrap();
        let e = kind.admit_update(rs(json!({"matchLabels": {"v": "2"}}), json!({"app": "web", "v": "2"})), &old).unwrap_err();
        assert_eq!(
            e.message,
            r#"ReplicaSet "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
        );
    }
}
