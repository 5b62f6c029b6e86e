//! Dev-only scaffolding, kept out of the product crates so that no product
//! binary links a component it does not talk to.
//!
//! - [`etcd`]: a real etcd process on free loopback ports.
//! - [`cluster`]: etcd + an in-process apiserver + a connected client.
//! - [`objects`]: Node and Pod builders for tests and benchmarks.
//! - [`hollow`]: kubemark-style hollow nodes (Node, Lease, pods Running) without containers.
//!
//! The benchmarks (`apiserver-bench`, `scheduler-bench`, `kubelet-bench`)
//! are this crate's binaries, behind the default `bench` feature.

pub mod cluster;
pub mod etcd;
pub mod hollow;
pub mod objects;

pub use cluster::TestCluster;
pub use etcd::{free_port, which_etcd, Etcd};
