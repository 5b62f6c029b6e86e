//! secret volumes: like configMap volumes, but on a tmpfs (never on disk), as
//! upstream keeps secrets in memory.

use super::atomic_writer::Payload;
use super::config_map::{key_payload, DEFAULT_MODE};
use k8s_openapi::api::core::v1::{KeyToPath, Secret};
use std::collections::BTreeMap;

pub fn data_of(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut d: BTreeMap<String, Vec<u8>> = s.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    // stringData is folded into data by the apiserver; honour it if it is not.
    d.extend(s.string_data.iter().flatten().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())));
    d
}

pub fn payload(s: Option<&Secret>, items: Option<&Vec<KeyToPath>>, default_mode: Option<i32>, optional: bool) -> Result<Payload, String> {
    match s {
        Some(s) => key_payload(&data_of(s), items, default_mode.unwrap_or(DEFAULT_MODE), optional, "secret"),
        None => Ok(Payload::new()),
    }
}
