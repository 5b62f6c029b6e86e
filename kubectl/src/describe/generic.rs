//! Upstream's generic describer, for kinds without a describer of their own
//! (ControllerRevision, PodTemplate, Lease, Event): the object's fields in
//! key order, labelled by smartLabelFor, values as Go's %v prints them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{annotations, events, labels, Evs, W};

/// Fields the header already shows, by path from the object's root.
const SKIP: [&str; 5] = [".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels", ".metadata.annotations"];

pub fn describe(v: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(v)));
    // Printed for cluster-scoped objects too, empty.
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(v)));
    labels(&mut w, "Labels", v.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", v.pointer("/metadata/annotations"));
    if let Some(m) = v.as_object() {
        content(&mut w, 0, m, "");
    }
    events(&mut w, evs, now);
    w.finish()
}

/// printUnstructuredContent.
fn content(w: &mut W, level: usize, m: &serde_json::Map<String, Value>, prefix: &str) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        let path = format!("{prefix}.{k}");
        if SKIP.contains(&path.as_str()) {
            continue;
        }
        match &m[k] {
            Value::Object(child) => {
                w.w(level, &format!("{}:\n", smart_label(k)));
                content(w, level + 1, child, &path);
            }
            Value::Array(items) => {
                w.w(level, &format!("{}:\n", smart_label(k)));
                for item in items {
                    match item {
                        Value::Object(child) => content(w, level + 1, child, &path),
                        other => w.w(level + 1, &format!("{}\n", go_v(other))),
                    }
                }
            }
            other => w.w(level, &format!("{}:\t{}\n", smart_label(k), go_v(other))),
        }
    }
}

/// smartLabelFor (v1.33): camel-case words, titled, common acronyms upper-cased;
/// a name with anything but letters and '-' is kept as is.
pub fn smart_label(field: &str) -> String {
    if field.chars().any(|c| !c.is_alphabetic() && c != '-') {
        return field.to_string();
    }
    const ACRONYMS: [&str; 5] = ["API", "URL", "UID", "OSB", "GUID"];
    camel_split(field)
        .into_iter()
        .filter(|p| p != "_")
        .map(|p| {
            let up = p.to_uppercase();
            if ACRONYMS.contains(&up.as_str()) {
                up
            } else {
                let mut cs = p.chars();
                cs.next().map(|c| c.to_uppercase().chain(cs).collect()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// github.com/fatih/camelcase Split: runs of one character class, then the
/// last capital of an upper run moves to a following lower run ("PDFLoader").
fn camel_split(s: &str) -> Vec<String> {
    let class = |c: char| {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in s.chars() {
        let cl = class(c);
        match runs.last_mut() {
            Some(r) if cl == last => r.push(c),
            _ => runs.push(vec![c]),
        }
        last = cl;
    }
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i].first().is_some_and(|c| c.is_uppercase()) && runs[i + 1].first().is_some_and(|c| c.is_lowercase()) {
            let moved = runs[i].pop().expect("upper run is not empty");
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter().filter(|r| !r.is_empty()).map(|r| r.into_iter().collect()).collect()
}

/// Go's %v of a decoded JSON value.
fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or_default()),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!("map[{}]", keys.iter().map(|k| format!("{k}:{}", go_v(&m[k.as_str()]))).collect::<Vec<_>>().join(" "))
        }
    }
}

/// Go's %v of a float64 (%g, shortest): exponent form below 1e-4 and from 1e21.
fn go_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return if f.is_nan() { "NaN".into() } else if f.is_infinite() { if f > 0.0 { "+Inf".into() } else { "-Inf".into() } } else { "0".into() };
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..21).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn smart_labels_like_upstream() {
        assert_eq!(smart_label("apiVersion"), "API Version");
        assert_eq!(smart_label("creationTimestamp"), "Creation Timestamp");
        assert_eq!(smart_label("uid"), "UID");
        assert_eq!(smart_label("holderIdentity"), "Holder Identity");
        assert_eq!(smart_label("podIPs"), "Pod I Ps");
        assert_eq!(smart_label("PDFLoader"), "PDF Loader");
        assert_eq!(smart_label("leaseDurationSeconds"), "Lease Duration Seconds");
        assert_eq!(smart_label("ipv4"), "ipv4");
        assert_eq!(smart_label("kubernetes.io/name"), "kubernetes.io/name");
    }

    #[test]
    fn go_values() {
        assert_eq!(go_v(&json!(null)), "<nil>");
        assert_eq!(go_v(&json!(1.5)), "1.5");
        assert_eq!(go_v(&json!(2.0)), "2");
        assert_eq!(go_v(&json!(1e21)), "1e+21");
        assert_eq!(go_v(&json!(0.00001)), "1e-05");
        assert_eq!(go_v(&json!(-7)), "-7");
        assert_eq!(go_v(&json!([["a", 1], {"k": true}])), "[[a 1] map[k:true]]");
    }

    #[test]
    fn controllerrevision_like_upstream() {
        let cr = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": "web-6d4", "namespace": "default", "uid": "u-1", "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"app": "web"},
                "managedFields": [{"manager": "x"}], "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]},
            "data": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, "revision": 2});
        assert_eq!(
            describe(&cr, Some(&mut []), chrono::Utc::now()),
            "Name:         web-6d4\nNamespace:    default\nLabels:       app=web\nAnnotations:  <none>\nAPI Version:  apps/v1\nData:\n  Spec:\n    Template:\n      Spec:\n\
             \x20       Containers:\n          Image:  nginx\n          Name:   c\nKind:             ControllerRevision\nMetadata:\n  Creation Timestamp:  2024-01-01T00:00:00Z\n\
             \x20 Owner References:\n    API Version:  apps/v1\n    Controller:   true\n    Kind:         StatefulSet\n    Name:         web\n  UID:            u-1\n\
             Revision:         2\nEvents:           <none>\n"
        );
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}});
        assert_eq!(
            describe(&lease, Some(&mut []), chrono::Utc::now()),
            "Name:         n1\nNamespace:    kube-node-lease\nLabels:       <none>\nAnnotations:  <none>\nAPI Version:  coordination.k8s.io/v1\nKind:         Lease\n\
             Metadata:\nSpec:\n  Holder Identity:         n1\n  Lease Duration Seconds:  40\nEvents:                    <none>\n"
        );
    }
}
