//! The generic store (upstream's genericregistry.Store): every verb for
//! every kind, on etcd, with the kind's strategy and admission in between.
//! Both front doors (gRPC now, REST later) call this and nothing below it.

pub mod errors;
mod eviction;
mod finalize;
mod meta;
mod patch;
mod propagation;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use api::status::StatusError;
use serde_json::Value;

pub use meta::{prepare_create_meta, MAX_BODY};
pub use patch::PatchType;
pub use watch::{Event, EventType, WatchOptions, WatchStream};

use crate::admission::{self, services::ServiceRanges};
use crate::registry::{Kind, Kinds, ResourceInfo};
use api::selector::{FieldSelector, Selector};
use crate::storage::{key_for, prefix_for, Storage, StorageError};
use crate::watch_cache::WatchCache;
use errors::*;
use meta::*;

/// Retries of a write whose compare-and-swap lost a race it may retry.
const MAX_RETRIES: usize = 16;

/// What a request names, before it is resolved against the served kinds
/// (upstream's RequestInfo). Each front door fills it from its own wire.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestInfo<'a> {
    pub group: &'a str,
    /// "" = the version the kind is served at.
    pub version: &'a str,
    pub resource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub subresource: &'a str,
}

/// The subresources the store serves (a kind lists its own in
/// [`ResourceInfo::subresources`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    None,
    Status,
    Scale,
    Binding,
    Eviction,
    Finalize,
}

impl Subresource {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" => Subresource::None,
            "status" => Subresource::Status,
            "scale" => Subresource::Scale,
            "binding" => Subresource::Binding,
            "eviction" => Subresource::Eviction,
            "finalize" => Subresource::Finalize,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Subresource::None => "",
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Finalize => "finalize",
        }
    }
}

/// A resolved request target.
pub struct Target {
    pub kind: Arc<dyn Kind>,
    pub namespace: Option<String>,
    pub name: String,
    pub subresource: Subresource,
}

impl Target {
    pub fn info(&self) -> &ResourceInfo {
        self.kind.info()
    }
    /// The same object without the subresource.
    fn parent(&self) -> Target {
        Target { kind: self.kind.clone(), namespace: self.namespace.clone(), name: self.name.clone(), subresource: Subresource::None }
    }
    fn key(&self) -> String {
        key_for(self.info().plural, self.namespace.as_deref(), &self.name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label_selector: String,
    pub field_selector: String,
    pub limit: i64,
    pub continue_token: String,
    pub resource_version: String,
    pub resource_version_match: String,
}

pub struct ListResult {
    pub items: Vec<bytes::Bytes>,
    pub resource_version: i64,
    pub continue_token: String,
    pub remaining: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub propagation_policy: String,
    pub dry_run: bool,
}

pub struct Store {
    storage: Storage,
    cache: Arc<WatchCache>,
    kinds: Kinds,
    ranges: ServiceRanges,
}

impl Store {
    pub fn new(storage: Storage, cache: Arc<WatchCache>, ranges: ServiceRanges) -> Self {
        let kinds = cache.kinds().clone();
        Store { storage, cache, kinds, ranges }
    }

    pub fn kinds(&self) -> &Kinds {
        &self.kinds
    }
    pub fn cache(&self) -> &Arc<WatchCache> {
        &self.cache
    }
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
    pub fn ranges(&self) -> &ServiceRanges {
        &self.ranges
    }

    /// Resolves a request's resource; `needs_name` for verbs on one object.
    pub fn target(&self, r: RequestInfo<'_>, needs_name: bool) -> Result<Target, StatusError> {
        let kind = self
            .kinds
            .get(r.group, r.resource)
            .filter(|k| r.version.is_empty() || k.info().version == r.version)
            .ok_or_else(|| StatusError::new(api::Reason::NotFound, "the server could not find the requested resource"))?
            .clone();
        let info = kind.info();
        let subresource = Subresource::parse(r.subresource)
            .filter(|s| *s == Subresource::None || info.subresources.contains(&s.as_str()))
            .ok_or_else(|| StatusError::new(api::Reason::NotFound, "the server could not find the requested resource"))?;
        if needs_name && r.name.is_empty() {
            return Err(bad_request("resource name may not be empty"));
        }
        let namespace = info.namespaced.then(|| r.namespace.to_string()).filter(|n| !n.is_empty());
        if info.namespaced && needs_name && namespace.is_none() {
            return Err(bad_request("an empty namespace may not be set when a resource name is provided"));
        }
        Ok(Target { kind, namespace, name: r.name.to_string(), subresource })
    }

    // ---- create ----

    pub async fn create(&self, t: &Target, raw: &[u8], dry_run: bool) -> Result<Vec<u8>, StatusError> {
        let info = *t.info();
        if raw.len() > MAX_BODY {
            return Err(too_large(MAX_BODY));
        }
        if let Some(a) = t.kind.admit_create_raw(raw, t.namespace.as_deref(), &self.cache) {
            admission::namespace::admit_create(&self.cache, &self.storage, &info, &a.namespace, &a.name).await?;
            if dry_run {
                return stored_to_served(&a.bytes, 0);
            }
            let key = key_for(info.plural, Some(&a.namespace), &a.name);
            return match self.storage.create(&key, a.bytes.clone(), &[]).await {
                Ok(rev) => stored_to_served(&a.bytes, rev),
                Err(StorageError::AlreadyExists) => Err(already_exists(&info, &a.name)),
                Err(e) => Err(storage(e)),
            };
        }
        let mut v = parse_body(raw, &info)?;
        prepare_create(&mut v, &info, t.namespace.as_deref())?;
        let mut v = t.kind.admit_create(v)?;
        admission::admit_create(&self.cache, &self.storage, &info, &mut v).await?;
        let name = name_of(&v);
        let ns = meta_str(&v, "namespace").unwrap_or_default().to_string();
        let key = key_for(info.plural, Some(&ns), &name);
        let allocates = t.kind.allocates();
        let mut avoid = std::collections::BTreeSet::new();
        // Random picks (a Service's ClusterIP, NodePorts) may collide with concurrent creates the cache has not seen yet.
        for _ in 0..MAX_RETRIES * 4 {
            // Only a kind that allocates changes between attempts.
            let claimed;
            let (obj, alloc) = if allocates {
                let mut o = v.clone();
                let alloc = t.kind.allocate(self, &mut o, None, &avoid)?;
                claimed = o;
                (&claimed, alloc)
            } else {
                (&v, Default::default())
            };
            if dry_run {
                return Ok(to_served(obj.clone(), 0));
            }
            let stored = to_stored(obj);
            match self.storage.create(&key, stored.clone(), &alloc.side).await {
                Ok(rev) => return stored_to_served(&stored, rev),
                Err(StorageError::AlreadyExists) => return Err(already_exists(&info, &name)),
                Err(StorageError::SideKeyExists(k)) if !alloc.random.contains(&k) => return Err(t.kind.side_key_taken(obj, &k)),
                // A random pick was taken meanwhile: pick again, avoiding it.
                Err(StorageError::SideKeyExists(k)) => {
                    avoid.insert(k);
                }
                Err(e) => return Err(storage(e)),
            }
        }
        Err(internal("could not allocate after retries"))
    }

    // ---- read ----

    pub async fn get(&self, t: &Target) -> Result<Vec<u8>, StatusError> {
        let cur = self.read(t).await?;
        let served = stored_to_served(&cur.value, cur.mod_revision)?;
        if t.subresource == Subresource::Scale {
            return Ok(scale_bytes(&served));
        }
        Ok(served)
    }

    /// Sets spec.replicas through the scale subresource (`scale` is an
    /// autoscaling/v1 Scale; its resourceVersion, if set, must be current).
    async fn update_scale(&self, t: &Target, scale: &Value, dry_run: bool) -> Result<Vec<u8>, StatusError> {
        let info = *t.info();
        let wanted_rv = meta_str(scale, "resourceVersion").map(str::to_string);
        let parent = t.parent();
        for attempt in 0..MAX_RETRIES {
            let (cur, fresh) = self.read_for_write(&parent, attempt).await?;
            if wanted_rv.as_ref().is_some_and(|rv| rv != &cur.mod_revision.to_string()) {
                if !fresh {
                    continue;
                }
                return Err(conflict(&info, &t.name, MODIFIED));
            }
            let mut obj: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
            crate::registry::scale::apply_scale(&mut obj, scale)?;
            match self.write_update(&parent, obj, &cur, false, dry_run).await {
                Err(e) if e.reason() == api::Reason::Conflict && (wanted_rv.is_none() || !fresh) => continue,
                Ok(bytes) => return Ok(scale_bytes(&bytes)),
                Err(e) => return Err(e),
            }
        }
        Err(conflict(&info, &t.name, MODIFIED))
    }

    /// The state a write starts from. The first attempt takes the watch
    /// cache's copy (no etcd round trip; the write's compare-and-swap on its
    /// revision catches a stale copy), later attempts read etcd, as upstream's
    /// GuaranteedUpdate does. The second value says whether it came from etcd.
    async fn read_for_write(&self, t: &Target, attempt: usize) -> Result<(crate::storage::Stored, bool), StatusError> {
        let key = t.key();
        if attempt == 0 {
            if let Some(o) = self.cache.get(&key) {
                // Served bytes carry a resourceVersion; writes strip it.
                let s = crate::storage::Stored { key, value: o.raw.to_vec(), mod_revision: o.revision, create_revision: 0 };
                return Ok((s, false));
            }
        }
        Ok((self.read(t).await?, true))
    }

    async fn read(&self, t: &Target) -> Result<crate::storage::Stored, StatusError> {
        match self.storage.get(&t.key()).await {
            Ok(s) => Ok(s),
            Err(StorageError::NotFound) => Err(not_found(t.info(), &t.name)),
            Err(e) => Err(storage(e)),
        }
    }

    /// Parses the list/watch selectors; a field the kind cannot select on is
    /// refused as upstream: "field label not supported: <field>".
    fn selectors(&self, t: &Target, label: &str, field: &str) -> Result<(Selector, FieldSelector), StatusError> {
        let supported = t.kind.selectable_fields();
        let fs = FieldSelector::parse(field).map_err(|e| bad_request(e.to_string()))?;
        for term in fs.terms() {
            let f = term.field.as_str();
            if !(f == "metadata.name" || f == "metadata.namespace" || supported.iter().any(|s| s == f)) {
                return Err(bad_request(format!("field label not supported: {f}"))
                    .with_details(api::status::StatusDetails { kind: t.info().kind.into(), ..Default::default() }));
            }
        }
        let ls = Selector::parse(label).map_err(|e| bad_request(e.to_string()))?;
        Ok((ls, fs))
    }

    pub async fn list(&self, t: &Target, o: &ListOptions) -> Result<ListResult, StatusError> {
        let (ls, fs) = self.selectors(t, &o.label_selector, &o.field_selector)?;
        let prefix = prefix_for(t.info().plural, t.namespace.as_deref());
        let exact = o.resource_version_match == "Exact";
        if o.limit > 0 || !o.continue_token.is_empty() || exact {
            return self.list_from_etcd(&prefix, o, &ls, &fs).await;
        }
        // Served from the watch cache, once it is at least as fresh as asked.
        let min_rev = match o.resource_version.as_str() {
            "" => self.storage.current_revision().await.map_err(storage)?,
            "0" => 0,
            rv => rv.parse().map_err(|_| bad_request(format!("invalid resourceVersion {rv:?}")))?,
        };
        if min_rev > 0 && !self.cache.wait_for(min_rev, Duration::from_secs(3)).await {
            return Err(StatusError::new(api::Reason::Timeout, format!("Too large resource version: {min_rev}, current: {}", self.cache.current_revision())));
        }
        let (objs, rev) = self.cache.list(&prefix);
        let items = objs
            .iter()
            .filter(|o| ls.matches(&o.labels) && fs.matches(&o.fields))
            .map(|o| o.raw.clone())
            .collect();
        Ok(ListResult { items, resource_version: rev, continue_token: String::new(), remaining: None })
    }

    async fn list_from_etcd(&self, prefix: &str, o: &ListOptions, ls: &Selector, fs: &FieldSelector) -> Result<ListResult, StatusError> {
        let (mut revision, mut start) = if o.continue_token.is_empty() {
            let rev = match o.resource_version.as_str() {
                "" | "0" => 0,
                rv => rv.parse().map_err(|_| bad_request(format!("invalid resourceVersion {rv:?}")))?,
            };
            (rev, None)
        } else {
            let (rev, key) = decode_continue(&o.continue_token)?;
            (rev, Some(key))
        };
        let limit = if o.limit > 0 { o.limit } else { i64::MAX };
        let mut items = Vec::new();
        loop {
            let want = (limit - items.len() as i64).min(10_000).max(1);
            let page = match self.storage.list(prefix, start.as_deref(), revision, want).await {
                Ok(p) => p,
                Err(StorageError::Compacted { .. }) if !o.continue_token.is_empty() => {
                    return Err(StatusError::new(api::Reason::Expired, "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."))
                }
                Err(e) => return Err(storage(e)),
            };
            if revision == 0 {
                revision = page.revision;
            }
            let last = page.items.last().map(|s| s.key.clone());
            for s in page.items {
                let Some(obj) = crate::watch_cache::decorate(&self.kinds, &s.key, &s.value, s.mod_revision) else { continue };
                if ls.matches(&obj.labels) && fs.matches(&obj.fields) {
                    items.push(obj.raw);
                }
            }
            let next = last.map(|k| format!("{k}\u{0}"));
            if !page.more || (items.len() as i64) >= limit {
                let cont = if page.more { next.map(|k| encode_continue(revision, &k)).unwrap_or_default() } else { String::new() };
                let remaining = page.more.then(|| (page.count - want).max(0));
                return Ok(ListResult { items, resource_version: revision, continue_token: cont, remaining });
            }
            start = next;
        }
    }

    // ---- update ----

    /// Replaces an object (`status` = the status subresource).
    pub async fn update(&self, t: &Target, raw: &[u8], status: bool, dry_run: bool) -> Result<Vec<u8>, StatusError> {
        let info = *t.info();
        if t.subresource == Subresource::Scale {
            let scale: Value = serde_json::from_slice(raw).map_err(|e| bad_request(format!("json parse error: {e}")))?;
            return self.update_scale(t, &scale, dry_run).await;
        }
        if t.subresource == Subresource::Finalize {
            return self.finalize_namespace(t, raw, dry_run).await;
        }
        let new = parse_body(raw, &info)?;
        let body_name = name_of(&new);
        if !body_name.is_empty() && body_name != t.name {
            return Err(bad_request(format!("the name of the object ({body_name}) does not match the name on the URL ({})", t.name)));
        }
        let wanted_rv = meta_str(&new, "resourceVersion").map(str::to_string);
        for attempt in 0..MAX_RETRIES {
            let (cur, fresh) = self.read_for_write(t, attempt).await?;
            if let Some(rv) = &wanted_rv {
                if rv != &cur.mod_revision.to_string() {
                    if !fresh {
                        continue;
                    }
                    return Err(conflict(&info, &t.name, MODIFIED));
                }
            }
            match self.write_update(t, new.clone(), &cur, status, dry_run).await {
                Err(e) if e.reason() == api::Reason::Conflict && (wanted_rv.is_none() || !fresh) && e.message.ends_with(MODIFIED) => continue,
                other => return other,
            }
        }
        Err(conflict(&info, &t.name, MODIFIED))
    }

    /// One compare-and-swap attempt of an update against `cur`.
    async fn write_update(&self, t: &Target, mut new: Value, cur: &crate::storage::Stored, status: bool, dry_run: bool) -> Result<Vec<u8>, StatusError> {
        let info = *t.info();
        let old: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
        let mut obj = if status {
            // Only the status changes; spec and metadata stay as stored.
            let mut merged = old.clone();
            merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if merged["status"].is_null() {
                merged.as_object_mut().map(|o| o.remove("status"));
            }
            t.kind.admit_status_update(merged, &old)?
        } else {
            {
                let m = meta_mut(&mut new);
                m.insert("name".into(), t.name.clone().into());
                match &t.namespace {
                    Some(ns) => m.insert("namespace".into(), ns.clone().into()),
                    None => m.remove("namespace"),
                };
            }
            keep_server_fields(&mut new, &old);
            if info.has_status() {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|o| o.remove("status"));
                    }
                }
            }
            let mut obj = t.kind.admit_update(new, &old)?;
            admission::admit_update(&self.cache, &self.storage, &info, &obj).await?;
            if info.tracks_generation {
                let g = meta(&old).get("generation").and_then(|g| g.as_i64()).unwrap_or(1);
                let g = if spec_changed(&obj, &old) { g + 1 } else { g };
                meta_mut(&mut obj).insert("generation".into(), g.into());
            }
            obj
        };
        meta_mut(&mut obj).remove("resourceVersion");
        let key = t.key();
        // A deleted object whose last finalizer is gone is removed now.
        let grace_done = meta(&old).get("deletionGracePeriodSeconds").and_then(|g| g.as_i64()) == Some(0);
        if meta(&old).contains_key("deletionTimestamp") && grace_done && finalizers(&obj).is_empty() && !t.kind.finalizing(&obj) {
            if dry_run {
                return Ok(to_served(obj, cur.mod_revision));
            }
            let side = t.kind.release(&old);
            return match self.storage.delete(&key, cur.mod_revision, &side).await {
                Ok(rev) => Ok(to_served(obj, rev)),
                Err(StorageError::Conflict) => Err(conflict(&info, &t.name, MODIFIED)),
                Err(StorageError::NotFound) => Err(not_found(&info, &t.name)),
                Err(e) => Err(storage(e)),
            };
        }
        let mut side = Vec::new();
        if !status && t.kind.allocates() {
            side = t.kind.allocate(self, &mut obj, Some(&old), &Default::default())?.side;
        }
        if equal_but_resource_version(&obj, &old) {
            // Nothing changed: no write, as upstream.
            return Ok(to_served(obj, cur.mod_revision));
        }
        if dry_run {
            return Ok(to_served(obj, cur.mod_revision));
        }
        match self.storage.update(&key, to_stored(&obj), cur.mod_revision, &side).await {
            Ok(rev) => Ok(to_served(obj, rev)),
            Err(StorageError::Conflict) => Err(conflict(&info, &t.name, MODIFIED)),
            Err(StorageError::NotFound) => Err(not_found(&info, &t.name)),
            Err(StorageError::SideKeyExists(k)) => Err(t.kind.side_key_taken(&obj, &k)),
            Err(e) => Err(storage(e)),
        }
    }

    pub async fn patch(&self, t: &Target, ty: PatchType, patch: &[u8], dry_run: bool) -> Result<Vec<u8>, StatusError> {
        let info = *t.info();
        if patch.len() > MAX_BODY {
            return Err(too_large(MAX_BODY));
        }
        let status = t.subresource == Subresource::Status;
        if t.subresource == Subresource::Scale {
            let current: Value = serde_json::from_slice(&self.get(t).await?).map_err(internal)?;
            let read_rv = meta_str(&current, "resourceVersion").map(str::to_string);
            let mut scale = patch::apply(ty, current, patch)?;
            // A patch that did not pin the resourceVersion applies to whatever is current.
            if meta_str(&scale, "resourceVersion").map(str::to_string) == read_rv {
                meta_mut(&mut scale).remove("resourceVersion");
            }
            return self.update_scale(t, &scale, dry_run).await;
        }
        for attempt in 0..MAX_RETRIES {
            let (cur, fresh) = self.read_for_write(t, attempt).await?;
            let old: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
            let served = crate::watch_cache::with_resource_version(old, cur.mod_revision);
            let patched = patch::apply(ty, served, patch)?;
            let pinned = meta_str(&patched, "resourceVersion").is_some_and(|rv| rv != cur.mod_revision.to_string());
            if pinned {
                if !fresh {
                    continue;
                }
                return Err(conflict(&info, &t.name, MODIFIED));
            }
            match self.write_update(t, patched, &cur, status, dry_run).await {
                Err(e) if e.reason() == api::Reason::Conflict && e.message.ends_with(MODIFIED) => continue,
                other => return other,
            }
        }
        Err(conflict(&info, &t.name, MODIFIED))
    }

    // ---- delete ----

    /// Deletes or starts deleting. Returns the object and whether it is gone.
    pub async fn delete(&self, t: &Target, o: &DeleteOptions) -> Result<(Vec<u8>, bool), StatusError> {
        let info = *t.info();
        admission::admit_delete(&info, &t.name)?;
        propagation::validate_policy(&o.propagation_policy)?;
        for attempt in 0..MAX_RETRIES {
            let (cur, fresh) = self.read_for_write(t, attempt).await?;
            let mut obj: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
            // A failed precondition is only final against etcd's copy.
            if let Some(uid) = &o.precondition_uid {
                let have = meta_str(&obj, "uid").unwrap_or_default();
                if uid != have && !fresh {
                    continue;
                }
                if uid != have {
                    return Err(conflict(&info, &t.name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}")));
                }
            }
            if let Some(rv) = &o.precondition_resource_version {
                if rv != &cur.mod_revision.to_string() && !fresh {
                    continue;
                }
                if rv != &cur.mod_revision.to_string() {
                    return Err(conflict(&info, &t.name, &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in meta: {}",
                        cur.mod_revision
                    )));
                }
            }
            let pending = pending_deletion(&*t.kind, &mut obj, o);
            let result = if let Some(changed) = pending {
                if !changed || o.dry_run {
                    return Ok((to_served(obj, cur.mod_revision), false));
                }
                self.storage.update(&t.key(), to_stored(&obj), cur.mod_revision, &[]).await.map(|rev| (rev, false))
            } else {
                if o.dry_run {
                    return Ok((to_served(obj, cur.mod_revision), true));
                }
                let side = t.kind.release(&obj);
                self.storage.delete(&t.key(), cur.mod_revision, &side).await.map(|rev| (rev, true))
            };
            match result {
                Ok((rev, gone)) => return Ok((to_served(obj, rev), gone)),
                Err(StorageError::Conflict) => continue,
                Err(StorageError::NotFound) => return Err(not_found(&info, &t.name)),
                Err(e) => return Err(storage(e)),
            }
        }
        Err(conflict(&info, &t.name, MODIFIED))
    }

    pub async fn delete_collection(&self, t: &Target, lo: &ListOptions, o: &DeleteOptions) -> Result<ListResult, StatusError> {
        let listed = self.list(t, lo).await?;
        let mut deleted = Vec::new();
        for raw in listed.items {
            let v: Value = serde_json::from_slice(&raw).map_err(internal)?;
            let one = Target {
                kind: t.kind.clone(),
                namespace: meta_str(&v, "namespace").map(str::to_string),
                name: name_of(&v),
                subresource: Subresource::None,
            };
            match self.delete(&one, o).await {
                Ok((b, _)) => deleted.push(bytes::Bytes::from(b)),
                Err(e) if e.reason() == api::Reason::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ListResult { items: deleted, resource_version: listed.resource_version, continue_token: String::new(), remaining: None })
    }

    // ---- pods/binding ----

    pub async fn bind(&self, t: &Target, binding: &[u8]) -> Result<(), StatusError> {
        let b: Value = serde_json::from_slice(binding).map_err(|e| bad_request(format!("decoding Binding: {e}")))?;
        let node = b.pointer("/target/name").and_then(|n| n.as_str()).unwrap_or_default().to_string();
        let kind = b.pointer("/target/kind").and_then(|n| n.as_str()).unwrap_or("Node");
        if node.is_empty() || (kind != "Node" && !kind.is_empty()) {
            return Err(crate::registry::invalid(t.info(), &t.name, vec![crate::registry::FieldError::not_found(
                &crate::registry::Path::new("target").child("name"),
                &node,
            )]));
        }
        let pods = t.parent();
        let binding_info = ResourceInfo { plural: "pods/binding", ..*t.info() };
        for attempt in 0..MAX_RETRIES {
            let (cur, _) = self.read_for_write(&pods, attempt).await?;
            let mut pod: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
            if meta(&pod).contains_key("deletionTimestamp") {
                return Err(conflict(&binding_info, &t.name, &format!("pod {} is being deleted, cannot be assigned to a host", t.name)));
            }
            if let Some(n) = pod.pointer("/spec/nodeName").and_then(|n| n.as_str()).filter(|n| !n.is_empty()) {
                return Err(conflict(&binding_info, &t.name, &format!("pod {} is already assigned to node {n:?}", t.name)));
            }
            pod["spec"]["nodeName"] = node.clone().into();
            set_condition(&mut pod, "PodScheduled", "True");
            match self.storage.update(&pods.key(), to_stored(&pod), cur.mod_revision, &[]).await {
                Ok(_) => return Ok(()),
                Err(StorageError::Conflict) => continue,
                Err(StorageError::NotFound) => return Err(not_found(t.info(), &t.name)),
                Err(e) => return Err(storage(e)),
            }
        }
        Err(conflict(&binding_info, &t.name, MODIFIED))
    }

    // ---- watch ----

    pub async fn watch(&self, t: &Target, o: WatchOptions) -> Result<WatchStream, StatusError> {
        let (ls, fs) = self.selectors(t, &o.label_selector, &o.field_selector)?;
        watch::start(self, t, o, ls, fs).await
    }
}

/// The general create path's parsing and metadata handling, for tests that
/// compare it with the raw path.
#[cfg(test)]
pub fn testing_parse(raw: &[u8], info: &ResourceInfo, namespace: Option<&str>) -> Result<Value, StatusError> {
    let mut v = parse_body(raw, info)?;
    prepare_create(&mut v, info, namespace)?;
    Ok(v)
}

/// Graceful deletion and finalizers: returns Some(changed) when the
/// object must stay (marked for deletion), None when it can go now.
fn pending_deletion(kind: &dyn Kind, obj: &mut Value, o: &DeleteOptions) -> Option<bool> {
    let before = obj.clone();
    // Orphan/Foreground propagation is carried out by the garbage collector through finalizers.
    propagation::apply_policy(kind.orphans_dependents(), obj, &o.propagation_policy);
    // Graceful termination (pods, confirmed by the kubelet with grace 0).
    let grace = kind.graceful_delete(obj, o.grace_period_seconds);
    if grace > 0 {
        // A second delete may shorten the grace period, never extend it.
        let current = meta(obj).get("deletionGracePeriodSeconds").and_then(|g| g.as_i64());
        if current.is_some_and(|c| c <= grace) {
            return Some(*obj != before);
        }
        let ts = (chrono::Utc::now() + chrono::Duration::seconds(grace)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let m = meta_mut(obj);
        m.insert("deletionTimestamp".into(), ts.into());
        m.insert("deletionGracePeriodSeconds".into(), grace.into());
        return Some(true);
    }
    // The kind's own finalization (a namespace's content, removed by the
    // namespace controller, which then clears spec.finalizers).
    let finalizing = kind.finalize_on_delete(obj);
    if finalizers(obj).is_empty() && !finalizing {
        return None;
    }
    let m = meta_mut(obj);
    if !m.contains_key("deletionTimestamp") {
        m.insert("deletionTimestamp".into(), now().into());
    }
    m.insert("deletionGracePeriodSeconds".into(), 0.into());
    Some(*obj != before)
}

/// Whether two objects differ in nothing but metadata.resourceVersion.
fn equal_but_resource_version(a: &Value, b: &Value) -> bool {
    /// Maps equal apart from the member `skip`, and `nested` compared by `eq`.
    fn same(a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>, skip: &str, nested: Option<&str>) -> bool {
        let len = |o: &serde_json::Map<String, Value>| o.len() - usize::from(o.contains_key(skip));
        len(a) == len(b)
            && a.iter().filter(|(k, _)| *k != skip).all(|(k, v)| match (nested, b.get(k)) {
                (Some(n), Some(w)) if k == n => match (v.as_object(), w.as_object()) {
                    (Some(x), Some(y)) => same(x, y, "resourceVersion", None),
                    _ => v == w,
                },
                (_, w) => w == Some(v),
            })
    }
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => same(x, y, "", Some("metadata")),
        _ => a == b,
    }
}

/// The Scale of a served object.
fn scale_bytes(served: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(served).unwrap_or_default();
    serde_json::to_vec(&crate::registry::scale::scale_of(&v)).expect("serializes")
}

fn set_condition(pod: &mut Value, ty: &str, status: &str) {
    let conds = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut conds: Vec<Value> = conds.into_iter().filter(|c| c.get("type").and_then(|t| t.as_str()) != Some(ty)).collect();
    conds.push(serde_json::json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": now()}));
    pod["status"]["conditions"] = conds.into();
}

fn encode_continue(rev: i64, key: &str) -> String {
    use base64::Engine;
    let v = serde_json::json!({"v": "meta.k8s.io/v1", "rv": rev, "start": key});
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String), StatusError> {
    use base64::Engine;
    let bad = || bad_request("continue key is not valid: illegal base64 data or JSON");
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rev = v.get("rv").and_then(|r| r.as_i64()).ok_or_else(bad)?;
    let start = v.get("start").and_then(|s| s.as_str()).ok_or_else(bad)?;
    Ok((rev, start.to_string()))
}
