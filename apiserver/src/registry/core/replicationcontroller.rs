//! ReplicationController (core v1): selector and labels default from the
//! template's labels, replicas 1; the selector must match the template.

use k8s_openapi::api::core::v1::ReplicationController;

use crate::registry::pod_template::{default_template, template_labels, validate_template};
use crate::registry::validation::{go_map, validate_labels};
use crate::registry::workload::{nonneg, nonneg_status, spec, SELECTOR_MISMATCH};
use crate::registry::{ErrorList, FieldError, NameRule, ResourceInfo, Strategy};

pub struct ReplicationControllerStrategy;

impl Strategy for ReplicationControllerStrategy {
    type Object = ReplicationController;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "replicationcontrollers",
        singular: "replicationcontroller",
        kind: "ReplicationController",
        namespaced: true,
        short_names: &["rc"],
        categories: &["all"],
        subresources: &["status", "scale"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };
    const ORPHAN_DEPENDENTS: bool = true;

    fn default(&self, rc: &mut ReplicationController) {
        let Some(spec) = rc.spec.as_mut() else { return };
        if let Some(labels) = template_labels(spec.template.as_ref()).cloned() {
            if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                spec.selector = Some(labels.clone());
            }
            if rc.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                rc.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        default_template(&mut spec.template);
    }

    fn prepare_for_create(&self, rc: &mut ReplicationController) {
        rc.status = Some(Default::default());
    }

    fn validate(&self, rc: &ReplicationController) -> ErrorList {
        let Some(s) = &rc.spec else { return vec![] };
        let mut errs = Vec::new();
        nonneg(&mut errs, "minReadySeconds", s.min_ready_seconds.map(Into::into));
        let selector = s.selector.clone().unwrap_or_default();
        if selector.is_empty() {
            errs.push(FieldError::required(&spec().child("selector"), ""));
        } else {
            errs.extend(validate_labels(&selector, &spec().child("selector")));
        }
        nonneg(&mut errs, "replicas", s.replicas.map(Into::into));
        let tpl = spec().child("template");
        if let Some(t) = &s.template {
            let labels = template_labels(Some(t));
            let matches = selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
            if !selector.is_empty() && !matches {
                errs.push(FieldError::invalid_raw(&tpl.child("metadata").child("labels"), go_map(labels), SELECTOR_MISMATCH));
            }
            if t.spec.as_ref().is_some_and(|p| p.active_deadline_seconds.is_some()) {
                errs.push(FieldError::forbidden(&tpl.child("spec").child("activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"));
            }
        }
        errs.extend(validate_template(s.template.as_ref(), &tpl, &["Always"]));
        errs
    }

    fn fields(&self, o: &serde_json::Value, out: &mut crate::registry::Fields) {
        out.insert("status.replicas".into(), crate::registry::int_at(o, "/status/replicas"));
    }

    fn validate_status_update(&self, new: &ReplicationController, _old: &ReplicationController) -> ErrorList {
        let mut errs = Vec::new();
        let s = new.status.clone().unwrap_or_default();
        nonneg_status(&mut errs, &[
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

    #[test]
    fn selector_and_labels_default_from_template() {
        let kind = Typed(ReplicationControllerStrategy);
        let rc = kind
            .admit_create(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
            .unwrap();
        assert_eq!(rc["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(rc["spec"]["replicas"], 1);
        assert_eq!(rc["status"], json!({"replicas": 0}));
        let e = kind
            .admit_create(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "x"},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
            .unwrap_err();
        assert_eq!(
            e.message,
            r#"ReplicationController "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#
        );
    }
}
