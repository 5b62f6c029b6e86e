//! Prometheus metrics of the scheduler (names as upstream), in a
//! `daemon::metrics::Registry` served on `/metrics`.

use std::sync::Arc;

use daemon::metrics::{exponential_buckets, Counter, Gauge, Histogram, Registry};
use parking_lot::Mutex;

use crate::queue::Lengths;

pub struct Metrics {
    registry: Registry,
    pub scheduled: Counter,
    pub unschedulable: Counter,
    pub errors: Counter,
    pub binds_failed: Counter,
    pub preemption_attempts: Counter,
    pub preemption_victims: Counter,
    /// From the pod's first attempt to its successful binding.
    pub e2e_latency: Histogram,
    /// One attempt (filter + score).
    pub attempt_duration: Histogram,
    /// Set by the scheduler's loop; copied into scheduler_pending_pods at each scrape.
    pub queue: Arc<Mutex<Lengths>>,
    pub is_leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let r = Registry::new();
        // Upstream's e2e/attempt buckets: exponential from 1 ms, factor 2, 15 buckets.
        let buckets = exponential_buckets(0.001, 2.0, 15);
        let attempts = r.counter_vec("scheduler_schedule_attempts_total", "Number of attempts to schedule pods, by the result.", &["result"]);
        let e2e_latency = r.histogram("scheduler_e2e_scheduling_duration_seconds", "E2e scheduling latency (first attempt to bound).", &buckets);
        let attempt_duration = r.histogram("scheduler_scheduling_algorithm_duration_seconds", "Scheduling algorithm latency.", &buckets);
        let pending = r.gauge_vec("scheduler_pending_pods", "Number of pending pods, by the queue type.", &["queue"]);
        let queue = Arc::new(Mutex::new(Lengths::default()));
        let (active, backoff, unschedulable) = (pending.with(&["active"]), pending.with(&["backoff"]), pending.with(&["unschedulable"]));
        let q = queue.clone();
        r.on_collect(move || {
            let l = *q.lock();
            active.set(l.active as i64);
            backoff.set(l.backoff as i64);
            unschedulable.set(l.unschedulable as i64);
        });
        let binds_failed = r.counter("scheduler_binding_failures_total", "Number of failed bindings.");
        let preemption_attempts = r.counter("scheduler_preemption_attempts_total", "Total preemption attempts in the cluster till now.");
        let preemption_victims = r.counter("scheduler_preemption_victims_total", "Number of selected preemption victims.");
        let is_leader = r.gauge_vec("leader_election_master_status", "Whether this replica is the leader (1) or not (0).", &["name"]).with(&["kube-scheduler"]);
        Metrics {
            scheduled: attempts.with(&["scheduled"]),
            unschedulable: attempts.with(&["unschedulable"]),
            errors: attempts.with(&["error"]),
            binds_failed,
            preemption_attempts,
            preemption_victims,
            e2e_latency,
            attempt_duration,
            queue,
            is_leader,
            registry: r,
        }
    }
}

impl Metrics {
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn render(&self) -> String {
        self.registry.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    #[test]
    fn renders_counters_histogram_and_queue() {
        let m = Metrics::default();
        m.scheduled.fetch_add(2, Ordering::Relaxed);
        m.e2e_latency.observe(Duration::from_millis(3));
        *m.queue.lock() = Lengths { active: 1, backoff: 0, unschedulable: 4 };
        m.is_leader.store(1, Ordering::Relaxed);
        let t = m.render();
        assert!(t.contains("scheduler_schedule_attempts_total{result=\"scheduled\"} 2\n"), "{t}");
        assert!(t.contains("scheduler_schedule_attempts_total{result=\"error\"} 0\n"), "{t}");
        assert!(t.contains("scheduler_e2e_scheduling_duration_seconds_bucket{le=\"0.004\"} 1\n"), "{t}");
        assert!(t.contains("scheduler_e2e_scheduling_duration_seconds_bucket{le=\"0.002\"} 0\n"), "{t}");
        assert!(t.contains("scheduler_e2e_scheduling_duration_seconds_count 1\n"), "{t}");
        assert!(t.contains("scheduler_pending_pods{queue=\"unschedulable\"} 4\n"), "{t}");
        assert!(t.contains("leader_election_master_status{name=\"kube-scheduler\"} 1\n"), "{t}");
    }
}
