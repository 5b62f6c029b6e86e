//! The `scale` subresource's object (autoscaling/v1 Scale) for the kinds
//! that serve it (Deployment, ReplicaSet, StatefulSet, ReplicationController),
//! on JSON so the generic store can use it for any of them.

use api::status::StatusError;
use serde_json::{json, Value};

use super::{FieldError, Path};

/// A metav1.LabelSelector (as JSON) in upstream's string form
/// (LabelSelectorAsSelector(..).String()); "" when it does not convert.
pub fn selector_string(sel: &Value) -> String {
    serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>(sel.clone())
        .ok()
        .and_then(|s| api::selector::Selector::from_label_selector(Some(&s)).ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The Scale of `obj`: name/namespace/uid/resourceVersion/creationTimestamp,
/// spec.replicas, status.replicas and the selector string.
pub fn scale_of(obj: &Value) -> Value {
    let m = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut meta = serde_json::Map::new();
    for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = m.get(f) {
            meta.insert(f.into(), v.clone());
        }
    }
    let replicas = obj.pointer("/spec/replicas").and_then(|r| r.as_i64()).unwrap_or(1);
    let current = obj.pointer("/status/replicas").and_then(|r| r.as_i64()).unwrap_or(0);
    let selector = match obj.pointer("/spec/selector") {
        // ReplicationController: a plain label map.
        Some(Value::Object(o)) if obj.get("apiVersion").and_then(|a| a.as_str()) == Some("v1") => {
            selector_string(&json!({"matchLabels": o}))
        }
        Some(s) => selector_string(s),
        None => String::new(),
    };
    let mut status = json!({"replicas": current});
    if !selector.is_empty() {
        status["selector"] = selector.into();
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta, "spec": {"replicas": replicas}, "status": status})
}

/// Sets `obj`'s spec.replicas from a Scale, validating it as upstream does.
pub fn apply_scale(obj: &mut Value, scale: &Value) -> Result<(), StatusError> {
    let name = scale.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or_default();
    let replicas = scale.pointer("/spec/replicas").and_then(|r| r.as_i64()).unwrap_or(0);
    if replicas < 0 {
        let e = FieldError::invalid_raw(&Path::new("spec").child("replicas"), replicas, super::validation::NEGATIVE);
        let info = super::ResourceInfo {
            group: "autoscaling",
            version: "v1",
            plural: "scales",
            singular: "scale",
            kind: "Scale.autoscaling",
            namespaced: true,
            short_names: &[],
            categories: &[],
            subresources: &[],
            name_rule: super::NameRule::Subdomain,
            tracks_generation: false,
        };
        let mut err = super::invalid(&info, name, vec![e]);
        if let Some(d) = err.details.as_mut() {
            d.kind = "Scale".into();
        }
        return Err(err);
    }
    obj["spec"]["replicas"] = replicas.into();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_of_deployment_and_rc() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]}},
            "status": {"replicas": 2}});
        let s = scale_of(&d);
        assert_eq!(s, json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7"},
            "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=web,tier in (be,fe)"}}));
        let rc = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"}, "spec": {"replicas": 1, "selector": {"b": "2", "a": "1"}}});
        assert_eq!(scale_of(&rc)["status"]["selector"], "a=1,b=2");
    }

    #[test]
    fn apply_scale_validates() {
        let mut d = json!({"spec": {"replicas": 1}});
        apply_scale(&mut d, &json!({"metadata": {"name": "web"}, "spec": {"replicas": 5}})).unwrap();
        assert_eq!(d["spec"]["replicas"], 5);
        let e = apply_scale(&mut d, &json!({"metadata": {"name": "web"}, "spec": {"replicas": -1}})).unwrap_err();
        assert_eq!(e.message, r#"Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#);
    }
}
