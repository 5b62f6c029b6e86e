//! downwardAPI volumes: pod fields and container resources as files (on disk),
//! rewritten when the pod's labels or annotations change.

use super::atomic_writer::{FileProjection, Payload};
use super::config_map::DEFAULT_MODE;
use crate::downward::{pod_field, resource_field, PodIps};
use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, Pod};
use std::collections::BTreeMap;

pub fn payload(
    pod: &Pod,
    ips: &PodIps,
    allocatable: &BTreeMap<String, String>,
    items: &[DownwardAPIVolumeFile],
    default_mode: Option<i32>,
) -> Result<Payload, String> {
    let mut p = Payload::new();
    for it in items {
        let value = if let Some(f) = &it.field_ref {
            pod_field(pod, ips, f)?
        } else if let Some(r) = &it.resource_field_ref {
            let name = r.container_name.as_deref().unwrap_or_default();
            let c = pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name} not found"))?;
            resource_field(c, r, allocatable)?
        } else {
            continue;
        };
        let mode = (it.mode.or(default_mode).unwrap_or(DEFAULT_MODE) & 0o7777) as u32;
        p.insert(it.path.clone(), FileProjection { data: value.into_bytes(), mode });
    }
    Ok(p)
}
