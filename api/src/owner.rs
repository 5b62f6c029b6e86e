//! Owner and controller references (metav1.GetControllerOf, IsControlledBy,
//! NewControllerRef) for garbage collection and controllers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The owner reference with `controller: true`, if any (GetControllerOfNoCopy).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// Whether `meta` lists an owner with this uid (controller or not).
pub fn is_owned_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references.iter().flatten().any(|r| r.uid == owner_uid)
}

/// upstream's IsControlledBy: the controller reference has this uid.
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == owner_uid)
}

/// upstream's NewControllerRef: controller and blockOwnerDeletion set.
pub fn new_controller_ref(owner: &ObjectMeta, api_version: &str, kind: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A controller reference for a typed owner (apiVersion and kind from its type).
pub fn controller_ref_for<K: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta>>(owner: &K) -> OwnerReference {
    new_controller_ref(owner.metadata(), K::API_VERSION, K::KIND)
}

/// Whether two references name the same owner (apiVersion group, kind, name;
/// upstream's referSameObject ignores the version).
pub fn refer_same_object(a: &OwnerReference, b: &OwnerReference) -> bool {
    let group = |v: &str| v.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    group(&a.api_version) == group(&b.api_version) && a.kind == b.kind && a.name == b.name
}

/// Removes references to `owner_uid`; returns whether any was removed.
pub fn remove_owner(meta: &mut ObjectMeta, owner_uid: &str) -> bool {
    let Some(refs) = meta.owner_references.as_mut() else { return false };
    let before = refs.len();
    refs.retain(|r| r.uid != owner_uid);
    let removed = refs.len() != before;
    if refs.is_empty() {
        meta.owner_references = None;
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;

    #[test]
    fn controller_references() {
        let rs = ReplicaSet {
            metadata: ObjectMeta { name: Some("web".into()), uid: Some("u1".into()), ..Default::default() },
            ..Default::default()
        };
        let r = controller_ref_for(&rs);
        assert_eq!((r.api_version.as_str(), r.kind.as_str(), r.name.as_str()), ("apps/v1", "ReplicaSet", "web"));
        assert_eq!((r.controller, r.block_owner_deletion), (Some(true), Some(true)));
        let other = OwnerReference { uid: "u2".into(), name: "x".into(), kind: "Job".into(), api_version: "batch/v1".into(), ..Default::default() };
        let mut pod = ObjectMeta { owner_references: Some(vec![other.clone(), r.clone()]), ..Default::default() };
        assert_eq!(controller_of(&pod).map(|r| r.uid.as_str()), Some("u1"));
        assert!(is_controlled_by(&pod, "u1") && !is_controlled_by(&pod, "u2"));
        assert!(is_owned_by(&pod, "u2") && !is_owned_by(&pod, "u3"));
        let v2 = OwnerReference { api_version: "apps/v1beta2".into(), ..r.clone() };
        assert!(refer_same_object(&r, &v2) && !refer_same_object(&r, &other));
        assert!(remove_owner(&mut pod, "u2") && !remove_owner(&mut pod, "u2"));
        assert!(remove_owner(&mut pod, "u1"));
        assert_eq!(pod.owner_references, None);
        assert_eq!(controller_of(&pod), None);
    }
}
