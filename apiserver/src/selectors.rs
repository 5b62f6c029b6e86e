//! Label and field selectors, parsed and matched as upstream
//! (k8s.io/apimachinery/pkg/labels and pkg/fields).

use std::collections::BTreeMap;

use client::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Req>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn bad(sel: &str, why: &str) -> ApiError {
    ApiError::new(400, "BadRequest", format!("unable to parse requirement: {why} (selector {sel:?})"))
}

fn set_values(v: &str) -> Option<Vec<String>> {
    let inner = v.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

impl LabelSelector {
    pub fn parse(sel: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if sel.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for part in split_top(sel) {
            let p = part.trim();
            if p.is_empty() {
                return Err(bad(sel, "found '', expected: identifier"));
            }
            let req = if let Some(k) = p.strip_prefix('!') {
                Req::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once("==") {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once('=') {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set_values(v).ok_or_else(|| bad(sel, "found '', expected: '('"))?)
            } else if let Some((k, v)) = p.split_once(" in ") {
                Req::In(k.trim().into(), set_values(v).ok_or_else(|| bad(sel, "found '', expected: '('"))?)
            } else if p.contains(' ') || p.contains('(') {
                return Err(bad(sel, &format!("found '{p}', expected: in, notin, =, ==, !=, gt, lt")));
            } else {
                Req::Exists(p.to_string())
            };
            let key = match &req {
                Req::Eq(k, _) | Req::NotEq(k, _) | Req::In(k, _) | Req::NotIn(k, _) | Req::Exists(k) | Req::NotExists(k) => k,
            };
            if key.is_empty() || !crate::registry::validation::qualified_name(key).is_empty() {
                return Err(bad(sel, &format!("invalid label key {key:?}")));
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => labels.get(k) == Some(v),
            Req::NotEq(k, v) => labels.get(k) != Some(v),
            Req::In(k, vs) => labels.get(k).is_some_and(|x| vs.contains(x)),
            Req::NotIn(k, vs) => labels.get(k).is_none_or(|x| !vs.contains(x)),
            Req::Exists(k) => labels.contains_key(k),
            Req::NotExists(k) => !labels.contains_key(k),
        })
    }
}

/// A parsed field selector: `a=b,c!=d`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// `supported` are the fields the kind can select on.
    pub fn parse(sel: &str, kind: &str, supported: impl Fn(&str) -> bool) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if sel.trim().is_empty() {
            return Ok(FieldSelector(reqs));
        }
        for part in sel.split(',') {
            let p = part.trim();
            let (k, eq, v) = if let Some((k, v)) = p.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = p.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = p.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::new(400, "BadRequest", format!("invalid selector: '{sel}'; can't understand '{p}'")));
            };
            let k = k.trim();
            if !supported(k) {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("field label not supported: {k}"),
                )
                .with_details(proto::v1::StatusDetails { kind: kind.into(), ..Default::default() }));
            }
            reqs.push((k.to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, eq, v)| {
            let have = fields.get(k).map(String::as_str).unwrap_or("");
            (have == v) == *eq
        })
    }

    /// The value required for `field` by an equality term, if any.
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(k, eq, _)| k == field && *eq).map(|(_, _, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_operators() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("missing notin (x)", true),
            ("app=web,tier in (front)", true),
            ("app=web,env", false),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("bad key=x").is_err());
    }

    #[test]
    fn field_selectors() {
        let f = labels(&[("metadata.name", "a"), ("spec.nodeName", "")]);
        let ok = |k: &str| k.starts_with("metadata.") || k == "spec.nodeName";
        assert!(FieldSelector::parse("spec.nodeName=", "Pod", ok).unwrap().matches(&f));
        assert!(!FieldSelector::parse("metadata.name!=a", "Pod", ok).unwrap().matches(&f));
        let e = FieldSelector::parse("spec.bogus=x", "Pod", ok).unwrap_err();
        assert_eq!(e.0.message, "field label not supported: spec.bogus");
    }
}
