//! ferrokube's client machinery, the project's client-go.
//!
//! - [`Client`] and [`Api`]: typed calls to the apiserver over gRPC.
//! - [`informer`] + [`store`]: list + watch into a local cache with indexes and event handlers.
//! - [`workqueue`]: rate-limited, de-duplicating work queue for controllers.
//! - [`controller`]: the controller runtime (informers → queue → N reconcile workers) and expectations.
//! - [`leader_election`]: one active replica, elected on a `Lease`.
//! - [`events`]: records `Event` objects about other objects.
//! - [`backoff`]: jittered exponential backoff for retry loops.
//! - [`config`]: kubeconfig files, `KUBECONFIG` merging, contexts, in-cluster config.
//! - [`yaml`]: YAML to JSON as upstream reads manifests (YAML 1.1 scalars, `---` streams).
//!
//! See client/README.md for a usage example of each.
//!
//! # A controller, put together
//!
//! ```no_run
//! use client::informer::{Informer, InformerConfig};
//! use client::workqueue::WorkQueue;
//! use client::{Api, Client};
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! async fn reconcile(store: &client::store::Store<ConfigMap>, key: &str) -> client::Result<()> {
//!     let (ns, name) = client::store::split_key(key);
//!     match store.get(ns, name) {
//!         Some(_cm) => { /* make the world match it */ }
//!         None => { /* it was deleted: clean up */ }
//!     }
//!     Ok(())
//! }
//!
//! async fn run(client: Client, shutdown: client::CancellationToken) {
//!     let informer = Informer::new(Api::<ConfigMap>::all(client), InformerConfig::default());
//!     let store = informer.store();
//!     let queue = WorkQueue::<String>::new();
//!     let mut events = informer.subscribe();
//!     let feeder = { let q = queue.clone(); tokio::spawn(async move {
//!         while let Some(ev) = events.recv().await { q.add(ev.key()) }
//!     })};
//!     let watcher = informer.spawn();
//!     store.wait_synced().await;
//!     let workers: Vec<_> = (0..2).map(|_| {
//!         let (q, store) = (queue.clone(), store.clone());
//!         tokio::spawn(async move {
//!             while let Some(key) = q.get().await {
//!                 match reconcile(&store, &key).await {
//!                     Ok(()) => q.forget(&key),
//!                     Err(_) => q.add_rate_limited(key.clone()),
//!                 }
//!                 q.done(&key);
//!             }
//!         })
//!     }).collect();
//!     shutdown.cancelled().await;
//!     queue.shutdown();
//!     for w in workers { let _ = w.await; }
//!     watcher.abort();
//!     feeder.abort();
//! }
//! ```
//!
//! Every daemon and kubectl talks to the apiserver through this crate.

mod api;
pub mod backoff;
mod client;
pub mod config;
pub mod controller;
pub mod dynamic;
pub mod error;
pub mod events;
pub mod informer;
pub mod leader_election;
pub mod params;
pub mod resource;
pub mod store;
pub mod workqueue;
pub mod yaml;

pub use self::api::{Api, ObjectList, WatchEvent};
pub use client::Client;
pub use error::{ApiError, Error, Reason, Result};
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
