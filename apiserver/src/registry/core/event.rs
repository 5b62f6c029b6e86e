//! Event (core v1): the event's namespace matches its involved object's;
//! selectable by involvedObject.*, reason, source, type (what `kubectl
//! describe` asks for).

use k8s_openapi::api::core::v1::Event;

use crate::registry::{ErrorList, FieldError, Fields, NameRule, Path, ResourceInfo, Strategy};

pub struct EventStrategy;

impl Strategy for EventStrategy {
    type Object = Event;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };
    const RAW_CREATE: bool = true;

    fn validate(&self, ev: &Event) -> ErrorList {
        let mut errs = Vec::new();
        let ns = ev.metadata.namespace.as_deref().unwrap_or("");
        let involved = ev.involved_object.namespace.as_deref().unwrap_or("");
        // Events about cluster-scoped objects live in "default" (or nowhere).
        let ok = if involved.is_empty() { ns.is_empty() || ns == "default" } else { ns == involved };
        if !ok {
            errs.push(FieldError::invalid(&Path::new("involvedObject").child("namespace"), involved, "does not match event.namespace"));
        }
        errs
    }

    fn fields(&self, ev: &serde_json::Value, out: &mut Fields) {
        use crate::registry::str_at;
        for f in ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"] {
            out.insert(format!("involvedObject.{f}"), str_at(ev, &format!("/involvedObject/{f}")));
        }
        out.insert("reason".into(), str_at(ev, "/reason"));
        let reporting = str_at(ev, "/reportingComponent");
        let source = match str_at(ev, "/source/component") {
            c if c.is_empty() => reporting.clone(),
            c => c,
        };
        out.insert("reportingComponent".into(), reporting);
        out.insert("source".into(), source);
        out.insert("type".into(), str_at(ev, "/type"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn event(ns: &str, involved_ns: &str) -> serde_json::Value {
        json!({"metadata": {"name": "web.17a", "namespace": ns}, "reason": "Scheduled", "type": "Normal",
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": involved_ns, "uid": "u1"},
            "source": {"component": "default-scheduler"}})
    }

    #[test]
    fn namespace_must_match_and_fields() {
        let kind = Typed(EventStrategy);
        let ev = kind.admit_create(event("default", "default")).unwrap();
        let f = kind.fields(&ev);
        assert_eq!(f["involvedObject.name"], "web");
        assert_eq!(f["involvedObject.kind"], "Pod");
        assert_eq!(f["source"], "default-scheduler");
        assert_eq!(f["reason"], "Scheduled");
        let e = kind.admit_create(event("default", "other")).unwrap_err();
        assert_eq!(e.message, r#"Event "web.17a" is invalid: involvedObject.namespace: Invalid value: "other": does not match event.namespace"#);
    }
}
