//! What every typed Kubernetes object offers: the k8s-openapi traits plus
//! whether its kind is namespaced.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A typed Kubernetes object: every k8s-openapi type with ObjectMeta.
pub trait Resource:
    k8s_openapi::Resource
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Clone
    + Send
    + Sync
    + 'static
{
    /// Whether objects of this kind live in a namespace.
    fn namespaced() -> bool;
}

impl<K> Resource for K
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + Send
        + Sync
        + 'static,
{
    fn namespaced() -> bool {
        std::any::TypeId::of::<K::Scope>() == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Namespace, Pod};

    #[test]
    fn scope_comes_from_the_type() {
        assert!(Pod::namespaced());
        assert!(!Namespace::namespaced());
    }
}
