//! projected volumes: configMap, secret and downwardAPI sources merged into one
//! directory (on a tmpfs, as upstream, since it may hold secrets).

use super::atomic_writer::Payload;
use super::config_map::DEFAULT_MODE;
use crate::downward::PodIps;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ProjectedVolumeSource, Secret};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The sources the objects of which have been read.
pub struct Read<'a> {
    pub config_maps: &'a HashMap<String, Option<Arc<ConfigMap>>>,
    pub secrets: &'a HashMap<String, Option<Arc<Secret>>>,
}

pub fn payload(pod: &Pod, ips: &PodIps, allocatable: &BTreeMap<String, String>, src: &ProjectedVolumeSource, read: &Read) -> Result<Payload, String> {
    let mode = src.default_mode.unwrap_or(DEFAULT_MODE);
    let mut p = Payload::new();
    for s in src.sources.iter().flatten() {
        if let Some(c) = &s.config_map {
            let cm = read.config_maps.get(&c.name).and_then(|o| o.as_deref());
            p.extend(super::config_map::payload(cm, c.items.as_ref(), Some(mode), c.optional == Some(true))?);
        } else if let Some(c) = &s.secret {
            let sec = read.secrets.get(&c.name).and_then(|o| o.as_deref());
            p.extend(super::secret::payload(sec, c.items.as_ref(), Some(mode), c.optional == Some(true))?);
        } else if let Some(d) = &s.downward_api {
            p.extend(super::downward_api::payload(pod, ips, allocatable, d.items.as_deref().unwrap_or_default(), Some(mode))?);
        } else if s.service_account_token.is_some() {
            return Err("serviceAccountToken projections are not supported by this node (no token issuer yet)".into());
        } else if s.cluster_trust_bundle.is_some() {
            return Err("clusterTrustBundle projections are not supported by this node".into());
        }
    }
    Ok(p)
}
