//! ferrokube's kubelet: registers its node, keeps it alive, and runs the pods bound
//! to it as containers through youki's libcontainer, one shim process per container.

pub mod agent;
pub mod backoff;
pub mod cgroups;
pub mod config;
pub mod context;
pub mod downward;
pub mod env;
pub mod events;
pub mod eviction;
pub mod expansion;
pub mod images;
pub mod lifecycle;
pub mod metrics;
pub mod network;
pub mod node;
pub mod objects;
pub mod pod_workers;
pub mod probes;
pub mod process;
pub mod qos;
pub mod runtime;
pub mod seccomp;
pub mod security;
pub mod server;
pub mod static_pods;
pub mod streaming;
pub mod status;
pub mod volumes;
