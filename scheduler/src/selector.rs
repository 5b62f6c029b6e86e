//! Label selectors (metav1.LabelSelector) and node selector terms
//! (v1.NodeSelectorTerm), compiled once per pod for fast matching.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
    /// An operator or value that cannot match anything (upstream treats it as an error).
    Never,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match &self.op {
            Op::In(vals) => v.is_some_and(|v| vals.iter().any(|x| x == v)),
            Op::NotIn(vals) => v.is_none_or(|v| !vals.iter().any(|x| x == v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
            Op::Gt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
            Op::Lt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
            Op::Never => false,
        }
    }

    fn from_parts(key: &str, op: &str, values: &[String]) -> Self {
        let int = || if values.len() == 1 { values[0].parse::<i64>().ok() } else { None };
        let op = match op {
            "In" => Op::In(values.to_vec()),
            "NotIn" => Op::NotIn(values.to_vec()),
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => int().map(Op::Gt).unwrap_or(Op::Never),
            "Lt" => int().map(Op::Lt).unwrap_or(Op::Never),
            _ => Op::Never,
        };
        Requirement { key: key.to_string(), op }
    }
}

/// A compiled metav1.LabelSelector: all requirements must hold.
/// `None` input (a nil selector) matches nothing, an empty one everything, as upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    reqs: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    pub fn everything() -> Self {
        Selector { reqs: vec![], nothing: false }
    }
    pub fn nothing() -> Self {
        Selector { reqs: vec![], nothing: true }
    }
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Self {
        let Some(sel) = sel else { return Self::nothing() };
        let mut reqs = vec![];
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement { key: k.clone(), op: Op::In(vec![v.clone()]) });
        }
        for e in sel.match_expressions.iter().flatten() {
            let r = Requirement::from_parts(&e.key, &e.operator, e.values.as_deref().unwrap_or_default());
            // Gt/Lt are not valid in label selectors.
            let r = match r.op {
                Op::Gt(_) | Op::Lt(_) => Requirement { op: Op::Never, ..r },
                _ => r,
            };
            reqs.push(r);
        }
        Selector { reqs, nothing: false }
    }
    /// Adds `key in (values)` (matchLabelKeys support).
    pub fn add(&mut self, r: Requirement) {
        self.reqs.push(r);
    }
    /// Every label of `set` must be present with its value.
    pub fn from_set(set: &Labels) -> Self {
        Selector { reqs: set.iter().map(|(k, v)| Requirement { key: k.clone(), op: Op::In(vec![v.clone()]) }).collect(), nothing: false }
    }
    /// Adds the requirements of `other` (nothing from a selector that selects nothing, as upstream's Requirements()).
    pub fn extend(&mut self, other: &Selector) {
        if !other.nothing {
            self.reqs.extend(other.reqs.iter().cloned());
        }
    }
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.reqs.iter().all(|r| r.matches(labels))
    }
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }
}

/// One v1.NodeSelectorTerm: label requirements AND field requirements (metadata.name only).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTerm {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

impl NodeTerm {
    pub fn new(t: &NodeSelectorTerm) -> Self {
        let conv = |v: &Option<Vec<NodeSelectorRequirement>>| -> Vec<Requirement> {
            v.iter().flatten().map(|r| Requirement::from_parts(&r.key, &r.operator, r.values.as_deref().unwrap_or_default())).collect()
        };
        NodeTerm { labels: conv(&t.match_expressions), fields: conv(&t.match_fields) }
    }
    /// An empty term matches no objects (upstream).
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if self.labels.is_empty() && self.fields.is_empty() {
            return false;
        }
        if !self.labels.iter().all(|r| r.matches(labels)) {
            return false;
        }
        if self.fields.is_empty() {
            return true;
        }
        let mut f = Labels::new();
        f.insert("metadata.name".into(), node_name.into());
        self.fields.iter().all(|r| r.key == "metadata.name" && r.matches(&f))
    }
}

/// A v1.NodeSelector: the terms are ORed.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSelector {
    pub terms: Vec<NodeTerm>,
}

impl NodeSelector {
    pub fn new(terms: &[NodeSelectorTerm]) -> Self {
        NodeSelector { terms: terms.iter().map(NodeTerm::new).collect() }
    }
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        self.terms.iter().any(|t| t.matches(labels, node_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(kv: &[(&str, &str)]) -> Labels {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
    fn req(key: &str, op: &str, vals: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement { key: key.into(), operator: op.into(), values: Some(vals.iter().map(|s| s.to_string()).collect()) }
    }

    #[test]
    fn node_operators() {
        let l = labels(&[("zone", "a"), ("cores", "8")]);
        let t = |r: NodeSelectorRequirement| NodeTerm::new(&NodeSelectorTerm { match_expressions: Some(vec![r]), match_fields: None }).matches(&l, "n1");
        assert!(t(req("zone", "In", &["a", "b"])));
        assert!(!t(req("zone", "NotIn", &["a"])));
        assert!(t(req("missing", "NotIn", &["a"])));
        assert!(t(req("zone", "Exists", &[])));
        assert!(t(req("gpu", "DoesNotExist", &[])));
        assert!(t(req("cores", "Gt", &["4"])));
        assert!(!t(req("cores", "Lt", &["4"])));
        assert!(!t(req("zone", "Gt", &["4"])), "non-integer label never matches Gt");
        let f = NodeTerm::new(&NodeSelectorTerm { match_expressions: None, match_fields: Some(vec![req("metadata.name", "In", &["n1"])]) });
        assert!(f.matches(&l, "n1") && !f.matches(&l, "n2"));
        assert!(!NodeTerm::new(&NodeSelectorTerm::default()).matches(&l, "n1"), "empty term matches nothing");
    }

    #[test]
    fn label_selector_nil_empty_and_expressions() {
        let l = labels(&[("app", "web")]);
        assert!(!Selector::from_label_selector(None).matches(&l));
        assert!(Selector::from_label_selector(Some(&LabelSelector::default())).matches(&l));
        let s = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement { key: "tier".into(), operator: "DoesNotExist".into(), values: None }]),
        };
        assert!(Selector::from_label_selector(Some(&s)).matches(&l));
        assert!(!Selector::from_label_selector(Some(&s)).matches(&labels(&[("app", "db")])));
    }
}
