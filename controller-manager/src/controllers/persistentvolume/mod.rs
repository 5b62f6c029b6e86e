//! Persistent storage (upstream's pkg/controller/volume/persistentvolume,
//! pvprotection and pvcprotection):
//!
//! - [`binder`]: the `persistentvolume-binder-controller`: binds claims to
//!   volumes, keeps the phases, reclaims released volumes and provisions
//!   volumes for claims of a class whose provisioner is built in;
//! - [`local_path`]: that built-in provisioner, `ferrokube.io/local-path`
//!   (as Rancher's local-path-provisioner): a hostPath directory on the node
//!   the scheduler picked, removed by a helper pod on that node;
//! - [`protection`]: the `persistentvolume-protection-controller` and
//!   `persistentvolumeclaim-protection-controller`, which hold back deletion
//!   of claims used by pods and of bound volumes.

pub mod binder;
pub mod local_path;
pub mod protection;

use std::sync::OnceLock;
use std::time::Duration;

pub use binder::PV_BINDER;
pub use protection::{PVC_PROTECTION, PV_PROTECTION};

/// Settings of the built-in provisioner (kube-controller-manager flags).
#[derive(Debug, Clone)]
pub struct LocalPathOptions {
    /// Where volume directories are made on the nodes.
    pub base_dir: String,
    /// The image of the pod that removes a deleted volume's directory.
    pub helper_image: String,
    /// How long that pod may take before the deletion counts as failed.
    pub helper_timeout: Duration,
}

impl Default for LocalPathOptions {
    fn default() -> Self {
        LocalPathOptions { base_dir: "/var/lib/ferrokube/local-path".into(), helper_image: "busybox".into(), helper_timeout: Duration::from_secs(120) }
    }
}

static OPTIONS: OnceLock<LocalPathOptions> = OnceLock::new();

/// Sets the provisioner's options once, before the controllers start (the
/// binary's flags; tests their own). Later calls are ignored.
pub fn set_local_path_options(o: LocalPathOptions) {
    let _ = OPTIONS.set(o);
}

pub fn local_path_options() -> LocalPathOptions {
    OPTIONS.get().cloned().unwrap_or_default()
}
