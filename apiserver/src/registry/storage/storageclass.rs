//! StorageClass (storage.k8s.io/v1): cluster-scoped; reclaimPolicy Delete,
//! volumeBindingMode Immediate; provisioner required; provisioner,
//! parameters, reclaimPolicy and volumeBindingMode cannot change.

use k8s_openapi::api::storage::v1::StorageClass;

use crate::registry::validation::qualified_name;
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct StorageClassStrategy;

const MAX_PARAMETERS_SIZE: usize = 256 * 1024;

impl Strategy for StorageClassStrategy {
    type Object = StorageClass;

    const INFO: ResourceInfo = ResourceInfo {
        group: "storage.k8s.io",
        version: "v1",
        plural: "storageclasses",
        singular: "storageclass",
        kind: "StorageClass",
        namespaced: false,
        short_names: &["sc"],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        crate::registry::workload::require_json(v, &[("/provisioner", "provisioner")])
    }

    fn default(&self, sc: &mut StorageClass) {
        sc.reclaim_policy.get_or_insert_with(|| "Delete".into());
        sc.volume_binding_mode.get_or_insert_with(|| "Immediate".into());
    }

    fn validate(&self, sc: &StorageClass) -> ErrorList {
        let mut errs = Vec::new();
        if sc.provisioner.is_empty() {
            errs.push(FieldError::required(&Path::new("provisioner"), ""));
        } else {
            for e in qualified_name(&sc.provisioner.to_lowercase()) {
                errs.push(FieldError::invalid(&Path::new("provisioner"), &sc.provisioner, &e));
            }
        }
        let mut size = 0;
        for (k, v) in sc.parameters.iter().flatten() {
            if k.is_empty() {
                errs.push(FieldError::invalid(&Path::new("parameters"), k, "field can not be empty."));
            }
            size += k.len() + v.len();
        }
        if size > MAX_PARAMETERS_SIZE {
            errs.push(FieldError::too_long(&Path::new("parameters"), MAX_PARAMETERS_SIZE));
        }
        let rp = sc.reclaim_policy.as_deref().unwrap_or("");
        if rp != "Delete" && rp != "Retain" {
            errs.push(FieldError::not_supported(&Path::new("reclaimPolicy"), rp, &["Delete", "Retain"]));
        }
        let bm = sc.volume_binding_mode.as_deref().unwrap_or("");
        if bm.is_empty() {
            errs.push(FieldError::required(&Path::new("volumeBindingMode"), ""));
        } else if bm != "Immediate" && bm != "WaitForFirstConsumer" {
            errs.push(FieldError::not_supported(&Path::new("volumeBindingMode"), bm, &["Immediate", "WaitForFirstConsumer"]));
        }
        errs
    }

    fn validate_update(&self, new: &StorageClass, old: &StorageClass) -> ErrorList {
        let mut errs = self.validate(new);
        if new.parameters != old.parameters {
            errs.push(FieldError::forbidden(&Path::new("parameters"), "updates to parameters are forbidden."));
        }
        if new.provisioner != old.provisioner {
            errs.push(FieldError::forbidden(&Path::new("provisioner"), "updates to provisioner are forbidden."));
        }
        if new.reclaim_policy != old.reclaim_policy {
            errs.push(FieldError::forbidden(&Path::new("reclaimPolicy"), "updates to reclaimPolicy are forbidden."));
        }
        if new.volume_binding_mode != old.volume_binding_mode {
            errs.push(FieldError::invalid(&Path::new("volumeBindingMode"), new.volume_binding_mode.clone().unwrap_or_default(), "field is immutable"));
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
    fn defaults_required_and_immutable() {
        let kind = Typed(StorageClassStrategy);
        let sc = kind.admit_create(json!({"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path", "parameters": {"a": "1"}})).unwrap();
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        let e = kind.admit_create(json!({"metadata": {"name": "standard"}})).unwrap_err();
        assert_eq!(e.message, r#"StorageClass "standard" is invalid: provisioner: Required value"#);
        let e = kind
            .admit_update(json!({"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path", "parameters": {"a": "2"}}), &sc)
            .unwrap_err();
        assert_eq!(e.message, r#"StorageClass "standard" is invalid: parameters: Forbidden: updates to parameters are forbidden."#);
    }
}
