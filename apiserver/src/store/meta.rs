//! Generic metadata handling on JSON objects: what the store does for every
//! kind before and after the kind's strategy.

use api::status::StatusError;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::errors::bad_request;
use crate::registry::ResourceInfo;

/// Upstream's 1.5 MiB request limit for object bodies.
pub const MAX_BODY: usize = 3 * 1024 * 1024 / 2;

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a request body and checks that it is an object of `info`'s kind.
pub fn parse_body(raw: &[u8], info: &ResourceInfo) -> Result<Value, StatusError> {
    if raw.len() > MAX_BODY {
        return Err(super::errors::too_large(MAX_BODY));
    }
    let mut v: Value = serde_json::from_slice(raw).map_err(|e| bad_request(format!("json parse error: {e}")))?;
    let obj = v.as_object_mut().ok_or_else(|| bad_request("the body of the request was not a JSON object"))?;
    let want_av = info.api_version();
    match obj.get("apiVersion").and_then(|x| x.as_str()) {
        Some(av) if av != want_av => {
            return Err(bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({want_av})"
            )))
        }
        Some(_) => {}
        None => {
            obj.insert("apiVersion".into(), want_av.into());
        }
    }
    match obj.get("kind").and_then(|x| x.as_str()) {
        Some(k) if k != info.kind => {
            return Err(bad_request(format!("the kind in the data ({k}) does not match the expected kind ({})", info.kind)))
        }
        Some(_) => {}
        None => {
            obj.insert("kind".into(), info.kind.into());
        }
    }
    if !obj.get("metadata").is_some_and(|m| m.is_object()) {
        obj.insert("metadata".into(), json!({}));
    }
    Ok(v)
}

pub fn meta(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.get("metadata").and_then(|m| m.as_object()).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

pub fn meta_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.get("metadata").is_some_and(|m| m.is_object()) {
        v["metadata"] = json!({});
    }
    v["metadata"].as_object_mut().expect("metadata is an object")
}

pub fn meta_str<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    meta(v).get(field).and_then(|x| x.as_str()).filter(|s| !s.is_empty())
}

pub fn name_of(v: &Value) -> String {
    meta_str(v, "name").unwrap_or_default().to_string()
}

/// Upstream's generateName suffix: 5 characters without vowels or lookalikes.
pub fn generate_name(base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let base = if base.len() > 58 { &base[..58] } else { base };
    let suffix: String = (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{base}{suffix}")
}

/// Fields the server owns on create: cleared or set, whatever the client sent.
pub fn prepare_create(v: &mut Value, info: &ResourceInfo, namespace: Option<&str>) -> Result<(), StatusError> {
    let m = meta_mut(v);
    if info.namespaced {
        let body_ns = m.get("namespace").and_then(|x| x.as_str()).filter(|s| !s.is_empty()).map(str::to_string);
        let ns = match (namespace.filter(|s| !s.is_empty()), body_ns) {
            (Some(req), Some(body)) if req != body => {
                return Err(bad_request("the namespace of the provided object does not match the namespace sent on the request"))
            }
            (Some(req), _) => req.to_string(),
            (None, Some(body)) => body,
            (None, None) => "default".to_string(),
        };
        m.insert("namespace".into(), ns.into());
    } else {
        m.remove("namespace");
    }
    let has_name = m.get("name").and_then(|x| x.as_str()).is_some_and(|s| !s.is_empty());
    if !has_name {
        if let Some(g) = m.get("generateName").and_then(|x| x.as_str()).filter(|s| !s.is_empty()) {
            let n = generate_name(g);
            m.insert("name".into(), n.into());
        }
    }
    for f in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
        m.remove(f);
    }
    m.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
    m.insert("creationTimestamp".into(), now().into());
    if info.tracks_generation {
        m.insert("generation".into(), 1.into());
    } else {
        m.remove("generation");
    }
    Ok(())
}

/// [`prepare_create`] on a typed object's metadata (the raw create path).
pub fn prepare_create_meta(
    m: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    info: &ResourceInfo,
    namespace: Option<&str>,
) -> Result<(), StatusError> {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    if info.namespaced {
        let body_ns = m.namespace.take().filter(|s| !s.is_empty());
        let ns = match (namespace.filter(|s| !s.is_empty()), body_ns) {
            (Some(req), Some(body)) if req != body => {
                return Err(bad_request("the namespace of the provided object does not match the namespace sent on the request"))
            }
            (Some(req), _) => req.to_string(),
            (None, Some(body)) => body,
            (None, None) => "default".to_string(),
        };
        m.namespace = Some(ns);
    } else {
        m.namespace = None;
    }
    if m.name.as_deref().is_none_or(str::is_empty) {
        if let Some(g) = m.generate_name.as_deref().filter(|s| !s.is_empty()) {
            m.name = Some(generate_name(g));
        }
    }
    m.resource_version = None;
    m.deletion_timestamp = None;
    m.deletion_grace_period_seconds = None;
    m.self_link = None;
    m.uid = Some(uuid::Uuid::new_v4().to_string());
    m.creation_timestamp = k8s_openapi::jiff::Timestamp::new(chrono::Utc::now().timestamp(), 0).ok().map(Time);
    m.generation = info.tracks_generation.then_some(1);
    Ok(())
}

/// Copies what a client may not change on update from the stored object.
pub fn keep_server_fields(new: &mut Value, old: &Value) {
    let old_meta = meta(old).clone();
    let m = meta_mut(new);
    for f in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old_meta.get(f) {
            Some(x) => m.insert(f.into(), x.clone()),
            None => m.remove(f),
        };
    }
    m.remove("selfLink");
}

/// Whether anything outside metadata and status differs (upstream bumps
/// metadata.generation exactly then).
pub fn spec_changed(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut o = v.as_object().cloned().unwrap_or_default();
        o.remove("metadata");
        o.remove("status");
        o
    };
    strip(new) != strip(old)
}

/// The value as stored: without resourceVersion (that is the etcd revision).
pub fn to_stored(v: &Value) -> Vec<u8> {
    if !meta(v).contains_key("resourceVersion") {
        return serde_json::to_vec(v).expect("a JSON value serializes");
    }
    let mut v = v.clone();
    meta_mut(&mut v).remove("resourceVersion");
    serde_json::to_vec(&v).expect("a JSON value serializes")
}

/// Stored bytes as served at `revision`, without re-encoding the object.
pub fn stored_to_served(stored: &[u8], revision: i64) -> Result<Vec<u8>, StatusError> {
    match crate::rawjson::with_resource_version(stored, revision) {
        Some(b) => Ok(b),
        None => {
            let v: Value = serde_json::from_slice(stored).map_err(|e| super::errors::internal(format!("decoding stored object: {e}")))?;
            Ok(to_served(v, revision))
        }
    }
}

/// The value as served: with its resourceVersion.
pub fn to_served(mut v: Value, revision: i64) -> Vec<u8> {
    meta_mut(&mut v).insert("resourceVersion".into(), revision.to_string().into());
    serde_json::to_vec(&v).expect("a JSON value serializes")
}

pub fn finalizers(v: &Value) -> Vec<String> {
    meta(v)
        .get("finalizers")
        .and_then(|f| f.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}
