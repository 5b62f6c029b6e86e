//! DeleteOptions.propagationPolicy as upstream's generic store turns it into
//! finalizers (deletionFinalizersForGarbageCollection): `orphan` or
//! `foregroundDeletion` on the object being deleted, which the garbage
//! collector then carries out and removes.

use api::status::StatusError;
use serde_json::Value;

use super::meta::{finalizers, meta_mut};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// Upstream's ValidateDeleteOptions for the policy.
pub fn validate_policy(policy: &str) -> Result<(), StatusError> {
    if matches!(policy, "" | "Orphan" | "Background" | "Foreground") {
        return Ok(());
    }
    Err(StatusError::new(
        api::Reason::Invalid,
        format!(r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: {policy:?}: supported values: "Foreground", "Background", "Orphan", "nil""#),
    )
    .with_details(api::status::StatusDetails {
        group: "meta.k8s.io".into(),
        kind: "DeleteOptions".into(),
        causes: vec![api::status::StatusCause {
            reason: "FieldValueNotSupported".into(),
            message: format!(r#"Unsupported value: {policy:?}: supported values: "Foreground", "Background", "Orphan", "nil""#),
            field: "propagationPolicy".into(),
        }],
        ..Default::default()
    }))
}

/// Sets the object's GC finalizers for a delete with `policy` ("" = none
/// given: an existing orphan/foregroundDeletion finalizer wins, then the
/// kind's default: `orphan_by_default`, see `Strategy::ORPHAN_DEPENDENTS`).
/// Returns whether they changed.
pub fn apply_policy(orphan_by_default: bool, obj: &mut Value, policy: &str) -> bool {
    let old = finalizers(obj);
    let has = |f: &str| old.iter().any(|x| x == f);
    let (orphan, foreground) = match policy {
        "Orphan" => (true, false),
        "Foreground" => (false, true),
        "Background" => (false, false),
        _ if has(ORPHAN) => (true, false),
        _ if has(FOREGROUND) => (false, true),
        _ => (orphan_by_default, false),
    };
    let mut new: Vec<String> = old.iter().filter(|f| *f != ORPHAN && *f != FOREGROUND).cloned().collect();
    if orphan {
        new.push(ORPHAN.into());
    }
    if foreground {
        new.push(FOREGROUND.into());
    }
    let same = {
        let (mut a, mut b) = (old.clone(), new.clone());
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        a == b
    };
    if same {
        return false;
    }
    let m = meta_mut(obj);
    if new.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), new.into());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::registry::Kinds;

    /// The kind's own default, as the store passes it.
    fn orphans(group: &str, plural: &str) -> bool {
        Kinds::new().get(group, plural).expect("served").orphans_dependents()
    }

    fn fins(v: &Value) -> Value {
        v["metadata"].get("finalizers").cloned().unwrap_or(json!([]))
    }

    #[test]
    fn explicit_policies_replace_the_gc_finalizers() {
        let rs = orphans("apps", "replicasets");
        let mut o = json!({"metadata": {"finalizers": ["a", "foregroundDeletion"]}});
        assert!(apply_policy(rs, &mut o, "Orphan"));
        assert_eq!(fins(&o), json!(["a", "orphan"]));
        assert!(apply_policy(rs, &mut o, "Foreground"));
        assert_eq!(fins(&o), json!(["a", "foregroundDeletion"]));
        assert!(apply_policy(rs, &mut o, "Background"));
        assert_eq!(fins(&o), json!(["a"]));
        assert!(!apply_policy(rs, &mut o, "Background"));
    }

    #[test]
    fn no_policy_keeps_existing_finalizers_then_uses_the_kind_default() {
        let mut o = json!({"metadata": {"finalizers": ["orphan"]}});
        assert!(!apply_policy(orphans("apps", "replicasets"), &mut o, ""));
        let mut o = json!({"metadata": {}});
        assert!(!apply_policy(orphans("apps", "replicasets"), &mut o, ""), "apps/v1 deletes dependents in the background by default");
        assert!(apply_policy(orphans("", "replicationcontrollers"), &mut o, ""));
        assert_eq!(fins(&o), json!(["orphan"]));
        let served_orphaning: Vec<_> = Kinds::new().all().filter(|k| k.orphans_dependents()).map(|k| k.info().qualified()).collect();
        assert_eq!(served_orphaning, ["replicationcontrollers", "jobs.batch"], "upstream's DefaultGarbageCollectionPolicy");
    }

    #[test]
    fn unknown_policies_are_invalid() {
        assert!(validate_policy("Foreground").is_ok());
        let e = validate_policy("Sideways").unwrap_err();
        assert_eq!(e.reason(), api::Reason::Invalid);
        assert!(e.message.contains(r#"propagationPolicy: Unsupported value: "Sideways""#), "{}", e.message);
    }
}
