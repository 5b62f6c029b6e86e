//! The gRPC front door: decodes requests, calls the store, encodes replies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api::status::StatusError;
use futures::StreamExt;
use proto::v1::api_server::Api;
use proto::v1::*;
use tonic::{Request, Response, Status};

use crate::metrics::Metrics;
use crate::store::{self, Store, Target};

pub mod streaming;

pub struct ApiService {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    version: String,
}

impl ApiService {
    pub fn new(store: Arc<Store>, metrics: Arc<Metrics>, version: String) -> Self {
        ApiService { store, metrics, version }
    }

    fn target(&self, r: Option<&ResourceRef>, needs_name: bool) -> Result<Target, StatusError> {
        let r = r.ok_or_else(|| store::errors::bad_request("target is required"))?;
        self.store.target(request_info(r), needs_name)
    }

    /// The target with the subresource an RPC of its own implies.
    fn sub_target(&self, r: Option<&ResourceRef>, subresource: &str) -> Result<Target, StatusError> {
        let r = r.ok_or_else(|| store::errors::bad_request("target is required"))?;
        self.store.target(store::RequestInfo { subresource, ..request_info(r) }, true)
    }

    /// Runs one call, recording its metrics and mapping errors to gRPC.
    async fn call<T, F>(&self, verb: &str, r: Option<&ResourceRef>, f: F) -> Result<Response<T>, Status>
    where
        F: std::future::Future<Output = Result<T, StatusError>>,
    {
        let start = Instant::now();
        let res = f.await;
        let resource = r.map(|r| if r.subresource.is_empty() { r.resource.clone() } else { format!("{}/{}", r.resource, r.subresource) });
        let code = match &res {
            Ok(_) => "200".to_string(),
            Err(e) => e.code.to_string(),
        };
        self.metrics.observe(verb, resource.as_deref().unwrap_or(""), &code, start.elapsed());
        match res {
            Ok(v) => Ok(Response::new(v)),
            Err(e) => {
                tracing::debug!(verb, resource, reason = %e.reason, message = %e.message, "request failed");
                Err(status(e))
            }
        }
    }
}

fn request_info(r: &ResourceRef) -> store::RequestInfo<'_> {
    store::RequestInfo {
        group: &r.group,
        version: &r.version,
        resource: &r.resource,
        namespace: &r.namespace,
        name: &r.name,
        subresource: &r.subresource,
    }
}

/// The store's error as the wire's Status, in the gRPC status details
/// (encoded as the client decodes it).
pub fn status(e: StatusError) -> Status {
    let details = e.details.map(|d| StatusDetails {
        name: d.name,
        group: d.group,
        kind: d.kind,
        uid: d.uid,
        causes: d.causes.into_iter().map(|c| StatusCause { reason: c.reason, message: c.message, field: c.field }).collect(),
        retry_after_seconds: d.retry_after_seconds,
    });
    let wire = proto::v1::Status { code: e.code, reason: e.reason.as_str().into(), message: e.message, details };
    client::ApiError(wire).into()
}

fn raw(bytes: Vec<u8>) -> RawObject {
    RawObject { raw: bytes, content_type: proto::JSON.into() }
}

fn body(o: Option<&RawObject>) -> Result<&[u8], StatusError> {
    let o = o.ok_or_else(|| store::errors::bad_request("object is required"))?;
    if !o.content_type.is_empty() && o.content_type != proto::JSON {
        return Err(StatusError::new(api::Reason::UnsupportedMediaType, format!("the body content type {:?} is not supported", o.content_type)));
    }
    Ok(&o.raw)
}

fn list_response(t: &Target, r: store::ListResult) -> ListResponse {
    ListResponse {
        kind: format!("{}List", t.info().kind),
        api_version: t.info().api_version(),
        resource_version: r.resource_version.to_string(),
        r#continue: r.continue_token,
        remaining_item_count: r.remaining,
        items: r.items.into_iter().map(|b| b.to_vec()).collect(),
        content_type: proto::JSON.into(),
    }
}

fn delete_options(d: &DeleteRequest) -> store::DeleteOptions {
    store::DeleteOptions {
        grace_period_seconds: d.grace_period_seconds,
        precondition_uid: d.preconditions.as_ref().and_then(|p| p.uid.clone()),
        precondition_resource_version: d.preconditions.as_ref().and_then(|p| p.resource_version.clone()),
        propagation_policy: d.propagation_policy.clone(),
        dry_run: d.dry_run,
    }
}

type WatchResult = std::pin::Pin<Box<dyn futures::Stream<Item = Result<WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Api for ApiService {
    async fn create(&self, req: Request<CreateRequest>) -> Result<Response<RawObject>, Status> {
        let req = req.into_inner();
        self.call("create", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), false)?;
            Ok(raw(self.store.create(&t, body(req.object.as_ref())?, req.dry_run).await?))
        })
        .await
    }

    async fn get(&self, req: Request<GetRequest>) -> Result<Response<RawObject>, Status> {
        let req = req.into_inner();
        self.call("get", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), true)?;
            Ok(raw(self.store.get(&t).await?))
        })
        .await
    }

    async fn list(&self, req: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        let req = req.into_inner();
        self.call("list", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), false)?;
            let o = store::ListOptions {
                label_selector: req.label_selector.clone(),
                field_selector: req.field_selector.clone(),
                limit: req.limit,
                continue_token: req.r#continue.clone(),
                resource_version: req.resource_version.clone(),
                resource_version_match: req.resource_version_match.clone(),
            };
            let r = self.store.list(&t, &o).await?;
            Ok(list_response(&t, r))
        })
        .await
    }

    async fn update(&self, req: Request<UpdateRequest>) -> Result<Response<RawObject>, Status> {
        let req = req.into_inner();
        self.call("update", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), true)?;
            let status = t.subresource == store::Subresource::Status;
            Ok(raw(self.store.update(&t, body(req.object.as_ref())?, status, req.dry_run).await?))
        })
        .await
    }

    async fn update_status(&self, req: Request<UpdateRequest>) -> Result<Response<RawObject>, Status> {
        let req = req.into_inner();
        self.call("update", req.target.as_ref(), async {
            let t = self.sub_target(req.target.as_ref(), "status")?;
            Ok(raw(self.store.update(&t, body(req.object.as_ref())?, true, req.dry_run).await?))
        })
        .await
    }

    async fn patch(&self, req: Request<PatchRequest>) -> Result<Response<RawObject>, Status> {
        let req = req.into_inner();
        self.call("patch", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), true)?;
            let ty = match PatchType::try_from(req.patch_type).unwrap_or(PatchType::Unspecified) {
                PatchType::JsonPatch => store::PatchType::JsonPatch,
                PatchType::MergePatch => store::PatchType::MergePatch,
                PatchType::StrategicMergePatch => store::PatchType::StrategicMergePatch,
                PatchType::ApplyPatch => store::PatchType::ApplyPatch,
                PatchType::Unspecified => return Err(store::errors::bad_request("patch type is required")),
            };
            Ok(raw(self.store.patch(&t, ty, &req.patch, req.dry_run).await?))
        })
        .await
    }

    async fn delete(&self, req: Request<DeleteRequest>) -> Result<Response<DeleteResponse>, Status> {
        let req = req.into_inner();
        self.call("delete", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), true)?;
            let (obj, deleted) = self.store.delete(&t, &delete_options(&req)).await?;
            Ok(DeleteResponse { object: Some(raw(obj)), deleted })
        })
        .await
    }

    async fn delete_collection(&self, req: Request<DeleteCollectionRequest>) -> Result<Response<DeleteCollectionResponse>, Status> {
        let req = req.into_inner();
        self.call("deletecollection", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), false)?;
            let lo = store::ListOptions {
                label_selector: req.label_selector.clone(),
                field_selector: req.field_selector.clone(),
                ..Default::default()
            };
            let o = req.options.as_ref().map(delete_options).unwrap_or_default();
            let r = self.store.delete_collection(&t, &lo, &o).await?;
            Ok(DeleteCollectionResponse { deleted: Some(list_response(&t, r)) })
        })
        .await
    }

    type WatchStream = WatchResult;

    async fn watch(&self, req: Request<WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let req = req.into_inner();
        let resource = req.target.as_ref().map(|r| r.resource.clone()).unwrap_or_default();
        let metrics = self.metrics.clone();
        self.call("watch", req.target.as_ref(), async {
            let t = self.target(req.target.as_ref(), false)?;
            let o = store::WatchOptions {
                label_selector: req.label_selector.clone(),
                field_selector: req.field_selector.clone(),
                resource_version: req.resource_version.clone(),
                allow_bookmarks: req.allow_bookmarks,
                timeout: (req.timeout_seconds > 0).then(|| Duration::from_secs(req.timeout_seconds as u64)),
            };
            let stream = self.store.watch(&t, o).await?;
            metrics.watchers(&resource, 1);
            let guard = WatcherGauge { metrics, resource };
            let out = stream.map(move |e| {
                let _keep = &guard;
                Ok(WatchEvent { r#type: event_type(e.kind) as i32, object: Some(RawObject { raw: e.raw.to_vec(), content_type: proto::JSON.into() }) })
            });
            Ok(Box::pin(out) as WatchResult)
        })
        .await
    }

    async fn bind(&self, req: Request<BindRequest>) -> Result<Response<BindResponse>, Status> {
        let req = req.into_inner();
        self.call("create", req.target.as_ref(), async {
            let t = self.sub_target(req.target.as_ref(), "binding")?;
            if !req.dry_run {
                self.store.bind(&t, body(req.binding.as_ref())?).await?;
            }
            Ok(BindResponse {})
        })
        .await
    }

    async fn evict(&self, req: Request<EvictRequest>) -> Result<Response<EvictResponse>, Status> {
        let req = req.into_inner();
        self.call("create", req.target.as_ref(), async {
            let t = self.sub_target(req.target.as_ref(), "eviction")?;
            self.store.evict(&t, body(req.eviction.as_ref())?).await?;
            Ok(EvictResponse {})
        })
        .await
    }

    async fn discovery(&self, _req: Request<DiscoveryRequest>) -> Result<Response<DiscoveryResponse>, Status> {
        let resources = self
            .store
            .kinds()
            .all()
            .map(|k| {
                let i = k.info();
                let mut verbs: Vec<String> =
                    ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].iter().map(|s| s.to_string()).collect();
                verbs.sort();
                ApiResource {
                    group: i.group.into(),
                    version: i.version.into(),
                    name: i.plural.into(),
                    singular_name: i.singular.into(),
                    kind: i.kind.into(),
                    namespaced: i.namespaced,
                    short_names: i.short_names.iter().map(|s| s.to_string()).collect(),
                    verbs,
                    categories: i.categories.iter().map(|s| s.to_string()).collect(),
                    subresources: i.subresources.iter().map(|s| s.to_string()).collect(),
                }
            })
            .collect();
        Ok(Response::new(DiscoveryResponse { resources, server_version: self.version.clone() }))
    }
}

fn event_type(k: store::EventType) -> EventType {
    match k {
        store::EventType::Added => EventType::Added,
        store::EventType::Modified => EventType::Modified,
        store::EventType::Deleted => EventType::Deleted,
        store::EventType::Bookmark => EventType::Bookmark,
        store::EventType::Error => EventType::Error,
    }
}

/// Counts an open watch until its stream is dropped.
struct WatcherGauge {
    metrics: Arc<Metrics>,
    resource: String,
}

impl Drop for WatcherGauge {
    fn drop(&mut self) {
        self.metrics.watchers(&self.resource, -1);
    }
}
