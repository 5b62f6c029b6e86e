//! configMap volumes: the ConfigMap's keys (or the listed items) as files, on
//! disk, updated in place through the atomic writer when the ConfigMap changes.

use super::atomic_writer::{FileProjection, Payload};
use k8s_openapi::api::core::v1::{ConfigMap, KeyToPath};
use std::collections::BTreeMap;

/// Upstream's default file mode for configMap, secret, downwardAPI and projected volumes.
pub const DEFAULT_MODE: i32 = 0o644;

/// Every key as a file named after it, or only `items` (key -> path, own mode).
/// A listed key that is missing is an error unless the source is optional.
pub fn key_payload(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: i32,
    optional: bool,
    what: &str,
) -> Result<Payload, String> {
    let mut p = Payload::new();
    let mode = |m: Option<i32>| (m.unwrap_or(default_mode) & 0o7777) as u32;
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (k, v) in data {
                p.insert(k.clone(), FileProjection { data: v.clone(), mode: mode(None) });
            }
        }
        Some(items) => {
            for it in items {
                match data.get(&it.key) {
                    Some(v) => {
                        p.insert(it.path.clone(), FileProjection { data: v.clone(), mode: mode(it.mode) });
                    }
                    None if optional => {}
                    None => return Err(format!("{what} references non-existent config key: {}", it.key)),
                }
            }
        }
    }
    Ok(p)
}

/// data and binaryData of a ConfigMap as bytes.
pub fn data_of(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut d: BTreeMap<String, Vec<u8>> = cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())).collect();
    d.extend(cm.binary_data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())));
    d
}

/// The files of a configMap volume; `cm` is None when the ConfigMap is absent
/// (allowed only when optional, which gives an empty volume).
pub fn payload(cm: Option<&ConfigMap>, items: Option<&Vec<KeyToPath>>, default_mode: Option<i32>, optional: bool) -> Result<Payload, String> {
    match cm {
        Some(cm) => key_payload(&data_of(cm), items, default_mode.unwrap_or(DEFAULT_MODE), optional, "configmap"),
        None => Ok(Payload::new()),
    }
}
