//! Node: cluster-scoped, named by an RFC 1123 subdomain; status may be set on
//! create (the kubelet registers with it); podCIDRs and providerID can only be
//! set once; taints unique by key and effect.

use k8s_openapi::api::core::v1::{Node, NodeSpec};

use crate::registry::validation::{label_value, qualified_name};
use crate::registry::{ErrorList, FieldError, Fields, NameRule, Path, ResourceInfo, Strategy};

pub struct NodeStrategy;

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Upstream's IsValidCIDR.
pub fn cidr_errors(v: &str) -> Vec<String> {
    let ok = v.split_once('/').is_some_and(|(ip, len)| {
        let Ok(ip) = ip.parse::<std::net::IpAddr>() else { return false };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        len.parse::<u8>().is_ok_and(|l| l <= max) && !len.starts_with('+')
    });
    if ok { vec![] } else { vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".into()] }
}

fn sync_pod_cidrs(spec: &mut NodeSpec) {
    match (spec.pod_cidr.clone().filter(|s| !s.is_empty()), spec.pod_cidrs.clone().filter(|v| !v.is_empty())) {
        (Some(c), None) => spec.pod_cidrs = Some(vec![c]),
        (None, Some(cs)) => spec.pod_cidr = Some(cs[0].clone()),
        _ => {}
    }
}

fn validate_spec(spec: &NodeSpec) -> ErrorList {
    let path = Path::new("spec");
    let mut errs = Vec::new();
    let cidrs = spec.pod_cidrs.clone().unwrap_or_default();
    for (i, c) in cidrs.iter().enumerate() {
        for e in cidr_errors(c) {
            errs.push(FieldError::invalid(&path.child("podCIDRs").index(i), c, &e));
        }
    }
    if cidrs.len() > 2 {
        errs.push(FieldError::invalid_raw(&path.child("podCIDRs"), format!("{cidrs:?}").replace(',', ""), "may specify no more than one CIDR for each IP family"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in spec.taints.iter().flatten().enumerate() {
        let p = path.child("taints").index(i);
        for e in qualified_name(&t.key) {
            errs.push(FieldError::invalid(&p.child("key"), &t.key, &e));
        }
        let value = t.value.as_deref().unwrap_or("");
        let msgs = label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(&p.child("value"), value, &msgs.join(";")));
        }
        if t.effect.is_empty() {
            errs.push(FieldError::required(&p.child("effect"), ""));
        } else if !TAINT_EFFECTS.contains(&t.effect.as_str()) {
            errs.push(FieldError::not_supported(&p.child("effect"), &t.effect, TAINT_EFFECTS));
        }
        if !seen.insert((t.key.clone(), t.effect.clone())) {
            let shown = format!("core.Taint{{Key:{:?}, Value:{:?}, Effect:{:?}, TimeAdded:(*v1.Time)(nil)}}", t.key, value, t.effect);
            errs.push(FieldError { field: p, kind: crate::registry::field::ErrorType::Duplicate(shown), detail: "taints must be unique by key and effect pair".into() });
        }
    }
    errs
}

impl Strategy for NodeStrategy {
    type Object = Node;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };
    const RAW_CREATE: bool = true;

    fn default(&self, node: &mut Node) {
        if let Some(spec) = node.spec.as_mut() {
            sync_pod_cidrs(spec);
        }
        // SetDefaults_NodeStatus: allocatable defaults to capacity.
        if let Some(st) = node.status.as_mut() {
            if st.allocatable.is_none() && st.capacity.is_some() {
                st.allocatable = st.capacity.clone();
            }
            crate::registry::pod_template::default_resource_list(&mut st.capacity);
            crate::registry::pod_template::default_resource_list(&mut st.allocatable);
        }
    }

    fn prepare_for_status_update(&self, new: &mut Node, _old: &Node) {
        self.default(new);
    }

    fn validate(&self, node: &Node) -> ErrorList {
        node.spec.as_ref().map(validate_spec).unwrap_or_default()
    }

    fn validate_update(&self, new: &Node, old: &Node) -> ErrorList {
        let mut errs = self.validate(new);
        let (n, o) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        if o.pod_cidrs.as_ref().is_some_and(|c| !c.is_empty()) && n.pod_cidrs != o.pod_cidrs {
            errs.push(FieldError::forbidden(&Path::new("spec").child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"));
        }
        if o.provider_id.as_deref().is_some_and(|p| !p.is_empty()) && n.provider_id != o.provider_id {
            errs.push(FieldError::forbidden(&Path::new("spec").child("providerID"), "node updates may not change providerID except from \"\" to valid"));
        }
        errs
    }

    fn fields(&self, node: &serde_json::Value, out: &mut Fields) {
        out.insert("spec.unschedulable".into(), crate::registry::bool_at(node, "/spec/unschedulable"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn create_keeps_status_and_defaults_allocatable() {
        let n = Typed(NodeStrategy)
            .admit_create(json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24"}, "status": {"capacity": {"cpu": "2", "memory": "1024Mi"}}}))
            .unwrap();
        assert_eq!(n["status"]["allocatable"], json!({"cpu": "2", "memory": "1Gi"}));
        assert_eq!(n["spec"]["podCIDRs"], json!(["10.244.1.0/24"]));
    }

    #[test]
    fn validation_and_immutable_cidrs() {
        let kind = Typed(NodeStrategy);
        let e = kind
            .admit_create(json!({"metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/33", "taints": [
                {"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": ""}]}}))
            .unwrap_err();
        assert_eq!(
            e.message,
            r#"Node "n" is invalid: [spec.podCIDRs[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64), spec.taints[1]: Duplicate value: core.Taint{Key:"a", Value:"", Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair, spec.taints[2].effect: Required value]"#
        );
        let old = kind.admit_create(json!({"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.1.0/24"}})).unwrap();
        let e = kind.admit_update(json!({"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.2.0/24"}}), &old).unwrap_err();
        assert_eq!(e.message, r#"Node "n" is invalid: spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid"#);
        let mut f = Fields::new();
        NodeStrategy.fields(&json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}}), &mut f);
        assert_eq!(f["spec.unschedulable"], "true");
    }
}
