//! Per-kind behaviour: one strategy per resource (upstream's `rest.RESTCreateStrategy`
//! and friends), and the table of every kind the server serves.
//!
//! A [`Strategy`] works on the typed k8s-openapi object: defaulting, create-time
//! resets, validation, immutable fields, selectable fields. Generic object
//! handling that is the same for every kind (metadata, uid, generateName,
//! generation, the spec/status split, deletion) lives in `crate::store`.

pub mod field;
pub mod core;
pub mod apps;
pub mod batch;
pub mod coordination;
pub mod discovery;
pub mod policy;
pub mod scheduling;
pub mod storage;
pub mod scale;
pub mod workload;
pub mod pod_template;
pub mod kinds;
mod strict;
pub mod validation;

use std::collections::{BTreeMap, BTreeSet};

use api::status::StatusError;
use serde_json::Value;

use crate::admission::services::Allocation;
use crate::storage::SideOp;
use crate::store::Store;

pub use field::{ErrorList, FieldError, Path};
pub use kinds::Kinds;

/// How `metadata.name` of a kind is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Subdomain,
    /// RFC 1123 label (Namespace, Service).
    Label,
    /// RFC 1035 label (Service: must start with a letter).
    Rfc1035Label,
    /// Any path segment name (Node, Event, ...: no "/" or "%", not "." or "..").
    PathSegment,
}

/// What discovery says about a kind, and how the generic store treats it.
#[derive(Debug, Clone, Copy)]
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Subresources served: "status", "scale", "binding".
    pub subresources: &'static [&'static str],
    pub name_rule: NameRule,
    /// Whether `metadata.generation` is set on create and bumped on spec changes.
    pub tracks_generation: bool,
}

impl ResourceInfo {
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }
    /// "apps/v1" or "v1".
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// "deployments.apps" or "pods": how upstream names the resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// Fields a field selector can match on, beyond metadata.name/namespace.
pub type Fields = BTreeMap<String, String>;

/// Upstream's per-kind strategy, on the typed object.
pub trait Strategy: Send + Sync + 'static {
    type Object: api::Resource + Default;

    const INFO: ResourceInfo;

    /// Whether create admission may decode the request bytes straight into
    /// the typed object, skipping the JSON value the general path builds
    /// (about a fifth of a create's CPU). Only for kinds without
    /// [`required_before_decode`](Self::required_before_decode) checks.
    const RAW_CREATE: bool = false;

    /// Fields upstream reports as `Required value` but k8s-openapi cannot
    /// decode without (e.g. a Deployment's spec.selector): checked on the raw
    /// JSON before decoding, so the client gets upstream's message rather
    /// than a decode error.
    fn required_before_decode(&self, _obj: &Value) -> ErrorList {
        Vec::new()
    }

    /// Upstream's defaulting (SetDefaults_*), applied to every object written
    /// (create, update, patch), as upstream defaults on every decode.
    fn default(&self, _obj: &mut Self::Object) {}

    /// Resets on create (e.g. status cleared, pod phase Pending).
    fn prepare_for_create(&self, _obj: &mut Self::Object) {}

    /// Adjustments on update before validation (the generic store has
    /// already kept the old status for kinds with a status subresource).
    fn prepare_for_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// The kind's admission plugins on the raw create path (`crate::admission`
    /// runs them on the general path), from the watch cache alone; false when
    /// they need more or refuse, which sends the create to the general path.
    fn admit_cached(&self, _obj: &mut Self::Object, _cache: &crate::watch_cache::WatchCache) -> bool {
        true
    }

    /// Validation of the whole object (metadata name rules and labels are
    /// checked by the generic store).
    fn validate(&self, _obj: &Self::Object) -> ErrorList {
        Vec::new()
    }

    /// Validation of an update: by default the new object must be valid;
    /// kinds with immutable fields add their checks.
    fn validate_update(&self, new: &Self::Object, _old: &Self::Object) -> ErrorList {
        self.validate(new)
    }

    /// Adjustments on a status update before validation (e.g. pods keep
    /// their qosClass); the generic store has already kept the old spec and metadata.
    fn prepare_for_status_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// Validation of a status update (the generic store has already kept
    /// the old spec and metadata).
    fn validate_status_update(&self, _new: &Self::Object, _old: &Self::Object) -> ErrorList {
        Vec::new()
    }

    /// Selectable fields (e.g. pods: spec.nodeName, status.phase), read from
    /// the stored JSON (the watch cache computes them for every event, so no
    /// typed decode here). Insert every supported field, with "" when unset:
    /// the keys produced for `{}` are the fields a selector may name.
    fn fields(&self, _obj: &Value, _out: &mut Fields) {}

    // The kind's part in the generic store's verbs (upstream's strategy
    // hooks and registry decorators), on the stored JSON. The defaults do
    // nothing, so the store needs no kind-name checks.

    /// Whether writes claim cluster-wide allocations through
    /// [`allocate`](Self::allocate). Lets the store skip, for every other
    /// kind, the copy of the object a retried allocation needs.
    const ALLOCATES: bool = false;

    /// Whether deleting an object orphans its dependents unless the request
    /// says otherwise (upstream's DefaultGarbageCollectionPolicy: v1
    /// ReplicationController and batch/v1 Job, kept for compatibility).
    const ORPHAN_DEPENDENTS: bool = false;

    /// Claims what the object holds in cluster-wide pools (a Service's
    /// ClusterIPs and NodePorts) as side keys written in the object's own
    /// transaction. `old` on update; `avoid`: random picks a concurrent write
    /// took, to pick again.
    fn allocate(&self, _store: &Store, _obj: &mut Value, _old: Option<&Value>, _avoid: &BTreeSet<String>) -> Result<Allocation, StatusError> {
        Ok(Allocation::default())
    }

    /// The error for a side key ([`allocate`](Self::allocate)) another object holds.
    fn side_key_taken(&self, _obj: &Value, key: &str) -> StatusError {
        crate::store::errors::internal(format!("{key} is already allocated"))
    }

    /// Side keys removed with the object (what [`allocate`](Self::allocate) claimed).
    fn release(&self, _obj: &Value) -> Vec<SideOp> {
        Vec::new()
    }

    /// Graceful deletion (upstream's CheckGracefulDelete): the seconds the
    /// object stays, marked for deletion, given the grace period the request
    /// asked for. 0 removes it now (or once its finalizers are gone).
    fn graceful_delete(&self, _obj: &Value, _requested: Option<i64>) -> i64 {
        0
    }

    /// Whether the kind's own finalization still holds the object once its
    /// metadata.finalizers are gone (a namespace's spec.finalizers).
    fn finalizing(&self, _obj: &Value) -> bool {
        false
    }

    /// On delete: marks an object the kind still finalizes (a namespace
    /// becomes Terminating) and says whether it must stay.
    fn finalize_on_delete(&self, obj: &mut Value) -> bool {
        self.finalizing(obj)
    }
}

/// What the generic store asks of a kind, on JSON: the dyn-safe face of a
/// [`Strategy`].
pub trait Kind: Send + Sync + 'static {
    fn info(&self) -> &ResourceInfo;
    /// Strict decode, default, create-time resets, validate.
    fn admit_create(&self, obj: Value) -> Result<Value, StatusError>;
    /// The same from the request bytes, with the store's create-time metadata
    /// handling (`crate::store::prepare_create_meta`) and the kind's I/O-free
    /// admission ([`Strategy::admit_cached`]), for kinds that allow it. None
    /// whenever anything fails or needs more: the general path then runs and
    /// words the error, so both paths fail alike.
    fn admit_create_raw(&self, raw: &[u8], namespace: Option<&str>, cache: &crate::watch_cache::WatchCache) -> Option<Admitted>;
    /// Strict decode, default, validate against the old object.
    fn admit_update(&self, new: Value, old: &Value) -> Result<Value, StatusError>;
    /// Validates a status update (new already carries the old spec).
    fn admit_status_update(&self, new: Value, old: &Value) -> Result<Value, StatusError>;
    /// Selectable fields of a stored object (plus metadata.name/namespace).
    fn fields(&self, obj: &Value) -> Fields;
    /// The field names a field selector may use besides metadata.name/namespace.
    fn selectable_fields(&self) -> Vec<String>;

    // The store hooks of [`Strategy`], forwarded.
    fn allocates(&self) -> bool;
    fn orphans_dependents(&self) -> bool;
    fn allocate(&self, store: &Store, obj: &mut Value, old: Option<&Value>, avoid: &BTreeSet<String>) -> Result<Allocation, StatusError>;
    fn side_key_taken(&self, obj: &Value, key: &str) -> StatusError;
    fn release(&self, obj: &Value) -> Vec<SideOp>;
    fn graceful_delete(&self, obj: &Value, requested: Option<i64>) -> i64;
    fn finalizing(&self, obj: &Value) -> bool;
    fn finalize_on_delete(&self, obj: &mut Value) -> bool;
}

/// An object admitted for create, encoded for storage.
pub struct Admitted {
    pub name: String,
    pub namespace: String,
    pub bytes: Vec<u8>,
}

/// Adapts a typed [`Strategy`] to [`Kind`].
pub struct Typed<S>(pub S);

impl<S: Strategy> Typed<S> {
    fn decode(&self, v: Value) -> Result<S::Object, StatusError> {
        strict::decode::<S::Object>(v, S::INFO.kind, S::INFO.version)
    }

    fn check_required(&self, v: &Value) -> Result<(), StatusError> {
        let errs = self.0.required_before_decode(v);
        if errs.is_empty() {
            return Ok(());
        }
        let name = v.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or_default();
        Err(invalid(&S::INFO, name, errs))
    }

    fn encode(obj: &S::Object) -> Result<Value, StatusError> {
        serde_json::to_value(obj).map_err(|e| StatusError::new(api::Reason::InternalError, format!("encoding object: {e}")))
    }

    fn check(&self, obj: &S::Object, errs: ErrorList) -> Result<(), StatusError> {
        if errs.is_empty() {
            return Ok(());
        }
        let name = k8s_openapi::Metadata::metadata(obj).name.clone().unwrap_or_default();
        Err(invalid(&S::INFO, &name, errs))
    }
}

impl<S: Strategy> Kind for Typed<S> {
    fn info(&self) -> &ResourceInfo {
        &S::INFO
    }

    fn admit_create(&self, v: Value) -> Result<Value, StatusError> {
        self.check_required(&v)?;
        let mut obj = self.decode(v)?;
        self.0.default(&mut obj);
        self.0.prepare_for_create(&mut obj);
        let mut errs = validation::validate_object_meta(k8s_openapi::Metadata::metadata(&obj), &S::INFO);
        errs.extend(self.0.validate(&obj));
        self.check(&obj, errs)?;
        Self::encode(&obj)
    }

    fn admit_create_raw(&self, raw: &[u8], namespace: Option<&str>, cache: &crate::watch_cache::WatchCache) -> Option<Admitted> {
        if !S::RAW_CREATE {
            return None;
        }
        let mut obj: S::Object = strict::decode_slice(raw)?;
        crate::store::prepare_create_meta(k8s_openapi::Metadata::metadata_mut(&mut obj), &S::INFO, namespace).ok()?;
        self.0.default(&mut obj);
        self.0.prepare_for_create(&mut obj);
        let mut errs = validation::validate_object_meta(k8s_openapi::Metadata::metadata(&obj), &S::INFO);
        errs.extend(self.0.validate(&obj));
        if !errs.is_empty() || !self.0.admit_cached(&mut obj, cache) {
            return None;
        }
        let m = k8s_openapi::Metadata::metadata(&obj);
        let (name, namespace) = (m.name.clone().unwrap_or_default(), m.namespace.clone().unwrap_or_default());
        Some(Admitted { name, namespace, bytes: serde_json::to_vec(&obj).ok()? })
    }

    fn admit_update(&self, new: Value, old: &Value) -> Result<Value, StatusError> {
        self.check_required(&new)?;
        let mut obj = self.decode(new)?;
        // Deserializing from &Value borrows: no copy of the stored object.
        let old = <S::Object as serde::Deserialize>::deserialize(old)
            .map_err(|e| StatusError::new(api::Reason::InternalError, format!("decoding stored object: {e}")))?;
        self.0.default(&mut obj);
        self.0.prepare_for_update(&mut obj, &old);
        let mut errs = validation::validate_object_meta_update(
            k8s_openapi::Metadata::metadata(&obj),
            k8s_openapi::Metadata::metadata(&old),
            &S::INFO,
        );
        errs.extend(self.0.validate_update(&obj, &old));
        self.check(&obj, errs)?;
        Self::encode(&obj)
    }

    fn admit_status_update(&self, new: Value, old: &Value) -> Result<Value, StatusError> {
        let mut obj = self.decode(new)?;
        // Deserializing from &Value borrows: no copy of the stored object.
        let old = <S::Object as serde::Deserialize>::deserialize(old)
            .map_err(|e| StatusError::new(api::Reason::InternalError, format!("decoding stored object: {e}")))?;
        self.0.prepare_for_status_update(&mut obj, &old);
        let errs = self.0.validate_status_update(&obj, &old);
        self.check(&obj, errs)?;
        Self::encode(&obj)
    }

    fn selectable_fields(&self) -> Vec<String> {
        let mut out = Fields::new();
        self.0.fields(&Value::Object(Default::default()), &mut out);
        out.into_keys().collect()
    }

    fn fields(&self, v: &Value) -> Fields {
        let mut out = Fields::new();
        self.0.fields(v, &mut out);
        out
    }

    fn allocates(&self) -> bool {
        S::ALLOCATES
    }
    fn orphans_dependents(&self) -> bool {
        S::ORPHAN_DEPENDENTS
    }
    fn allocate(&self, store: &Store, obj: &mut Value, old: Option<&Value>, avoid: &BTreeSet<String>) -> Result<Allocation, StatusError> {
        self.0.allocate(store, obj, old, avoid)
    }
    fn side_key_taken(&self, obj: &Value, key: &str) -> StatusError {
        self.0.side_key_taken(obj, key)
    }
    fn release(&self, obj: &Value) -> Vec<SideOp> {
        self.0.release(obj)
    }
    fn graceful_delete(&self, obj: &Value, requested: Option<i64>) -> i64 {
        self.0.graceful_delete(obj, requested)
    }
    fn finalizing(&self, obj: &Value) -> bool {
        self.0.finalizing(obj)
    }
    fn finalize_on_delete(&self, obj: &mut Value) -> bool {
        self.0.finalize_on_delete(obj)
    }
}

/// The string at a JSON pointer of an object, "" when absent.
pub fn str_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The boolean at a JSON pointer, `false` when absent, as a selector value.
pub fn bool_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_bool).unwrap_or(false).to_string()
}

/// The integer at a JSON pointer, 0 when absent, as a selector value.
pub fn int_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0).to_string()
}

/// Upstream's Invalid status: `Pod "x" is invalid: [a: ..., b: ...]`.
pub fn invalid(info: &ResourceInfo, name: &str, errs: ErrorList) -> StatusError {
    use api::status::{StatusCause, StatusDetails};
    let joined = if errs.len() == 1 {
        errs[0].to_string()
    } else {
        format!("[{}]", errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "))
    };
    let causes = errs
        .iter()
        .map(|e| StatusCause { reason: e.reason().into(), message: e.body(), field: e.field.to_string() })
        .collect();
    StatusError::new(api::Reason::Invalid, format!("{} {:?} is invalid: {}", info.kind, name, joined)).with_details(StatusDetails {
        name: name.into(),
        group: info.group.into(),
        kind: info.kind.into(),
        causes,
        ..Default::default()
    })
}
