//! DefaultStorageClass (upstream plugin/pkg/admission/storage/storageclass/setdefault):
//! a new PersistentVolumeClaim that names no class (no spec.storageClassName,
//! not even "", and no beta class annotation) gets the default StorageClass,
//! the newest one if several are marked default. Without a default class the
//! claim is left alone. Also the bootstrap `standard` class.

use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::Value;

use api::status::StatusError;

use crate::storage::{prefix_for, Storage};
use crate::store::errors;
use crate::watch_cache::WatchCache;

/// The class every cluster starts with: directories on the node the pod
/// lands on, by the controller-manager's built-in provisioner.
pub fn bootstrap_class() -> Value {
    serde_json::json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {api::storage::ANN_DEFAULT_CLASS: "true"}},
        "provisioner": "ferrokube.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    })
}

/// upstream PersistentVolumeClaimHasClass.
fn has_class(pvc: &Value) -> bool {
    pvc.pointer(&format!("/metadata/annotations/{}", api::storage::ANN_BETA_STORAGE_CLASS.replace('/', "~1"))).is_some()
        || pvc.pointer("/spec/storageClassName").is_some_and(|c| !c.is_null())
}

fn default_class_name(cache: &WatchCache) -> Option<String> {
    let (objs, _) = cache.list(&prefix_for("storageclasses", None));
    let classes: Vec<StorageClass> = objs.iter().filter_map(|o| serde_json::from_slice(&o.raw).ok()).collect();
    api::storage::default_class(&classes).and_then(|c| c.metadata.name.clone())
}

/// Sets the default class on a new claim without one.
pub async fn admit_claim(cache: &WatchCache, storage: &Storage, pvc: &mut Value) -> Result<(), StatusError> {
    if has_class(pvc) {
        return Ok(());
    }
    let mut name = default_class_name(cache);
    if name.is_none() {
        // A class created just before the claim may not be in the cache yet: catch up with etcd once.
        let rev = storage.current_revision().await.map_err(errors::storage)?;
        if cache.wait_for(rev, std::time::Duration::from_secs(3)).await {
            name = default_class_name(cache);
        }
    }
    let Some(name) = name else { return Ok(()) };
    if let Some(spec) = pvc.get_mut("spec").and_then(|s| s.as_object_mut()) {
        tracing::debug!(class = %name, "defaulting the claim's storage class");
        spec.insert("storageClassName".into(), name.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_without_a_class_get_the_newest_default() {
        let cache = WatchCache::from_objects(
            crate::registry::Kinds::new(),
            &[
                ("/registry/storageclasses/old", json!({"metadata": {"name": "old", "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"})),
                ("/registry/storageclasses/new", json!({"metadata": {"name": "new", "creationTimestamp": "2024-06-01T00:00:00Z", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"})),
                ("/registry/storageclasses/fast", json!({"metadata": {"name": "fast", "creationTimestamp": "2024-09-01T00:00:00Z"}, "provisioner": "p"})),
            ],
        );
        assert_eq!(default_class_name(&cache).as_deref(), Some("new"));
        assert!(!has_class(&json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"]}})));
        assert!(has_class(&json!({"metadata": {"name": "c"}, "spec": {"storageClassName": ""}})), "an explicit empty class means no class");
        assert!(has_class(&json!({"metadata": {"name": "c", "annotations": {"volume.beta.kubernetes.io/storage-class": "fast"}}, "spec": {}})));
        let empty = WatchCache::from_objects(crate::registry::Kinds::new(), &[]);
        assert_eq!(default_class_name(&empty), None, "no default class: left alone");
    }

    #[test]
    fn the_bootstrap_class_is_valid_and_default() {
        use crate::registry::{Kind, Typed};
        let sc = Typed(crate::registry::storage::storageclass::StorageClassStrategy).admit_create(bootstrap_class()).unwrap();
        assert_eq!(sc["volumeBindingMode"], "WaitForFirstConsumer");
        let sc: StorageClass = serde_json::from_value(sc).unwrap();
        assert!(api::storage::is_default_class(&sc));
    }
}
