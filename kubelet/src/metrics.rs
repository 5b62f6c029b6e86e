//! Prometheus text metrics: running pods/containers and pod start latency.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// Upstream's kubelet_pod_start_duration_seconds buckets.
const BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0];

#[derive(Default)]
pub struct Metrics {
    pub running_pods: AtomicI64,
    pub running_containers: AtomicI64,
    start: Mutex<(Vec<u64>, f64, u64)>,
}

impl Metrics {
    pub fn observe_pod_start(&self, seconds: f64) {
        let mut h = self.start.lock();
        if h.0.is_empty() {
            h.0 = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.0[i] += 1;
            }
        }
        h.1 += seconds;
        h.2 += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out += "# HELP kubelet_running_pods Number of pods that have a running pod sandbox\n# TYPE kubelet_running_pods gauge\n";
        out += &format!("kubelet_running_pods {}\n", self.running_pods.load(Ordering::Relaxed));
        out += "# HELP kubelet_running_containers Number of containers currently running\n# TYPE kubelet_running_containers gauge\n";
        out += &format!("kubelet_running_containers{{container_state=\"running\"}} {}\n", self.running_containers.load(Ordering::Relaxed));
        out += "# HELP kubelet_pod_start_duration_seconds Duration in seconds from the pod's creation to all its containers running\n# TYPE kubelet_pod_start_duration_seconds histogram\n";
        let h = self.start.lock();
        for (i, b) in BUCKETS.iter().enumerate() {
            out += &format!("kubelet_pod_start_duration_seconds_bucket{{le=\"{b}\"}} {}\n", h.0.get(i).copied().unwrap_or(0));
        }
        out += &format!("kubelet_pod_start_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", h.2);
        out += &format!("kubelet_pod_start_duration_seconds_sum {}\nkubelet_pod_start_duration_seconds_count {}\n", h.1, h.2);
        out
    }
}
