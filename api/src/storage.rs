//! PersistentVolume / PersistentVolumeClaim helpers shared by the PV
//! controller, the scheduler's VolumeBinding plugin and admission (upstream's
//! component-helpers/storage/volume and pkg/controller/volume/persistentvolume/util).

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::affinity::NodeSelector;
use crate::quantity::Quantity;
use crate::selector::{Labels, Selector};

/// On claims: the binding has passed its initial setup.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// On PVs and claims: the binding was made by the controller, not pre-bound by a user.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// On claims: the node the scheduler picked for a WaitForFirstConsumer claim.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// On PVs: the provisioner that created it.
pub const ANN_DYNAMICALLY_PROVISIONED: &str = "pv.kubernetes.io/provisioned-by";
/// On claims: the provisioner expected to provision it.
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// The deprecated class annotation, still honoured before spec.storageClassName.
pub const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// On StorageClasses: the class claims without one get.
pub const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
pub const ANN_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// A class whose volumes are never provisioned dynamically.
pub const NOT_SUPPORTED_PROVISIONER: &str = "kubernetes.io/no-provisioner";

pub const PVC_PROTECTION_FINALIZER: &str = "kubernetes.io/pvc-protection";
pub const PV_PROTECTION_FINALIZER: &str = "kubernetes.io/pv-protection";

fn annotation<'a>(a: &'a Option<std::collections::BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    a.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

/// upstream GetPersistentVolumeClaimClass: the beta annotation, else spec.storageClassName, else "".
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    if let Some(c) = annotation(&claim.metadata.annotations, ANN_BETA_STORAGE_CLASS) {
        return c;
    }
    claim.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

/// upstream GetPersistentVolumeClass.
pub fn volume_class(pv: &PersistentVolume) -> &str {
    if let Some(c) = annotation(&pv.metadata.annotations, ANN_BETA_STORAGE_CLASS) {
        return c;
    }
    pv.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

/// Whether the class is marked default (either annotation "true").
pub fn is_default_class(sc: &StorageClass) -> bool {
    let a = &sc.metadata.annotations;
    annotation(a, ANN_DEFAULT_CLASS) == Some("true") || annotation(a, ANN_BETA_DEFAULT_CLASS) == Some("true")
}

/// upstream GetDefaultClass: of several default classes the newest wins
/// (then the name, for a stable choice).
pub fn default_class<'a>(classes: impl IntoIterator<Item = &'a StorageClass>) -> Option<&'a StorageClass> {
    classes.into_iter().filter(|c| is_default_class(c)).max_by(|a, b| {
        let t = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        t(a).cmp(&t(b)).then_with(|| b.metadata.name.cmp(&a.metadata.name))
    })
}

pub fn is_wait_for_first_consumer(sc: &StorageClass) -> bool {
    sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
}

/// The claim's storage request (zero when missing or unparsable).
pub fn claim_request(spec: &PersistentVolumeClaimSpec) -> Quantity {
    spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).and_then(|q| Quantity::parse(&q.0).ok()).unwrap_or_else(Quantity::zero)
}

pub fn volume_capacity(spec: &PersistentVolumeSpec) -> Quantity {
    spec.capacity.as_ref().and_then(|c| c.get("storage")).and_then(|q| Quantity::parse(&q.0).ok()).unwrap_or_else(Quantity::zero)
}

/// upstream IsVolumeBoundToClaim: claimRef names the claim (and its uid, when set).
pub fn is_volume_bound_to_claim(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else { return false };
    if r.name != claim.metadata.name || r.namespace != claim.metadata.namespace {
        return false;
    }
    let uid = r.uid.as_deref().unwrap_or("");
    uid.is_empty() || Some(uid) == claim.metadata.uid.as_deref()
}

/// upstream CheckVolumeModeMismatches (missing modes are Filesystem).
pub fn volume_mode_mismatch(claim: &PersistentVolumeClaimSpec, pv: &PersistentVolumeSpec) -> bool {
    claim.volume_mode.as_deref().unwrap_or("Filesystem") != pv.volume_mode.as_deref().unwrap_or("Filesystem")
}

/// upstream CheckAccessModes: the volume offers every mode the claim asks for.
pub fn access_modes_satisfied(claim: &PersistentVolumeClaimSpec, pv: &PersistentVolumeSpec) -> bool {
    let offered = pv.access_modes.as_deref().unwrap_or_default();
    claim.access_modes.iter().flatten().all(|m| offered.contains(m))
}

/// upstream volumeutil.CheckNodeAffinity: the PV's required node affinity
/// matches a node with these labels (no affinity matches every node).
pub fn node_affinity_matches(pv: &PersistentVolume, node_labels: &Labels) -> bool {
    match pv.spec.as_ref().and_then(|s| s.node_affinity.as_ref()).and_then(|a| a.required.as_ref()) {
        None => true,
        // As upstream, the terms are matched against labels alone (matchFields see no name).
        Some(ns) => NodeSelector::new(&ns.node_selector_terms).matches(node_labels, ""),
    }
}

/// Why a volume cannot serve a claim (upstream checkVolumeSatisfyClaim's errors).
pub fn check_volume_satisfies_claim(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), String> {
    let (Some(ps), Some(cs)) = (pv.spec.as_ref(), claim.spec.as_ref()) else { return Err("missing spec".into()) };
    if volume_capacity(ps) < claim_request(cs) {
        return Err("requested PV is too small".into());
    }
    if volume_class(pv) != claim_class(claim) {
        return Err("storageClassName does not match".into());
    }
    if volume_mode_mismatch(cs, ps) {
        return Err("incompatible volumeMode".into());
    }
    if !access_modes_satisfied(cs, ps) {
        return Err("incompatible accessMode".into());
    }
    Ok(())
}

/// upstream FindMatchingVolume: the volume pre-bound to the claim, else the
/// smallest Available volume of the claim's class that is big enough, has
/// the claim's volume mode and matches its selector. `node` (scheduler path)
/// also requires the PV's node affinity and the access modes; `delay_binding`
/// (PV controller path for WaitForFirstConsumer claims) returns pre-bound
/// volumes only. Volumes named in `excluded` are skipped.
pub fn find_matching_volume<'a>(
    claim: &PersistentVolumeClaim,
    volumes: impl IntoIterator<Item = &'a PersistentVolume>,
    node: Option<&Labels>,
    excluded: &[String],
    delay_binding: bool,
) -> Option<&'a PersistentVolume> {
    let cs = claim.spec.as_ref()?;
    let requested = claim_request(cs);
    let class = claim_class(claim);
    // A selector that does not parse matches nothing (validation refuses it anyway).
    let selector = cs.selector.as_ref().map(|s| Selector::from_label_selector(Some(s)).unwrap_or_else(|_| Selector::nothing()));
    let mut smallest: Option<(&PersistentVolume, Quantity)> = None;
    for pv in volumes {
        let Some(ps) = pv.spec.as_ref() else { continue };
        if pv.metadata.name.as_ref().is_some_and(|n| excluded.contains(n)) {
            continue;
        }
        let bound_to_claim = is_volume_bound_to_claim(pv, claim);
        if ps.claim_ref.is_some() && !bound_to_claim {
            continue;
        }
        let qty = volume_capacity(ps);
        if qty < requested || volume_mode_mismatch(cs, ps) || pv.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let affinity_ok = node.is_none_or(|labels| node_affinity_matches(pv, labels));
        if bound_to_claim {
            // A pre-bound volume on another node means no match at all.
            return affinity_ok.then_some(pv);
        }
        if node.is_none() && delay_binding {
            continue;
        }
        if pv.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Available") {
            continue;
        }
        if selector.as_ref().is_some_and(|s| !s.matches_opt(pv.metadata.labels.as_ref())) {
            continue;
        }
        if volume_class(pv) != class || !affinity_ok {
            continue;
        }
        if node.is_some() && !access_modes_satisfied(cs, ps) {
            continue;
        }
        if smallest.as_ref().is_none_or(|(_, q)| *q > qty) {
            smallest = Some((pv, qty));
        }
    }
    smallest.map(|(pv, _)| pv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(name: &str, size: &str, class: &str, phase: &str, extra: serde_json::Value) -> PersistentVolume {
        let mut v = json!({"metadata": {"name": name, "labels": {"tier": "gold"}},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": class, "hostPath": {"path": "/x"}},
            "status": {"phase": phase}});
        if let (Some(s), Some(e)) = (v["spec"].as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        serde_json::from_value(v).unwrap()
    }

    fn claim(size: &str, class: &str, extra: serde_json::Value) -> PersistentVolumeClaim {
        let mut v = json!({"metadata": {"name": "c", "namespace": "default", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, "storageClassName": class}});
        if let (Some(s), Some(e)) = (v["spec"].as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        serde_json::from_value(v).unwrap()
    }

    fn name(p: Option<&PersistentVolume>) -> Option<&str> {
        p.and_then(|p| p.metadata.name.as_deref())
    }

    #[test]
    fn smallest_fit_of_the_class() {
        let vols = [
            pv("big", "10Gi", "", "Available", json!({})),
            pv("small", "1Gi", "", "Available", json!({})),
            pv("tiny", "500Mi", "", "Available", json!({})),
            pv("fast", "2Gi", "fast", "Available", json!({})),
            pv("bound", "1Gi", "", "Bound", json!({"claimRef": {"namespace": "x", "name": "y", "uid": "z"}})),
            pv("released", "1Gi", "", "Released", json!({})),
        ];
        assert_eq!(name(find_matching_volume(&claim("1Gi", "", json!({})), &vols, None, &[], false)), Some("small"));
        assert_eq!(name(find_matching_volume(&claim("1Gi", "fast", json!({})), &vols, None, &[], false)), Some("fast"));
        assert_eq!(name(find_matching_volume(&claim("20Gi", "", json!({})), &vols, None, &[], false)), None);
        assert_eq!(name(find_matching_volume(&claim("1Gi", "", json!({})), &vols, None, &["small".into()], false)), Some("big"));
        let sel = claim("1Gi", "", json!({"selector": {"matchLabels": {"tier": "silver"}}}));
        assert_eq!(name(find_matching_volume(&sel, &vols, None, &[], false)), None);
        let block = claim("1Gi", "", json!({"volumeMode": "Block"}));
        assert_eq!(name(find_matching_volume(&block, &vols, None, &[], false)), None);
        // WaitForFirstConsumer in the controller: only pre-bound volumes.
        assert_eq!(name(find_matching_volume(&claim("1Gi", "", json!({})), &vols, None, &[], true)), None);
    }

    #[test]
    fn pre_bound_volume_wins_and_node_affinity_is_checked() {
        let affinity = json!({"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}});
        let mut a = affinity.clone();
        a["claimRef"] = json!({"namespace": "default", "name": "c"});
        let vols = [pv("small", "1Gi", "", "Available", json!({})), pv("pre", "5Gi", "", "Available", a)];
        assert_eq!(name(find_matching_volume(&claim("1Gi", "", json!({})), &vols, None, &[], true)), Some("pre"));
        let n1: Labels = [("kubernetes.io/hostname".to_string(), "n1".to_string())].into();
        let n2: Labels = [("kubernetes.io/hostname".to_string(), "n2".to_string())].into();
        assert_eq!(name(find_matching_volume(&claim("1Gi", "", json!({})), &vols, Some(&n1), &[], false)), Some("pre"));
        assert_eq!(name(find_matching_volume(&claim("1Gi", "", json!({})), &vols, Some(&n2), &[], false)), None, "pre-bound elsewhere");
        let local = [pv("local", "1Gi", "", "Available", affinity)];
        assert!(find_matching_volume(&claim("1Gi", "", json!({})), &local, Some(&n2), &[], false).is_none());
        assert!(find_matching_volume(&claim("1Gi", "", json!({})), &local, Some(&n1), &[], false).is_some());
        let rwx = claim("1Gi", "", json!({"accessModes": ["ReadWriteMany"]}));
        assert!(find_matching_volume(&rwx, &local, Some(&n1), &[], false).is_none(), "access modes on the scheduler path");
        assert_eq!(check_volume_satisfies_claim(&local[0], &rwx).unwrap_err(), "incompatible accessMode");
    }

    #[test]
    fn classes_and_defaults() {
        let mut c = claim("1Gi", "fast", json!({}));
        assert_eq!(claim_class(&c), "fast");
        c.metadata.annotations = Some([(ANN_BETA_STORAGE_CLASS.to_string(), "slow".to_string())].into());
        assert_eq!(claim_class(&c), "slow");
        let sc = |n: &str, t: &str, d: bool| -> StorageClass {
            let ann = if d { json!({ANN_DEFAULT_CLASS: "true"}) } else { json!({}) };
            serde_json::from_value(json!({"metadata": {"name": n, "creationTimestamp": t, "annotations": ann}, "provisioner": "p"})).unwrap()
        };
        let classes = [sc("a", "2024-01-01T00:00:00Z", true), sc("b", "2024-02-01T00:00:00Z", true), sc("c", "2024-03-01T00:00:00Z", false)];
        assert_eq!(default_class(&classes).and_then(|c| c.metadata.name.as_deref()), Some("b"));
    }
}
