//! ferrokube's kube-controller-manager: one module per controller in
//! [`controllers`] (upstream's pkg/controller/<name>), each built on
//! `client::controller` (informers → work queue → N reconcile workers), and
//! the registry that `--controllers` selects from.
//!
//! See controller-manager/README.md for how to add a controller.

pub mod controller_utils;
pub mod controllers;
pub mod endpoint_utils;
pub mod history;
pub mod informers;
pub mod metrics;
pub mod ref_manager;

/// What a reconcile can fail with; the runtime retries it with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Client(#[from] client::Error),
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Client(e) if e.is_not_found())
    }
}
