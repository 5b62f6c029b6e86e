//! emptyDir volumes: a directory in the pod's volume dir (mode 0777), or with
//! `medium: Memory` a tmpfs bounded by sizeLimit (else the node's allocatable
//! memory), mounted in the pod's own mount namespace.

use api::Quantity;
use k8s_openapi::api::core::v1::EmptyDirVolumeSource;
use std::collections::BTreeMap;

pub fn is_memory(e: &EmptyDirVolumeSource) -> bool {
    e.medium.as_deref() == Some("Memory")
}

/// The tmpfs size in bytes of a memory-backed emptyDir.
pub fn tmpfs_size(e: &EmptyDirVolumeSource, allocatable: &BTreeMap<String, String>) -> Option<i64> {
    e.size_limit
        .as_ref()
        .and_then(|q| Quantity::parse(&q.0).ok().map(|q| q.value()))
        .filter(|b| *b > 0)
        .or_else(|| allocatable.get("memory").and_then(|m| Quantity::parse(m).ok().map(|q| q.value())))
}
