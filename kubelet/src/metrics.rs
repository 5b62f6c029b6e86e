//! Prometheus metrics (names as upstream): running pods/containers and pod
//! start latency, in a `daemon::metrics::Registry` served on `/metrics`.

use daemon::metrics::{Gauge, Histogram, Registry};

/// Upstream's kubelet_pod_start_duration_seconds buckets.
const BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0];

pub struct Metrics {
    registry: Registry,
    pub running_pods: Gauge,
    pub running_containers: Gauge,
    pod_start: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let r = Registry::new();
        Metrics {
            running_pods: r.gauge("kubelet_running_pods", "Number of pods that have a running pod sandbox"),
            running_containers: r
                .gauge_vec("kubelet_running_containers", "Number of containers currently running", &["container_state"])
                .with(&["running"]),
            pod_start: r.histogram("kubelet_pod_start_duration_seconds", "Duration in seconds from the pod's creation to all its containers running", BUCKETS),
            registry: r,
        }
    }
}

impl Metrics {
    pub fn observe_pod_start(&self, seconds: f64) {
        self.pod_start.observe(seconds);
    }

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

    #[test]
    fn renders_gauges_and_pod_start_histogram() {
        let m = Metrics::default();
        m.running_pods.fetch_add(2, Ordering::Relaxed);
        m.running_containers.fetch_add(3, Ordering::Relaxed);
        m.observe_pod_start(1.5);
        let t = m.render();
        assert!(t.contains("# TYPE kubelet_running_pods gauge\nkubelet_running_pods 2\n"), "{t}");
        assert!(t.contains("kubelet_running_containers{container_state=\"running\"} 3\n"), "{t}");
        assert!(t.contains("kubelet_pod_start_duration_seconds_bucket{le=\"1\"} 0\n"), "{t}");
        assert!(t.contains("kubelet_pod_start_duration_seconds_bucket{le=\"2\"} 1\n"), "{t}");
        assert!(t.contains("kubelet_pod_start_duration_seconds_sum 1.5\nkubelet_pod_start_duration_seconds_count 1\n"), "{t}");
    }
}
