//! kube-apiserver: Kubernetes' API on etcd.
//!
//! Request flow (both front doors, gRPC today and REST later, call `store`):
//!
//! ```text
//! grpc::ApiService ──► store::Store ──► registry (per-kind Strategy: default, validate)
//!                           │      ├──► admission (namespace lifecycle, Service IP/port allocation)
//!                           │      └──► storage (etcd: keys, CAS txns, list at revision, watch)
//!                           └──────────► watch_cache (lists and watch fan-out)
//! ```

pub mod registry;
pub mod storage;
pub mod watch_cache;
pub mod rawjson;
pub mod admission;
pub mod store;
pub mod grpc;
pub mod metrics;
pub mod server;
