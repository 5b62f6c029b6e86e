//! Container runtime: the shim (libcontainer in a single-threaded helper), the
//! small long-lived monitor it execs, their state-file protocol, CRI logs, and the
//! kubelet-side handles.

/// The CRI log format (shared with the monitor, which writes the logs).
pub use kubelet_monitor::cri_log;
pub mod manager;
pub mod shim;
mod shim_exec;
mod shim_sandbox;
pub mod shim_state;
pub mod spec;
