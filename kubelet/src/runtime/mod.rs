//! Container runtime: the shim (libcontainer in a single-threaded helper), its
//! state-file protocol, CRI logs, and the kubelet-side handles.

pub mod cri_log;
pub mod manager;
pub mod shim;
pub mod shim_state;
pub mod spec;
