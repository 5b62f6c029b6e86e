//! Edits on serialized JSON objects without parsing them into values.
//!
//! Every object is stored without `metadata.resourceVersion` (it is the etcd
//! revision) and served with it. Re-encoding a whole object to add one field
//! costs more than the rest of a write, so the served bytes are the stored
//! bytes with the field spliced into `metadata`. The scanner only walks the
//! structure (strings, nesting); anything it does not expect makes it give up
//! and the caller falls back to a full parse.

use std::ops::Range;

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `b[i] == '"'`.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// End (exclusive) of the JSON value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The members of the object starting at `b[start] == '{'`: each key's raw
/// bytes (between the quotes, unescaped only if it had no escapes) and the
/// byte range of its value.
fn members(b: &[u8], start: usize) -> Option<Vec<(&[u8], Range<usize>)>> {
    if b.get(start) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = ws(b, start + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(b, i)?;
        let key = &b[i + 1..key_end - 1];
        i = ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let v = ws(b, i + 1);
        let v_end = skip_value(b, v)?;
        out.push((key, v..v_end));
        i = ws(b, v_end);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

/// The byte range of a top-level member's value.
pub fn member(b: &[u8], key: &str) -> Option<Range<usize>> {
    let start = ws(b, 0);
    members(b, start)?.into_iter().find(|(k, _)| *k == key.as_bytes()).map(|(_, r)| r)
}

/// `raw` with `metadata.resourceVersion` set to `revision` (replaced if
/// present). None if `raw` is not an object with an object `metadata`.
pub fn with_resource_version(raw: &[u8], revision: i64) -> Option<Vec<u8>> {
    let meta = member(raw, "metadata")?;
    let fields = members(raw, meta.start)?;
    let rv = format!("\"{revision}\"");
    let mut out = Vec::with_capacity(raw.len() + rv.len() + 20);
    match fields.iter().find(|(k, _)| *k == b"resourceVersion") {
        Some((_, r)) => {
            out.extend_from_slice(&raw[..r.start]);
            out.extend_from_slice(rv.as_bytes());
            out.extend_from_slice(&raw[r.end..]);
        }
        None => {
            out.extend_from_slice(&raw[..=meta.start]);
            out.extend_from_slice(b"\"resourceVersion\":");
            out.extend_from_slice(rv.as_bytes());
            if !fields.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(&raw[meta.start + 1..]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn spliced(v: &Value, rev: i64) -> Value {
        serde_json::from_slice(&with_resource_version(&serde_json::to_vec(v).unwrap(), rev).unwrap()).unwrap()
    }

    #[test]
    fn inserts_into_metadata_only() {
        // A nested "metadata" (a template, a ControllerRevision's data) sorts
        // before the top-level one and must be left alone.
        let v = json!({"apiVersion": "apps/v1", "data": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}},
            "kind": "ControllerRevision", "metadata": {"name": "x", "annotations": {"q": "\"metadata\":{}"}}, "revision": 1});
        let out = spliced(&v, 42);
        let mut want = v.clone();
        want["metadata"]["resourceVersion"] = json!("42");
        assert_eq!(out, want);
    }

    #[test]
    fn replaces_an_existing_resource_version_and_handles_empty_metadata() {
        let out = spliced(&json!({"metadata": {"resourceVersion": "7", "name": "n"}}), 9);
        assert_eq!(out, json!({"metadata": {"resourceVersion": "9", "name": "n"}}));
        assert_eq!(spliced(&json!({"metadata": {}}), 3), json!({"metadata": {"resourceVersion": "3"}}));
        let pretty = serde_json::to_vec_pretty(&json!({"kind": "X", "metadata": { "name": "p" }, "n": [1, 2.5, null, true]})).unwrap();
        let out: Value = serde_json::from_slice(&with_resource_version(&pretty, 5).unwrap()).unwrap();
        assert_eq!(out, json!({"kind": "X", "metadata": {"name": "p", "resourceVersion": "5"}, "n": [1, 2.5, null, true]}));
    }

    #[test]
    fn gives_up_on_what_it_does_not_expect() {
        assert!(with_resource_version(b"[1,2]", 1).is_none());
        assert!(with_resource_version(br#"{"metadata": 5}"#, 1).is_none());
        assert!(with_resource_version(br#"{"kind": "X"}"#, 1).is_none());
        assert!(with_resource_version(br#"{"metadata": {"name": "x""#, 1).is_none());
        assert!(with_resource_version(br#"{"a": "unterminated}"#, 1).is_none());
    }

    #[test]
    fn escaped_quotes_in_strings() {
        let v = json!({"data": {"k": "a\\\"b\"}{", "metadata": "{"}, "metadata": {"name": "x"}});
        let mut want = v.clone();
        want["metadata"]["resourceVersion"] = json!("1");
        assert_eq!(spliced(&v, 1), want);
    }
}
