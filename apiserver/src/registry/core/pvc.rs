//! PersistentVolumeClaim: volumeMode Filesystem, phase Pending; access modes
//! and a storage request are required; the spec is immutable except a bound
//! claim's storage request, which may not shrink below status.capacity.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus};

use api::quantity::Quantity;
use crate::registry::validation::{self as v, dns1123_subdomain};
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct PersistentVolumeClaimStrategy;

pub const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const SPEC_IMMUTABLE: &str = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";

/// SetDefaults_PersistentVolumeClaim(Spec): also applied to StatefulSet claim templates.
pub fn default_claim(pvc: &mut PersistentVolumeClaim) {
    if let Some(spec) = pvc.spec.as_mut() {
        spec.volume_mode.get_or_insert_with(|| "Filesystem".into());
        if let Some(r) = spec.resources.as_mut() {
            crate::registry::pod_template::default_resource_list(&mut r.requests);
            crate::registry::pod_template::default_resource_list(&mut r.limits);
        }
    }
    let st = pvc.status.get_or_insert_with(PersistentVolumeClaimStatus::default);
    if st.phase.as_deref().unwrap_or("").is_empty() {
        st.phase = Some("Pending".into());
    }
}

/// Upstream's validation of access modes, shared with PersistentVolume.
pub fn validate_access_modes(modes: &[String], path: &Path, required_detail: &str) -> ErrorList {
    let mut errs = Vec::new();
    if modes.is_empty() {
        errs.push(FieldError::required(path, required_detail));
    }
    for m in modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldError::not_supported(path, m, ACCESS_MODES));
        }
    }
    if modes.len() > 1 && modes.iter().any(|m| m == "ReadWriteOncePod") {
        errs.push(FieldError::forbidden(path, "may not use ReadWriteOncePod with other access modes"));
    }
    errs
}

fn storage_request(spec: &PersistentVolumeClaimSpec) -> Option<Quantity> {
    spec.resources.as_ref()?.requests.as_ref()?.get("storage").and_then(|q| Quantity::parse(&q.0).ok())
}

/// Upstream's ValidatePersistentVolumeClaimSpec.
pub fn validate_claim_spec(spec: &PersistentVolumeClaimSpec, path: &Path) -> ErrorList {
    let mut errs = validate_access_modes(spec.access_modes.as_deref().unwrap_or(&[]), &path.child("accessModes"), "at least 1 access mode is required");
    if let Some(sel) = &spec.selector {
        errs.extend(v::validate_label_selector(sel, &path.child("selector")));
    }
    let storage_path = path.child("resources").key("storage");
    match spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")) {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(q) => match Quantity::parse(&q.0) {
            Err(e) => errs.push(FieldError::invalid(&storage_path, &q.0, &e.to_string())),
            Ok(q) if q.nanos <= 0 => errs.push(FieldError::invalid(&storage_path, q, "must be greater than zero")),
            Ok(_) => {}
        },
    }
    if let Some(sc) = spec.storage_class_name.as_deref().filter(|s| !s.is_empty()) {
        for e in dns1123_subdomain(sc) {
            errs.push(FieldError::invalid(&path.child("storageClassName"), sc, &e));
        }
    }
    if let Some(m) = spec.volume_mode.as_deref() {
        if m != "Block" && m != "Filesystem" {
            errs.push(FieldError::not_supported(&path.child("volumeMode"), m, &["Block", "Filesystem"]));
        }
    }
    errs
}

impl Strategy for PersistentVolumeClaimStrategy {
    type Object = PersistentVolumeClaim;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        kind: "PersistentVolumeClaim",
        namespaced: true,
        short_names: &["pvc"],
        categories: &[],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn default(&self, pvc: &mut PersistentVolumeClaim) {
        default_claim(pvc);
    }

    fn prepare_for_create(&self, pvc: &mut PersistentVolumeClaim) {
        pvc.status = Some(PersistentVolumeClaimStatus { phase: Some("Pending".into()), ..Default::default() });
    }

    fn validate(&self, pvc: &PersistentVolumeClaim) -> ErrorList {
        match &pvc.spec {
            None => vec![FieldError::required(&Path::new("spec").child("accessModes"), "at least 1 access mode is required")],
            Some(s) => validate_claim_spec(s, &Path::new("spec")),
        }
    }

    fn validate_update(&self, new: &PersistentVolumeClaim, old: &PersistentVolumeClaim) -> ErrorList {
        let mut errs = self.validate(new);
        let (Some(n), Some(o)) = (&new.spec, &old.spec) else { return errs };
        let mut old_c = o.clone();
        let mut new_c = n.clone();
        // The binder sets volumeName once.
        if o.volume_name.as_deref().unwrap_or("").is_empty() {
            old_c.volume_name = n.volume_name.clone();
        }
        let bound = old.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        if bound {
            // Only a bound claim's storage request and attributes class may change.
            old_c.volume_attributes_class_name = n.volume_attributes_class_name.clone();
            if let (Some(nr), Some(or)) = (new_c.resources.as_mut(), o.resources.as_ref()) {
                let old_storage = or.requests.as_ref().and_then(|r| r.get("storage")).cloned();
                if let (Some(reqs), Some(s)) = (nr.requests.as_mut(), old_storage) {
                    reqs.insert("storage".into(), s);
                }
            }
        }
        if new_c != old_c {
            errs.push(FieldError::forbidden(&Path::new("spec"), SPEC_IMMUTABLE));
        }
        if let (Some(ns), Some(os)) = (storage_request(n), storage_request(o)) {
            if ns < os {
                let capacity = old.status.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage")).and_then(|q| Quantity::parse(&q.0).ok());
                if capacity.is_none_or(|c| ns <= c) {
                    errs.push(FieldError::forbidden(&Path::new("spec").child("resources").child("requests").child("storage"), "field can not be less than status.capacity"));
                }
            }
        }
        errs
    }

    fn validate_status_update(&self, new: &PersistentVolumeClaim, _old: &PersistentVolumeClaim) -> ErrorList {
        let mut errs = Vec::new();
        if let Some(p) = new.status.as_ref().and_then(|s| s.phase.as_deref()) {
            if !["Pending", "Bound", "Lost"].contains(&p) {
                errs.push(FieldError::not_supported(&Path::new("status").child("phase"), p, &["Bound", "Lost", "Pending"]));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn pvc(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "data", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn defaults_and_required_fields() {
        let kind = Typed(PersistentVolumeClaimStrategy);
        let c = kind.admit_create(pvc(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}))).unwrap();
        assert_eq!(c["spec"]["volumeMode"], "Filesystem");
        assert_eq!(c["status"], json!({"phase": "Pending"}));
        let e = kind.admit_create(pvc(json!({}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"PersistentVolumeClaim "data" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Required value]"#
        );
        let e = kind.admit_create(pvc(json!({"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "0"}}}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"PersistentVolumeClaim "data" is invalid: [spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod", spec.resources[storage]: Invalid value: "0": must be greater than zero]"#
        );
    }

    #[test]
    fn spec_immutable_except_bound_storage_growth() {
        let kind = Typed(PersistentVolumeClaimStrategy);
        let mut old = kind.admit_create(pvc(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}))).unwrap();
        let grow = pvc(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}));
        let e = kind.admit_update(grow.clone(), &old).unwrap_err();
        assert_eq!(e.message, format!(r#"PersistentVolumeClaim "data" is invalid: spec: Forbidden: {SPEC_IMMUTABLE}"#));
        old["status"] = json!({"phase": "Bound", "capacity": {"storage": "1Gi"}});
        old["spec"]["volumeName"] = json!("pv-1");
        let mut grow = grow;
        grow["spec"]["volumeName"] = json!("pv-1");
        kind.admit_update(grow.clone(), &old).unwrap();
        let mut shrink = grow;
        shrink["spec"]["resources"]["requests"]["storage"] = json!("512Mi");
        let e = kind.admit_update(shrink, &old).unwrap_err();
        assert_eq!(e.message, r#"PersistentVolumeClaim "data" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"#);
    }
}
