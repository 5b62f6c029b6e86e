//! `kubectl describe` output, as upstream's describers
//! (k8s.io/kubectl/pkg/describe): "Key:\tvalue" lines at indentation
//! levels, aligned by Go's tabwriter (minwidth 0, padding 2).

pub mod generic;
pub mod network;
pub mod others;
pub mod policy;
pub mod pod;
pub mod workloads;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::util::{arr, s, TabWriter};

/// Upstream's PrefixWriter over a tabwriter, with Flush sections.
#[derive(Default)]
pub struct W {
    done: String,
    current: String,
}

impl W {
    /// Writes `text` (Go tab-separated) indented by `level` (two spaces each).
    pub fn w(&mut self, level: usize, text: &str) {
        self.current.push_str(&"  ".repeat(level));
        self.current.push_str(text);
    }
    /// Ends an alignment section (upstream's w.Flush()).
    pub fn flush(&mut self) {
        let mut tw = TabWriter::with(0, 2);
        tw.write_str(&std::mem::take(&mut self.current));
        self.done.push_str(&tw.render());
    }
    pub fn finish(mut self) -> String {
        self.flush();
        self.done
    }
}

/// Go's time.RFC1123Z: "Mon, 02 Jan 2006 15:04:05 -0700".
pub fn rfc1123z(ts: &str) -> String {
    match crate::printers::age::parse_time(ts) {
        Some(t) => fmt_time(t),
        None => "Mon, 01 Jan 0001 00:00:00 +0000".into(),
    }
}

pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S %z").to_string()
}

fn sorted_pairs(m: Option<&Value>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = m
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// printLabelsMultiline: first "k=v" on the title line, the rest below.
pub fn labels(w: &mut W, title: &str, m: Option<&Value>) {
    w.w(0, &format!("{title}:\t"));
    let pairs = sorted_pairs(m);
    if pairs.is_empty() {
        w.w(0, "<none>\n");
        return;
    }
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i != 0 {
            w.w(0, "\t");
        }
        w.w(0, &format!("{k}={v}\n"));
    }
}

const MAX_ANNOTATION_LEN: usize = 140;

/// printAnnotationsMultiline (the last-applied annotation is hidden).
pub fn annotations(w: &mut W, title: &str, m: Option<&Value>) {
    w.w(0, &format!("{title}:\t"));
    let pairs: Vec<_> = sorted_pairs(m).into_iter().filter(|(k, _)| k != crate::apply::LAST_APPLIED).collect();
    if pairs.is_empty() {
        w.w(0, "<none>\n");
        return;
    }
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i != 0 {
            w.w(0, "\t");
        }
        let v = v.trim_end_matches('\n');
        if v.len() + k.len() + 2 > MAX_ANNOTATION_LEN || v.contains('\n') {
            w.w(0, &format!("{k}:\n"));
            for line in v.split('\n') {
                let short = if line.len() > MAX_ANNOTATION_LEN - 2 {
                    format!("{}...", &line[..floor_char(line, MAX_ANNOTATION_LEN - 2)])
                } else {
                    line.to_string()
                };
                w.w(0, &format!("\t  {short}\n"));
            }
        } else {
            w.w(0, &format!("{k}: {v}\n"));
        }
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The "Controlled By" value: "ReplicaSet/web-abc".
pub fn controller(v: &Value) -> Option<String> {
    arr(v, "/metadata/ownerReferences")
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|o| format!("{}/{}", s(o, "/kind"), s(o, "/name")))
}

/// The events about the described object; None with --show-events=false,
/// which leaves the Events section out.
pub type Evs<'a> = Option<&'a mut [Value]>;

/// The Events section (DescribeEvents), `events` already filtered to the object.
pub fn events(w: &mut W, events: Evs<'_>, now: DateTime<Utc>) {
    let Some(events) = events else { return };
    if events.is_empty() {
        w.w(0, "Events:\t<none>\n");
        return;
    }
    w.flush();
    let key = |e: &Value| {
        let t = match s(e, "/lastTimestamp") {
            "" => s(e, "/eventTime").to_string(),
            x => x.to_string(),
        };
        crate::printers::age::parse_time(&t)
    };
    events.sort_by_key(|e| key(e));
    w.w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
    w.w(1, "----\t------\t----\t----\t-------\n");
    for e in events.iter() {
        let first = match s(e, "/eventTime") {
            "" => crate::printers::age::age_at(Some(s(e, "/firstTimestamp")).filter(|x| !x.is_empty()), now),
            t => crate::printers::age::age_at(Some(t), now),
        };
        let count = crate::util::i(e, "/count");
        let interval = if let Some(series) = e.get("series").filter(|x| !x.is_null()) {
            format!(
                "{} (x{} over {first})",
                crate::printers::age::age_at(Some(s(series, "/lastObservedTime")), now),
                crate::util::i(series, "/count")
            )
        } else if count > 1 {
            format!("{} (x{count} over {first})", crate::printers::age::age_at(Some(s(e, "/lastTimestamp")), now))
        } else {
            first
        };
        let source = match s(e, "/source/component") {
            "" => s(e, "/reportingComponent"),
            c => c,
        };
        // As upstream's DescribeEvents: the message alone (no involvedObject.fieldPath).
        let msg = s(e, "/message").trim();
        w.w(1, &format!("{}\t{}\t{interval}\t{source}\t{msg}\n", s(e, "/type"), s(e, "/reason")));
    }
}

/// Name, Namespace (when `with_ns`), Labels and Annotations: most describers' first lines.
pub fn header(w: &mut W, v: &Value, with_ns: bool) {
    w.w(0, &format!("Name:\t{}\n", crate::util::name(v)));
    if with_ns {
        w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(v)));
    }
    labels(w, "Labels", v.pointer("/metadata/labels"));
    annotations(w, "Annotations", v.pointer("/metadata/annotations"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_and_annotations_like_upstream() {
        let mut w = W::default();
        w.w(0, "Name:\tweb\n");
        labels(&mut w, "Labels", Some(&json!({"b": "2", "a": "1"})));
        annotations(&mut w, "Annotations", Some(&json!({crate::apply::LAST_APPLIED: "{}"})));
        assert_eq!(w.finish(), "Name:         web\nLabels:       a=1\n              b=2\nAnnotations:  <none>\n");
    }
}
