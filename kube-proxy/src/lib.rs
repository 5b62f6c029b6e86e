//! ferrokube's kube-proxy (iptables mode).
//!
//! - [`proxier`]: desired state from Services and EndpointSlices, changed Services tracked between syncs.
//! - [`iptables`]: upstream's chain layout and hashed chain names rendered as
//!   `iptables-restore` input, applied with `--noflush`; nft/legacy detection.
//! - [`sync`]: the loop: informers, full and partial syncs bounded by the min/max periods, health.
//! - [`conntrack`]: stale UDP flows deleted after endpoints change.
//! - [`service_lb`]: addresses for `type: LoadBalancer` from `--load-balancer-ip-range`.
//! - [`metrics`]: upstream's kubeproxy_* metrics.

pub mod conntrack;
pub mod iptables;
pub mod metrics;
pub mod proxier;
pub mod service_lb;
pub mod sync;

pub use sync::{Proxier, ProxierConfig, SyncReport};
