//! PriorityClass (scheduling.k8s.io/v1): cluster-scoped; value required and
//! immutable; preemptionPolicy PreemptLowerPriority; `system-` names reserved.

use k8s_openapi::api::scheduling::v1::PriorityClass;

use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct PriorityClassStrategy;

/// The highest value a user-defined class may have.
pub const HIGHEST_USER_DEFINABLE: i32 = 1_000_000_000;
/// The built-in classes: (name, value).
pub const SYSTEM_CLASSES: &[(&str, i32)] = &[("system-node-critical", 2_000_001_000), ("system-cluster-critical", 2_000_000_000)];
const POLICIES: &[&str] = &["Never", "PreemptLowerPriority"];

impl Strategy for PriorityClassStrategy {
    type Object = PriorityClass;

    const INFO: ResourceInfo = ResourceInfo {
        group: "scheduling.k8s.io",
        version: "v1",
        plural: "priorityclasses",
        singular: "priorityclass",
        kind: "PriorityClass",
        namespaced: false,
        short_names: &["pc"],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn default(&self, pc: &mut PriorityClass) {
        pc.preemption_policy.get_or_insert_with(|| "PreemptLowerPriority".into());
    }

    fn validate(&self, pc: &PriorityClass) -> ErrorList {
        let mut errs = Vec::new();
        if pc.value.is_none() {
            errs.push(FieldError::required(&Path::new("value"), ""));
        }
        let name = pc.metadata.name.as_deref().unwrap_or("");
        if name.starts_with("system-") {
            let known = SYSTEM_CLASSES.iter().any(|(n, v)| *n == name && Some(*v) == pc.value && pc.global_default != Some(true));
            if !known {
                let err = match SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
                    None => format!("{name:?} is not a known system priority class"),
                    Some((_, v)) => format!("value of {name:?} PriorityClass must be {v}"),
                };
                errs.push(FieldError::forbidden(
                    &Path::new("metadata").child("name"),
                    &format!("priority class names with 'system-' prefix are reserved for system use only. error: {err}"),
                ));
            }
        } else if pc.value.is_some_and(|v| v > HIGHEST_USER_DEFINABLE) {
            errs.push(FieldError::forbidden(&Path::new("value"), &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}")));
        }
        if let Some(p) = pc.preemption_policy.as_deref() {
            if !POLICIES.contains(&p) {
                errs.push(FieldError::not_supported(&Path::new("preemptionPolicy"), p, POLICIES));
            }
        }
        errs
    }

    fn validate_update(&self, new: &PriorityClass, old: &PriorityClass) -> ErrorList {
        let mut errs = self.validate(new);
        if new.value != old.value {
            errs.push(FieldError::forbidden(&Path::new("value"), "may not be changed in an update."));
        }
        if new.preemption_policy != old.preemption_policy {
            errs.push(FieldError::invalid(&Path::new("preemptionPolicy"), new.preemption_policy.clone().unwrap_or_default(), "field is immutable"));
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
    fn value_rules() {
        let kind = Typed(PriorityClassStrategy);
        let pc = kind.admit_create(json!({"metadata": {"name": "high"}, "value": 1000})).unwrap();
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
        let e = kind.admit_create(json!({"metadata": {"name": "high"}})).unwrap_err();
        assert_eq!(e.message, r#"PriorityClass "high" is invalid: value: Required value"#);
        let e = kind.admit_update(json!({"metadata": {"name": "high"}, "value": 2000}), &pc).unwrap_err();
        assert_eq!(e.message, r#"PriorityClass "high" is invalid: value: Forbidden: may not be changed in an update."#);
        let e = kind.admit_create(json!({"metadata": {"name": "huge"}, "value": 2_000_000_000})).unwrap_err();
        assert_eq!(e.message, r#"PriorityClass "huge" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000"#);
        kind.admit_create(json!({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000})).unwrap();
    }
}
