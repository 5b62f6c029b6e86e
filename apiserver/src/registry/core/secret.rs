//! Secret: type Opaque by default, stringData folded into data, data keys are
//! config keys, at most 1 MiB, per-type required keys, type and (when
//! `immutable`) data cannot change.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;

use crate::registry::core::configmap::config_key_errors;
use crate::registry::{ErrorList, FieldError, Fields, NameRule, Path, ResourceInfo, Strategy};

pub struct SecretStrategy;

const MAX_SECRET_SIZE: usize = 1024 * 1024;
const IMMUTABLE: &str = "field is immutable when `immutable` is set";

fn has(s: &Secret, key: &str) -> bool {
    s.data.as_ref().and_then(|d| d.get(key)).is_some_and(|v| !v.0.is_empty())
}

fn validate_json_key(s: &Secret, key: &str, errs: &mut ErrorList) {
    let p = Path::new("data").key(key);
    match s.data.as_ref().and_then(|d| d.get(key)) {
        None => errs.push(FieldError::required(&p, "")),
        Some(v) => {
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&v.0) {
                errs.push(FieldError::invalid(&p, "<secret contents redacted>", &e.to_string()));
            }
        }
    }
}

impl Strategy for SecretStrategy {
    type Object = Secret;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };
    const RAW_CREATE: bool = true;

    fn default(&self, s: &mut Secret) {
        if s.type_.as_deref().unwrap_or("").is_empty() {
            s.type_ = Some("Opaque".into());
        }
        // v1 conversion: stringData overwrites data and is never stored.
        if let Some(sd) = s.string_data.take() {
            let data = s.data.get_or_insert_with(Default::default);
            for (k, v) in sd {
                data.insert(k, ByteString(v.into_bytes()));
            }
        }
    }

    fn validate(&self, s: &Secret) -> ErrorList {
        let mut errs = Vec::new();
        let mut size = 0;
        for (k, v) in s.data.iter().flatten() {
            for e in config_key_errors(k) {
                errs.push(FieldError::invalid(&Path::new("data").key(k), k, &e));
            }
            size += v.0.len();
        }
        if size > MAX_SECRET_SIZE {
            errs.push(FieldError::too_long(&Path::new("data"), MAX_SECRET_SIZE));
        }
        let data = Path::new("data");
        match s.type_.as_deref().unwrap_or("") {
            "kubernetes.io/service-account-token" => {
                let named = s.metadata.annotations.as_ref().and_then(|a| a.get("kubernetes.io/service-account.name")).is_some_and(|n| !n.is_empty());
                if !named {
                    errs.push(FieldError::required(&Path::new("metadata").child("annotations").key("kubernetes.io/service-account.name"), ""));
                }
            }
            "kubernetes.io/dockercfg" => validate_json_key(s, ".dockercfg", &mut errs),
            "kubernetes.io/dockerconfigjson" => validate_json_key(s, ".dockerconfigjson", &mut errs),
            "kubernetes.io/basic-auth" => {
                if !has(s, "username") && !has(s, "password") {
                    errs.push(FieldError::required(&data.key("username"), ""));
                    errs.push(FieldError::required(&data.key("password"), ""));
                }
            }
            "kubernetes.io/ssh-auth" => {
                if !has(s, "ssh-privatekey") {
                    errs.push(FieldError::required(&data.key("ssh-privatekey"), ""));
                }
            }
            "kubernetes.io/tls" => {
                for k in ["tls.key", "tls.crt"] {
                    if s.data.as_ref().is_none_or(|d| !d.contains_key(k)) {
                        errs.push(FieldError::required(&data.key(k), ""));
                    }
                }
            }
            _ => {}
        }
        errs
    }

    fn validate_update(&self, new: &Secret, old: &Secret) -> ErrorList {
        let mut errs = self.validate(new);
        if new.type_ != old.type_ {
            errs.push(FieldError::invalid(&Path::new("type"), new.type_.clone().unwrap_or_default(), "field is immutable"));
        }
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                errs.push(FieldError::forbidden(&Path::new("immutable"), IMMUTABLE));
            }
            if new.data != old.data {
                errs.push(FieldError::forbidden(&Path::new("data"), IMMUTABLE));
            }
        }
        errs
    }

    fn fields(&self, s: &serde_json::Value, out: &mut Fields) {
        out.insert("type".into(), crate::registry::str_at(s, "/type"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn secret(extra: serde_json::Value) -> serde_json::Value {
        let mut v = json!({"metadata": {"name": "s", "namespace": "default"}});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    }

    #[test]
    fn defaults_type_and_folds_string_data() {
        let s = Typed(SecretStrategy).admit_create(secret(json!({"stringData": {"user": "admin"}, "data": {"x": "eA=="}}))).unwrap();
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["data"], json!({"user": "YWRtaW4=", "x": "eA=="}));
        assert!(s.get("stringData").is_none());
    }

    #[test]
    fn type_specific_and_key_errors() {
        let kind = Typed(SecretStrategy);
        let e = kind.admit_create(secret(json!({"type": "kubernetes.io/dockerconfigjson"}))).unwrap_err();
        assert_eq!(e.message, r#"Secret "s" is invalid: data[.dockerconfigjson]: Required value"#);
        let e = kind.admit_create(secret(json!({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}}))).unwrap_err();
        assert_eq!(e.message, r#"Secret "s" is invalid: data[tls.key]: Required value"#);
        let e = kind.admit_create(secret(json!({"data": {"bad key": ""}}))).unwrap_err();
        assert!(e.message.starts_with(r#"Secret "s" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of"#), "{}", e.message);
        let big = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vec![0u8; MAX_SECRET_SIZE + 1]);
        let e = kind.admit_create(secret(json!({"data": {"big": big}}))).unwrap_err();
        assert_eq!(e.message, r#"Secret "s" is invalid: data: Too long: may not be more than 1048576 bytes"#);
    }

    #[test]
    fn immutable_and_type_cannot_change() {
        let kind = Typed(SecretStrategy);
        let old = kind.admit_create(secret(json!({"immutable": true, "data": {"a": "YQ=="}}))).unwrap();
        let e = kind.admit_update(secret(json!({"immutable": true, "type": "other", "data": {"a": "Yg=="}})), &old).unwrap_err();
        assert_eq!(
            e.message,
            r#"Secret "s" is invalid: [type: Invalid value: "other": field is immutable, data: Forbidden: field is immutable when `immutable` is set]"#
        );
    }
}
