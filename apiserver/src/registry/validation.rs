//! Validation shared by every kind: names, labels, annotations, metadata
//! updates (upstream's apimachinery validation and ValidateObjectMeta).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{ErrorList, FieldError, NameRule, Path, ResourceInfo};

const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

pub use api::validation::{dns1035_label, dns1123_label, dns1123_subdomain, label_value, qualified_name};

/// A path segment name (upstream's path.IsValidPathSegmentName).
pub fn path_segment(v: &str) -> Vec<String> {
    if v == "." || v == ".." {
        return vec![format!("may not be '{v}'")];
    }
    let mut errs = Vec::new();
    for bad in ["/", "%"] {
        if v.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn name_errors(rule: NameRule, v: &str) -> Vec<String> {
    match rule {
        NameRule::Subdomain => dns1123_subdomain(v),
        NameRule::Label => dns1123_label(v),
        NameRule::Rfc1035Label => dns1035_label(v),
        NameRule::PathSegment => path_segment(v),
    }
}

/// Labels: keys are qualified names, values label values.
pub fn validate_labels(labels: &std::collections::BTreeMap<String, String>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (k, v) in labels {
        for e in qualified_name(k) {
            errs.push(FieldError::invalid(path, k, &e));
        }
        for e in label_value(v) {
            errs.push(FieldError::invalid(&path.key(k), v, &e));
        }
    }
    errs
}

/// Metadata of a new object.
pub fn validate_object_meta(meta: &ObjectMeta, info: &ResourceInfo) -> ErrorList {
    let path = Path::new("metadata");
    let mut errs = Vec::new();
    match meta.name.as_deref() {
        None | Some("") => errs.push(FieldError::required(&path.child("name"), "name or generateName is required")),
        Some(name) => {
            for e in name_errors(info.name_rule, name) {
                errs.push(FieldError::invalid(&path.child("name"), name, &e));
            }
        }
    }
    if let Some(g) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        // A prefix may end in '-' (upstream masks it before checking).
        let masked = match g.strip_suffix('-') {
            Some(head) => format!("{head}a"),
            None => g.to_string(),
        };
        for e in name_errors(info.name_rule, &masked) {
            errs.push(FieldError::invalid(&path.child("generateName"), g, &e));
        }
    }
    if info.namespaced {
        match meta.namespace.as_deref() {
            None | Some("") => errs.push(FieldError::required(&path.child("namespace"), "")),
            Some(ns) => {
                for e in dns1123_label(ns) {
                    errs.push(FieldError::invalid(&path.child("namespace"), ns, &e));
                }
            }
        }
    } else if meta.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
        errs.push(FieldError::forbidden(&path.child("namespace"), "not allowed on this type"));
    }
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(ann) = &meta.annotations {
        let mut total = 0;
        for (k, v) in ann {
            for e in qualified_name(k) {
                errs.push(FieldError::invalid(&path.child("annotations"), k, &e));
            }
            total += k.len() + v.len();
        }
        if total > TOTAL_ANNOTATION_SIZE {
            errs.push(FieldError {
                field: path.child("annotations"),
                kind: super::field::ErrorType::TooLong { max: TOTAL_ANNOTATION_SIZE },
                detail: format!("must have at most {TOTAL_ANNOTATION_SIZE} bytes"),
            });
        }
    }
    if let Some(fins) = &meta.finalizers {
        for (i, f) in fins.iter().enumerate() {
            for e in qualified_name(f) {
                errs.push(FieldError::invalid(&path.child("finalizers").index(i), f, &e));
            }
        }
    }
    if let Some(owners) = &meta.owner_references {
        for (i, o) in owners.iter().enumerate() {
            let p = path.child("ownerReferences").index(i);
            if o.api_version.is_empty() {
                errs.push(FieldError::invalid(&p.child("apiVersion"), &o.api_version, "version must not be empty"));
            }
            if o.kind.is_empty() {
                errs.push(FieldError::invalid(&p.child("kind"), &o.kind, "kind must not be empty"));
            }
            if o.name.is_empty() {
                errs.push(FieldError::invalid(&p.child("name"), &o.name, "name must not be empty"));
            }
            if o.uid.is_empty() {
                errs.push(FieldError::invalid(&p.child("uid"), &o.uid, "uid must not be empty"));
            }
        }
        let controllers = owners.iter().filter(|o| o.controller == Some(true)).count();
        if controllers > 1 {
            errs.push(FieldError::invalid_raw(
                &path.child("ownerReferences"),
                "[...]",
                "Only one reference can have Controller set to true",
            ));
        }
    }
    errs
}

/// Metadata of an updated object: valid, and name/namespace/uid/creationTimestamp unchanged.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta, info: &ResourceInfo) -> ErrorList {
    let path = Path::new("metadata");
    let mut errs = validate_object_meta(new, info);
    let immutable = "field is immutable";
    if new.name != old.name {
        errs.push(FieldError::invalid(&path.child("name"), new.name.clone().unwrap_or_default(), immutable));
    }
    if new.namespace != old.namespace {
        errs.push(FieldError::invalid(&path.child("namespace"), new.namespace.clone().unwrap_or_default(), immutable));
    }
    if new.uid != old.uid {
        errs.push(FieldError::invalid(&path.child("uid"), new.uid.clone().unwrap_or_default(), immutable));
    }
    if new.creation_timestamp != old.creation_timestamp {
        errs.push(FieldError::invalid(&path.child("creationTimestamp"), "", immutable));
    }
    // An object being deleted may lose finalizers, never gain them.
    if old.deletion_timestamp.is_some() {
        let old_f = old.finalizers.clone().unwrap_or_default();
        let added: Vec<String> = new.finalizers.iter().flatten().filter(|f| !old_f.contains(f)).cloned().collect();
        if !added.is_empty() {
            let shown = format!("[]string{{{}}}", added.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", "));
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                &format!("no new finalizers can be added if the object is being deleted, found new finalizers {shown}"),
            ));
        }
    }
    errs
}


/// Upstream's IsValidPortNum.
pub fn port_num(p: i64) -> Vec<String> {
    if (1..=65535).contains(&p) { vec![] } else { vec!["must be between 1 and 65535, inclusive".into()] }
}

/// Upstream's IsValidPortName (an IANA_SVC_NAME).
pub fn port_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 15 {
        errs.push("must be no more than 15 characters".into());
    }
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !v.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if v.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if v.starts_with('-') || v.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// Upstream's IsValidIP.
pub fn ip(v: &str) -> Vec<String> {
    if v.parse::<std::net::IpAddr>().is_ok() {
        vec![]
    } else {
        vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()]
    }
}

pub const NEGATIVE: &str = "must be greater than or equal to 0";

/// A field that must not be negative (upstream's ValidateNonnegativeField).
pub fn nonnegative(v: i64, path: &Path) -> ErrorList {
    if v < 0 { vec![FieldError::invalid_raw(path, v, NEGATIVE)] } else { vec![] }
}

/// Go's `%#v` of a map[string]string (keys sorted, as fmt prints maps).
pub fn go_map(m: Option<&std::collections::BTreeMap<String, String>>) -> String {
    match m {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let items: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a metav1.LabelSelector, as upstream's immutable-selector errors print it.
pub fn go_label_selector(s: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>) -> String {
    let Some(s) = s else { return "(*v1.LabelSelector)(nil)".into() };
    let exprs = match &s.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(e) => {
            let items: Vec<String> = e
                .iter()
                .map(|r| {
                    let values = match &r.values {
                        None => "[]string(nil)".to_string(),
                        Some(v) => format!("[]string{{{}}}", v.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")),
                    };
                    format!("v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{values}}}", r.key, r.operator)
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}", go_map(s.match_labels.as_ref()))
}

/// Upstream's ValidateLabelSelector (metav1validation).
pub fn validate_label_selector(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, r) in s.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let n = r.values.as_ref().map_or(0, |v| v.len());
        match r.operator.as_str() {
            "In" | "NotIn" => {
                if n == 0 {
                    errs.push(FieldError::required(&p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
                }
            }
            "Exists" | "DoesNotExist" => {
                if n > 0 {
                    errs.push(FieldError::forbidden(&p.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
                }
            }
            op => errs.push(FieldError::invalid(&p.child("operator"), op, "not a valid selector operator")),
        }
        for e in qualified_name(&r.key) {
            errs.push(FieldError::invalid(&p.child("key"), &r.key, &e));
        }
    }
    if let Some(l) = &s.match_labels {
        errs.extend(validate_labels(l, &path.child("matchLabels")));
    }
    errs
}

/// Whether a label selector matches labels, as upstream's LabelSelectorAsSelector
/// then Matches (a selector that does not convert matches nothing).
pub fn selector_matches(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector, labels: Option<&std::collections::BTreeMap<String, String>>) -> bool {
    api::selector::Selector::from_label_selector(Some(s)).is_ok_and(|sel| sel.matches_opt(labels))
}

/// A selector with neither matchLabels nor matchExpressions.
pub fn selector_is_empty(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> bool {
    s.match_labels.as_ref().is_none_or(|m| m.is_empty()) && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns1123_subdomain("web-1.example").is_empty());
        assert!(!dns1123_subdomain("Web").is_empty());
        assert!(!dns1123_subdomain("-a").is_empty());
        assert!(dns1123_label("default").is_empty());
        assert!(!dns1123_label("a.b").is_empty());
        assert!(!dns1035_label("1abc").is_empty());
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(!qualified_name("bad key").is_empty());
        assert!(label_value("").is_empty());
        assert!(!label_value("-x").is_empty());
        assert!(port_name("http").is_empty());
        assert_eq!(port_name("1234"), vec!["must contain at least one letter (a-z)".to_string()]);
        assert!(ip("10.0.0.1").is_empty() && ip("::1").is_empty() && !ip("10.0.0.300").is_empty());
    }

    #[test]
    fn generate_name_and_deleting_finalizers() {
        use super::super::Strategy;
        let info = crate::registry::core::configmap::ConfigMapStrategy::INFO;
        let meta = |v: serde_json::Value| serde_json::from_value::<ObjectMeta>(v).unwrap();
        let ok = meta(serde_json::json!({"name": "web-abcde", "generateName": "web-", "namespace": "default"}));
        assert!(validate_object_meta(&ok, &info).is_empty());
        let bad = meta(serde_json::json!({"name": "x", "generateName": "Web-", "namespace": "default"}));
        let errs = validate_object_meta(&bad, &info);
        assert!(errs[0].to_string().starts_with(r#"metadata.generateName: Invalid value: "Web-": a lowercase RFC 1123 subdomain"#), "{errs:?}");
        let old = meta(serde_json::json!({"name": "x", "namespace": "default", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a"]}));
        let new = meta(serde_json::json!({"name": "x", "namespace": "default", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a", "b"]}));
        let errs = validate_object_meta_update(&new, &old, &info);
        assert_eq!(
            errs[0].to_string(),
            r#"metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b"}"#
        );
    }

    #[test]
    fn go_formats() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("b".to_string(), "2".to_string());
        m.insert("a".to_string(), "1".to_string());
        assert_eq!(go_map(Some(&m)), r#"map[string]string{"a":"1", "b":"2"}"#);
        let sel = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector { match_labels: Some(m.clone()), match_expressions: None };
        assert_eq!(
            go_label_selector(Some(&sel)),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"a":"1", "b":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        assert!(selector_matches(&sel, Some(&m)));
        assert!(!selector_matches(&sel, None));
    }
}
