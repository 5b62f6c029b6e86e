//! ResourceQuota (core v1): hard limits per namespace; status (used) is the
//! quota controller's. Quantities must parse and not be negative.

use k8s_openapi::api::core::v1::ResourceQuota;

use crate::registry::pod_template::default_resource_list;
use api::quantity::Quantity;
use crate::registry::validation::{qualified_name, NEGATIVE};
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct ResourceQuotaStrategy;

const SCOPES: &[&str] = &["BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating", "PriorityClass", "Terminating", "VolumeAttributesClass"];

fn validate_list(list: Option<&std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (k, q) in list.into_iter().flatten() {
        let p = path.key(k);
        for e in qualified_name(k) {
            errs.push(FieldError::invalid(&p, k, &e));
        }
        match Quantity::parse(&q.0) {
            Err(e) => errs.push(FieldError::invalid(&p, &q.0, &e.to_string())),
            Ok(v) if v.is_negative() => errs.push(FieldError::invalid(&p, v, NEGATIVE)),
            Ok(_) => {}
        }
    }
    errs
}

impl Strategy for ResourceQuotaStrategy {
    type Object = ResourceQuota;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "resourcequotas",
        singular: "resourcequota",
        kind: "ResourceQuota",
        namespaced: true,
        short_names: &["quota"],
        categories: &[],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn default(&self, rq: &mut ResourceQuota) {
        if let Some(s) = rq.spec.as_mut() {
            default_resource_list(&mut s.hard);
        }
    }

    fn prepare_for_create(&self, rq: &mut ResourceQuota) {
        rq.status = None;
    }

    fn validate(&self, rq: &ResourceQuota) -> ErrorList {
        let Some(spec) = &rq.spec else { return vec![] };
        let path = Path::new("spec");
        let mut errs = validate_list(spec.hard.as_ref(), &path.child("hard"));
        for (i, s) in spec.scopes.iter().flatten().enumerate() {
            if !SCOPES.contains(&s.as_str()) {
                errs.push(FieldError::not_supported(&path.child("scopes").index(i), s, SCOPES));
            }
        }
        errs
    }

    fn validate_status_update(&self, new: &ResourceQuota, _old: &ResourceQuota) -> ErrorList {
        let st = new.status.clone().unwrap_or_default();
        let mut errs = validate_list(st.hard.as_ref(), &Path::new("status").child("hard"));
        errs.extend(validate_list(st.used.as_ref(), &Path::new("status").child("used")));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn hard_quantities_are_checked() {
        let kind = Typed(ResourceQuotaStrategy);
        let q = kind.admit_create(json!({"metadata": {"name": "q", "namespace": "default"}, "spec": {"hard": {"pods": "10", "requests.cpu": "1000m"}}})).unwrap();
        assert_eq!(q["spec"]["hard"]["requests.cpu"], "1");
        let e = kind.admit_create(json!({"metadata": {"name": "q", "namespace": "default"}, "spec": {"hard": {"pods": "-1"}}})).unwrap_err();
        assert_eq!(e.message, r#"ResourceQuota "q" is invalid: spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0"#);
    }
}
