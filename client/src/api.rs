//! Typed verbs on one kind, optionally scoped to a namespace (kube-rs' `Api`).

use std::marker::PhantomData;

use futures::{Stream, StreamExt};
use proto::v1::{
    BindRequest, CreateRequest, DeleteCollectionRequest, DeleteRequest, EventType, GetRequest, ListRequest,
    ListResponse, PatchRequest, Preconditions, RawObject, ResourceRef, UpdateRequest, WatchRequest,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::{ApiError, ApiResourceRef, Client, DeleteParams, Error, ListParams, Patch, PostParams, Resource, Result, WatchParams};

/// A list read at one resourceVersion.
#[derive(Debug, Clone)]
pub struct ObjectList<K> {
    pub items: Vec<K>,
    pub resource_version: String,
    /// Set when `limit` cut the list short: pass it back to get the rest.
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<i64>,
}

/// One change seen by a watch.
#[derive(Debug, Clone)]
pub enum WatchEvent<K> {
    Added(K),
    Modified(K),
    Deleted(K),
    /// The server has sent everything up to this resourceVersion.
    Bookmark(String),
    /// The watch ended with this Status (e.g. Expired: relist).
    Error(ApiError),
}

/// Verbs on one kind `K`. `K` is a k8s-openapi type, or `serde_json::Value`
/// for kinds known only at run time (see [`Api::dynamic`]).
pub struct Api<K> {
    client: Client,
    resource: ApiResourceRef,
    namespace: Option<String>,
    _k: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api { client: self.client.clone(), resource: self.resource.clone(), namespace: self.namespace.clone(), _k: PhantomData }
    }
}

impl<K: Resource> Api<K> {
    /// Objects of a namespaced kind in one namespace.
    pub fn namespaced(client: Client, namespace: &str) -> Self {
        Self::dynamic_as(client, ApiResourceRef::of::<K>(), Some(namespace))
    }
    /// A cluster-scoped kind, or a namespaced kind across all namespaces (list/watch).
    pub fn all(client: Client) -> Self {
        Self::dynamic_as(client, ApiResourceRef::of::<K>(), None)
    }
}

impl Api<serde_json::Value> {
    /// Untyped objects of a kind described at run time.
    pub fn dynamic(client: Client, resource: ApiResourceRef, namespace: Option<&str>) -> Self {
        Self::dynamic_as(client, resource, namespace)
    }
}

impl<K> Api<K> {
    /// Objects of the kind `resource` decoded as `K`, e.g.
    /// `Api::<client::dynamic::DynamicObject>::for_resource(..)` for informers over any kind.
    pub fn for_resource(client: Client, resource: ApiResourceRef, namespace: Option<&str>) -> Self {
        Self::dynamic_as(client, resource, namespace)
    }

    fn dynamic_as(client: Client, resource: ApiResourceRef, namespace: Option<&str>) -> Self {
        Api { client, resource, namespace: namespace.map(str::to_string), _k: PhantomData }
    }

    pub fn resource(&self) -> &ApiResourceRef {
        &self.resource
    }
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    fn rref(&self, name: &str) -> ResourceRef {
        self.resource.to_ref(self.namespace.as_deref(), name)
    }
    fn rref_sub(&self, name: &str, sub: &str) -> ResourceRef {
        ResourceRef { subresource: sub.to_string(), ..self.rref(name) }
    }
}

fn raw<T: Serialize>(obj: &T) -> Result<RawObject> {
    Ok(RawObject { raw: serde_json::to_vec(obj)?, content_type: proto::JSON.into() })
}

fn decode<K: DeserializeOwned>(raw: Option<RawObject>) -> Result<K> {
    let raw = raw.ok_or_else(|| Error::InvalidArgument("server sent no object".into()))?;
    Ok(serde_json::from_slice(&raw.raw)?)
}

fn name_of<T: Serialize>(obj: &T) -> Result<String> {
    let v = serde_json::to_value(obj)?;
    Ok(v.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or_default().to_string())
}

impl<K: Serialize + DeserializeOwned + Send + 'static> Api<K> {
    pub async fn create(&self, pp: &PostParams, obj: &K) -> Result<K> {
        let req = CreateRequest {
            target: Some(self.rref("")),
            object: Some(raw(obj)?),
            dry_run: pp.dry_run,
            field_manager: pp.field_manager.clone().unwrap_or_default(),
        };
        decode(Some(self.client.throttled().await.create(req).await?.into_inner()))
    }

    pub async fn get(&self, name: &str) -> Result<K> {
        let req = GetRequest { target: Some(self.rref(name)), resource_version: String::new() };
        decode(Some(self.client.throttled().await.get(req).await?.into_inner()))
    }

    /// `get` that maps NotFound to `None`.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn list(&self, lp: &ListParams) -> Result<ObjectList<K>> {
        let resp = self.client.throttled().await.list(list_request(self.rref(""), lp)).await?.into_inner();
        list_from(resp)
    }

    /// Replaces the object (spec and metadata; status changes are ignored
    /// for kinds with a status subresource). Fails with Conflict when
    /// `metadata.resourceVersion` is stale.
    pub async fn replace(&self, obj: &K) -> Result<K> {
        let req = UpdateRequest {
            target: Some(self.rref(&name_of(obj)?)),
            object: Some(raw(obj)?),
            dry_run: false,
            field_manager: String::new(),
        };
        decode(Some(self.client.throttled().await.update(req).await?.into_inner()))
    }

    /// Replaces the status subresource.
    pub async fn replace_status(&self, obj: &K) -> Result<K> {
        let name = name_of(obj)?;
        let req = UpdateRequest {
            target: Some(self.rref_sub(&name, "status")),
            object: Some(raw(obj)?),
            dry_run: false,
            field_manager: String::new(),
        };
        decode(Some(self.client.throttled().await.update_status(req).await?.into_inner()))
    }

    pub async fn patch(&self, name: &str, pp: &PostParams, patch: &Patch) -> Result<K> {
        self.patch_sub(name, "", pp, patch).await
    }

    pub async fn patch_status(&self, name: &str, pp: &PostParams, patch: &Patch) -> Result<K> {
        self.patch_sub(name, "status", pp, patch).await
    }

    async fn patch_sub(&self, name: &str, sub: &str, pp: &PostParams, patch: &Patch) -> Result<K> {
        let req = PatchRequest {
            target: Some(self.rref_sub(name, sub)),
            patch_type: patch.patch_type() as i32,
            patch: serde_json::to_vec(patch.body())?,
            dry_run: pp.dry_run,
            field_manager: pp.field_manager.clone().unwrap_or_default(),
            force: false,
        };
        decode(Some(self.client.throttled().await.patch(req).await?.into_inner()))
    }

    /// Deletes `name`. Returns the object and whether it is gone already
    /// (false while finalizers or graceful termination hold it).
    pub async fn delete(&self, name: &str, dp: &DeleteParams) -> Result<(K, bool)> {
        let resp = self.client.throttled().await.delete(delete_request(self.rref(name), dp)).await?.into_inner();
        Ok((decode(resp.object)?, resp.deleted))
    }

    pub async fn delete_collection(&self, dp: &DeleteParams, lp: &ListParams) -> Result<ObjectList<K>> {
        let req = DeleteCollectionRequest {
            target: Some(self.rref("")),
            label_selector: lp.label_selector.clone().unwrap_or_default(),
            field_selector: lp.field_selector.clone().unwrap_or_default(),
            options: Some(delete_request(self.rref(""), dp)),
        };
        let resp = self.client.throttled().await.delete_collection(req).await?.into_inner();
        list_from(resp.deleted.unwrap_or_default())
    }

    /// Watches changes after `resource_version` ("" or "0": current objects
    /// first, as ADDED). The stream ends on an Error event or when the
    /// server closes it; informers restart it.
    pub async fn watch(
        &self,
        wp: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static> {
        self.watch_ref(self.rref(""), wp, resource_version).await
    }

    /// Watches the one object `name`.
    pub async fn watch_object(
        &self,
        name: &str,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static> {
        self.watch_ref(self.rref(name), &WatchParams::default(), resource_version).await
    }

    async fn watch_ref(
        &self,
        rref: ResourceRef,
        wp: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static> {
        let req = WatchRequest {
            target: Some(rref),
            label_selector: wp.label_selector.clone().unwrap_or_default(),
            field_selector: wp.field_selector.clone().unwrap_or_default(),
            resource_version: resource_version.to_string(),
            allow_bookmarks: wp.allow_bookmarks,
            timeout_seconds: wp.timeout_seconds.unwrap_or(0),
        };
        let stream = self.client.throttled().await.watch(req).await?.into_inner();
        Ok(stream.map(|ev| {
            let ev = ev?;
            let body = ev.object.map(|o| o.raw).unwrap_or_default();
            let ty = EventType::try_from(ev.r#type).unwrap_or(EventType::Unspecified);
            Ok(match ty {
                EventType::Added => WatchEvent::Added(serde_json::from_slice(&body)?),
                EventType::Modified => WatchEvent::Modified(serde_json::from_slice(&body)?),
                EventType::Deleted => WatchEvent::Deleted(serde_json::from_slice(&body)?),
                EventType::Bookmark => {
                    let v: serde_json::Value = serde_json::from_slice(&body)?;
                    let rv = v.pointer("/metadata/resourceVersion").and_then(|r| r.as_str()).unwrap_or_default();
                    WatchEvent::Bookmark(rv.to_string())
                }
                EventType::Error | EventType::Unspecified => {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    WatchEvent::Error(ApiError::from_json(&v))
                }
            })
        }))
    }
}

impl Api<k8s_openapi::api::core::v1::Pod> {
    /// pods/binding: assigns the pod to `node`.
    pub async fn bind(&self, name: &str, node: &str) -> Result<()> {
        use k8s_openapi::api::core::v1::{Binding, ObjectReference};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        let binding = Binding {
            metadata: ObjectMeta { name: Some(name.into()), namespace: self.namespace.clone(), ..Default::default() },
            target: ObjectReference { kind: Some("Node".into()), name: Some(node.into()), api_version: Some("v1".into()), ..Default::default() },
        };
        let req = BindRequest { target: Some(self.rref_sub(name, "binding")), binding: Some(raw(&binding)?), dry_run: false };
        self.client.throttled().await.bind(req).await?;
        Ok(())
    }

    /// pods/eviction: deletes the pod unless that would violate its
    /// PodDisruptionBudget (then an error with reason TooManyRequests: retry later).
    pub async fn evict(&self, name: &str, dp: &DeleteParams) -> Result<()> {
        let mut options = serde_json::json!({});
        if let Some(g) = dp.grace_period_seconds {
            options["gracePeriodSeconds"] = g.into();
        }
        if let Some(p) = &dp.propagation_policy {
            options["propagationPolicy"] = p.clone().into();
        }
        if let Some(uid) = &dp.precondition_uid {
            options["preconditions"]["uid"] = uid.clone().into();
        }
        if let Some(rv) = &dp.precondition_resource_version {
            options["preconditions"]["resourceVersion"] = rv.clone().into();
        }
        if dp.dry_run {
            options["dryRun"] = serde_json::json!(["All"]);
        }
        let eviction = serde_json::json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": self.namespace.clone()},
            "deleteOptions": options,
        });
        let req = proto::v1::EvictRequest { target: Some(self.rref_sub(name, "eviction")), eviction: Some(raw(&eviction)?) };
        self.client.throttled().await.evict(req).await?;
        Ok(())
    }
}

impl Api<k8s_openapi::api::core::v1::Namespace> {
    /// namespaces/<name>/finalize: replaces spec.finalizers (nothing else);
    /// a terminating namespace left with no finalizers is deleted.
    pub async fn finalize(&self, ns: &k8s_openapi::api::core::v1::Namespace) -> Result<k8s_openapi::api::core::v1::Namespace> {
        let name = name_of(ns)?;
        let req = UpdateRequest { target: Some(self.rref_sub(&name, "finalize")), object: Some(raw(ns)?), dry_run: false, field_manager: String::new() };
        decode(Some(self.client.throttled().await.update(req).await?.into_inner()))
    }
}

fn list_request(rref: ResourceRef, lp: &ListParams) -> ListRequest {
    ListRequest {
        target: Some(rref),
        label_selector: lp.label_selector.clone().unwrap_or_default(),
        field_selector: lp.field_selector.clone().unwrap_or_default(),
        limit: lp.limit.unwrap_or(0),
        r#continue: lp.continue_token.clone().unwrap_or_default(),
        resource_version: lp.resource_version.clone().unwrap_or_default(),
        resource_version_match: lp.resource_version_match.clone().unwrap_or_default(),
    }
}

fn delete_request(rref: ResourceRef, dp: &DeleteParams) -> DeleteRequest {
    let preconditions = (dp.precondition_uid.is_some() || dp.precondition_resource_version.is_some()).then(|| Preconditions {
        uid: dp.precondition_uid.clone(),
        resource_version: dp.precondition_resource_version.clone(),
    });
    DeleteRequest {
        target: Some(rref),
        grace_period_seconds: dp.grace_period_seconds,
        preconditions,
        propagation_policy: dp.propagation_policy.clone().unwrap_or_default(),
        dry_run: dp.dry_run,
    }
}

fn list_from<K: DeserializeOwned>(resp: ListResponse) -> Result<ObjectList<K>> {
    let items = resp.items.iter().map(|b| serde_json::from_slice(b)).collect::<Result<Vec<K>, _>>()?;
    Ok(ObjectList {
        items,
        resource_version: resp.resource_version,
        continue_token: (!resp.r#continue.is_empty()).then_some(resp.r#continue),
        remaining_item_count: resp.remaining_item_count,
    })
}
