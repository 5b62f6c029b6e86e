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
