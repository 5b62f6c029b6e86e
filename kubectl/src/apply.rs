//! Client-side apply: the three-way merge of the last applied configuration
//! (the `kubectl.kubernetes.io/last-applied-configuration` annotation), the
//! new configuration and the live object.
//!
//! The merge runs here, with strategic-merge semantics for the lists that
//! upstream merges by key (containers by name, ports by containerPort, ...),
//! and the result goes to the server as a JSON merge patch from the live
//! object: a field removed from the file since the last apply is removed
//! from the object, fields set by others (defaults, controllers) stay.

use serde_json::{Map, Value};

pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The annotation value for `obj`: upstream's GetModifiedConfiguration, i.e.
/// the object's compact JSON (keys sorted, the annotation itself removed,
/// `annotations` left as `{}` when empty) plus a newline.
pub fn last_applied_value(obj: &Value) -> String {
    let mut o = obj.clone();
    let meta = o.as_object_mut().and_then(|m| {
        m.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        m.get_mut("metadata")
    });
    if let Some(Value::Object(meta)) = meta {
        let ann = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(a) = ann {
            a.remove(LAST_APPLIED);
        } else {
            *ann = Value::Object(Map::new());
        }
    }
    format!("{}\n", crate::util::to_json_compact(&o))
}

/// `obj` with the annotation set to its own last-applied value.
pub fn with_last_applied(obj: &Value) -> Value {
    let value = last_applied_value(obj);
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        let meta = m.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            let ann = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
            if !ann.is_object() {
                *ann = Value::Object(Map::new());
            }
            ann.as_object_mut().unwrap().insert(LAST_APPLIED.into(), Value::String(value));
        }
    }
    o
}

/// The last applied configuration stored on a live object.
pub fn original_of(live: &Value) -> Option<Value> {
    let text = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
    serde_json::from_str(text).ok()
}

/// The object that should exist: `current` changed by what `modified` sets
/// and without what `original` had but `modified` dropped.
pub fn three_way(original: Option<&Value>, modified: &Value, current: &Value) -> Value {
    merge(original, modified, current, "")
}

fn merge(original: Option<&Value>, modified: &Value, current: &Value, field: &str) -> Value {
    match (modified, current) {
        (Value::Object(m), Value::Object(c)) => {
            let o = original.and_then(Value::as_object);
            let mut out = c.clone();
            if let Some(o) = o {
                for k in o.keys() {
                    if !m.contains_key(k) {
                        out.remove(k);
                    }
                }
            }
            for (k, mv) in m {
                if mv.is_null() {
                    out.remove(k);
                    continue;
                }
                let ov = o.and_then(|o| o.get(k));
                let merged = match c.get(k) {
                    Some(cv) => merge(ov, mv, cv, k),
                    None => mv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(m), Value::Array(c)) => match merge_key(field, m, c) {
            Some(key) => merge_list(original.and_then(Value::as_array), m, c, key),
            None => modified.clone(),
        },
        _ => modified.clone(),
    }
}

/// The patchMergeKey upstream uses for a list field, when every element has it.
fn merge_key(field: &str, m: &[Value], c: &[Value]) -> Option<&'static str> {
    let key = match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "conditions" => "type",
        "topologySpreadConstraints" => "topologyKey",
        "ports" => {
            if m.iter().chain(c).all(|e| e.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    };
    m.iter().chain(c).all(|e| e.get(key).is_some()).then_some(key)
}

fn merge_list(original: Option<&Vec<Value>>, m: &[Value], c: &[Value], key: &str) -> Value {
    let k = |v: &Value| v.get(key).cloned();
    let mut out = Vec::new();
    for mv in m {
        let ov = original.and_then(|o| o.iter().find(|x| k(x) == k(mv)));
        match c.iter().find(|x| k(x) == k(mv)) {
            Some(cv) => out.push(merge(ov, mv, cv, "")),
            None => out.push(mv.clone()),
        }
    }
    // Elements others added (never in the applied configuration) stay.
    for cv in c {
        let in_modified = m.iter().any(|x| k(x) == k(cv));
        let in_original = original.is_some_and(|o| o.iter().any(|x| k(x) == k(cv)));
        if !in_modified && !in_original {
            out.push(cv.clone());
        }
    }
    Value::Array(out)
}

/// RFC 7386 merge patch that turns `from` into `to` ({} when equal).
pub fn merge_patch(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(f), Value::Object(t)) => {
            let mut p = Map::new();
            for k in f.keys() {
                if !t.contains_key(k) {
                    p.insert(k.clone(), Value::Null);
                }
            }
            for (k, tv) in t {
                match f.get(k) {
                    Some(fv) if fv == tv => {}
                    Some(fv) if fv.is_object() && tv.is_object() => {
                        p.insert(k.clone(), merge_patch(fv, tv));
                    }
                    _ => {
                        p.insert(k.clone(), tv.clone());
                    }
                }
            }
            Value::Object(p)
        }
        _ => to.clone(),
    }
}

/// Whether a patch changes nothing.
pub fn is_empty_patch(p: &Value) -> bool {
    p.as_object().is_some_and(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removed_field_is_removed_and_defaults_stay() {
        let v1 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx", "env": [{"name": "X", "value": "1"}]}]}}}});
        let applied = with_last_applied(&v1);
        // The server added defaults and status.
        let mut live = applied.clone();
        live["metadata"]["uid"] = json!("u1");
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        live["status"] = json!({"replicas": 2});
        // The file drops label b, env and replicas.
        let v2 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"a": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}});
        let modified = with_last_applied(&v2);
        let desired = three_way(original_of(&live).as_ref(), &modified, &live);
        assert_eq!(desired["metadata"]["labels"], json!({"a": "1"}));
        assert!(desired["spec"].get("replicas").is_none());
        let c = &desired["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "nginx:2");
        assert_eq!(c["imagePullPolicy"], "Always", "server default kept");
        assert!(c.get("env").is_none());
        assert_eq!(desired["status"], json!({"replicas": 2}));
        let p = merge_patch(&live, &desired);
        assert_eq!(p["metadata"]["labels"], json!({"b": null}));
        assert_eq!(p["spec"]["replicas"], Value::Null);
        // Re-applying the same file changes nothing.
        let mut live2 = live.clone();
        json_patch::merge(&mut live2, &p);
        let again = three_way(original_of(&live2).as_ref(), &modified, &live2);
        assert!(is_empty_patch(&merge_patch(&live2, &again)));
    }

    #[test]
    fn list_elements_added_by_others_stay() {
        let orig = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        let live = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "sidecar", "image": "s"}]}});
        let modified = json!({"spec": {"containers": [{"name": "a", "image": "y"}]}});
        let d = three_way(Some(&orig), &modified, &live);
        let names: Vec<_> = d["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "sidecar"]);
    }

    #[test]
    fn annotation_like_upstream() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"k": "v"}});
        assert_eq!(
            last_applied_value(&v),
            "{\"apiVersion\":\"v1\",\"data\":{\"k\":\"v\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"c\",\"namespace\":\"default\"}}\n"
        );
    }
}
