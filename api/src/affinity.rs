//! Node selector terms and required node affinity, as upstream's
//! component-helpers/scheduling/corev1/nodeaffinity: terms are ORed, the
//! requirements of a term ANDed; matchFields select on `metadata.name`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm};

use crate::selector::{FieldSelector, Labels, Operator, Requirement, Selector, SelectorError};

/// upstream's nodeSelectorRequirementsAsSelector.
pub fn requirements_as_selector(reqs: &[NodeSelectorRequirement]) -> Result<Selector, SelectorError> {
    let mut sel = Selector::everything();
    for (i, r) in reqs.iter().enumerate() {
        let op = match r.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            "Gt" => Operator::GreaterThan,
            "Lt" => Operator::LessThan,
            other => return Err(SelectorError(format!("[{i}].operator: Invalid value: {other:?}: not a valid selector operator"))),
        };
        sel.add(Requirement::new(&r.key, op, r.values.clone().unwrap_or_default())?);
    }
    Ok(sel)
}

/// upstream's nodeSelectorRequirementsAsFieldSelector: In/NotIn with one value.
pub fn requirements_as_field_selector(reqs: &[NodeSelectorRequirement]) -> Result<FieldSelector, SelectorError> {
    let mut sel = FieldSelector::everything();
    for (i, r) in reqs.iter().enumerate() {
        let vals = r.values.as_deref().unwrap_or_default();
        let term = match (r.operator.as_str(), vals) {
            ("In", [v]) => FieldSelector::one_term_equal(&r.key, v),
            ("NotIn", [v]) => FieldSelector::one_term_not_equal(&r.key, v),
            ("In" | "NotIn", _) => return Err(SelectorError(format!("[{i}].values: Invalid value: {vals:?}: must have one element"))),
            (other, _) => {
                return Err(SelectorError(format!("[{i}].operator: Unsupported value: {other:?}: supported values: \"In\", \"NotIn\"")))
            }
        };
        sel = sel.and(term);
    }
    Ok(sel)
}

/// One parsed v1.NodeSelectorTerm. A term that does not parse matches nothing
/// and keeps its error (upstream's LazyErrorNodeSelector).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTerm {
    labels: Option<Selector>,
    fields: Option<FieldSelector>,
    error: Option<SelectorError>,
}

impl NodeTerm {
    pub fn new(t: &NodeSelectorTerm) -> Self {
        let mut term = NodeTerm { labels: None, fields: None, error: None };
        if let Some(e) = t.match_expressions.as_deref().filter(|e| !e.is_empty()) {
            match requirements_as_selector(e) {
                Ok(s) => term.labels = Some(s),
                Err(err) => term.error = Some(SelectorError(format!("matchExpressions{}", err.0))),
            }
        }
        if let Some(f) = t.match_fields.as_deref().filter(|f| !f.is_empty()) {
            match requirements_as_field_selector(f) {
                Ok(s) => term.fields = Some(s),
                Err(err) => term.error = Some(SelectorError(format!("matchFields{}", err.0))),
            }
        }
        term
    }

    pub fn error(&self) -> Option<&SelectorError> {
        self.error.as_ref()
    }

    /// Whether the node (its labels and name) matches; an empty term matches nothing.
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if self.error.is_some() || (self.labels.is_none() && self.fields.is_none()) {
            return false;
        }
        if self.labels.as_ref().is_some_and(|s| !s.matches(labels)) {
            return false;
        }
        if let Some(f) = &self.fields {
            let fields = BTreeMap::from([("metadata.name".to_string(), node_name.to_string())]);
            return f.matches(&fields);
        }
        true
    }
}

/// A parsed v1.NodeSelector: matches when any term does.
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

    /// upstream's Match: true if a term matches, else the terms' parse errors if any.
    pub fn match_node(&self, node: &Node) -> Result<bool, SelectorError> {
        let (labels, name) = node_labels_and_name(node);
        if self.matches(labels, name) {
            return Ok(true);
        }
        let errs: Vec<&str> = self.terms.iter().filter_map(|t| t.error.as_ref().map(|e| e.0.as_str())).collect();
        if errs.is_empty() {
            Ok(false)
        } else {
            Err(SelectorError(errs.join(", ")))
        }
    }
}

fn node_labels_and_name(node: &Node) -> (&Labels, &str) {
    static EMPTY: Labels = Labels::new();
    (node.metadata.labels.as_ref().unwrap_or(&EMPTY), node.metadata.name.as_deref().unwrap_or(""))
}

/// upstream's RequiredNodeAffinity: spec.nodeSelector AND the required node affinity terms.
#[derive(Debug, Clone, PartialEq)]
pub struct RequiredNodeAffinity {
    pub node_selector: Option<Selector>,
    pub affinity: Option<NodeSelector>,
}

impl RequiredNodeAffinity {
    pub fn from_pod(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let node_selector = spec.and_then(|s| s.node_selector.as_ref()).filter(|m| !m.is_empty()).map(Selector::from_set);
        let affinity = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
            .map(|ns| NodeSelector::new(&ns.node_selector_terms));
        RequiredNodeAffinity { node_selector, affinity }
    }

    pub fn is_empty(&self) -> bool {
        self.node_selector.is_none() && self.affinity.is_none()
    }

    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        self.node_selector.as_ref().is_none_or(|s| s.matches(labels))
            && self.affinity.as_ref().is_none_or(|a| a.matches(labels, node_name))
    }
}

/// Whether the node satisfies the pod's nodeSelector and required node
/// affinity (upstream's GetRequiredNodeAffinity(pod).Match(node)).
pub fn pod_matches_node_selector_and_affinity(pod: &Pod, node: &Node) -> bool {
    let (labels, name) = node_labels_and_name(node);
    RequiredNodeAffinity::from_pod(pod).matches(labels, name)
}

/// Parsed preferred node affinity terms: (weight, term).
pub fn preferred_terms(terms: &[PreferredSchedulingTerm]) -> Vec<(i32, NodeTerm)> {
    terms.iter().map(|t| (t.weight, NodeTerm::new(&t.preference))).collect()
}

/// Sum of the weights of the preferred terms the node matches (NodeAffinity's score).
pub fn preferred_score(terms: &[(i32, NodeTerm)], labels: &Labels, node_name: &str) -> i64 {
    terms.iter().filter(|(_, t)| t.matches(labels, node_name)).map(|(w, _)| i64::from(*w)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(kv: &[(&str, &str)]) -> Labels {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
    fn req(key: &str, op: &str, vals: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement { key: key.into(), operator: op.into(), values: Some(vals.iter().map(|s| s.to_string()).collect()) }
    }
    fn term(exprs: Vec<NodeSelectorRequirement>, fields: Vec<NodeSelectorRequirement>) -> NodeTerm {
        NodeTerm::new(&NodeSelectorTerm { match_expressions: Some(exprs), match_fields: Some(fields) })
    }

    #[test]
    fn node_operators() {
        let l = labels(&[("zone", "a"), ("cores", "8")]);
        let t = |r: NodeSelectorRequirement| term(vec![r], vec![]).matches(&l, "n1");
        assert!(t(req("zone", "In", &["a", "b"])));
        assert!(!t(req("zone", "NotIn", &["a"])));
        assert!(t(req("missing", "NotIn", &["a"])));
        assert!(t(req("zone", "Exists", &[])));
        assert!(t(req("gpu", "DoesNotExist", &[])));
        assert!(t(req("cores", "Gt", &["4"])));
        assert!(!t(req("cores", "Lt", &["4"])));
        assert!(!t(req("zone", "Gt", &["4"])), "a non-integer label never matches Gt");
        assert!(!t(req("cores", "Gt", &["x"])), "an invalid term matches nothing");
        assert!(!t(req("zone", "Bogus", &["a"])));
        let f = term(vec![], vec![req("metadata.name", "In", &["n1"])]);
        assert!(f.matches(&l, "n1") && !f.matches(&l, "n2"));
        let nf = term(vec![req("zone", "In", &["a"])], vec![req("metadata.name", "NotIn", &["n1"])]);
        assert!(!nf.matches(&l, "n1") && nf.matches(&l, "n2"));
        assert!(!term(vec![], vec![]).matches(&l, "n1"), "an empty term matches nothing");
        assert!(term(vec![], vec![req("metadata.name", "In", &["a", "b"])]).error().unwrap().0.contains("must have one element"));
    }

    #[test]
    fn pods_against_nodes() {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"disk": "ssd", "zone": "a"}}})).unwrap();
        let pod = |spec: serde_json::Value| -> Pod { serde_json::from_value(json!({"spec": spec})).unwrap() };
        assert!(pod_matches_node_selector_and_affinity(&pod(json!({"containers": []})), &node));
        assert!(pod_matches_node_selector_and_affinity(&pod(json!({"containers": [], "nodeSelector": {"disk": "ssd"}})), &node));
        assert!(!pod_matches_node_selector_and_affinity(&pod(json!({"containers": [], "nodeSelector": {"disk": "hdd"}})), &node));
        let aff = |terms: serde_json::Value| {
            pod(json!({"containers": [], "nodeSelector": {"disk": "ssd"},
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}))
        };
        let ok = aff(json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]));
        assert!(pod_matches_node_selector_and_affinity(&ok, &node), "terms are ORed");
        let no = aff(json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]));
        assert!(!pod_matches_node_selector_and_affinity(&no, &node));
        assert!(!pod_matches_node_selector_and_affinity(&aff(json!([])), &node), "no terms match nothing");
        let bad = NodeSelector::new(&[NodeSelectorTerm { match_expressions: Some(vec![req("a", "Gt", &["x"])]), match_fields: None }]);
        assert!(bad.match_node(&node).is_err());
        let prefs = preferred_terms(&[
            PreferredSchedulingTerm { weight: 5, preference: NodeSelectorTerm { match_expressions: Some(vec![req("zone", "In", &["a"])]), match_fields: None } },
            PreferredSchedulingTerm { weight: 3, preference: NodeSelectorTerm { match_expressions: Some(vec![req("zone", "In", &["b"])]), match_fields: None } },
        ]);
        assert_eq!(preferred_score(&prefs, &labels(&[("zone", "a")]), "n1"), 5);
    }
}
