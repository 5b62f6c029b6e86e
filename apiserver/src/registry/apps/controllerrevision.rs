//! ControllerRevision (apps/v1): the history DaemonSets and StatefulSets keep
//! of their templates; data is mandatory and immutable.

use k8s_openapi::api::apps::v1::ControllerRevision;

use crate::registry::validation::NEGATIVE;
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct ControllerRevisionStrategy;

impl Strategy for ControllerRevisionStrategy {
    type Object = ControllerRevision;

    const INFO: ResourceInfo = ResourceInfo {
        group: "apps",
        version: "v1",
        plural: "controllerrevisions",
        singular: "controllerrevision",
        kind: "ControllerRevision",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        if v.get("data").is_none_or(|d| d.is_null()) {
            return vec![FieldError::required(&Path::new("data"), "data is mandatory")];
        }
        vec![]
    }

    fn validate(&self, cr: &ControllerRevision) -> ErrorList {
        match cr.revision {
            Some(r) if r < 0 => vec![FieldError::invalid_raw(&Path::new("revision"), r, NEGATIVE)],
            _ => vec![],
        }
    }

    fn validate_update(&self, new: &ControllerRevision, old: &ControllerRevision) -> ErrorList {
        let mut errs = self.validate(new);
        if new.data != old.data {
            errs.push(FieldError::invalid_raw(&Path::new("data"), "runtime.RawExtension{...}", "field is immutable"));
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
    fn data_is_mandatory_and_immutable() {
        let kind = Typed(ControllerRevisionStrategy);
        let e = kind.admit_create(json!({"metadata": {"name": "ds-1", "namespace": "default"}, "revision": 1})).unwrap_err();
        assert_eq!(e.message, r#"ControllerRevision "ds-1" is invalid: data: Required value: data is mandatory"#);
        let old = kind.admit_create(json!({"metadata": {"name": "ds-1", "namespace": "default"}, "revision": 1, "data": {"spec": {}}})).unwrap();
        let e = kind.admit_update(json!({"metadata": {"name": "ds-1", "namespace": "default"}, "revision": 2, "data": {"spec": {"x": 1}}}), &old).unwrap_err();
        assert_eq!(e.message, r#"ControllerRevision "ds-1" is invalid: data: Invalid value: runtime.RawExtension{...}: field is immutable"#);
    }
}
