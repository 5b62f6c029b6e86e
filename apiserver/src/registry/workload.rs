//! Checks shared by the workload kinds (ReplicaSet, Deployment, StatefulSet,
//! DaemonSet, Job, ReplicationController): selector vs template labels,
//! int-or-percent fields, immutable selectors.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod_template::{template_labels, validate_template_with_claims};
use super::validation::{self as v, go_label_selector, go_map};
use super::{ErrorList, FieldError, Path};

pub const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

pub fn spec() -> Path {
    Path::new("spec")
}

/// replicas, minReadySeconds, revisionHistoryLimit, ...: not negative.
pub fn nonneg(errs: &mut ErrorList, field: &str, v: Option<i64>) {
    if let Some(x) = v {
        errs.extend(v::nonnegative(x, &spec().child(field)));
    }
}

/// An apps/v1 selector (required, valid, not empty) and the pod template it
/// must match, with the restart policy limited to Always. `kind` names the
/// kind in upstream's messages ("deployment", "daemonset", "statefulset").
pub fn validate_selector_and_template(selector: Option<&LabelSelector>, template: Option<&PodTemplateSpec>, kind: &str, upper_kind: &str) -> ErrorList {
    validate_selector_and_template_with_claims(selector, template, kind, upper_kind, &[])
}

/// [`validate_selector_and_template`] for a StatefulSet: its volumeClaimTemplates'
/// names count as volumes of the template (the controller adds them to each pod).
pub fn validate_selector_and_template_with_claims(
    selector: Option<&LabelSelector>,
    template: Option<&PodTemplateSpec>,
    kind: &str,
    upper_kind: &str,
    claim_volumes: &[String],
) -> ErrorList {
    let mut errs = Vec::new();
    let sel_path = spec().child("selector");
    let tpl_path = spec().child("template");
    match selector {
        None => errs.push(FieldError::required(&sel_path, "")),
        Some(s) => {
            errs.extend(v::validate_label_selector(s, &sel_path));
            if v::selector_is_empty(s) {
                errs.push(FieldError::invalid_raw(&sel_path, go_label_selector(Some(s)), &format!("empty selector is invalid for {kind}")));
            }
        }
    }
    if let (Some(s), Some(_)) = (selector, template) {
        if !v::selector_is_empty(s) && !v::selector_matches(s, template_labels(template)) {
            errs.push(FieldError::invalid_raw(&tpl_path.child("metadata").child("labels"), go_map(template_labels(template)), SELECTOR_MISMATCH));
        }
    }
    errs.extend(validate_template_with_claims(template, &tpl_path, &["Always"], claim_volumes));
    if template.and_then(|t| t.spec.as_ref()).is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            &tpl_path.child("spec").child("activeDeadlineSeconds"),
            &format!("activeDeadlineSeconds in {upper_kind} is not Supported"),
        ));
    }
    errs
}

/// `spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable`.
pub fn immutable_selector(new: Option<&LabelSelector>, old: Option<&LabelSelector>) -> ErrorList {
    if new == old {
        return vec![];
    }
    vec![FieldError::invalid_raw(&spec().child("selector"), go_label_selector(new), "field is immutable")]
}

/// Go's %#v of an intstr.IntOrString.
pub fn go_int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrString::String(s) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{s:?}}}"),
    }
}

/// The integer value or percentage number of an int-or-percent field.
pub fn int_or_percent_value(v: &IntOrString) -> Option<i64> {
    match v {
        IntOrString::Int(i) => Some(*i as i64),
        IntOrString::String(s) => s.strip_suffix('%').and_then(|n| n.parse().ok()),
    }
}

/// Upstream's ValidatePositiveIntOrPercent.
pub fn validate_int_or_percent(v: &IntOrString, path: &Path, errs: &mut ErrorList) {
    match v {
        IntOrString::String(s) => {
            let ok = s.strip_suffix('%').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !ok {
                errs.push(FieldError::invalid_raw(
                    path,
                    go_int_or_string(v),
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                ));
            }
        }
        IntOrString::Int(i) => {
            if *i < 0 {
                errs.push(FieldError::invalid_raw(path, i, v::NEGATIVE));
            }
        }
    }
}

/// Upstream's IsNotMoreThan100Percent.
pub fn not_more_than_100_percent(v: &IntOrString, path: &Path, errs: &mut ErrorList) {
    if matches!(v, IntOrString::String(_)) && int_or_percent_value(v).is_some_and(|n| n > 100) {
        errs.push(FieldError::invalid_raw(path, go_int_or_string(v), "must not be greater than 100%"));
    }
}

/// The value an absent or malformed int-or-percent counts as.
pub fn iop(v: Option<&IntOrString>) -> i64 {
    v.and_then(int_or_percent_value).unwrap_or(0)
}

/// A NotSupported error whose value is printed raw (a Go struct).
pub fn not_supported_raw(path: &Path, value: String, supported: &[&str]) -> FieldError {
    FieldError {
        field: path.clone(),
        kind: super::field::ErrorType::NotSupported { value, supported: supported.iter().map(|s| super::field::quote(s)).collect() },
        detail: String::new(),
    }
}

/// `Required value` for each JSON pointer absent from an object whose parent exists.
pub fn require_json(v: &serde_json::Value, fields: &[(&str, &str)]) -> ErrorList {
    let mut errs = Vec::new();
    for (pointer, path) in fields {
        let parent = &pointer[..pointer.rfind('/').unwrap_or(0)];
        let parent_present = parent.is_empty() || v.pointer(parent).is_some_and(|p| p.is_object());
        if parent_present && v.pointer(pointer).is_none_or(|x| x.is_null()) {
            errs.push(FieldError::required(&Path::new(path), ""));
        }
    }
    errs
}

/// Scale-style status fields that must not be negative.
pub fn nonneg_status(errs: &mut ErrorList, fields: &[(&str, Option<i64>)]) {
    for (f, v) in fields {
        if let Some(x) = v {
            errs.extend(v::nonnegative(*x, &Path::new("status").child(f)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_percent() {
        let mut errs = Vec::new();
        not_more_than_100_percent(&IntOrString::String("150%".into()), &Path::new("x"), &mut errs);
        validate_int_or_percent(&IntOrString::String("abc".into()), &Path::new("y"), &mut errs);
        validate_int_or_percent(&IntOrString::Int(-1), &Path::new("z"), &mut errs);
        let m: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(m[0], r#"x: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%"#);
        assert!(m[1].starts_with(r#"y: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"abc"}: a valid percent string"#));
        assert_eq!(m[2], "z: Invalid value: -1: must be greater than or equal to 0");
    }
}
