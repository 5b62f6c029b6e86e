//! PodTemplate (core v1): a stored pod template, defaulted and validated like
//! any workload's template (any restart policy).

use k8s_openapi::api::core::v1::PodTemplate;

use crate::registry::pod_template::{default_template, validate_template, RESTART_POLICIES};
use crate::registry::{ErrorList, NameRule, Path, ResourceInfo, Strategy};

pub struct PodTemplateStrategy;

impl Strategy for PodTemplateStrategy {
    type Object = PodTemplate;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "podtemplates",
        singular: "podtemplate",
        kind: "PodTemplate",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn default(&self, pt: &mut PodTemplate) {
        default_template(&mut pt.template);
    }

    fn validate(&self, pt: &PodTemplate) -> ErrorList {
        validate_template(pt.template.as_ref(), &Path::new("template"), RESTART_POLICIES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn template_is_defaulted_and_validated() {
        let kind = Typed(PodTemplateStrategy);
        let pt = kind
            .admit_create(json!({"metadata": {"name": "t", "namespace": "default"}, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}))
            .unwrap();
        assert_eq!(pt["template"]["spec"]["restartPolicy"], "Always");
        let e = kind.admit_create(json!({"metadata": {"name": "t", "namespace": "default"}, "template": {"spec": {"containers": [{"name": "c"}]}}})).unwrap_err();
        assert_eq!(e.message, r#"PodTemplate "t" is invalid: template.spec.containers[0].image: Required value"#);
    }
}
