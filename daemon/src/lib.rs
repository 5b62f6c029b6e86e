//! Plumbing every ferrokube daemon shares, so binaries keep only flag parsing
//! and wiring (as upstream's `cmd/<binary>`):
//!
//! - [`logging`]: `--log-format`, `-v`/`--v` (RUST_LOG wins when set), [`logging::LogArgs::init`].
//! - [`signals`]: a shutdown token cancelled on SIGTERM or SIGINT; a second signal exits at once.
//! - [`metrics`]: counters, gauges and one histogram type in a [`metrics::Registry`], rendered as Prometheus text.
//! - [`health`]: `/healthz`, `/livez`, `/readyz` (named checks) and `/metrics` over HTTP.
//!
//! See daemon/README.md for a whole `main`.

pub mod health;
pub mod logging;
pub mod metrics;
pub mod signals;

pub use tokio_util::sync::CancellationToken;
