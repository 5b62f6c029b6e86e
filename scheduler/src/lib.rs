//! ferrokube's kube-scheduler.
//!
//! - [`queue`]: active / backoff / unschedulable pods.
//! - [`cache`]: nodes with their bound and assumed pods; the per-cycle snapshot.
//! - [`framework`]: extension points and plugin lists of a profile.
//! - [`listers`]: namespaces, workloads and PDBs the plugins read.
//! - [`plugins`]: one module per upstream plugin.
//! - [`config`]: KubeSchedulerConfiguration v1.
//! - [`schedule_one`]: one attempt for one pod; [`scheduler`]: the loop;
//!   [`binder`]: concurrent binds; [`preemption`]: DefaultPreemption.

pub mod cache;
pub mod config;
pub mod framework;
pub mod listers;
pub mod plugins;
pub mod pod_info;
pub mod queue;
pub mod resource;
pub mod schedule_one;
pub mod binder;
pub mod leader;
pub mod metrics;
pub mod preemption;
pub mod scheduler;
pub mod server;

#[cfg(test)]
mod testutil;

pub use config::SchedulerConfig;
pub use scheduler::Scheduler;
