//! Upstream's Status errors (k8s.io/apimachinery/pkg/api/errors).

use api::status::StatusError;
use api::status::StatusDetails;

use crate::registry::ResourceInfo;

fn details(info: &ResourceInfo, name: &str) -> StatusDetails {
    StatusDetails { name: name.into(), group: info.group.into(), kind: info.plural.into(), ..Default::default() }
}

pub fn not_found(info: &ResourceInfo, name: &str) -> StatusError {
    StatusError::new(api::Reason::NotFound, format!("{} {:?} not found", info.qualified(), name)).with_details(details(info, name))
}

pub fn already_exists(info: &ResourceInfo, name: &str) -> StatusError {
    StatusError::new(api::Reason::AlreadyExists, format!("{} {:?} already exists", info.qualified(), name))
        .with_details(details(info, name))
}

pub fn conflict(info: &ResourceInfo, name: &str, why: &str) -> StatusError {
    StatusError::new(api::Reason::Conflict, format!("Operation cannot be fulfilled on {} {:?}: {why}", info.qualified(), name))
        .with_details(details(info, name))
}

pub const MODIFIED: &str = "the object has been modified; please apply your changes to the latest version and try again";

pub fn expired(requested: i64, current: i64) -> StatusError {
    StatusError::new(api::Reason::Expired, format!("too old resource version: {requested} ({current})"))
}

pub fn bad_request(msg: impl Into<String>) -> StatusError {
    StatusError::new(api::Reason::BadRequest, msg)
}

pub fn too_large(limit: usize) -> StatusError {
    StatusError::new(api::Reason::TooLarge, format!("Request entity too large: limit is {limit}"))
}

pub fn method_not_allowed(msg: impl Into<String>) -> StatusError {
    StatusError::new(api::Reason::MethodNotAllowed, msg)
}

pub fn forbidden(info: &ResourceInfo, name: &str, why: &str) -> StatusError {
    StatusError::new(api::Reason::Forbidden, format!("{} {:?} is forbidden: {why}", info.qualified(), name)).with_details(details(info, name))
}

pub fn internal(msg: impl std::fmt::Display) -> StatusError {
    StatusError::new(api::Reason::InternalError, format!("Internal error occurred: {msg}"))
}

pub fn unavailable(msg: impl std::fmt::Display) -> StatusError {
    StatusError::new(api::Reason::ServiceUnavailable, format!("{msg}"))
}

/// Maps a storage failure that has no more specific meaning.
pub fn storage(e: crate::storage::StorageError) -> StatusError {
    match e {
        crate::storage::StorageError::Compacted { requested, compacted } => expired(requested, compacted),
        crate::storage::StorageError::Etcd(e) => unavailable(format!("etcd: {e}")),
        other => internal(other),
    }
}
