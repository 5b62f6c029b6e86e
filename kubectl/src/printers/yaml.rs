//! YAML as upstream kubectl writes it (sigs.k8s.io/yaml over go-yaml v2):
//! block style, sorted keys, sequences not indented under their key,
//! strings quoted only when they would read back as something else.

use serde_json::Value;

/// One document, keys sorted, ending with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => map(&mut out, v, 0),
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn sorted(v: &Value) -> Vec<(&String, &Value)> {
    let mut pairs: Vec<_> = v.as_object().map(|m| m.iter().collect()).unwrap_or_default();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(out: &mut String, v: &Value, indent: usize) {
    for (i, (k, val)) in sorted(v).into_iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str(&string(k, indent));
        out.push(':');
        value_after_key(out, val, indent);
    }
}

fn value_after_key(out: &mut String, val: &Value, indent: usize) {
    match val {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            map(out, val, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            pad(out, indent);
            seq(out, a, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn seq(out: &mut String, items: &[Value], indent: usize) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => map(out, item, indent + 2),
            Value::Array(a) if !a.is_empty() => seq(out, a, indent + 2),
            other => {
                out.push_str(&scalar(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, indent),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A string scalar: plain, single-quoted, double-quoted or a literal block.
fn string(s: &str, indent: usize) -> String {
    if s.contains('\n') && s.chars().all(|c| c == '\n' || !c.is_control() || c == '\t') && !s.starts_with(' ') {
        return literal(s, indent);
    }
    if resolves_to_non_string(s) || has_special(s) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn literal(s: &str, indent: usize) -> String {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}\n");
    let body = if trailing == 1 { &s[..s.len() - 1] } else { s.trim_end_matches('\n') };
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(&mut out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    if trailing > 1 {
        for _ in 1..trailing {
            out.push('\n');
        }
    }
    out.pop();
    out
}

fn has_special(s: &str) -> bool {
    s.chars().any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// libyaml's analysis of whether a plain scalar is allowed in block context.
fn plain_allowed(s: &str) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let first = s.chars().next().unwrap();
    let second = s.chars().nth(1);
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' ') {
        return false;
    }
    if s.ends_with(':') || s.contains(": ") || s.contains(" #") {
        return false;
    }
    true
}

/// go-yaml v2's resolver: would this plain text read back as a non-string?
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True",
        "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", ".inf", ".Inf", ".INF", "+.inf",
        "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", "<<",
    ];
    WORDS.contains(&s) || is_int(s) || is_float(s) || is_timestamp(s) || is_base60(s)
}

fn is_int(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    let t = t.replace('_', "");
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x") {
        (h.to_string(), 16)
    } else if let Some(b) = t.strip_prefix("0b") {
        (b.to_string(), 2)
    } else if let Some(o) = t.strip_prefix("0o") {
        (o.to_string(), 8)
    } else {
        (t.clone(), 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

fn is_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mant_ok = match mant.split_once('.') {
        Some(("", f)) => !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()),
        Some((i, f)) => !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()) && f.chars().all(|c| c.is_ascii_digit()),
        None => !mant.is_empty() && mant.chars().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
        }
    };
    mant_ok && exp_ok
}

/// "2006-1-2", "2006-1-2T15:4:5Z07:00", "2006-1-2 15:4:5" and the like.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[0].is_ascii_digit() {
        return false;
    }
    let mut parts = s.splitn(3, '-');
    let (Some(y), Some(m), Some(rest)) = (parts.next(), parts.next(), parts.next()) else { return false };
    let day: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let num = |x: &str, max: usize| !x.is_empty() && x.len() <= max && x.chars().all(|c| c.is_ascii_digit());
    if !(y.len() == 4 && num(y, 4) && num(m, 2) && num(&day, 2)) {
        return false;
    }
    let after = &rest[day.len()..];
    after.is_empty() || after.starts_with(['T', 't', ' '])
}

fn is_base60(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, _frac) = match t.split_once('.') {
        Some((a, f)) if f.chars().all(|c| c.is_ascii_digit() || c == '_') => (a, Some(f)),
        Some(_) => return false,
        None => (t, None),
    };
    let mut parts = main.split(':');
    let Some(head) = parts.next() else { return false };
    if head.is_empty() || !head.starts_with(|c: char| c.is_ascii_digit()) || !head.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && rest.iter().all(|p| {
            (p.len() == 1 || p.len() == 2) && p.chars().all(|c| c.is_ascii_digit()) && (p.len() == 1 || p.as_bytes()[0] <= b'5')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_like_go_yaml() {
        assert_eq!(string("nginx", 0), "nginx");
        assert_eq!(string("123", 0), "\"123\"");
        assert_eq!(string("true", 0), "\"true\"");
        assert_eq!(string("yes", 0), "\"yes\"");
        assert_eq!(string("", 0), "\"\"");
        assert_eq!(string("2024-01-02T03:04:05Z", 0), "\"2024-01-02T03:04:05Z\"");
        assert_eq!(string("*.example.com", 0), "'*.example.com'");
        assert_eq!(string("a: b", 0), "'a: b'");
        assert_eq!(string("1:20", 0), "\"1:20\"");
        assert_eq!(string("8080:80", 0), "8080:80");
        assert_eq!(string("1.5", 0), "\"1.5\"");
        assert_eq!(string("500m", 0), "500m");
        assert_eq!(string("echo hi; sleep 1", 0), "echo hi; sleep 1");
        assert_eq!(string("-c", 0), "-c");
    }

    #[test]
    fn matches_upstream_dry_run_output() {
        // `kubectl create deployment web --image=nginx --dry-run=client -o yaml`
        let v = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"creationTimestamp":null,"labels":{"app":"web"},"name":"web"},
            "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"strategy":{},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},
            "spec":{"containers":[{"image":"nginx","name":"nginx","resources":{}}]}}},"status":{}});
        assert_eq!(to_yaml(&v), include_str!("../../tests/golden/create_deployment_dry_run.yaml"));
    }

    #[test]
    fn literal_blocks_and_nested_lists() {
        let v = json!({"a": {"note": "{\"x\":1}\n"}, "l": [["x", "y"], {"k": "v", "j": [1]}], "e": [], "o": {}});
        assert_eq!(
            to_yaml(&v),
            "a:\n  note: |\n    {\"x\":1}\ne: []\nl:\n- - x\n  - \"y\"\n- j:\n  - 1\n  k: v\no: {}\n"
        );
    }
}
