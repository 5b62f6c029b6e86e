//! The wire protocol between every ferrokube component and the apiserver.
//!
//! Object bodies travel as raw bytes with a content type (like upstream's
//! `runtime.Unknown`); everything the server acts on (verb, resource, name,
//! selectors, resourceVersion, event type, error reason) is a typed field.

pub mod v1 {
    tonic::include_proto!("ferrokube.v1");
}

pub use v1::*;

/// The content type every component uses for object bodies today.
pub const JSON: &str = "application/json";

/// Metadata key the apiserver presents its kubelet credential under (`Bearer <token>`).
pub const AUTHORIZATION_KEY: &str = "authorization";

/// gRPC metadata key (binary) carrying an encoded [`v1::Status`] on errors.
pub const STATUS_DETAILS_KEY: &str = "ferrokube-status-bin";
