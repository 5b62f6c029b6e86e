//! LimitRange (core v1): per-namespace min/max/default resources. Container
//! items default `default` from `max` and `defaultRequest` from `default`
//! then `min`; min <= defaultRequest <= default <= max.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::LimitRange;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KQuantity;

use crate::registry::pod_template::default_resource_list;
use api::quantity::Quantity;
use crate::registry::validation::{qualified_name, NEGATIVE};
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct LimitRangeStrategy;

type List = Option<BTreeMap<String, KQuantity>>;

fn fill(into: &mut List, from: &List) {
    for (k, v) in from.iter().flatten() {
        into.get_or_insert_with(BTreeMap::new).entry(k.clone()).or_insert_with(|| v.clone());
    }
}

fn parsed(list: &List, path: &Path, errs: &mut ErrorList) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    for (k, q) in list.iter().flatten() {
        let p = path.key(k);
        for e in qualified_name(k) {
            errs.push(FieldError::invalid(&p, k, &e));
        }
        match Quantity::parse(&q.0) {
            Err(e) => errs.push(FieldError::invalid(&p, &q.0, &e.to_string())),
            Ok(v) if v.is_negative() => errs.push(FieldError::invalid(&p, v, NEGATIVE)),
            Ok(v) => {
                out.insert(k.clone(), v);
            }
        }
    }
    out
}

impl Strategy for LimitRangeStrategy {
    type Object = LimitRange;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "limitranges",
        singular: "limitrange",
        kind: "LimitRange",
        namespaced: true,
        short_names: &["limits"],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };

    fn default(&self, lr: &mut LimitRange) {
        for item in lr.spec.iter_mut().flat_map(|s| s.limits.iter_mut()) {
            for l in [&mut item.max, &mut item.min, &mut item.default, &mut item.default_request, &mut item.max_limit_request_ratio] {
                default_resource_list(l);
            }
            if item.type_ == "Container" {
                let max = item.max.clone();
                fill(&mut item.default, &max);
                let (default, min) = (item.default.clone(), item.min.clone());
                fill(&mut item.default_request, &default);
                fill(&mut item.default_request, &min);
            }
        }
    }

    fn validate(&self, lr: &LimitRange) -> ErrorList {
        let mut errs = Vec::new();
        let mut types = BTreeSet::new();
        for (i, item) in lr.spec.iter().flat_map(|s| s.limits.iter()).enumerate() {
            let p = Path::new("spec").child("limits").index(i);
            for e in qualified_name(&item.type_) {
                errs.push(FieldError::invalid(&p.child("type"), &item.type_, &e));
            }
            if !types.insert(item.type_.clone()) {
                errs.push(FieldError::duplicate(&p.child("type"), &item.type_));
            }
            if item.type_ == "Pod" {
                for (name, set) in [("default", item.default.is_some()), ("defaultRequest", item.default_request.is_some())] {
                    if set {
                        errs.push(FieldError::forbidden(&p.child(name), "may not be specified when `type` is 'Pod'"));
                    }
                }
            }
            let max = parsed(&item.max, &p.child("max"), &mut errs);
            let min = parsed(&item.min, &p.child("min"), &mut errs);
            let def = parsed(&item.default, &p.child("default"), &mut errs);
            let req = parsed(&item.default_request, &p.child("defaultRequest"), &mut errs);
            parsed(&item.max_limit_request_ratio, &p.child("maxLimitRequestRatio"), &mut errs);
            let keys: BTreeSet<&String> = max.keys().chain(min.keys()).chain(def.keys()).chain(req.keys()).collect();
            for k in keys {
                let kp = p.key(k);
                let (mx, mn, d, r) = (max.get(k), min.get(k), def.get(k), req.get(k));
                if let (Some(mn), Some(mx)) = (mn, mx) {
                    if mn > mx {
                        errs.push(FieldError::invalid(&kp, mn, &format!("min value {mn} is greater than max value {mx}")));
                    }
                }
                if let (Some(r), Some(mn)) = (r, mn) {
                    if mn > r {
                        errs.push(FieldError::invalid(&kp, r, &format!("min value {mn} is greater than default request value {r}")));
                    }
                }
                if let (Some(r), Some(mx)) = (r, mx) {
                    if r > mx {
                        errs.push(FieldError::invalid(&kp, r, &format!("default request value {r} is greater than max value {mx}")));
                    }
                }
                if let (Some(r), Some(d)) = (r, d) {
                    if r > d {
                        errs.push(FieldError::invalid(&kp, r, &format!("default request value {r} is greater than default limit value {d}")));
                    }
                }
                if let (Some(d), Some(mx)) = (d, mx) {
                    if d > mx {
                        errs.push(FieldError::invalid(&kp, d, &format!("default value {d} is greater than max value {mx}")));
                    }
                }
                if let (Some(d), Some(mn)) = (d, mn) {
                    if mn > d {
                        errs.push(FieldError::invalid(&kp, d, &format!("min value {mn} is greater than default value {d}")));
                    }
                }
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn container_defaults_and_ordering() {
        let kind = Typed(LimitRangeStrategy);
        let lr = kind
            .admit_create(json!({"metadata": {"name": "lr", "namespace": "default"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}))
            .unwrap();
        let item = &lr["spec"]["limits"][0];
        assert_eq!(item["default"], json!({"cpu": "2"}));
        assert_eq!(item["defaultRequest"], json!({"cpu": "2", "memory": "64Mi"}));
        let e = kind
            .admit_create(json!({"metadata": {"name": "lr", "namespace": "default"}, "spec": {"limits": [{"type": "Pod", "max": {"cpu": "1"}, "min": {"cpu": "2"}}]}}))
            .unwrap_err();
        assert_eq!(e.message, r#"LimitRange "lr" is invalid: spec.limits[0][cpu]: Invalid value: "2": min value 2 is greater than max value 1"#);
    }
}
