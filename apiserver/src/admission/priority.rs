//! Priority (upstream plugin/pkg/admission/priority): a new Pod's
//! `spec.priorityClassName` is resolved to `spec.priority` and
//! `spec.preemptionPolicy` from the PriorityClass objects (or the
//! globalDefault class, or 0); a PriorityClass may only be marked
//! globalDefault when no other class is; the built-in system classes may not
//! be deleted.

use api::status::StatusError;
use serde_json::Value;

use crate::registry::scheduling::priorityclass::SYSTEM_CLASSES;
use crate::registry::ResourceInfo;
use crate::storage::{key_for, prefix_for, Storage, StorageError};
use crate::store::errors;
use crate::watch_cache::WatchCache;

/// Upstream's DefaultPriorityWhenNoDefaultClassExists.
const DEFAULT_PRIORITY: i64 = 0;

/// What a pod takes from a class.
#[derive(Debug, Clone, PartialEq)]
struct Class {
    name: String,
    value: i64,
    preemption_policy: Option<String>,
    global_default: bool,
}

impl Class {
    fn from_json(v: &Value) -> Option<Class> {
        Some(Class {
            name: v.pointer("/metadata/name")?.as_str()?.to_string(),
            value: v.get("value")?.as_i64()?,
            preemption_policy: v.get("preemptionPolicy").and_then(|p| p.as_str()).map(str::to_string),
            global_default: v.get("globalDefault").and_then(|g| g.as_bool()).unwrap_or(false),
        })
    }
}

/// The class named `name`: from the watch cache, or etcd when the cache has
/// not seen it yet (a class created just before the pod).
async fn get_class(cache: &WatchCache, storage: &Storage, name: &str) -> Result<Option<Class>, StatusError> {
    let key = key_for("priorityclasses", None, name);
    let raw = match cache.get(&key) {
        Some(o) => o.raw.to_vec(),
        None => match storage.get(&key).await {
            Ok(s) => s.value,
            Err(StorageError::NotFound) => return Ok(None),
            Err(e) => return Err(errors::storage(e)),
        },
    };
    let v: Value = serde_json::from_slice(&raw).map_err(errors::internal)?;
    Ok(Class::from_json(&v))
}

const GLOBAL_DEFAULT: &[u8] = b"\"globalDefault\"";

/// The globalDefault class; if a race left several, the lowest value wins, as upstream.
fn default_class(cache: &WatchCache) -> Option<Class> {
    let (objs, _) = cache.list(&prefix_for("priorityclasses", None));
    // Runs on every pod create: parse only classes that mention the field.
    objs.iter()
        .filter(|o| o.raw.windows(GLOBAL_DEFAULT.len()).any(|w| w == GLOBAL_DEFAULT))
        .filter_map(|o| serde_json::from_slice::<Value>(&o.raw).ok())
        .filter_map(|v| Class::from_json(&v))
        .filter(|c| c.global_default)
        .min_by_key(|c| c.value)
}

fn pod_forbidden(info: &ResourceInfo, pod: &Value, why: &str) -> StatusError {
    let name = pod.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or_default();
    errors::forbidden(info, name, why)
}

/// What a pod without a class gets: the globalDefault class's, or 0.
fn without_class(cache: &WatchCache) -> (String, i64, Option<String>) {
    match default_class(cache) {
        Some(c) => (c.name, c.value, c.preemption_policy),
        None => (String::new(), DEFAULT_PRIORITY, Some("PreemptLowerPriority".to_string())),
    }
}

/// [`admit_pod`] on a typed spec from the watch cache alone, for the raw
/// create path. False when the general path must decide: a class the cache
/// has not seen (it may be in etcd already) or a refusal (that path words it).
pub fn admit_pod_cached(cache: &WatchCache, spec: &mut k8s_openapi::api::core::v1::PodSpec) -> bool {
    // The raw path has no namespace: ServiceAccount pull secrets need the general one.
    if !super::serviceaccount::raw_path_ok(cache, spec) {
        return false;
    }
    let class_name = spec.priority_class_name.as_deref().unwrap_or("");
    let (name, value, policy) = if class_name.is_empty() {
        without_class(cache)
    } else {
        let Some(o) = cache.get(&key_for("priorityclasses", None, class_name)) else { return false };
        let Some(c) = serde_json::from_slice::<Value>(&o.raw).ok().as_ref().and_then(Class::from_json) else { return false };
        (c.name, c.value, c.preemption_policy)
    };
    let policy_differs = policy.is_some() && spec.preemption_policy.is_some() && spec.preemption_policy != policy;
    if spec.priority.is_some_and(|given| i64::from(given) != value) || policy_differs {
        return false;
    }
    if !name.is_empty() {
        spec.priority_class_name = Some(name);
    }
    let Ok(value) = i32::try_from(value) else { return false };
    spec.priority = Some(value);
    if policy.is_some() {
        spec.preemption_policy = policy;
    }
    true
}

/// admitPod on create: resolves priority and preemptionPolicy in place.
pub async fn admit_pod(cache: &WatchCache, storage: &Storage, info: &ResourceInfo, pod: &mut Value) -> Result<(), StatusError> {
    let class_name = pod.pointer("/spec/priorityClassName").and_then(|n| n.as_str()).unwrap_or("").to_string();
    let (name, value, policy) = if class_name.is_empty() {
        without_class(cache)
    } else {
        match get_class(cache, storage, &class_name).await? {
            Some(c) => (c.name, c.value, c.preemption_policy),
            None => return Err(pod_forbidden(info, pod, &format!("no PriorityClass with name {class_name} was found"))),
        }
    };
    let Some(spec) = pod.get_mut("spec").and_then(|s| s.as_object_mut()) else { return Ok(()) };
    if let Some(given) = spec.get("priority").and_then(|p| p.as_i64()) {
        if given != value {
            let why = format!("the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name");
            return Err(pod_forbidden(info, pod, &why));
        }
    }
    if !name.is_empty() {
        spec.insert("priorityClassName".into(), name.into());
    }
    spec.insert("priority".into(), value.into());
    if let Some(policy) = policy {
        if let Some(given) = spec.get("preemptionPolicy").and_then(|p| p.as_str()) {
            if given != policy {
                let why = format!("the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name");
                return Err(pod_forbidden(info, pod, &why));
            }
        }
        spec.insert("preemptionPolicy".into(), policy.into());
    }
    Ok(())
}

/// validatePriorityClass on create and update: only one globalDefault class.
pub async fn validate_class(cache: &WatchCache, storage: &Storage, info: &ResourceInfo, pc: &Value, update: bool) -> Result<(), StatusError> {
    if pc.get("globalDefault").and_then(|g| g.as_bool()) != Some(true) {
        return Ok(());
    }
    // Rare and racy (two defaults created back to back): let the cache catch up with etcd first.
    let rev = storage.current_revision().await.map_err(errors::storage)?;
    if !cache.wait_for(rev, std::time::Duration::from_secs(3)).await {
        return Err(errors::unavailable("the watch cache is behind etcd"));
    }
    let name = pc.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or_default();
    match default_class(cache) {
        Some(d) if !update || d.name != name => Err(errors::forbidden(
            info,
            name,
            &format!("PriorityClass {} is already marked as default. Only one default can exist", d.name),
        )),
        _ => Ok(()),
    }
}

/// The system classes may not be deleted (upstream's priorityclass REST Delete).
pub fn admit_delete(info: &ResourceInfo, name: &str) -> Result<(), StatusError> {
    if SYSTEM_CLASSES.iter().any(|(n, _)| *n == name) {
        return Err(errors::forbidden(info, name, "this is a system priority class and cannot be deleted"));
    }
    Ok(())
}

/// The built-in classes as objects, for the apiserver's bootstrap.
pub fn system_classes() -> Vec<Value> {
    SYSTEM_CLASSES
        .iter()
        .map(|(name, value)| {
            let description = if *name == "system-node-critical" {
                "Used for system critical pods that must not be moved from their current node."
            } else {
                "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."
            };
            serde_json::json!({
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "preemptionPolicy": "PreemptLowerPriority",
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn class_from_json() {
        let c = Class::from_json(&json!({"metadata": {"name": "high"}, "value": 10, "globalDefault": true, "preemptionPolicy": "Never"})).unwrap();
        assert_eq!(c, Class { name: "high".into(), value: 10, preemption_policy: Some("Never".into()), global_default: true });
        assert!(Class::from_json(&json!({"metadata": {"name": "x"}})).is_none());
    }

    #[test]
    fn system_classes_are_valid_objects() {
        use crate::registry::{Kind, Typed};
        let kind = Typed(crate::registry::scheduling::priorityclass::PriorityClassStrategy);
        for pc in system_classes() {
            kind.admit_create(pc).unwrap();
        }
        let e = admit_delete(kind.info(), "system-node-critical").unwrap_err();
        assert_eq!(e.message, r#"priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a system priority class and cannot be deleted"#);
        admit_delete(kind.info(), "high").unwrap();
    }
}
