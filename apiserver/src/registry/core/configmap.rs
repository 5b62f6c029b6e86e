//! ConfigMap: keys must be valid config keys, data and binaryData may not overlap.

use k8s_openapi::api::core::v1::ConfigMap;

use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct ConfigMapStrategy;

/// Upstream's IsConfigMapKey: [-._a-zA-Z0-9]+, at most 253 chars, not "." or "..".
pub fn config_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".into());
    }
    if key == "." || key == ".." {
        errs.push(format!("must not be '{key}'"));
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

impl Strategy for ConfigMapStrategy {
    type Object = ConfigMap;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };
    const RAW_CREATE: bool = true;

    fn validate(&self, cm: &ConfigMap) -> ErrorList {
        let mut errs = Vec::new();
        let data = cm.data.as_ref();
        let bin = cm.binary_data.as_ref();
        for k in data.into_iter().flat_map(|d| d.keys()) {
            for e in config_key_errors(k) {
                errs.push(FieldError::invalid(&Path::new("data").key(k), k, &e));
            }
        }
        for k in bin.into_iter().flat_map(|d| d.keys()) {
            for e in config_key_errors(k) {
                errs.push(FieldError::invalid(&Path::new("binaryData").key(k), k, &e));
            }
            if data.is_some_and(|d| d.contains_key(k)) {
                errs.push(FieldError::invalid(&Path::new("data").key(k), k, "duplicate of key present in binaryData"));
            }
        }
        let size: usize = data.into_iter().flat_map(|d| d.iter()).map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + bin.into_iter().flat_map(|d| d.iter()).map(|(k, v)| k.len() + v.0.len()).sum::<usize>();
        if size > 1024 * 1024 {
            errs.push(FieldError::too_long(&Path::new(""), 1024 * 1024));
        }
        errs
    }

    fn validate_update(&self, new: &ConfigMap, old: &ConfigMap) -> ErrorList {
        let mut errs = self.validate(new);
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                errs.push(FieldError::forbidden(&Path::new("immutable"), "field is immutable when `immutable` is set"));
            }
            if new.data != old.data {
                errs.push(FieldError::forbidden(&Path::new("data"), "field is immutable when `immutable` is set"));
            }
            if new.binary_data != old.binary_data {
                errs.push(FieldError::forbidden(&Path::new("binaryData"), "field is immutable when `immutable` is set"));
            }
        }
        errs
    }
}
