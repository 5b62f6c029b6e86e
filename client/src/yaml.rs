//! YAML to JSON the way upstream reads manifests (`sigs.k8s.io/yaml` on
//! go-yaml v2, and apimachinery's `YAMLOrJSONDecoder` for streams).
//!
//! Upstream resolves plain scalars by YAML 1.1 rules, so `0660` is the
//! octal 432, `yes`/`on`/`y` are `true`, `1e3` is a float; quoted scalars
//! stay strings and `!!str`-style tags are honoured. serde_yaml (YAML 1.2,
//! no scalar style in its values) cannot say that, so this module builds
//! JSON from yaml-rust2's events, which keep each scalar's style, tag and
//! line.
//!
//! It lives in `client`, not `api`: `api` stays serde-only for every
//! component, while what reads manifests (kubectl, the kubelet's static
//! pods) already builds on `client`.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Why a text is not a JSON document; messages as upstream prints them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Malformed YAML or a scalar that does not fit its tag.
    #[error("error converting YAML to JSON: yaml: {0}")]
    Yaml(String),
    /// go-yaml's collected decoding errors (strict duplicate keys), one per line.
    #[error("error converting YAML to JSON: yaml: unmarshal errors:\n{}", .0.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"))]
    Unmarshal(Vec<String>),
    /// A value JSON cannot carry (`.inf`, `.nan`) or a key it cannot name.
    #[error("error converting YAML to JSON: {0}")]
    Json(String),
    /// A `---` line followed by something other than a comment.
    #[error("invalid Yaml document separator: {0}")]
    Separator(String),
}

/// The first document of `text` as JSON (upstream's `yaml.YAMLToJSON`);
/// a duplicate key keeps its last value.
pub fn to_json(text: &str) -> Result<Value, Error> {
    Builder::new(false).document(text)
}

/// Like [`to_json`] but a duplicate key is an error naming its line
/// (upstream's `yaml.YAMLToJSONStrict`).
pub fn to_json_strict(text: &str) -> Result<Value, Error> {
    Builder::new(true).document(text)
}

/// Every document of a stream, as kubectl's `-f` reads a file: a stream
/// that starts with `{` is concatenated JSON; otherwise YAML documents split
/// at `---` lines, each converted by [`to_json`] (so line numbers in errors
/// count from the document's start, as upstream's). Empty documents are
/// `null`.
pub fn documents(text: &str) -> Result<Vec<Value>, Error> {
    if text.trim_start().starts_with('{') {
        let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(text).into_iter().collect();
        if let Ok(docs) = docs {
            return Ok(docs);
        }
    }
    split_documents(text)?.into_iter().map(to_json).collect()
}

/// apimachinery's YAMLReader: a line starting `---` ends a document; only a
/// comment may follow the dashes.
fn split_documents(text: &str) -> Result<Vec<&str>, Error> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                return Err(Error::Separator(rest.to_string()));
            }
            if pos > start {
                docs.push(&text[start..pos]);
            }
            start = pos + line.len();
        }
        pos += line.len();
    }
    if pos > start {
        docs.push(&text[start..pos]);
    }
    Ok(docs)
}

/// Nodes that aliases may add to one document before it is refused
/// (go-yaml's guard against "billion laughs").
const ALIAS_BUDGET: usize = 1_000_000;

struct Builder {
    strict: bool,
    anchors: HashMap<usize, Value>,
    aliased: usize,
    duplicates: Vec<String>,
}

/// A collection being filled, innermost last.
enum Frame {
    Seq { anchor: usize, items: Vec<Value> },
    Map { anchor: usize, map: Map<String, Value>, key: Option<Key> },
}

/// A mapping key waiting for its value.
enum Key {
    Name(String),
    /// `<<`: the value's mappings are merged into this one.
    Merge,
}

impl Builder {
    fn new(strict: bool) -> Self {
        Builder { strict, anchors: HashMap::new(), aliased: 0, duplicates: Vec::new() }
    }

    fn document(mut self, text: &str) -> Result<Value, Error> {
        let mut parser = Parser::new_from_str(text);
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let (event, mark) = parser.next_token().map_err(|e| syntax_error(e.marker().line(), e.info()))?;
            let done = match event {
                Event::StreamStart | Event::DocumentStart | Event::Nothing => continue,
                // Only the first document counts, as go-yaml's Unmarshal.
                Event::StreamEnd | Event::DocumentEnd => return Ok(Value::Null),
                Event::Alias(id) => {
                    let v = self.anchors.get(&id).cloned().ok_or_else(|| Error::Yaml(format!("line {}: unknown anchor", mark.line())))?;
                    self.aliased += size(&v);
                    if self.aliased > ALIAS_BUDGET {
                        return Err(Error::Yaml("document contains excessive aliasing".into()));
                    }
                    self.add(&mut stack, v, mark)?
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let awaiting_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
                    if awaiting_key && style == TScalarStyle::Plain && text == "<<" && tag.is_none() {
                        if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                            *key = Some(Key::Merge);
                        }
                        continue;
                    }
                    let s = resolve(style, tag.as_ref(), &text)?;
                    let v = if awaiting_key { Value::String(s.key()?) } else { s.value()? };
                    if anchor != 0 {
                        self.anchors.insert(anchor, v.clone());
                    }
                    self.add(&mut stack, v, mark)?
                }
                Event::SequenceStart(anchor, _) => {
                    stack.push(Frame::Seq { anchor, items: Vec::new() });
                    None
                }
                Event::MappingStart(anchor, _) => {
                    stack.push(Frame::Map { anchor, map: Map::new(), key: None });
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (anchor, v) = match stack.pop() {
                        Some(Frame::Seq { anchor, items }) => (anchor, Value::Array(items)),
                        Some(Frame::Map { anchor, map, .. }) => (anchor, Value::Object(map)),
                        None => return Err(Error::Yaml(format!("line {}: unbalanced collection", mark.line()))),
                    };
                    if anchor != 0 {
                        self.anchors.insert(anchor, v.clone());
                    }
                    self.add(&mut stack, v, mark)?
                }
            };
            if let Some(root) = done {
                if !self.duplicates.is_empty() {
                    return Err(Error::Unmarshal(self.duplicates));
                }
                return Ok(root);
            }
        }
    }

    /// Puts a finished node into its parent; returns it when it is the root.
    fn add(&mut self, stack: &mut [Frame], v: Value, mark: Marker) -> Result<Option<Value>, Error> {
        let Some(top) = stack.last_mut() else { return Ok(Some(v)) };
        match top {
            Frame::Seq { items, .. } => items.push(v),
            Frame::Map { map, key, .. } => match key.take() {
                None => *key = Some(Key::Name(key_string(v)?)),
                Some(Key::Name(k)) => {
                    if self.strict && map.contains_key(&k) {
                        self.duplicates.push(format!("line {}: key {} already set in map", mark.line(), Value::String(k.clone())));
                    }
                    map.insert(k, v);
                }
                Some(Key::Merge) => merge(map, v, mark)?,
            },
        }
        Ok(None)
    }
}

/// A scan or parse error worded as go-yaml's: its parser errors drop the
/// "while parsing" context and count lines from 0, its scanner errors from 1.
fn syntax_error(line: usize, info: &str) -> Error {
    match info.strip_prefix("while parsing ").and_then(|rest| rest.split_once(", ")) {
        Some((_, problem)) => {
            let problem = problem.strip_prefix("found ").unwrap_or(problem);
            let problem = if problem.starts_with("expected") { format!("did not find {problem}") } else { problem.to_string() };
            match line.saturating_sub(1) {
                0 => Error::Yaml(problem),
                line => Error::Yaml(format!("line {line}: {problem}")),
            }
        }
        None => Error::Yaml(format!("line {line}: {info}")),
    }
}

/// go-yaml v2's merge: a mapping, or a sequence of mappings where the
/// earlier ones win; merged keys overwrite what the mapping already had.
fn merge(map: &mut Map<String, Value>, v: Value, mark: Marker) -> Result<(), Error> {
    let fail = || Error::Yaml(format!("line {}: map merge requires map or sequence of maps as the value", mark.line()));
    match v {
        Value::Object(m) => map.extend(m),
        Value::Array(items) => {
            for item in items.into_iter().rev() {
                let Value::Object(m) = item else { return Err(fail()) };
                map.extend(m);
            }
        }
        _ => return Err(fail()),
    }
    Ok(())
}

/// A key that arrived as a collection (an alias to one): JSON cannot name it.
fn key_string(v: Value) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Err(null_key()),
        other => Err(Error::Yaml(format!("invalid map key: {other}"))),
    }
}

fn null_key() -> Error {
    Error::Json("unsupported map key of type: %!s(<nil>), key: <nil>".into())
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, with go-yaml's spellings of
/// the infinities.
fn go_float_key(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    // Shortest float32 digits, then Go's 'g': exponent form below 1e-4 or from 1e6.
    let sci = format!("{:e}", f as f32);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= 6 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{}", f as f32)
    }
}

/// Nodes in a value, to bound what aliases expand to.
fn size(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(size).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(size).sum::<usize>(),
        _ => 1,
    }
}

const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// A resolved scalar, as go-yaml v2 decodes it into an `interface{}`.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
}

impl Scalar {
    fn short_tag(&self) -> &'static str {
        match self {
            Scalar::Null => "!!null",
            Scalar::Bool(_) => "!!bool",
            Scalar::Int(_) | Scalar::Uint(_) => "!!int",
            Scalar::Float(_) => "!!float",
            Scalar::Str(_) => "!!str",
        }
    }

    /// As a JSON value. encoding/json writes integral floats without a
    /// fraction (1e3 is `1000`), which a typed integer field then reads, so
    /// they become integers here; NaN and the infinities are its error.
    fn value(self) -> Result<Value, Error> {
        Ok(match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::from(i),
            Scalar::Uint(u) => Value::from(u),
            Scalar::Str(s) => Value::String(s),
            Scalar::Float(f) if !f.is_finite() => {
                let name = if f.is_nan() { "NaN" } else if f > 0.0 { "+Inf" } else { "-Inf" };
                return Err(Error::Json(format!("json: unsupported value: {name}")));
            }
            Scalar::Float(f) if f.fract() == 0.0 && (-9.223_372_036_854_775_808e18..9.223_372_036_854_775_808e18).contains(&f) => {
                Value::from(f as i64)
            }
            Scalar::Float(f) if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) => Value::from(f as u64),
            Scalar::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        })
    }

    /// As sigs.k8s.io/yaml names a mapping key: numbers and booleans
    /// spelled out, a null key refused.
    fn key(self) -> Result<String, Error> {
        Ok(match self {
            Scalar::Null => return Err(null_key()),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Uint(u) => u.to_string(),
            Scalar::Float(f) => go_float_key(f),
            Scalar::Str(s) => s,
        })
    }
}

/// A scalar with its style and tag, as go-yaml v2's decoder resolves it.
fn resolve(style: TScalarStyle, tag: Option<&Tag>, text: &str) -> Result<Scalar, Error> {
    let short = tag.map(|t| {
        let full = format!("{}{}", t.handle, t.suffix);
        full.strip_prefix(TAG_PREFIX).map_or(full.clone(), |s| format!("!!{s}"))
    });
    match short.as_deref() {
        // Quoted and block scalars without a tag are strings.
        None if style != TScalarStyle::Plain => Ok(Scalar::Str(text.to_string())),
        None => Ok(plain(text)),
        Some("!!str" | "!!timestamp") => Ok(Scalar::Str(text.to_string())),
        Some(want @ ("!!int" | "!!float" | "!!bool" | "!!null")) => match plain(text) {
            s if s.short_tag() == want => Ok(s),
            Scalar::Int(i) if want == "!!float" => Ok(Scalar::Float(i as f64)),
            Scalar::Uint(u) if want == "!!float" => Ok(Scalar::Float(u as f64)),
            s => Err(Error::Yaml(format!("cannot decode {} `{text}` as a {want}", s.short_tag()))),
        },
        // Tags go-yaml does not resolve (`!foo`, `!!binary`...) keep the text.
        Some(_) => Ok(Scalar::Str(text.to_string())),
    }
}

/// go-yaml v2's `resolve` for an untagged plain scalar (YAML 1.1 booleans,
/// Go integer prefixes, no sexagesimal numbers).
fn plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Scalar::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => return Scalar::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = yaml_float(text) {
            return Scalar::Float(f);
        }
    } else if first.is_ascii_digit() || first == b'+' || first == b'-' {
        let digits = text.replace('_', "");
        if let Some(i) = go_parse_int(&digits) {
            return Scalar::Int(i);
        }
        if let Some(u) = go_parse_uint(&digits) {
            return Scalar::Uint(u);
        }
        if let Some(f) = yaml_float(&digits) {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(text.to_string())
}

/// Go's `strconv.ParseUint(s, 0, 64)`: `0x`, `0o`, `0b` and a leading `0`
/// (octal) prefixes, no sign.
fn go_parse_uint(s: &str) -> Option<u64> {
    let (radix, digits) = match s.strip_prefix('0') {
        Some(rest) => match rest.as_bytes().first().map(u8::to_ascii_lowercase) {
            Some(b'x') if rest.len() >= 2 => (16, &rest[1..]),
            Some(b'o') if rest.len() >= 2 => (8, &rest[1..]),
            Some(b'b') if rest.len() >= 2 => (2, &rest[1..]),
            _ if rest.is_empty() => return Some(0),
            _ => (8, rest),
        },
        None => (10, s),
    };
    // from_str_radix would take a sign after the prefix; Go does not.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(rest)?;
    if neg {
        if u <= 1 << 63 { Some((u as i64).wrapping_neg()) } else { None }
    } else {
        i64::try_from(u).ok()
    }
}

/// go-yaml v2's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`,
/// then `strconv.ParseFloat`, which refuses what overflows to infinity.
fn yaml_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
    } else {
        if digits(&mut i) == 0 {
            return None;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        to_json(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn the_books_default_mode_is_octal() {
        // fortune-pod-configmap-volume-defaultMode.yaml: `defaultMode: 0660` is 432.
        let text = "spec:\n  volumes:\n  - name: config\n    configMap:\n      name: fortune-config\n      defaultMode: 0660\n";
        assert_eq!(one(text)["spec"]["volumes"][0]["configMap"]["defaultMode"], json!(432));
    }

    #[test]
    fn plain_scalars_resolve_as_yaml_1_1() {
        let cases = [
            ("0660", json!(432)),
            ("0o660", json!(432)),
            ("0x1A", json!(26)),
            ("-0x1A", json!(-26)),
            ("0b101", json!(5)),
            ("+12", json!(12)),
            ("1_000", json!(1000)),
            ("0", json!(0)),
            ("08", json!(8)), // not octal, so go-yaml's float rule takes it
            ("9223372036854775808", json!(9223372036854775808u64)),
            ("1e3", json!(1000)),
            ("1.5", json!(1.5)),
            ("-.5", json!(-0.5)),
            (".5e1", json!(5)),
            ("1.", json!(1)),
            ("on", json!(true)),
            ("On", json!(true)),
            ("yes", json!(true)),
            ("Y", json!(true)),
            ("y", json!(true)),
            ("TRUE", json!(true)),
            ("off", json!(false)),
            ("NO", json!(false)),
            ("n", json!(false)),
            ("False", json!(false)),
            ("~", Value::Null),
            ("null", Value::Null),
            ("Null", Value::Null),
            ("", Value::Null),
            ("tRue", json!("tRue")),
            ("0x", json!("0x")),
            ("0x+1", json!("0x+1")),
            ("1e400", json!("1e400")),
            ("12:30", json!("12:30")),
            ("2001-12-14", json!("2001-12-14")),
            ("1.2.3", json!("1.2.3")),
            ("-x", json!("-x")),
            ("yes please", json!("yes please")),
        ];
        for (text, want) in cases {
            assert_eq!(one(&format!("v: {text}\n"))["v"], want, "{text:?}");
        }
    }

    #[test]
    fn quoted_and_block_scalars_stay_strings() {
        let v = one("a: \"0660\"\nb: 'on'\nc: |\n  yes\nd: >-\n  1e3\ne: \"\"\n");
        assert_eq!(v, json!({"a": "0660", "b": "on", "c": "yes\n", "d": "1e3", "e": ""}));
    }

    #[test]
    fn tags_are_honoured() {
        let v = one("a: !!str 0660\nb: !!int \"0660\"\nc: !!float 1\nd: !!bool 'yes'\ne: !custom 12\nf: !!null ~\n");
        assert_eq!(v, json!({"a": "0660", "b": 432, "c": 1, "d": true, "e": "12", "f": null}));
        assert_eq!(to_json("a: !!float 1.5\n").unwrap()["a"], json!(1.5));
        assert_eq!(to_json("a: !!int abc\n").unwrap_err().to_string(), "error converting YAML to JSON: yaml: cannot decode !!str `abc` as a !!int");
    }

    #[test]
    fn keys_are_resolved_then_spelled_out() {
        let v = one("on: a\n1: b\n0x10: c\n1.5: d\n1e6: e\n\"on\": f\n");
        assert_eq!(v, json!({"true": "a", "1": "b", "16": "c", "1.5": "d", "1e+06": "e", "on": "f"}));
        assert!(to_json("~: a\n").unwrap_err().to_string().contains("unsupported map key"));
        assert!(to_json("? [a]\n: b\n").unwrap_err().to_string().contains("invalid map key"));
    }

    #[test]
    fn infinities_and_nan_are_not_json() {
        for (text, name) in [(".inf", "+Inf"), ("-.Inf", "-Inf"), (".NaN", "NaN")] {
            let e = to_json(&format!("v: {text}\n")).unwrap_err();
            assert_eq!(e.to_string(), format!("error converting YAML to JSON: json: unsupported value: {name}"));
        }
        assert_eq!(one(".inf: a\n"), json!({".inf": "a"}));
    }

    #[test]
    fn duplicate_keys_last_wins_or_strict_names_the_line() {
        let text = "metadata:\n  name: a\ndata:\n  a: x\n  b: y\n  a: z\n";
        assert_eq!(to_json(text).unwrap()["data"], json!({"a": "z", "b": true}));
        let e = to_json_strict(text).unwrap_err();
        assert_eq!(e, Error::Unmarshal(vec!["line 6: key \"a\" already set in map".into()]));
        assert_eq!(e.to_string(), "error converting YAML to JSON: yaml: unmarshal errors:\n  line 6: key \"a\" already set in map");
        assert_eq!(to_json_strict("a: 1\nb: 2\n").unwrap(), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = one("base: &b {cpu: 1, mem: 2}\nx:\n  <<: *b\n  mem: 3\nw: *b\nz:\n  <<: [{a: 1}, {a: 2, c: 3}]\n\"<<\": q\n");
        assert_eq!(v["x"], json!({"cpu": 1, "mem": 3}));
        assert_eq!(v["w"], json!({"cpu": 1, "mem": 2}));
        assert_eq!(v["z"], json!({"a": 1, "c": 3}));
        assert_eq!(v["<<"], json!("q"));
        assert!(to_json("a: &a [1]\nb: {<<: *a}\n").unwrap_err().to_string().contains("map merge requires map"));
        // Each level doubles the previous: refused before it eats the machine.
        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            laughs.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        assert_eq!(to_json(&laughs).unwrap_err(), Error::Yaml("document contains excessive aliasing".into()));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        // The messages upstream's kubectl 1.33 prints for these.
        let cases = [
            ("a: 1\n b: 2\nc: d: e\n", "line 2: mapping values are not allowed in this context"),
            ("a: 1\nb: [\n", "line 2: did not find expected node content"),
        ];
        for (text, want) in cases {
            assert_eq!(to_json(text).unwrap_err().to_string(), format!("error converting YAML to JSON: yaml: {want}"));
        }
    }

    #[test]
    fn streams_split_at_separator_lines() {
        let text = "a: 1\n---\n--- # empty\nb: 0660\n...\n---\n\n---\nc: [1]\n";
        assert_eq!(documents(text).unwrap(), vec![json!({"a": 1}), json!({"b": 432}), Value::Null, json!({"c": [1]})]);
        // Errors count lines from their document's start, as upstream's.
        let e = documents("apiVersion: v1\nkind: ConfigMap\n---\nb: 1\nb: [\n").unwrap_err().to_string();
        assert_eq!(e, "error converting YAML to JSON: yaml: line 2: did not find expected node content");
        assert_eq!(documents("a: 1\n--- b: 2\n").unwrap_err(), Error::Separator("b: 2".into()));
        assert_eq!(documents("").unwrap(), Vec::<Value>::new());
        // The first document of a chunk is the one go-yaml reads.
        assert_eq!(to_json("a: 1\n...\nb: 2\n").unwrap(), json!({"a": 1}));
    }

    #[test]
    fn json_streams() {
        let docs = documents("{\"a\": 1}\n{\"b\": [true]}").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": [true]})]);
        // Not JSON after all: YAML's flow mapping reads it with YAML 1.1 scalars.
        assert_eq!(documents("{a: 0660}\n").unwrap(), vec![json!({"a": 432})]);
    }
}
