//! Label selectors (k8s.io/apimachinery/pkg/labels: parse, match, String,
//! LabelSelectorAsSelector) and field selectors (pkg/fields), as upstream,
//! with upstream's error messages.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::validation;

pub type Labels = BTreeMap<String, String>;

/// A selector that does not parse or a requirement that is not valid; the
/// message is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// selection.Operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator as upstream spells it in messages ("=", "in", "exists", "gt").
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// Go's %q-ish rendering of a []string in field errors: `[]string{"a", "b"}`.
fn go_strings(v: &[String]) -> String {
    if v.is_empty() {
        return "[]string{}".into();
    }
    format!("[]string{{{}}}", v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))
}

/// One labels.Requirement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// upstream's NewRequirement, with its validation (key, value count, values).
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        let mut errs = Vec::new();
        let key_errs = validation::qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(format!("key: Invalid value: {key:?}: {}", key_errs.join("; ")));
        }
        let vals = go_strings(&values);
        match op {
            Operator::In | Operator::NotIn if values.is_empty() => {
                errs.push(format!("values: Invalid value: {vals}: for 'in', 'notin' operators, values set can't be empty"))
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
                errs.push(format!("values: Invalid value: {vals}: exact-match compatibility requires one single value"))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errs.push(format!("values: Invalid value: {vals}: values set must be empty for exists and does not exist"))
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!("values: Invalid value: {vals}: for 'Gt', 'Lt' operators, exactly one value is required"));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!("values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let e = validation::label_value(v);
            if !e.is_empty() {
                errs.push(format!("values[{i}]: Invalid value: {v:?}: {}", e.join("; ")));
            }
        }
        if !errs.is_empty() {
            // field.ErrorList.ToAggregate(): one message, or "[a, b]"
            let msg = if errs.len() == 1 { errs.remove(0) } else { format!("[{}]", errs.join(", ")) };
            return Err(SelectorError(msg));
        }
        Ok(Requirement { key: key.to_string(), op, values })
    }

    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn operator(&self) -> Operator {
        self.op
    }
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// upstream's Requirement.Matches.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => v.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn | Operator::NotEquals => v.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => v.is_some(),
            Operator::DoesNotExist => v.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = v.and_then(|v| v.parse::<i64>().ok()) else { return false };
                let [want] = self.values.as_slice() else { return false };
                let Ok(want) = want.parse::<i64>() else { return false };
                if self.op == Operator::GreaterThan { have > want } else { have < want }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// upstream's Requirement.String(): values sorted, sets in parentheses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.op {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let mut vals = self.values.clone();
        vals.sort();
        let set = matches!(self.op, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        f.write_str(&vals.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: requirements sorted by key, all of which must hold.
/// `everything()` (the empty selector) matches every label set;
/// `nothing()` (a nil metav1.LabelSelector) matches none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Selector {
    reqs: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    pub fn everything() -> Self {
        Selector::default()
    }

    pub fn nothing() -> Self {
        Selector { reqs: vec![], nothing: true }
    }

    /// upstream's labels.Parse.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Parser::new(s)?.parse()?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector { reqs, nothing: false })
    }

    /// upstream's SelectorFromSet: every label of `set` with its value.
    pub fn from_set(set: &Labels) -> Self {
        let reqs = set.iter().map(|(k, v)| Requirement { key: k.clone(), op: Operator::Equals, values: vec![v.clone()] }).collect();
        Selector { reqs, nothing: false }
    }

    /// upstream's metav1.LabelSelectorAsSelector: nil selects nothing, empty everything.
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Result<Self, SelectorError> {
        let Some(sel) = sel else { return Ok(Selector::nothing()) };
        let mut out = Selector::everything();
        for (k, v) in sel.match_labels.iter().flatten() {
            out.add(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for e in sel.match_expressions.iter().flatten() {
            let op = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError(format!("{other:?} is not a valid label selector operator"))),
            };
            out.add(Requirement::new(&e.key, op, e.values.clone().unwrap_or_default())?);
        }
        Ok(out)
    }

    /// Adds a requirement, keeping key order (upstream's Add). Adding to
    /// `nothing()` keeps it matching nothing.
    pub fn add(&mut self, r: Requirement) {
        let at = self.reqs.partition_point(|x| x.key <= r.key);
        self.reqs.insert(at, r);
    }

    /// Adds every requirement of `other` (none from a selector that selects nothing,
    /// as upstream's Requirements()).
    pub fn extend(&mut self, other: &Selector) {
        for r in &other.reqs {
            self.add(r.clone());
        }
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.reqs
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.reqs.iter().all(|r| r.matches(labels))
    }

    /// Matches an object's optional labels (absent = no labels).
    pub fn matches_opt(&self, labels: Option<&Labels>) -> bool {
        match labels {
            Some(l) => self.matches(l),
            None => self.matches(&Labels::new()),
        }
    }

    /// upstream's Empty(): selects everything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }

    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The value a requirement pins `key` to (upstream's RequiresExactMatch).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        self.reqs.iter().find_map(|r| match r.op {
            Operator::Equals | Operator::DoubleEquals | Operator::In if r.key == key && r.values.len() == 1 => Some(r.values[0].as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for Selector {
    /// upstream's String(): requirements joined by ","; nothing prints "".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.reqs.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, SelectorError> {
        Selector::parse(s)
    }
}

/// upstream's metav1.FormatLabelSelector: the selector's String(), "<none>"
/// when that is empty (or the selector is nil), "<error>" when it does not convert.
pub fn format_label_selector(sel: Option<&LabelSelector>) -> String {
    match Selector::from_label_selector(sel) {
        Err(_) => "<error>".into(),
        Ok(s) if s.reqs.is_empty() => "<none>".into(),
        Ok(s) => s.to_string(),
    }
}

// ---- upstream's lexer and parser (labels/selector.go) ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_whitespace(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        if is_special(b[i]) {
            // longest run of special symbols that is still a token
            let start = i;
            let mut last: Option<(Tok, usize)> = None;
            while i < b.len() && is_special(b[i]) {
                match keyword(&s[start..=i]) {
                    Some(t) => last = Some((t, i + 1)),
                    None if last.is_some() => break,
                    None => {}
                }
                i += 1;
            }
            match last {
                Some((t, end)) => {
                    out.push((t, s[start..end].to_string()));
                    i = end;
                }
                None => {
                    out.push((Tok::Error, format!("error expected: keyword found '{}'", &s[start..i])));
                    out.push((Tok::End, String::new()));
                    return out;
                }
            }
        } else {
            let start = i;
            while i < b.len() && !is_whitespace(b[i]) && !is_special(b[i]) {
                i += 1;
            }
            let word = &s[start..i];
            out.push((keyword(word).unwrap_or(Tok::Identifier), word.to_string()));
        }
    }
}

/// Keywords are identifiers where a key or value is expected (upstream's Values context).
#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn new(s: &str) -> Result<Self, SelectorError> {
        Ok(Parser { items: lex(s), pos: 0 })
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        let (mut t, l) = self.items[self.pos.min(self.items.len() - 1)].clone();
        if ctx == Ctx::Values && matches!(t, Tok::In | Tok::NotIn) {
            t = Tok::Identifier;
        }
        (t, l)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let r = self.lookahead(ctx);
        if self.pos < self.items.len() - 1 {
            self.pos += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            let (t, lit) = self.lookahead(Ctx::Values);
            match t {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self.requirement().map_err(|e| SelectorError(format!("unable to parse requirement: {e}")))?;
                    reqs.push(r);
                    let (t, lit) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(SelectorError(format!("found '{l2}', expected: identifier after ','")));
                            }
                        }
                        _ => return Err(SelectorError(format!("found '{lit}', expected: ',' or 'end of string'"))),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => return Err(SelectorError(format!("found '{lit}', expected: !, identifier, or 'end of string'"))),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.key_and_inferred_operator()?;
        if let Some(op) = op {
            return Requirement::new(&key, op, vec![]).map_err(|e| e.0);
        }
        let op = self.operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, op, values).map_err(|e| e.0)
    }

    fn key_and_inferred_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut t, mut lit) = self.consume(Ctx::Values);
        if t == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (t, lit) = self.consume(Ctx::Values);
        }
        if t != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = validation::qualified_name(&lit);
        if !errs.is_empty() {
            return Err(format!("<nil>: Invalid value: {lit:?}: {}", errs.join("; ")));
        }
        let (next, _) = self.lookahead(Ctx::Values);
        if (next == Tok::End || next == Tok::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn operator(&mut self) -> Result<Operator, String> {
        let (t, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match t {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    /// `(a, b)`: a sorted set.
    fn values(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.consume(Ctx::Values);
        if t != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.lookahead(Ctx::Values);
        match t {
            Tok::Identifier | Tok::Comma => {
                let s = self.identifiers()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut s = std::collections::BTreeSet::new();
        loop {
            let (t, lit) = self.consume(Ctx::Values);
            match t {
                Tok::Identifier => {
                    s.insert(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(s.into_iter().collect()),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    // "(,", ",)" and ",," stand for empty values
                    if s.is_empty() {
                        s.insert(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        s.insert(String::new());
                        return Ok(s.into_iter().collect());
                    }
                    if t2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        s.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (t, _) = self.lookahead(Ctx::Values);
        if t == Tok::End || t == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (t, lit) = self.consume(Ctx::Values);
        if t == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

// ---- field selectors (pkg/fields) ----

/// One field selector term: `field=value` or `field!=value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldTerm {
    pub field: String,
    pub equal: bool,
    pub value: String,
}

/// A parsed field selector; all terms must hold. Missing fields read as "".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
    nothing: bool,
}

/// Splits on commas not escaped by a backslash (upstream's splitTerms).
fn split_terms(s: &str) -> Vec<String> {
    if s.is_empty() {
        return vec![];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            cur.push(c);
            escaped = true;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn unescape_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::new();
    let mut slash = false;
    for c in s.chars() {
        if slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => return Err(SelectorError(format!("invalid field selector: invalid escape sequence: \\{c}"))),
            }
            slash = false;
            continue;
        }
        match c {
            '\\' => slash = true,
            ',' | '=' => return Err(SelectorError(format!("invalid field selector: unescaped character in value: {}", c as u32))),
            _ => out.push(c),
        }
    }
    if slash {
        return Err(SelectorError("invalid field selector: invalid escape sequence: \\".into()));
    }
    Ok(out)
}

/// upstream's EscapeValue.
pub fn escape_field_value(s: &str) -> String {
    s.replace('\\', "\\\\").replace(',', "\\,").replace('=', "\\=")
}

impl FieldSelector {
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    pub fn nothing() -> Self {
        FieldSelector { terms: vec![], nothing: true }
    }

    /// upstream's fields.ParseSelector.
    pub fn parse(sel: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(sel);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts.iter().filter(|p| !p.is_empty()) {
            let split = (0..part.len()).filter(|i| part.is_char_boundary(*i)).find_map(|i| {
                ["!=", "==", "="].into_iter().find(|op| part[i..].starts_with(op)).map(|op| (i, op))
            });
            let Some((i, op)) = split else {
                return Err(SelectorError(format!("invalid selector: '{sel}'; can't understand '{part}'")));
            };
            let value = unescape_value(&part[i + op.len()..])?;
            terms.push(FieldTerm { field: part[..i].to_string(), equal: op != "!=", value });
        }
        Ok(FieldSelector { terms, nothing: false })
    }

    /// `field=value` (upstream's OneTermEqualSelector).
    pub fn one_term_equal(field: &str, value: &str) -> Self {
        FieldSelector { terms: vec![FieldTerm { field: field.into(), equal: true, value: value.into() }], nothing: false }
    }

    /// `field!=value` (upstream's OneTermNotEqualSelector).
    pub fn one_term_not_equal(field: &str, value: &str) -> Self {
        FieldSelector { terms: vec![FieldTerm { field: field.into(), equal: false, value: value.into() }], nothing: false }
    }

    /// Every term of both (upstream's AndSelectors).
    pub fn and(mut self, other: FieldSelector) -> Self {
        self.nothing |= other.nothing;
        self.terms.extend(other.terms);
        self
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        !self.nothing && self.terms.is_empty()
    }

    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        !self.nothing
            && self.terms.iter().all(|t| {
                let have = fields.get(&t.field).map(String::as_str).unwrap_or("");
                (have == t.value) == t.equal
            })
    }

    /// The value an equality term requires for `field` (upstream's RequiresExactMatch).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms.iter().find(|t| t.field == field && t.equal).map(|t| t.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| format!("{}{}{}", t.field, if t.equal { "=" } else { "!=" }, escape_field_value(&t.value)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_upstream_good_selectors() {
        // upstream selector_test.go TestSelectorParse (good cases) and their String()
        for (input, want) in [
            ("", ""),
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("x!=a,y=b", "x!=a,y=b"),
            ("x=,z= ", "x=,z="),
            ("x= ,z= ", "x=,z="),
            ("!x", "!x"),
            ("x>1", "x>1"),
            ("x>1,z<5", "x>1,z<5"),
            ("x in (b,a)", "x in (a,b)"),
            ("x notin ( a , b )", "x notin (a,b)"),
            ("x in ()", "x in ()"),
            ("x in (,a)", "x in (,a)"),
            ("z,x", "x,z"),
            ("a==b", "a==b"),
            ("in=a", "in=a"),
        ] {
            let s = Selector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(s.to_string(), want, "{input}");
        }
    }

    #[test]
    fn refuses_upstream_bad_selectors() {
        for (input, msg) in [
            ("a==b==c", "found '==', expected: ',' or 'end of string'"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("x==a==b", "found '==', expected: ',' or 'end of string'"),
            ("!x=a", "found '=', expected: ',' or 'end of string'"),
            ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
            ("x in a", "unable to parse requirement: found 'a' expected: '('"),
            ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
            ("x=a,", "found '', expected: identifier after ','"),
            (",x=a", "found ',', expected: !, identifier, or 'end of string'"),
            ("a/b/c=x", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\""),
        ] {
            let e = Selector::parse(input).expect_err(input);
            assert!(e.0.starts_with(msg), "{input}: {e}");
        }
        // '|' is no symbol: "a||y" is one value, refused as a label value
        assert!(Selector::parse("x=a||y=b").unwrap_err().0.contains("values[0]: Invalid value: \"a||y\""));
    }

    #[test]
    fn matches_as_upstream() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("missing notin (x)", true),
            ("missing!=x", true),
            ("app=web,tier in (front)", true),
            ("app=web,env", false),
            ("n>4", true),
            ("n<5", false),
            ("app>1", false),
            ("", true),
        ] {
            assert_eq!(Selector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
    }

    #[test]
    fn from_label_selector_nil_empty_and_expressions() {
        let l = labels(&[("app", "web")]);
        assert!(!Selector::from_label_selector(None).unwrap().matches(&l));
        assert!(Selector::from_label_selector(Some(&LabelSelector::default())).unwrap().matches(&l));
        let s = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement { key: "tier".into(), operator: "DoesNotExist".into(), values: None }]),
        };
        let sel = Selector::from_label_selector(Some(&s)).unwrap();
        assert!(sel.matches(&l));
        assert!(!sel.matches(&labels(&[("app", "db")])));
        assert_eq!(sel.to_string(), "app=web,!tier");
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement { key: "a".into(), operator: "Gt".into(), values: Some(vec!["1".into()]) }]),
            ..Default::default()
        };
        assert_eq!(Selector::from_label_selector(Some(&bad)).unwrap_err().0, "\"Gt\" is not a valid label selector operator");
        let empty_in = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement { key: "a".into(), operator: "In".into(), values: Some(vec![]) }]),
            ..Default::default()
        };
        assert!(Selector::from_label_selector(Some(&empty_in)).unwrap_err().0.contains("values set can't be empty"));
        let set = Selector::from_set(&labels(&[("b", "2"), ("a", "1")]));
        assert_eq!(set.to_string(), "a=1,b=2");
        assert_eq!(set.requires_exact_match("b"), Some("2"));
        assert!(Selector::nothing().to_string().is_empty() && !Selector::nothing().is_empty());
        assert_eq!(format_label_selector(Some(&s)), "app=web,!tier");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&LabelSelector::default())), "<none>");
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
    }

    #[test]
    fn field_selectors() {
        let f = labels(&[("metadata.name", "a"), ("spec.nodeName", "")]);
        assert!(FieldSelector::parse("spec.nodeName=").unwrap().matches(&f));
        assert!(FieldSelector::parse("spec.nodeName==").unwrap().matches(&f));
        assert!(!FieldSelector::parse("metadata.name!=a").unwrap().matches(&f));
        assert!(FieldSelector::parse("metadata.name=a,status.phase!=Running").unwrap().matches(&f));
        assert_eq!(FieldSelector::parse("b=1,a!=2").unwrap().to_string(), "a!=2,b=1");
        assert_eq!(FieldSelector::parse("a=x\\,y").unwrap().requires_exact_match("a"), Some("x,y"));
        assert_eq!(FieldSelector::parse("a=x\\,y").unwrap().to_string(), "a=x\\,y");
        assert_eq!(FieldSelector::parse("abc").unwrap_err().0, "invalid selector: 'abc'; can't understand 'abc'");
        assert_eq!(FieldSelector::parse("a=b=c").unwrap_err().0, "invalid field selector: unescaped character in value: 61");
        assert_eq!(FieldSelector::parse("a=\\x").unwrap_err().0, "invalid field selector: invalid escape sequence: \\x");
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(!FieldSelector::nothing().matches(&f));
    }
}
