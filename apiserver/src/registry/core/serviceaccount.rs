//! ServiceAccount: names are subdomains; referenced secrets are named.

use k8s_openapi::api::core::v1::ServiceAccount;

use crate::registry::validation::dns1123_subdomain;
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct ServiceAccountStrategy;

impl Strategy for ServiceAccountStrategy {
    type Object = ServiceAccount;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        short_names: &["sa"],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
    };
    const RAW_CREATE: bool = true;

    fn validate(&self, sa: &ServiceAccount) -> ErrorList {
        let mut errs = Vec::new();
        for (i, s) in sa.image_pull_secrets.iter().flatten().enumerate() {
            let name = s.name.as_str();
            for e in dns1123_subdomain(name) {
                errs.push(FieldError::invalid(&Path::new("imagePullSecrets").index(i).child("name"), name, &e));
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
    fn names_are_subdomains() {
        let kind = Typed(ServiceAccountStrategy);
        kind.admit_create(json!({"metadata": {"name": "default", "namespace": "default"}})).unwrap();
        let e = kind.admit_create(json!({"metadata": {"name": "Robot", "namespace": "default"}})).unwrap_err();
        assert!(e.message.starts_with(r#"ServiceAccount "Robot" is invalid: metadata.name: Invalid value: "Robot": a lowercase RFC 1123 subdomain"#));
    }
}
