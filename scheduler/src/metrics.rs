//! Prometheus metrics of the scheduler (names as upstream), rendered as text.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::queue::Lengths;

/// Upstream's e2e/attempt buckets: exponential from 1 ms, factor 2, 15 buckets.
const BUCKETS: [f64; 15] = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384];

#[derive(Default)]
pub struct Histogram {
    inner: Mutex<(Vec<u64>, u64, f64)>,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let v = d.as_secs_f64();
        let mut g = self.inner.lock();
        if g.0.is_empty() {
            g.0 = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                g.0[i] += 1;
            }
        }
        g.1 += 1;
        g.2 += v;
    }

    /// Mean of the observations in seconds (0 when empty).
    pub fn mean(&self) -> f64 {
        let g = self.inner.lock();
        if g.1 == 0 {
            0.0
        } else {
            g.2 / g.1 as f64
        }
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let g = self.inner.lock();
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}", g.0.get(i).copied().unwrap_or(0));
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", g.1);
        let l = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{l} {}", g.2);
        let _ = writeln!(out, "{name}_count{l} {}", g.1);
    }
}

#[derive(Default)]
pub struct Metrics {
    pub scheduled: AtomicU64,
    pub unschedulable: AtomicU64,
    pub errors: AtomicU64,
    pub binds_failed: AtomicU64,
    pub preemption_attempts: AtomicU64,
    pub preemption_victims: AtomicU64,
    /// From the pod's first attempt to its successful binding.
    pub e2e_latency: Histogram,
    /// One attempt (filter + score), by result.
    pub attempt_duration: Histogram,
    pub queue: Mutex<Lengths>,
    pub is_leader: AtomicU64,
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut o = String::new();
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        o.push_str("# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by the result.\n");
        o.push_str("# TYPE scheduler_schedule_attempts_total counter\n");
        let _ = writeln!(o, "scheduler_schedule_attempts_total{{result=\"scheduled\"}} {}", ld(&self.scheduled));
        let _ = writeln!(o, "scheduler_schedule_attempts_total{{result=\"unschedulable\"}} {}", ld(&self.unschedulable));
        let _ = writeln!(o, "scheduler_schedule_attempts_total{{result=\"error\"}} {}", ld(&self.errors));
        o.push_str("# HELP scheduler_e2e_scheduling_duration_seconds E2e scheduling latency (first attempt to bound).\n");
        o.push_str("# TYPE scheduler_e2e_scheduling_duration_seconds histogram\n");
        self.e2e_latency.render(&mut o, "scheduler_e2e_scheduling_duration_seconds", "");
        o.push_str("# HELP scheduler_scheduling_algorithm_duration_seconds Scheduling algorithm latency.\n");
        o.push_str("# TYPE scheduler_scheduling_algorithm_duration_seconds histogram\n");
        self.attempt_duration.render(&mut o, "scheduler_scheduling_algorithm_duration_seconds", "");
        o.push_str("# HELP scheduler_pending_pods Number of pending pods, by the queue type.\n");
        o.push_str("# TYPE scheduler_pending_pods gauge\n");
        let q = *self.queue.lock();
        let _ = writeln!(o, "scheduler_pending_pods{{queue=\"active\"}} {}", q.active);
        let _ = writeln!(o, "scheduler_pending_pods{{queue=\"backoff\"}} {}", q.backoff);
        let _ = writeln!(o, "scheduler_pending_pods{{queue=\"unschedulable\"}} {}", q.unschedulable);
        o.push_str("# TYPE scheduler_binding_failures_total counter\n");
        let _ = writeln!(o, "scheduler_binding_failures_total {}", ld(&self.binds_failed));
        o.push_str("# TYPE scheduler_preemption_attempts_total counter\n");
        let _ = writeln!(o, "scheduler_preemption_attempts_total {}", ld(&self.preemption_attempts));
        o.push_str("# TYPE scheduler_preemption_victims_total counter\n");
        let _ = writeln!(o, "scheduler_preemption_victims_total {}", ld(&self.preemption_victims));
        o.push_str("# TYPE leader_election_master_status gauge\n");
        let _ = writeln!(o, "leader_election_master_status{{name=\"kube-scheduler\"}} {}", ld(&self.is_leader));
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.scheduled.fetch_add(2, Ordering::Relaxed);
        m.e2e_latency.observe(Duration::from_millis(3));
        let t = m.render();
        assert!(t.contains("scheduler_schedule_attempts_total{result=\"scheduled\"} 2"));
        assert!(t.contains("scheduler_e2e_scheduling_duration_seconds_bucket{le=\"0.004\"} 1"));
        assert!(t.contains("scheduler_e2e_scheduling_duration_seconds_bucket{le=\"0.002\"} 0"));
        assert!(t.contains("scheduler_e2e_scheduling_duration_seconds_count 1"));
    }
}
