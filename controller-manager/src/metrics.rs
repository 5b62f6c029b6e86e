//! Per-controller metrics with upstream's names: `workqueue_depth`,
//! `workqueue_adds_total`, `workqueue_retries_total` and
//! `workqueue_work_duration_seconds` (reconcile latency), labelled by the
//! queue `name` (the controller), plus leader election status.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use client::controller::Controller;
use client::workqueue::WorkQueue;
use daemon::metrics::{exponential_buckets, Counter, Family, Gauge, Histogram, Registry};
use parking_lot::Mutex;

pub struct ControllerMetrics {
    registry: Registry,
    work_duration: Family<Histogram>,
    reconcile_errors: Family<Counter>,
    queues: Arc<Mutex<Vec<(String, WorkQueue<String>)>>>,
    pub leader: Gauge,
}

impl ControllerMetrics {
    pub fn new(registry: &Registry) -> Arc<Self> {
        let depth = registry.gauge_vec("workqueue_depth", "Current depth of workqueue", &["name"]);
        let adds = registry.counter_vec("workqueue_adds_total", "Total number of adds handled by workqueue", &["name"]);
        let retries = registry.counter_vec("workqueue_retries_total", "Total number of retries handled by workqueue", &["name"]);
        // Upstream's buckets: 10 ns .. 100 s by factors of 10.
        let work_duration = registry.histogram_vec(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            &["name"],
            &exponential_buckets(10e-9, 10.0, 10),
        );
        let reconcile_errors = registry.counter_vec("controller_reconcile_errors_total", "Reconciles that failed and were requeued with backoff, by controller.", &["name"]);
        let leader = registry.gauge_vec("leader_election_master_status", "1 while this instance leads, 0 otherwise.", &["name"]).with(&["kube-controller-manager"]);
        let queues: Arc<Mutex<Vec<(String, WorkQueue<String>)>>> = Default::default();
        let q = queues.clone();
        registry.on_collect(move || {
            for (name, queue) in q.lock().iter() {
                let m = queue.metrics();
                depth.with(&[name]).set(m.depth as i64);
                adds.with(&[name]).store(m.adds_total, Ordering::Relaxed);
                retries.with(&[name]).store(m.retries_total, Ordering::Relaxed);
            }
        });
        Arc::new(ControllerMetrics { registry: registry.clone(), work_duration, reconcile_errors, queues, leader })
    }

    /// Reports `controller`'s queue and reconcile latency under `name`.
    pub fn instrument<K: client::Resource>(&self, name: &str, controller: Controller<K>) -> Controller<K> {
        self.queues.lock().push((name.to_string(), controller.queue()));
        let hist = self.work_duration.with(&[name]);
        let errors = self.reconcile_errors.with(&[name]);
        controller.on_reconcile(Arc::new(move |d, ok| {
            hist.observe(d);
            if !ok {
                errors.inc();
            }
        }))
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}
