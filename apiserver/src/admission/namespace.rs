//! NamespaceLifecycle: objects may only be created in a namespace that
//! exists and is not terminating.

use api::status::StatusError;

use crate::registry::ResourceInfo;
use crate::storage::{key_for, Storage};
use crate::store::errors;
use crate::watch_cache::WatchCache;

/// Namespaces that exist from the start and may never be deleted.
pub const IMMORTAL: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn admit_create(cache: &WatchCache, storage: &Storage, info: &ResourceInfo, ns: &str, name: &str) -> Result<(), StatusError> {
    if !info.namespaced {
        return Ok(());
    }
    let key = key_for("namespaces", None, ns);
    // The cache may lag a just-created namespace by a few ms: fall back to etcd.
    let terminating = match cache.get(&key) {
        Some(o) => o.fields.get("status.phase").map(String::as_str) == Some("Terminating"),
        None => match storage.get(&key).await {
            Ok(s) => {
                let v: serde_json::Value = serde_json::from_slice(&s.value).map_err(errors::internal)?;
                v.pointer("/metadata/deletionTimestamp").is_some()
                    || v.pointer("/status/phase").and_then(|p| p.as_str()) == Some("Terminating")
            }
            Err(crate::storage::StorageError::NotFound) => {
                return Err(StatusError::new(api::Reason::NotFound, format!("namespaces {ns:?} not found")).with_details(
                    api::status::StatusDetails { name: ns.into(), kind: "namespaces".into(), ..Default::default() },
                ))
            }
            Err(e) => return Err(errors::storage(e)),
        },
    };
    if terminating {
        return Err(errors::forbidden(
            info,
            name,
            &format!("unable to create new content in namespace {ns} because it is being terminated"),
        ));
    }
    Ok(())
}

/// The namespaces every cluster starts with may not be deleted.
pub fn admit_delete(info: &ResourceInfo, name: &str) -> Result<(), StatusError> {
    if IMMORTAL.contains(&name) {
        return Err(errors::forbidden(info, name, "this namespace may not be deleted"));
    }
    Ok(())
}
