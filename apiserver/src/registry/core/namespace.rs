//! Namespace: cluster-scoped, named by an RFC 1123 label; phase Active on
//! create and the `kubernetes` finalizer that the namespace controller
//! removes once the namespace's content is gone.

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};
use serde_json::Value;

use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    type Object = Namespace;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        subresources: &["status", "finalize"],
        name_rule: NameRule::Label,
        tracks_generation: false,
    };

    /// A namespace's content is removed by the namespace controller, which
    /// then clears spec.finalizers through namespaces/<name>/finalize; until
    /// then the namespace stays.
    fn finalizing(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers").and_then(|f| f.as_array()).is_some_and(|a| !a.is_empty())
    }

    fn finalize_on_delete(&self, obj: &mut Value) -> bool {
        let finalizing = self.finalizing(obj);
        if finalizing {
            obj["status"]["phase"] = "Terminating".into();
        }
        finalizing
    }

    fn default(&self, ns: &mut Namespace) {
        // Upstream labels every namespace with its own name.
        let name = ns.metadata.name.clone().unwrap_or_default();
        ns.metadata.labels.get_or_insert_with(Default::default).insert("kubernetes.io/metadata.name".into(), name);
    }

    fn prepare_for_create(&self, ns: &mut Namespace) {
        ns.status = Some(NamespaceStatus { phase: Some("Active".into()), ..Default::default() });
        let spec = ns.spec.get_or_insert_with(NamespaceSpec::default);
        let fins = spec.finalizers.get_or_insert_with(Vec::new);
        if !fins.iter().any(|f| f == "kubernetes") {
            fins.push("kubernetes".into());
        }
    }

    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        // spec.finalizers change only through the finalize subresource.
        new.spec = old.spec.clone();
    }

    fn validate(&self, ns: &Namespace) -> ErrorList {
        let mut errs = Vec::new();
        for (i, f) in ns.spec.iter().flat_map(|s| s.finalizers.iter().flatten()).enumerate() {
            for e in crate::registry::validation::qualified_name(f) {
                errs.push(FieldError::invalid(&Path::new("spec").child("finalizers").index(i), f, &e));
            }
        }
        errs
    }

    fn fields(&self, ns: &serde_json::Value, out: &mut crate::registry::Fields) {
        out.insert("status.phase".into(), crate::registry::str_at(ns, "/status/phase"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn spec_finalizers_hold_a_deleted_namespace_terminating() {
        let s = NamespaceStrategy;
        let mut ns = json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        assert!(s.finalize_on_delete(&mut ns));
        assert_eq!(ns["status"]["phase"], "Terminating");
        let mut done = json!({"metadata": {"name": "a"}, "spec": {}, "status": {"phase": "Terminating"}});
        assert!(!s.finalizing(&done) && !s.finalize_on_delete(&mut done));
    }

    #[test]
    fn create_sets_phase_finalizer_and_name_label() {
        let ns = Typed(NamespaceStrategy).admit_create(json!({"metadata": {"name": "team-a"}})).unwrap();
        assert_eq!(ns["status"], json!({"phase": "Active"}));
        assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
        assert_eq!(ns["metadata"]["labels"], json!({"kubernetes.io/metadata.name": "team-a"}));
    }

    #[test]
    fn names_are_dns_labels_and_finalizers_stay_on_update() {
        let kind = Typed(NamespaceStrategy);
        let e = kind.admit_create(json!({"metadata": {"name": "a.b"}})).unwrap_err();
        assert!(e.message.starts_with(r#"Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label"#), "{}", e.message);
        let old = kind.admit_create(json!({"metadata": {"name": "team-a"}})).unwrap();
        let new = kind.admit_update(json!({"metadata": {"name": "team-a", "labels": {"x": "y"}}, "spec": {}}), &old).unwrap();
        assert_eq!(new["spec"], json!({"finalizers": ["kubernetes"]}));
        assert_eq!(new["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
    }
}
