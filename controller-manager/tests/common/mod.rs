//! What every controller integration test needs: the chosen controllers
//! running in-process against the test cluster, and a polling wait.
#![allow(dead_code)] // each test binary uses its own part

use std::time::{Duration, Instant};

use client::Client;
use controller_manager::controllers::{self, Descriptor};
use controller_manager::metrics::ControllerMetrics;

/// Controllers running as `kube-controller-manager` would run them.
pub struct Running {
    shutdown: client::CancellationToken,
    task: tokio::task::JoinHandle<()>,
    metrics: daemon::metrics::Registry,
}

/// Starts `set` (descriptor, workers) against `client`.
pub fn start_controllers(client: &Client, set: Vec<(Descriptor, usize)>) -> Running {
    start_controllers_with(client, set, controllers::Options::default())
}

/// [`start_controllers`] with per-controller settings (the flags beyond worker counts).
pub fn start_controllers_with(client: &Client, set: Vec<(Descriptor, usize)>, options: controllers::Options) -> Running {
    let registry = daemon::metrics::Registry::new();
    let metrics = ControllerMetrics::new(&registry);
    let shutdown = client::CancellationToken::new();
    let task = tokio::spawn(controllers::run_with_options(client.clone(), set, options, metrics, shutdown.clone()));
    Running { shutdown, task, metrics: registry }
}

impl Running {
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }

    /// A sample's value from /metrics, e.g. `controller_reconcile_errors_total{name="replicaset"}`.
    pub fn metric(&self, sample: &str) -> f64 {
        self.metrics.render().lines().find_map(|l| l.strip_prefix(sample).map(|v| v.trim().parse().unwrap())).unwrap_or(0.0)
    }
}

/// Polls `f` until it yields a value; fails the test after `timeout`.
pub async fn wait_for<T>(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
