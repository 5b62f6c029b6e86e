//! Objects as the cache keeps them: the JSON served to clients (with its
//! resourceVersion) plus what selectors match on, computed once.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::registry::{Fields, Kinds};

#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    /// The object's resourceVersion: its etcd mod revision.
    pub revision: i64,
    /// JSON with metadata.resourceVersion set, as served.
    pub raw: bytes::Bytes,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Selectable fields, metadata.name and metadata.namespace included.
    pub fields: Fields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

/// One change of one key.
#[derive(Debug)]
pub struct CacheEvent {
    pub kind: EventKind,
    pub revision: i64,
    /// The new object; for deletes, the last state with the deletion revision.
    pub object: Arc<CachedObject>,
    /// The previous state, for Modified and Deleted.
    pub prev: Option<Arc<CachedObject>>,
}

/// Sets metadata.resourceVersion in a stored value.
pub fn with_resource_version(mut v: Value, revision: i64) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.insert("resourceVersion".into(), Value::String(revision.to_string()));
    }
    v
}

/// The resource plural of a key: `/registry/pods/default/x` -> `pods`.
pub fn plural_of(key: &str) -> &str {
    key.strip_prefix(crate::storage::RESOURCE_PREFIX).and_then(|k| k.split('/').next()).unwrap_or("")
}

/// Builds the cached form of a stored value.
pub fn decorate(kinds: &Kinds, key: &str, value: &[u8], revision: i64) -> Option<CachedObject> {
    let v: Value = serde_json::from_slice(value).ok()?;
    // Served bytes: the stored ones with the revision spliced in (re-encoding
    // the value would cost more than parsing it).
    let raw = match crate::rawjson::with_resource_version(value, revision) {
        Some(b) => b,
        None => serde_json::to_vec(&with_resource_version(v.clone(), revision)).ok()?,
    };
    let meta = v.get("metadata");
    let s = |k: &str| meta.and_then(|m| m.get(k)).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let (name, namespace) = (s("name"), s("namespace"));
    let labels = meta
        .and_then(|m| m.get("labels"))
        .and_then(|l| l.as_object())
        .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    let mut fields = { let p = plural_of(key); kinds.all().find(|k| k.info().plural == p) }.map(|k| k.fields(&v)).unwrap_or_default();
    fields.insert("metadata.name".into(), name.clone());
    fields.insert("metadata.namespace".into(), namespace.clone());
    Some(CachedObject { key: key.to_string(), revision, raw: raw.into(), namespace, name, labels, fields })
}
