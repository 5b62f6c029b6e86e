//! Objects of kinds known only at run time, for informers over any kind
//! (the garbage collector, the namespace controller, kubectl).
//!
//! ```no_run
//! # async fn f(client: client::Client, resource: client::ApiResourceRef) {
//! use client::dynamic::DynamicObject;
//! use client::informer::{Informer, InformerConfig};
//! let api = client::Api::<DynamicObject>::for_resource(client, resource, None);
//! let informer = Informer::new(api, InformerConfig::default());
//! # }
//! ```

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::Resource;

/// What informers and stores need of an object: its metadata. Every typed
/// [`Resource`] is one, and so is [`DynamicObject`].
pub trait Object: Clone + Send + Sync + Serialize + serde::de::DeserializeOwned + 'static {
    fn meta(&self) -> &ObjectMeta;
}

impl<K: Resource> Object for K {
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
}

/// Any object: typed metadata, everything else (apiVersion, kind, spec,
/// status, data, ...) as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DynamicObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl DynamicObject {
    pub fn kind(&self) -> Option<&str> {
        self.rest.get("kind").and_then(|k| k.as_str())
    }
    pub fn api_version(&self) -> Option<&str> {
        self.rest.get("apiVersion").and_then(|k| k.as_str())
    }
}

impl Object for DynamicObject {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// Only an object's metadata (upstream's `PartialObjectMetadata`, what
/// metadata informers cache): decoding skips spec, status and data without
/// building them, so a cache of these costs a fraction of a full copy. For
/// consumers of any kind that read only metadata (the garbage collector).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialObjectMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
}

impl Object for PartialObjectMetadata {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_unknown_fields() {
        let v = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 2}});
        let o: DynamicObject = serde_json::from_value(v.clone()).unwrap();
        assert_eq!((o.kind(), o.api_version()), (Some("Deployment"), Some("apps/v1")));
        assert_eq!(o.meta().name.as_deref(), Some("web"));
        assert_eq!(serde_json::to_value(&o).unwrap(), v);
    }

    #[test]
    fn partial_metadata_keeps_only_type_and_metadata() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u1", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u0"}]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}, "status": {"phase": "Running"}});
        let o: PartialObjectMetadata = serde_json::from_value(v).unwrap();
        assert_eq!((o.kind.as_deref(), o.api_version.as_deref(), o.meta().uid.as_deref()), (Some("Pod"), Some("v1"), Some("u1")));
        assert_eq!(o.metadata.owner_references.as_ref().map(|r| r[0].uid.as_str()), Some("u0"));
        let back = serde_json::to_value(&o).unwrap();
        assert!(back.get("spec").is_none() && back.get("status").is_none());
    }
}
