//! Request metrics (`apiserver_request_total`,
//! `apiserver_request_duration_seconds`, `apiserver_registered_watchers`)
//! in a `daemon::metrics::Registry`, served on `/metrics`.

use std::time::Duration;

use daemon::metrics::{Counter, Family, Gauge, Histogram, Registry};

const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

pub struct Metrics {
    registry: Registry,
    requests: Family<Counter>,
    latency: Family<Histogram>,
    watchers: Family<Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        Metrics {
            requests: registry.counter_vec("apiserver_request_total", "Requests by verb, resource and response code.", &["verb", "resource", "code"]),
            latency: registry.histogram_vec("apiserver_request_duration_seconds", "Request latency by verb and resource.", &["verb", "resource"], BUCKETS),
            watchers: registry.gauge_vec("apiserver_registered_watchers", "Open watches by resource.", &["resource"]),
            registry,
        }
    }
}

impl Metrics {
    pub fn observe(&self, verb: &str, resource: &str, code: &str, took: Duration) {
        self.requests.with(&[verb, resource, code]).inc();
        self.latency.with(&[verb, resource]).observe(took);
    }

    pub fn watchers(&self, resource: &str, delta: i64) {
        self.watchers.with(&[resource]).add(delta);
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

    #[test]
    fn renders_requests_latency_and_watchers() {
        let m = Metrics::default();
        m.observe("get", "pods", "404", Duration::from_millis(2));
        m.watchers("pods", 1);
        let t = m.render();
        assert!(t.contains("apiserver_request_total{verb=\"get\",resource=\"pods\",code=\"404\"} 1\n"), "{t}");
        assert!(t.contains("apiserver_request_duration_seconds_bucket{verb=\"get\",resource=\"pods\",le=\"0.001\"} 0\n"), "{t}");
        assert!(t.contains("apiserver_request_duration_seconds_bucket{verb=\"get\",resource=\"pods\",le=\"0.0025\"} 1\n"), "{t}");
        assert!(t.contains("apiserver_registered_watchers{resource=\"pods\"} 1\n"), "{t}");
    }
}
