//! PersistentVolume: cluster-scoped; reclaim policy Retain, volumeMode
//! Filesystem, phase Pending on create; capacity (storage only), access modes
//! and exactly one volume source required; the source is immutable.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec, PersistentVolumeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::registry::core::pvc::validate_access_modes;
use api::quantity::Quantity;
use crate::registry::validation::dns1123_subdomain;
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct PersistentVolumeStrategy;

/// The fields of PersistentVolumeSpec that are volume sources (upstream's
/// inlined PersistentVolumeSource).
const SOURCES: &[&str] = &[
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc", "flexVolume", "flocker",
    "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local", "nfs", "photonPersistentDisk", "portworxVolume",
    "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume",
];

fn sources(spec: &PersistentVolumeSpec) -> Vec<(String, serde_json::Value)> {
    let v = serde_json::to_value(spec).unwrap_or_default();
    SOURCES.iter().filter_map(|s| v.get(*s).map(|x| (s.to_string(), x.clone()))).collect()
}

fn validate_spec(spec: &PersistentVolumeSpec) -> ErrorList {
    let path = Path::new("spec");
    let mut errs = validate_access_modes(spec.access_modes.as_deref().unwrap_or(&[]), &path.child("accessModes"), "");
    match &spec.capacity {
        None => errs.push(FieldError::required(&path.child("capacity"), "")),
        Some(c) if c.is_empty() => errs.push(FieldError::required(&path.child("capacity"), "")),
        Some(c) => {
            if !c.contains_key("storage") || c.len() > 1 {
                let keys: Vec<&str> = c.keys().map(String::as_str).collect();
                errs.push(FieldError::not_supported(&path.child("capacity"), keys.join(","), &["storage"]));
            }
            for (k, q) in c {
                let p = path.child("capacity").key(k);
                match Quantity::parse(&q.0) {
                    Err(e) => errs.push(FieldError::invalid(&p, &q.0, &e.to_string())),
                    Ok(q) if q.nanos <= 0 => errs.push(FieldError::invalid(&p, q, "must be greater than zero")),
                    Ok(_) => {}
                }
            }
        }
    }
    let srcs = sources(spec);
    match srcs.len() {
        0 => errs.push(FieldError::required(&path, "must specify a volume type")),
        1 => {}
        _ => errs.push(FieldError::forbidden(&path.child(&srcs[1].0), "may not specify more than 1 volume type")),
    }
    for (name, src) in &srcs {
        let missing = |f: &str| src.get(f).and_then(|x| x.as_str()).is_none_or(|s| s.is_empty());
        let required: &[&str] = match name.as_str() {
            "hostPath" | "local" => &["path"],
            "nfs" => &["server", "path"],
            "csi" => &["driver", "volumeHandle"],
            _ => &[],
        };
        for f in required {
            if missing(f) {
                errs.push(FieldError::required(&path.child(name).child(f), ""));
            }
        }
        if name == "local" && spec.node_affinity.is_none() {
            errs.push(FieldError::required(&path.child("nodeAffinity"), "Local volume requires node affinity"));
        }
    }
    match spec.persistent_volume_reclaim_policy.as_deref().unwrap_or("") {
        "Delete" | "Recycle" | "Retain" => {}
        p => errs.push(FieldError::not_supported(&path.child("persistentVolumeReclaimPolicy"), p, &["Delete", "Recycle", "Retain"])),
    }
    if let Some(sc) = spec.storage_class_name.as_deref().filter(|s| !s.is_empty()) {
        for e in dns1123_subdomain(sc) {
            errs.push(FieldError::invalid(&path.child("storageClassName"), sc, &e));
        }
    }
    if let Some(m) = spec.volume_mode.as_deref() {
        if m != "Block" && m != "Filesystem" {
            errs.push(FieldError::not_supported(&path.child("volumeMode"), m, &["Block", "Filesystem"]));
        }
    }
    errs
}

impl Strategy for PersistentVolumeStrategy {
    type Object = PersistentVolume;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "persistentvolumes",
        singular: "persistentvolume",
        kind: "PersistentVolume",
        namespaced: false,
        short_names: &["pv"],
        categories: &[],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn default(&self, pv: &mut PersistentVolume) {
        if let Some(spec) = pv.spec.as_mut() {
            spec.persistent_volume_reclaim_policy.get_or_insert_with(|| "Retain".into());
            spec.volume_mode.get_or_insert_with(|| "Filesystem".into());
            crate::registry::pod_template::default_resource_list(&mut spec.capacity);
            if let Some(h) = spec.host_path.as_mut() {
                h.type_.get_or_insert_with(String::new);
            }
        }
        let st = pv.status.get_or_insert_with(PersistentVolumeStatus::default);
        if st.phase.as_deref().unwrap_or("").is_empty() {
            st.phase = Some("Pending".into());
        }
    }

    fn prepare_for_create(&self, pv: &mut PersistentVolume) {
        pv.status = Some(PersistentVolumeStatus {
            phase: Some("Pending".into()),
            last_phase_transition_time: k8s_openapi::jiff::Timestamp::from_second(chrono::Utc::now().timestamp()).ok().map(Time),
            ..Default::default()
        });
    }

    fn validate(&self, pv: &PersistentVolume) -> ErrorList {
        match &pv.spec {
            None => vec![FieldError::required(&Path::new("spec"), "must specify a volume type")],
            Some(s) => validate_spec(s),
        }
    }

    fn validate_update(&self, new: &PersistentVolume, old: &PersistentVolume) -> ErrorList {
        let mut errs = self.validate(new);
        let (n, o) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        if sources(&n) != sources(&o) {
            errs.push(FieldError::forbidden(&Path::new("spec").child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"));
        }
        if n.volume_mode != o.volume_mode {
            errs.push(FieldError::invalid(&Path::new("spec").child("volumeMode"), n.volume_mode.unwrap_or_default(), "field is immutable"));
        }
        if o.node_affinity.is_some() && n.node_affinity != o.node_affinity {
            errs.push(FieldError::invalid_raw(&Path::new("spec").child("nodeAffinity"), "core.VolumeNodeAffinity{...}", "field is immutable"));
        }
        errs
    }

    fn validate_status_update(&self, new: &PersistentVolume, _old: &PersistentVolume) -> ErrorList {
        let mut errs = Vec::new();
        if let Some(p) = new.status.as_ref().and_then(|s| s.phase.as_deref()) {
            const PHASES: &[&str] = &["Available", "Bound", "Failed", "Pending", "Released"];
            if !PHASES.contains(&p) {
                errs.push(FieldError::not_supported(&Path::new("status").child("phase"), p, PHASES));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn pv(spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "pv-1"}, "spec": spec})
    }

    #[test]
    fn defaults_and_status() {
        let v = Typed(PersistentVolumeStrategy)
            .admit_create(pv(json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}})))
            .unwrap();
        assert_eq!(v["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(v["spec"]["volumeMode"], "Filesystem");
        assert_eq!(v["status"]["phase"], "Pending");
        assert!(v["status"]["lastPhaseTransitionTime"].is_string());
    }

    #[test]
    fn required_fields_and_one_source() {
        let kind = Typed(PersistentVolumeStrategy);
        let e = kind.admit_create(pv(json!({}))).unwrap_err();
        assert_eq!(
            e.message,
            r#"PersistentVolume "pv-1" is invalid: [spec.accessModes: Required value, spec.capacity: Required value, spec: Required value: must specify a volume type]"#
        );
        let e = kind
            .admit_create(pv(json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/a"}, "nfs": {"server": "s", "path": "/p"}})))
            .unwrap_err();
        assert_eq!(e.message, r#"PersistentVolume "pv-1" is invalid: spec.nfs: Forbidden: may not specify more than 1 volume type"#);
        let old = kind.admit_create(pv(json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/a"}}))).unwrap();
        let e = kind.admit_update(pv(json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/b"}})), &old).unwrap_err();
        assert_eq!(e.message, r#"PersistentVolume "pv-1" is invalid: spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"#);
    }
}
