//! Admission: checks and mutations that need more than the object itself.
//! They run after the kind's strategy has defaulted and validated the object.

pub mod default_storage_class;
pub mod limitranger;
pub mod namespace;
pub mod priority;
pub mod serviceaccount;
pub mod services;
pub mod storage_protection;

use api::status::StatusError;
use serde_json::Value;

use crate::registry::ResourceInfo;
use crate::storage::Storage;
use crate::watch_cache::WatchCache;

fn is(info: &ResourceInfo, group: &str, plural: &str) -> bool {
    info.group == group && info.plural == plural
}

/// On create: NamespaceLifecycle, then Priority (pods and PriorityClasses),
/// ServiceAccount's imagePullSecrets (pods), LimitRanger (pods, claims), DefaultStorageClass (claims) and
/// StorageObjectInUseProtection (claims and volumes).
/// Kinds with `Strategy::RAW_CREATE` may skip this: the store's raw create
/// path runs NamespaceLifecycle itself and the rest through the kind's
/// `Strategy::admit_cached`, so a plugin added here for such a kind must be
/// added there too.
pub async fn admit_create(cache: &WatchCache, storage: &Storage, info: &ResourceInfo, obj: &mut Value) -> Result<(), StatusError> {
    let meta = |f: &str| obj.pointer(&format!("/metadata/{f}")).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let (ns, name) = (meta("namespace"), meta("name"));
    if info.plural != "namespaces" {
        namespace::admit_create(cache, storage, info, &ns, &name).await?;
    }
    if is(info, "", "pods") {
        priority::admit_pod(cache, storage, info, obj).await?;
        serviceaccount::admit_pod(cache, &ns, obj);
        limitranger::admit_pod(info, &limitranger::limit_ranges(storage, &ns).await?, obj)?;
    } else if is(info, "scheduling.k8s.io", "priorityclasses") {
        priority::validate_class(cache, storage, info, obj, false).await?;
    } else if is(info, "", "persistentvolumeclaims") {
        default_storage_class::admit_claim(cache, storage, obj).await?;
        limitranger::admit_claim(info, &limitranger::limit_ranges(storage, &ns).await?, obj)?;
        storage_protection::add_finalizer(obj, api::storage::PVC_PROTECTION_FINALIZER);
    } else if is(info, "", "persistentvolumes") {
        storage_protection::add_finalizer(obj, api::storage::PV_PROTECTION_FINALIZER);
    }
    Ok(())
}

/// On update (not status): Priority's PriorityClass check.
pub async fn admit_update(cache: &WatchCache, storage: &Storage, info: &ResourceInfo, obj: &Value) -> Result<(), StatusError> {
    if is(info, "scheduling.k8s.io", "priorityclasses") {
        priority::validate_class(cache, storage, info, obj, true).await?;
    }
    Ok(())
}

/// On delete: the immortal namespaces and the system PriorityClasses stay.
pub fn admit_delete(info: &ResourceInfo, name: &str) -> Result<(), StatusError> {
    if is(info, "", "namespaces") {
        namespace::admit_delete(info, name)?;
    } else if is(info, "scheduling.k8s.io", "priorityclasses") {
        priority::admit_delete(info, name)?;
    }
    Ok(())
}
