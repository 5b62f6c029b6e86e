//! ferrokube's client machinery, the project's client-go.
//!
//! - [`Client`] and [`Api`]: typed calls to the apiserver over gRPC.
//! - `informer`: list + watch into a local store with indexes.
//! - `workqueue`: rate-limited, de-duplicating work queue for controllers.
//! - `leader_election`: one active replica, elected on a `Lease`.
//! - `events`: records `Event` objects about other objects.
//!
//! Every daemon and kubectl talks to the apiserver through this crate.

mod api;
pub mod backoff;
mod client;
pub mod error;
pub mod informer;
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
pub use proto;
