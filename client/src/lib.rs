//! ferrokube's client machinery, the project's client-go.
//!
//! - [`Client`] and [`Api`]: typed calls to the apiserver over gRPC.
//! - [`informer`] + [`store`]: list + watch into a local cache with indexes and event handlers.
//! - [`workqueue`]: rate-limited, de-duplicating work queue for controllers.
//! - [`leader_election`]: one active replica, elected on a `Lease`.
//! - [`events`]: records `Event` objects about other objects.
//! - [`backoff`]: jittered exponential backoff for retry loops.
//!
//! See client/README.md for a usage example of each.
//!
//! Every daemon and kubectl talks to the apiserver through this crate.

mod api;
pub mod backoff;
mod client;
pub mod error;
pub mod events;
pub mod informer;
pub mod leader_election;
pub mod params;
pub mod resource;
pub mod store;
pub mod workqueue;

pub use api::{Api, ObjectList, WatchEvent};
pub use client::Client;
pub use error::{ApiError, Error, Result};
pub use params::{DeleteParams, ListParams, Patch, PostParams, WatchParams};
pub use resource::{ApiResourceRef, Resource};

pub use k8s_openapi;
pub use tokio_util::sync::CancellationToken;
pub use proto;

/// The wall clock as k8s-openapi's timestamp type (jiff without its `std` clock feature).
pub(crate) fn now_timestamp() -> k8s_openapi::jiff::Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    k8s_openapi::jiff::Timestamp::new(since_epoch.as_secs() as i64, since_epoch.subsec_nanos() as i32)
        .expect("the clock is within jiff's range")
}
