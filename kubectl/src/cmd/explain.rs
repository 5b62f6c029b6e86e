//! `kubectl explain TYPE[.field.path]`, from the Kubernetes OpenAPI v3
//! schemas compiled in (core/v1, apps/v1, autoscaling/v2, reduced to what
//! explain prints: kubectl/openapi/schemas.json). The output follows
//! upstream's plaintext template.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};

#[derive(clap::Args, Debug, Clone)]
pub struct ExplainArgs {
    /// TYPE[.FIELD[.FIELD...]]
    pub target: String,
    /// When true, print the name of all the fields recursively. Otherwise, print the available fields with their description.
    #[arg(long)]
    pub recursive: bool,
    /// Use given api-version (group/version) of the resource.
    #[arg(long = "api-version")]
    pub api_version: Option<String>,
    /// Format in which to render the schema. Valid values are: (plaintext).
    #[arg(short = 'o', long, default_value = "plaintext")]
    pub output: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct Schema {
    #[serde(default)]
    d: Option<String>,
    #[serde(default)]
    t: Option<String>,
    #[serde(default)]
    q: Vec<String>,
    #[serde(default)]
    p: BTreeMap<String, Field>,
    #[serde(default)]
    g: Vec<(String, String, String)>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct Field {
    #[serde(default)]
    d: Option<String>,
    #[serde(default)]
    r: Option<String>,
    #[serde(default)]
    t: Option<String>,
    #[serde(default)]
    i: Option<Box<Field>>,
    #[serde(default)]
    m: Option<Box<Field>>,
    #[serde(default)]
    e: Vec<serde_json::Value>,
}

pub type Schemas = BTreeMap<String, Schema>;

pub fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(|| serde_json::from_str(include_str!("../../openapi/schemas.json")).expect("embedded schemas parse"))
}

/// mitchellh/go-wordwrap's WrapString, which upstream's explain uses.
pub fn wrap(s: &str, lim: usize) -> String {
    let mut buf = String::new();
    let (mut current, mut word, mut space) = (0usize, String::new(), String::new());
    for ch in s.chars() {
        if ch == '\n' {
            if word.is_empty() {
                if current + space.chars().count() <= lim {
                    buf.push_str(&space);
                }
            } else {
                buf.push_str(&space);
                buf.push_str(&word);
                word.clear();
            }
            space.clear();
            buf.push(ch);
            current = 0;
        } else if ch.is_whitespace() && ch != '\u{a0}' {
            if space.is_empty() || !word.is_empty() {
                current += space.chars().count() + word.chars().count();
                buf.push_str(&space);
                buf.push_str(&word);
                space.clear();
                word.clear();
            }
            space.push(ch);
        } else {
            word.push(ch);
            let wl = word.chars().count();
            if current + space.chars().count() + wl > lim && wl < lim {
                buf.push('\n');
                current = 0;
                space.clear();
            }
        }
    }
    if word.is_empty() {
        if current + space.chars().count() <= lim {
            buf.push_str(&space);
        }
    } else {
        buf.push_str(&space);
        buf.push_str(&word);
    }
    buf
}

/// sprig's indent: every line, including empty ones, gets the pad.
fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

fn type_guess(s: &Schemas, f: &Field) -> String {
    if let Some(i) = &f.i {
        return format!("[]{}", type_guess(s, i));
    }
    if let Some(m) = &f.m {
        return format!("map[string]{}", type_guess(s, m));
    }
    if let Some(r) = &f.r {
        return match s.get(r).and_then(|x| x.t.clone()) {
            Some(t) if t != "object" => t,
            _ => r.rsplit('.').next().unwrap_or("Object").to_string(),
        };
    }
    match f.t.as_deref() {
        Some("object") | None => "Object".into(),
        Some(t) => t.into(),
    }
}

fn field_description(s: &Schemas, f: &Field) -> String {
    let mut d = String::new();
    if let Some(x) = &f.d {
        d.push_str(x);
        d.push('\n');
    }
    if let Some(r) = &f.r {
        if let Some(x) = s.get(r).and_then(|x| x.d.as_ref()) {
            d.push_str(x);
            d.push('\n');
        }
    }
    for sub in [&f.i, &f.m].into_iter().flatten() {
        d.push_str(&field_description(s, sub));
    }
    d
}

/// The object schema a field leads to (through refs, arrays and maps).
fn target_schema<'a>(s: &'a Schemas, f: &Field) -> Option<&'a Schema> {
    if let Some(r) = &f.r {
        return s.get(r);
    }
    f.i.as_deref().or(f.m.as_deref()).and_then(|x| target_schema(s, x))
}

fn enum_text(f: &Field, long: bool, indent_amount: usize) -> String {
    if f.e.is_empty() {
        return String::new();
    }
    let item = |v: &serde_json::Value| match v.as_str() {
        Some("") => "\"\"".to_string(),
        Some(x) => x.to_string(),
        None => v.to_string(),
    };
    if long {
        let mut t = "ENUM:".to_string();
        for v in &f.e {
            t.push_str(&format!("\n    {}", item(v)));
        }
        t
    } else {
        let mut t = format!("\n{}enum: ", " ".repeat(indent_amount));
        for (i, v) in f.e.iter().enumerate() {
            if i >= 4 {
                t.push_str(", ....");
                break;
            }
            if i > 0 {
                t.push_str(", ");
            }
            t.push_str(&item(v));
        }
        t
    }
}

fn field_list(s: &Schemas, schema: &Schema, level: usize, recursive: bool, seen: &mut Vec<String>, out: &mut String) {
    for (name, f) in &schema.p {
        let ind = level * 2;
        out.push_str(&indent(name, ind));
        out.push_str(&format!("\t<{}>", type_guess(s, f)));
        if schema.q.contains(name) {
            out.push_str(" -required-");
        }
        out.push_str(&enum_text(f, false, ind));
        out.push('\n');
        if !recursive {
            let d = f.d.clone().unwrap_or_else(|| "<no description>".into());
            out.push_str(&indent(&wrap(&d, 78 - ind), ind + 2));
            out.push_str("\n\n");
        } else if let (Some(sub), Some(r)) = (target_schema(s, f), ref_name(f)) {
            if !seen.contains(&r) {
                seen.push(r.clone());
                field_list(s, sub, level + 1, recursive, seen, out);
                seen.pop();
            }
        }
    }
}

fn ref_name(f: &Field) -> Option<String> {
    f.r.clone().or_else(|| f.i.as_deref().and_then(ref_name)).or_else(|| f.m.as_deref().and_then(ref_name))
}

/// The explain text for a kind and a field path below it.
pub fn explain(s: &Schemas, group: &str, version: &str, kind: &str, path: &[&str], recursive: bool) -> CmdResult<String> {
    let (_, top) = s
        .iter()
        .find(|(_, x)| x.g.iter().any(|(g, v, k)| g == group && v == version && k == kind))
        .ok_or_else(|| CmdError::msg(format!("GVK {group}/{version}, Kind={kind} not found in OpenAPI schema")))?;
    let mut text = String::new();
    if !group.is_empty() {
        text.push_str(&format!("GROUP:      {group}\n"));
    }
    text.push_str(&format!("KIND:       {kind}\nVERSION:    {version}\n\n"));
    let mut schema = top;
    let mut description = format!("{}\n", top.d.clone().unwrap_or_default());
    if top.d.is_none() {
        description.clear();
    }
    for (i, seg) in path.iter().enumerate() {
        let f = schema.p.get(*seg).ok_or_else(|| CmdError::msg(format!("field \"{seg}\" does not exist")))?;
        if i + 1 == path.len() {
            text.push_str(&format!("FIELD: {seg} <{}>{}\n\n", type_guess(s, f), enum_text(f, true, 0)));
            description = field_description(s, f);
        }
        match target_schema(s, f) {
            Some(next) => schema = next,
            None if i + 1 == path.len() => {
                schema = empty();
            }
            None => return Err(CmdError::msg(format!("field \"{}\" does not exist", path[i + 1]))),
        }
    }
    text.push_str("DESCRIPTION:\n");
    let d = if description.is_empty() { "<empty>".to_string() } else { description };
    text.push_str(&indent(&wrap(&d, 76), 4));
    text.push('\n');
    let mut fields = String::new();
    field_list(s, schema, 1, recursive, &mut Vec::new(), &mut fields);
    if !fields.is_empty() {
        text.push_str("FIELDS:\n");
        text.push_str(&fields);
    }
    text.push('\n');
    Ok(text)
}

fn empty() -> &'static Schema {
    static E: OnceLock<Schema> = OnceLock::new();
    E.get_or_init(Schema::default)
}

pub async fn run(ctx: &Ctx, a: ExplainArgs) -> CmdResult {
    if a.output != "plaintext" {
        return Err(CmdError::msg(format!("unsupported output format: {}", a.output)));
    }
    let mut parts = a.target.split('.');
    let res = parts.next().unwrap_or_default();
    let path: Vec<&str> = parts.filter(|p| !p.is_empty()).collect();
    let d = ctx.discovery().await?;
    let r = d.resolve_one(res)?;
    let (group, version) = match &a.api_version {
        Some(av) => match av.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), av.clone()),
        },
        None => (r.group.clone(), r.version.clone()),
    };
    out(&explain(schemas(), &group, &version, &r.kind, &path, a.recursive)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_go_wordwrap() {
        assert_eq!(wrap("aaa bbb ccc", 7), "aaa bbb\nccc");
        assert_eq!(wrap("a\nb", 10), "a\nb");
        assert_eq!(wrap("averyveryverylongword x", 5), "averyveryverylongword\nx");
    }

    #[test]
    fn explains_pod_fields() {
        let s = schemas();
        let t = explain(s, "", "v1", "Pod", &[], false).unwrap();
        assert!(t.starts_with("KIND:       Pod\nVERSION:    v1\n\nDESCRIPTION:\n    Pod is a collection of containers"), "{t}");
        assert!(t.contains("FIELDS:\n  apiVersion\t<string>\n"));
        assert!(t.contains("  spec\t<PodSpec>\n"));
        let c = explain(s, "", "v1", "Pod", &["spec", "containers"], false).unwrap();
        assert!(c.contains("FIELD: containers <[]Container>\n\nDESCRIPTION:\n    List of containers"), "{c}");
        assert!(c.contains("  name\t<string> -required-\n"));
        let d = explain(s, "apps", "v1", "Deployment", &["spec"], true).unwrap();
        assert!(d.starts_with("GROUP:      apps\nKIND:       Deployment\n"));
        assert!(d.contains("  template\t<PodTemplateSpec> -required-\n    metadata\t<ObjectMeta>\n"), "{d}");
        assert!(explain(s, "", "v1", "Pod", &["nope"], false).is_err());
    }
}
