//! persistentVolumeClaim volumes: the claim's bound PersistentVolume, when it is
//! a hostPath or local volume (the only kinds a single node can serve itself).

use client::{Api, Client};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

/// The host path behind claim `ns/name`.
pub async fn host_path(client: &Client, ns: &str, name: &str) -> Result<String, String> {
    let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| format!("error processing PVC {ns}/{name}: {e}"))?
        .ok_or_else(|| format!("error processing PVC {ns}/{name}: persistentvolumeclaim {name:?} not found"))?;
    let phase = pvc.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    let pv_name = pvc.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap_or_default();
    if phase != "Bound" || pv_name.is_empty() {
        return Err(format!("PVC {ns}/{name} has non-bound phase ({phase:?}) or empty pvc.Spec.VolumeName ({pv_name:?})"));
    }
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get_opt(&pv_name)
        .await
        .map_err(|e| format!("error processing PVC {ns}/{name}: {e}"))?
        .ok_or_else(|| format!("error processing PVC {ns}/{name}: persistentvolume {pv_name:?} not found"))?;
    let spec = pv.spec.unwrap_or_default();
    if let Some(h) = spec.host_path {
        super::host_path::check_type(&h.path, h.type_.as_deref())?;
        return Ok(h.path);
    }
    if let Some(l) = spec.local {
        return Ok(l.path);
    }
    let kind = serde_json::to_value(&spec).ok().and_then(|v| super::source_kind(&v, &["accessModes", "capacity", "claimRef", "mountOptions", "nodeAffinity", "persistentVolumeReclaimPolicy", "storageClassName", "volumeMode", "volumeAttributesClassName"]));
    Err(format!("persistentvolume {pv_name:?} of type {} is not supported by this node (hostPath and local only)", kind.unwrap_or_else(|| "unknown".into())))
}
