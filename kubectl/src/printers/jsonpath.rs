//! kubectl's JSONPath templates: `{.metadata.name}`, `{.items[*].spec.nodeName}`,
//! `{range .items[*]}{.metadata.name}{"\n"}{end}`, filters `[?(@.type=="Ready")]`,
//! indexes, slices, unions, `..` recursive descent and `[*]`.

use serde_json::Value;

use crate::error::{CmdError, CmdResult};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Path(Vec<Step>),
    Range(Vec<Step>, Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Root,
    Current,
    Field(String),
    Recursive(String),
    Wildcard,
    Index(Vec<i64>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Vec<Step>, String, Option<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Num(f64),
    Path(Vec<Step>),
    Bool(bool),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct JsonPath {
    nodes: Vec<Node>,
    src: String,
}

impl JsonPath {
    pub fn parse(template: &str) -> CmdResult<Self> {
        let err = |m: &str| CmdError::msg(format!("error parsing jsonpath {template}, {m}"));
        let mut flat: Vec<(bool, String)> = Vec::new(); // (is_expr, text)
        let chars: Vec<char> = template.chars().collect();
        let mut i = 0;
        let mut text = String::new();
        while i < chars.len() {
            if chars[i] == '{' {
                if !text.is_empty() {
                    flat.push((false, std::mem::take(&mut text)));
                }
                let mut depth = 0;
                let mut j = i + 1;
                let mut quote: Option<char> = None;
                let mut expr = String::new();
                loop {
                    if j >= chars.len() {
                        return Err(err("unclosed action"));
                    }
                    let c = chars[j];
                    match quote {
                        Some(q) => {
                            if c == '\\' && j + 1 < chars.len() {
                                expr.push(c);
                                expr.push(chars[j + 1]);
                                j += 2;
                                continue;
                            }
                            if c == q {
                                quote = None;
                            }
                        }
                        None if c == '"' || c == '\'' => quote = Some(c),
                        None if c == '[' => depth += 1,
                        None if c == ']' => depth -= 1,
                        None if c == '}' && depth <= 0 => break,
                        None => {}
                    }
                    expr.push(c);
                    j += 1;
                }
                flat.push((true, expr.trim().to_string()));
                i = j + 1;
            } else {
                text.push(chars[i]);
                i += 1;
            }
        }
        if !text.is_empty() {
            flat.push((false, text));
        }
        let mut pos = 0;
        let nodes = build(&flat, &mut pos, false).map_err(|m| err(&m))?;
        Ok(JsonPath { nodes, src: template.to_string() })
    }

    /// Renders the template against `data`.
    pub fn execute(&self, data: &Value) -> CmdResult<String> {
        let mut out = String::new();
        render(&self.nodes, data, data, &mut out);
        let _ = &self.src;
        Ok(out)
    }

    /// The values of a template made of one path (for custom columns, --sort-by).
    pub fn values(&self, data: &Value) -> Vec<Value> {
        let mut res = Vec::new();
        for n in &self.nodes {
            if let Node::Path(steps) = n {
                res.extend(eval(steps, data, data).into_iter().cloned());
            }
        }
        res
    }
}

fn build(flat: &[(bool, String)], pos: &mut usize, in_range: bool) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    while *pos < flat.len() {
        let (is_expr, text) = &flat[*pos];
        *pos += 1;
        if !is_expr {
            nodes.push(Node::Text(text.clone()));
            continue;
        }
        if text == "end" {
            if in_range {
                return Ok(nodes);
            }
            return Err("not in range, nothing to end".into());
        }
        if let Some(rest) = text.strip_prefix("range ") {
            let steps = parse_path(rest.trim())?;
            let body = build(flat, pos, true)?;
            nodes.push(Node::Range(steps, body));
            continue;
        }
        if (text.starts_with('"') && text.ends_with('"') && text.len() >= 2)
            || (text.starts_with('\'') && text.ends_with('\'') && text.len() >= 2)
        {
            nodes.push(Node::Text(unescape(&text[1..text.len() - 1])));
            continue;
        }
        nodes.push(Node::Path(parse_path(text)?));
    }
    if in_range {
        return Err("unclosed range".into());
    }
    Ok(nodes)
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_path(src: &str) -> Result<Vec<Step>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '$' => {
                steps.push(Step::Root);
                i += 1;
            }
            '@' => {
                steps.push(Step::Current);
                i += 1;
            }
            '.' => {
                let recursive = chars.get(i + 1) == Some(&'.');
                i += if recursive { 2 } else { 1 };
                let start = i;
                while i < chars.len() && !matches!(chars[i], '.' | '[') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if recursive {
                    steps.push(Step::Recursive(name));
                } else if name == "*" {
                    steps.push(Step::Wildcard);
                } else if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
            }
            '[' => {
                let mut depth = 0;
                let mut j = i;
                let mut quote: Option<char> = None;
                loop {
                    if j >= chars.len() {
                        return Err("unterminated array".into());
                    }
                    let c = chars[j];
                    match quote {
                        Some(q) if c == q => quote = None,
                        Some(_) => {}
                        None if c == '"' || c == '\'' => quote = Some(c),
                        None if c == '[' => depth += 1,
                        None if c == ']' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        None => {}
                    }
                    j += 1;
                }
                let inner: String = chars[i + 1..j].iter().collect();
                steps.push(parse_bracket(inner.trim())?);
                i = j + 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                // A bare field name at the start ("metadata.name").
                let start = i;
                while i < chars.len() && !matches!(chars[i], '.' | '[') {
                    i += 1;
                }
                steps.push(Step::Field(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(steps)
}

fn parse_bracket(inner: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(f) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return parse_filter(f.trim());
    }
    if (inner.starts_with('\'') && inner.ends_with('\'')) || (inner.starts_with('"') && inner.ends_with('"')) {
        return Ok(Step::Field(inner[1..inner.len() - 1].to_string()));
    }
    if inner.contains(':') {
        let parts: Vec<&str> = inner.split(':').collect();
        let num = |s: &str| -> Result<Option<i64>, String> {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse().map(Some).map_err(|_| format!("invalid array index {s}"))
            }
        };
        return Ok(Step::Slice(num(parts[0])?, num(parts.get(1).copied().unwrap_or(""))?, num(parts.get(2).copied().unwrap_or(""))?));
    }
    let idx: Result<Vec<i64>, _> = inner.split(',').map(|s| s.trim().parse::<i64>()).collect();
    match idx {
        Ok(v) => Ok(Step::Index(v)),
        Err(_) => Ok(Step::Field(inner.to_string())),
    }
}

fn parse_filter(f: &str) -> Result<Step, String> {
    for op in ["==", "!=", "<=", ">=", "<", ">", "=~"] {
        if let Some(idx) = f.find(op) {
            let left = parse_path(f[..idx].trim())?;
            let right = f[idx + op.len()..].trim();
            let lit = if (right.starts_with('"') && right.ends_with('"')) || (right.starts_with('\'') && right.ends_with('\'')) {
                Literal::Str(right[1..right.len() - 1].to_string())
            } else if right == "true" || right == "false" {
                Literal::Bool(right == "true")
            } else if let Ok(n) = right.parse::<f64>() {
                Literal::Num(n)
            } else {
                Literal::Path(parse_path(right)?)
            };
            return Ok(Step::Filter(left, op.to_string(), Some(lit)));
        }
    }
    Ok(Step::Filter(parse_path(f)?, "exists".into(), None))
}

fn eval<'a>(steps: &[Step], root: &'a Value, cur: &'a Value) -> Vec<&'a Value> {
    let mut vals: Vec<&Value> = vec![cur];
    for step in steps {
        let mut next = Vec::new();
        for v in vals {
            match step {
                Step::Root => next.push(root),
                Step::Current => next.push(v),
                Step::Field(name) => {
                    if let Some(x) = v.get(name) {
                        next.push(x);
                    }
                }
                Step::Recursive(name) => recurse(v, name, &mut next),
                Step::Wildcard => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Index(idx) => {
                    if let Value::Array(a) = v {
                        for &i in idx {
                            let i = if i < 0 { a.len() as i64 + i } else { i };
                            if let Some(x) = usize::try_from(i).ok().and_then(|i| a.get(i)) {
                                next.push(x);
                            }
                        }
                    }
                }
                Step::Slice(start, end, step) => {
                    if let Value::Array(a) = v {
                        let len = a.len() as i64;
                        let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                        let s = norm(start.unwrap_or(0));
                        let e = norm(end.unwrap_or(len));
                        let st = step.unwrap_or(1).max(1);
                        let mut k = s;
                        while k < e {
                            next.push(&a[k as usize]);
                            k += st;
                        }
                    }
                }
                Step::Filter(left, op, lit) => {
                    let items: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for item in items {
                        let lv = eval(left, root, item);
                        let keep = match (op.as_str(), lit) {
                            ("exists", _) => !lv.is_empty(),
                            (_, Some(l)) => {
                                let rv: Vec<Value> = match l {
                                    Literal::Path(p) => eval(p, root, item).into_iter().cloned().collect(),
                                    Literal::Str(s) => vec![Value::String(s.clone())],
                                    Literal::Num(n) => vec![serde_json::json!(n)],
                                    Literal::Bool(b) => vec![Value::Bool(*b)],
                                };
                                lv.iter().any(|a| rv.iter().any(|b| compare(a, op, b)))
                            }
                            _ => false,
                        };
                        if keep {
                            next.push(item);
                        }
                    }
                }
            }
        }
        vals = next;
    }
    vals
}

fn recurse<'a>(v: &'a Value, name: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if name.is_empty() || name == "*" {
                out.push(v);
            } else if let Some(x) = m.get(name) {
                out.push(x);
            }
            for x in m.values() {
                recurse(x, name, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                recurse(x, name, out);
            }
        }
        _ => {}
    }
}

fn compare(a: &Value, op: &str, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return match op {
            "==" => x == y,
            "!=" => x != y,
            "<" => x < y,
            ">" => x > y,
            "<=" => x <= y,
            ">=" => x >= y,
            _ => false,
        };
    }
    let (x, y) = (text(a), text(b));
    match op {
        "==" => x == y,
        "!=" => x != y,
        "<" => x < y,
        ">" => x > y,
        "<=" => x <= y,
        ">=" => x >= y,
        "=~" => x.contains(&y),
        _ => false,
    }
}

/// How a value prints in a template: strings raw, the rest as compact JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(_) | Value::Array(_) => crate::util::to_json_compact(v),
        other => other.to_string(),
    }
}

fn render(nodes: &[Node], root: &Value, cur: &Value, out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Path(steps) => {
                let vals = eval(steps, root, cur);
                let parts: Vec<String> = vals.iter().map(|v| text(v)).collect();
                out.push_str(&parts.join(" "));
            }
            Node::Range(steps, body) => {
                for item in eval(steps, root, cur) {
                    render(body, root, item, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(t: &str, v: &Value) -> String {
        JsonPath::parse(t).unwrap().execute(v).unwrap()
    }

    #[test]
    fn paths_ranges_filters() {
        let list = json!({"kind": "List", "items": [
            {"metadata": {"name": "a", "labels": {"app": "x"}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}]});
        assert_eq!(run("{.items[*].metadata.name}", &list), "a b");
        assert_eq!(run("{range .items[*]}{.metadata.name}{\"\\n\"}{end}", &list), "a\nb\n");
        assert_eq!(run("{.items[0].metadata.labels}", &list), "{\"app\":\"x\"}");
        assert_eq!(run("{.items[-1].metadata.name}", &list), "b");
        assert_eq!(
            run("{.items[?(@.status.conditions[0].status==\"True\")].metadata.name}", &list),
            "a"
        );
        assert_eq!(run("{..name}", &list), "a b");
        assert_eq!(run("names: {.items[0:1].metadata.name}!", &list), "names: a!");
        assert_eq!(run("{.items[0].metadata['labels']['app']}", &list), "x");
        assert_eq!(run("{.missing}", &list), "");
        assert!(JsonPath::parse("{range .items[*]}").is_err());
    }
}
