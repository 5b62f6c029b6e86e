//! ControllerRevisions: the template history StatefulSets and DaemonSets keep
//! (upstream's pkg/controller/history and the two controllers' getPatch).
//! A revision's data is the patch `{"spec":{"template":{...,"$patch":"replace"}}}`
//! that turns the owner back into that template.

use std::sync::Arc;

use client::{Api, Client, PostParams};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use crate::controller_utils::hash_bytes;
use crate::Error;

/// The label with a revision's hash (history.ControllerRevisionHashLabel).
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The revision data for `template` (getPatch).
pub fn template_patch(template: &PodTemplateSpec) -> serde_json::Value {
    let mut t = serde_json::to_value(template).expect("API objects serialize");
    if let Some(o) = t.as_object_mut() {
        o.insert("$patch".into(), "replace".into());
    }
    serde_json::json!({"spec": {"template": t}})
}

/// The template a revision records (ApplyRevision of its patch).
pub fn template_of(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = rev.data.0.get("spec")?.get("template")?.clone();
    t.as_object_mut()?.remove("$patch");
    serde_json::from_value(t).ok()
}

/// `prefix-hash`, the prefix cut so the name fits (ControllerRevisionName).
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let prefix = if prefix.len() > 223 { &prefix[..223] } else { prefix };
    format!("{prefix}-{hash}")
}

/// The hash of a revision's data and the collision count (HashControllerRevision).
pub fn hash_revision(data: &serde_json::Value, collision_count: Option<i32>) -> String {
    hash_bytes(&serde_json::to_vec(data).expect("JSON serializes"), collision_count)
}

/// A revision of `owner` (NewControllerRevision): labels = the template's
/// plus the hash, the owner's annotations, named `<owner>-<hash>`.
pub fn new_revision(owner: &ObjectMeta, controller_ref: OwnerReference, template: &PodTemplateSpec, revision: i64, collision_count: Option<i32>) -> ControllerRevision {
    let data = template_patch(template);
    let hash = hash_revision(&data, collision_count);
    let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(CONTROLLER_REVISION_HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(owner.name.as_deref().unwrap_or_default(), &hash)),
            namespace: owner.namespace.clone(),
            labels: Some(labels),
            annotations: owner.annotations.clone(),
            owner_references: Some(vec![controller_ref]),
            ..Default::default()
        },
        data: RawExtension(data),
        revision: Some(revision),
    }
}

/// Same data (EqualRevision: upstream compares the hash labels only when
/// they parse as integers, which safe-encoded hashes never do, so in effect
/// the data alone; a revision made under another collision count still matches).
pub fn equal_revision(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data == b.data
}

/// Oldest first: by revision, then creation time, then name (SortControllerRevisions).
pub fn sort_revisions(revs: &mut [Arc<ControllerRevision>]) {
    revs.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.creation_timestamp.as_ref().map(|t| t.0).cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0)))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// One past the highest revision (nextRevision).
pub fn next_revision(revs: &[Arc<ControllerRevision>]) -> i64 {
    revs.iter().filter_map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Creates `rev`; when its name is taken by different data, bumps
/// `collision_count` and tries the next hash (realHistory.CreateControllerRevision).
/// An equal revision already there is returned as it is.
pub async fn create_revision(
    client: &Client,
    owner: &ObjectMeta,
    controller_ref: &OwnerReference,
    template: &PodTemplateSpec,
    revision: i64,
    collision_count: &mut i32,
) -> Result<ControllerRevision, Error> {
    let ns = owner.namespace.as_deref().unwrap_or_default();
    let api = Api::<ControllerRevision>::namespaced(client.clone(), ns);
    loop {
        let rev = new_revision(owner, controller_ref.clone(), template, revision, Some(*collision_count));
        match api.create(&PostParams::default(), &rev).await {
            Ok(created) => return Ok(created),
            Err(e) if e.is_already_exists() => {
                let existing = api.get(rev.metadata.name.as_deref().unwrap_or_default()).await?;
                if equal_revision(&existing, &rev) && api::owner::is_controlled_by(&existing.metadata, &controller_ref.uid) {
                    return Ok(existing);
                }
                *collision_count += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sets a revision's number (UpdateControllerRevision).
pub async fn update_revision_number(client: &Client, rev: &ControllerRevision, revision: i64) -> Result<ControllerRevision, Error> {
    if rev.revision == Some(revision) {
        return Ok(rev.clone());
    }
    let ns = rev.metadata.namespace.as_deref().unwrap_or_default();
    let mut r = rev.clone();
    r.revision = Some(revision);
    Ok(Api::<ControllerRevision>::namespaced(client.clone(), ns).replace(&r).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}})).unwrap()
    }

    #[test]
    fn revisions_record_the_template_and_hash_it() {
        let owner = ObjectMeta { name: Some("web".into()), namespace: Some("ns".into()), uid: Some("u".into()), ..Default::default() };
        let r = api::owner::new_controller_ref(&owner, "apps/v1", "StatefulSet");
        let a = new_revision(&owner, r.clone(), &template("nginx:1"), 1, None);
        assert_eq!(a.data.0["spec"]["template"]["$patch"], "replace");
        assert_eq!(template_of(&a).unwrap(), template("nginx:1"));
        let hash = &a.metadata.labels.as_ref().unwrap()[CONTROLLER_REVISION_HASH_LABEL];
        assert_eq!(a.metadata.name.as_deref().unwrap(), format!("web-{hash}"));
        assert_eq!(a.metadata.labels.as_ref().unwrap()["app"], "web");
        let same = new_revision(&owner, r.clone(), &template("nginx:1"), 7, None);
        assert!(equal_revision(&a, &same));
        let other = new_revision(&owner, r.clone(), &template("nginx:2"), 2, None);
        assert!(!equal_revision(&a, &other));
        assert_ne!(new_revision(&owner, r, &template("nginx:1"), 1, Some(1)).metadata.name, a.metadata.name, "a collision moves the name");
        let mut revs = vec![Arc::new(other), Arc::new(a)];
        sort_revisions(&mut revs);
        assert_eq!(revs.iter().map(|r| r.revision.unwrap()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(next_revision(&revs), 3);
        assert_eq!(revision_name(&"x".repeat(300), "h").len(), 225);
    }
}
