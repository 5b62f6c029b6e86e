//! What the client needs to know about a kind to address it.

use proto::v1::ResourceRef;

/// The typed-object trait lives in `api`; re-exported so `client::Resource` keeps working.
pub use ::api::Resource;

/// Group, version and plural of a kind: enough to address it without its Rust type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiResourceRef {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
}

impl ApiResourceRef {
    pub fn of<K: Resource>() -> Self {
        ApiResourceRef {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            plural: K::URL_PATH_SEGMENT.to_string(),
            kind: K::KIND.to_string(),
            namespaced: K::namespaced(),
        }
    }

    /// "apps/v1" or "v1".
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn to_ref(&self, namespace: Option<&str>, name: &str) -> ResourceRef {
        ResourceRef {
            group: self.group.clone(),
            version: self.version.clone(),
            resource: self.plural.clone(),
            namespace: if self.namespaced { namespace.unwrap_or_default().to_string() } else { String::new() },
            name: name.to_string(),
            subresource: String::new(),
        }
    }
}

impl From<&proto::v1::ApiResource> for ApiResourceRef {
    fn from(r: &proto::v1::ApiResource) -> Self {
        ApiResourceRef {
            group: r.group.clone(),
            version: r.version.clone(),
            plural: r.name.clone(),
            kind: r.kind.clone(),
            namespaced: r.namespaced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::{Namespace, Pod}};

    #[test]
    fn scope_and_names_come_from_the_type() {
        let p = ApiResourceRef::of::<Pod>();
        assert!(p.namespaced);
        assert_eq!((p.plural.as_str(), p.api_version().as_str()), ("pods", "v1"));
        let d = ApiResourceRef::of::<Deployment>();
        assert_eq!(d.api_version(), "apps/v1");
        assert!(!ApiResourceRef::of::<Namespace>().namespaced);
    }
}
