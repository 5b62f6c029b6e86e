//! Patches: RFC 6902 JSON patch, RFC 7386 merge patch, and Kubernetes'
//! strategic merge patch (lists of known fields merged by their merge key).

use api::status::StatusError;
use serde_json::{Map, Value};

use super::errors::bad_request;

/// How a patch body is read, as the request's content type names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// application/json-patch+json (RFC 6902).
    JsonPatch,
    /// application/merge-patch+json (RFC 7386).
    MergePatch,
    /// application/strategic-merge-patch+json.
    StrategicMergePatch,
    /// application/apply-patch+yaml (server-side apply).
    ApplyPatch,
}

pub fn apply(ty: PatchType, mut target: Value, patch: &[u8]) -> Result<Value, StatusError> {
    let p: Value = serde_json::from_slice(patch).map_err(|e| bad_request(format!("error decoding patch: {e}")))?;
    match ty {
        PatchType::JsonPatch => {
            let ops: json_patch::Patch =
                serde_json::from_value(p).map_err(|e| bad_request(format!("the server rejected our request due to an error in our request: {e}")))?;
            json_patch::patch(&mut target, &ops).map_err(|e| StatusError::new(api::Reason::Invalid, format!("the server rejected our request due to an error in our request: {e}")))?;
            Ok(target)
        }
        PatchType::MergePatch => {
            if !p.is_object() {
                return Err(bad_request("merge patch must be a JSON object"));
            }
            json_patch::merge(&mut target, &p);
            Ok(target)
        }
        PatchType::StrategicMergePatch => {
            if !p.is_object() {
                return Err(bad_request("strategic merge patch must be a JSON object"));
            }
            strategic(&mut target, &p, "");
            Ok(target)
        }
        PatchType::ApplyPatch => Err(StatusError::new(api::Reason::UnsupportedMediaType,
            "server-side apply (application/apply-patch+yaml) is not supported by this server yet; use client-side apply",
        )),
    }
}

/// The merge key of a list field, by the field's name, as upstream's
/// `patchMergeKey` tags on the core types.
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets"
        | "hostAliases" | "resourceClaims" | "readinessGates" => match field {
            "hostAliases" => "ip",
            "readinessGates" => "conditionType",
            _ => "name",
        },
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "addresses" => "type",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// Applies a strategic merge patch in place. `path` is the parent field name,
/// used to pick merge keys (service ports merge by `port`).
fn strategic(target: &mut Value, patch: &Value, parent: &str) {
    let Some(pobj) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if pobj.get("$patch").and_then(|x| x.as_str()) == Some("replace") {
        let mut p = pobj.clone();
        p.remove("$patch");
        *target = Value::Object(p);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let tobj = target.as_object_mut().expect("object");
    for (k, pv) in pobj {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Some(del)) = (tobj.get_mut(field), pv.as_array()) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            tobj.remove(k);
            continue;
        }
        match (tobj.get_mut(k), pv) {
            (Some(tv @ Value::Object(_)), Value::Object(_)) => strategic(tv, pv, k),
            (Some(Value::Array(cur)), Value::Array(items)) => {
                let key = if k == "ports" && parent == "spec" && items.iter().any(|i| i.get("port").is_some()) {
                    Some("port")
                } else {
                    merge_key(k)
                };
                match key {
                    Some(key) if items.iter().all(|i| i.is_object()) => merge_list(cur, items, key),
                    _ => *cur = items.clone(),
                }
            }
            _ => {
                let mut v = pv.clone();
                strip_directives(&mut v);
                tobj.insert(k.clone(), v);
            }
        }
    }
}

fn merge_list(cur: &mut Vec<Value>, items: &[Value], key: &str) {
    if items.iter().any(|i| i.get("$patch").and_then(|x| x.as_str()) == Some("replace")) {
        *cur = items.iter().filter(|i| i.get("$patch").is_none()).cloned().collect();
        return;
    }
    for item in items {
        let id = item.get(key);
        let pos = id.and_then(|id| cur.iter().position(|c| c.get(key) == Some(id)));
        let delete = item.get("$patch").and_then(|x| x.as_str()) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                cur.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic(&mut cur[i], item, key),
            (None, false) => {
                let mut v = item.clone();
                strip_directives(&mut v);
                cur.push(v);
            }
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|k, _| !k.starts_with('$'));
            o.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sm(target: Value, patch: Value) -> Value {
        apply(PatchType::StrategicMergePatch, target, &serde_json::to_vec(&patch).unwrap()).unwrap()
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let out = sm(pod, json!({"spec": {"containers": [{"name": "b", "image": "z"}]}}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}]));
    }

    #[test]
    fn strategic_deletes_and_nulls() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let out = sm(obj, json!({"metadata": {"labels": {"a": null}}, "spec": {"containers": [{"name": "a", "$patch": "delete"}]}}));
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "b"}]));
    }

    #[test]
    fn merge_and_json_patch() {
        let obj = json!({"spec": {"replicas": 1, "x": [1, 2]}});
        let out = apply(PatchType::MergePatch, obj.clone(), br#"{"spec":{"replicas":3,"x":[3]}}"#).unwrap();
        assert_eq!(out, json!({"spec": {"replicas": 3, "x": [3]}}));
        let out = apply(PatchType::JsonPatch, obj, br#"[{"op":"replace","path":"/spec/replicas","value":5}]"#).unwrap();
        assert_eq!(out["spec"]["replicas"], 5);
    }
}
