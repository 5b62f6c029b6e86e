//! Human-readable tables: upstream's columns per kind, `-o wide`,
//! `-A` (NAMESPACE), several kinds at once (`pod/x` names),
//! `--show-labels`, `-L`, `--no-headers`.

use chrono::{DateTime, Utc};
use client::proto::v1::ApiResource;
use serde_json::Value;

use super::kinds::{columns_for, display_name, EVENT_WIDE};
use crate::util::{format_labels, TabWriter};

#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub wide: bool,
    pub no_headers: bool,
    pub show_labels: bool,
    pub label_columns: Vec<String>,
    /// Adds the NAMESPACE column (for namespaced kinds).
    pub with_namespace: bool,
    /// Prefixes names with "kind.group/" (several kinds printed together).
    pub with_kind: bool,
}

/// Header cells for `r`.
pub fn headers(r: &ApiResource, opts: &TableOptions) -> Vec<String> {
    let cols = columns_for(&r.group, &r.kind);
    let mut h: Vec<String> = Vec::new();
    if opts.with_namespace && r.namespaced {
        h.push("NAMESPACE".into());
    }
    if opts.wide && r.kind == "Event" && r.group.is_empty() {
        h.extend(EVENT_WIDE.iter().map(|s| s.to_string()));
    } else {
        h.extend(cols.headers.iter().map(|s| s.to_string()));
        if opts.wide {
            h.extend(cols.wide.iter().map(|s| s.to_string()));
        }
    }
    for l in &opts.label_columns {
        h.push(l.rsplit('/').next().unwrap_or(l).to_uppercase());
    }
    if opts.show_labels {
        h.push("LABELS".into());
    }
    h
}

/// One row of cells for `obj`.
pub fn row(r: &ApiResource, obj: &Value, opts: &TableOptions, now: DateTime<Utc>) -> Vec<String> {
    let cols = columns_for(&r.group, &r.kind);
    let mut cells = Vec::new();
    if opts.with_namespace && r.namespaced {
        cells.push(crate::util::namespace(obj).to_string());
    }
    if cols.name_first {
        let name = display_name(&r.group, &r.kind, obj);
        cells.push(if opts.with_kind { format!("{}/{name}", crate::resources::kind_prefix(r)) } else { name });
    }
    cells.extend((cols.cells)(obj, opts.wide, now));
    let labels = obj.pointer("/metadata/labels");
    for l in &opts.label_columns {
        cells.push(labels.and_then(|m| m.get(l)).and_then(Value::as_str).unwrap_or("").to_string());
    }
    if opts.show_labels {
        cells.push(format_labels(labels));
    }
    cells
}

/// A whole table for objects of one kind.
pub fn render(r: &ApiResource, objs: &[Value], opts: &TableOptions, now: DateTime<Utc>) -> String {
    let mut tw = TabWriter::new();
    if !opts.no_headers {
        tw.row(&headers(r, opts));
    }
    for o in objs {
        tw.row(&row(r, o, opts, now));
    }
    tw.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::fixture;
    use serde_json::json;

    #[test]
    fn pods_table_like_upstream() {
        let d = fixture();
        let now = crate::printers::age::parse_time("2024-01-01T01:00:00Z").unwrap();
        let pods: Vec<Value> = serde_json::from_str(include_str!("../../tests/golden/pods.json")).unwrap();
        let po = d.resolve_one("po").unwrap();
        assert_eq!(render(po, &pods, &TableOptions::default(), now), include_str!("../../tests/golden/get_pods.txt"));
        let wide = TableOptions { wide: true, ..Default::default() };
        assert_eq!(render(po, &pods, &wide, now), include_str!("../../tests/golden/get_pods_wide.txt"));
        let all_ns = TableOptions { with_namespace: true, show_labels: true, ..Default::default() };
        assert_eq!(render(po, &pods, &all_ns, now), include_str!("../../tests/golden/get_pods_all_ns_labels.txt"));
    }

    #[test]
    fn kind_prefix_and_label_columns() {
        let d = fixture();
        let now = crate::printers::age::parse_time("2024-01-01T01:00:00Z").unwrap();
        let dep = json!({"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"replicas": 3}, "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let opts = TableOptions { with_kind: true, label_columns: vec!["app.kubernetes.io/name".into()], ..Default::default() };
        assert_eq!(
            render(d.resolve_one("deploy").unwrap(), &[dep], &opts, now),
            "NAME                  READY   UP-TO-DATE   AVAILABLE   AGE   NAME\ndeployment.apps/web   2/3     3            2           60m   web\n"
        );
    }
}
