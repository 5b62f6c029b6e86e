//! The registry a component registers its metrics into; `/metrics` renders it.

use std::sync::{Arc, RwLock};

use super::{Counter, Family, Gauge, Histogram, Metric};

/// Registered metrics in registration order. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: RwLock<Vec<Entry>>,
    hooks: RwLock<Vec<Box<dyn Fn() + Send + Sync>>>,
}

struct Entry {
    name: String,
    help: String,
    metric: Box<dyn Metric>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `metric` under `name` and returns it (a handle to keep).
    ///
    /// # Panics
    /// When `name` is already registered here (as client_golang's `MustRegister`).
    pub fn register<M: Metric + Clone>(&self, name: &str, help: &str, metric: M) -> M {
        let mut entries = self.inner.entries.write().unwrap_or_else(|e| e.into_inner());
        assert!(!entries.iter().any(|e| e.name == name), "metric {name} registered twice");
        entries.push(Entry { name: name.into(), help: help.into(), metric: Box::new(metric.clone()) });
        metric
    }

    pub fn counter(&self, name: &str, help: &str) -> Counter {
        self.register(name, help, Counter::default())
    }

    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> Family<Counter> {
        self.register(name, help, Family::new(labels, Counter::default))
    }

    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        self.register(name, help, Gauge::default())
    }

    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> Family<Gauge> {
        self.register(name, help, Family::new(labels, Gauge::default))
    }

    pub fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        self.register(name, help, Histogram::new(buckets))
    }

    pub fn histogram_vec(&self, name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> Family<Histogram> {
        let buckets = buckets.to_vec();
        self.register(name, help, Family::new(labels, move || Histogram::new(&buckets)))
    }

    /// Runs `hook` before each render, to copy state the component keeps
    /// elsewhere (queue lengths, cache sizes) into gauges.
    pub fn on_collect(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.inner.hooks.write().unwrap_or_else(|e| e.into_inner()).push(Box::new(hook));
    }

    /// Everything in Prometheus text format; families without samples are left out.
    pub fn render(&self) -> String {
        for hook in self.inner.hooks.read().unwrap_or_else(|e| e.into_inner()).iter() {
            hook();
        }
        let mut out = String::new();
        for e in self.inner.entries.read().unwrap_or_else(|e| e.into_inner()).iter() {
            if e.metric.is_empty() {
                continue;
            }
            if !e.help.is_empty() {
                out.push_str(&format!("# HELP {} {}\n", e.name, e.help.replace('\\', "\\\\").replace('\n', "\\n")));
            }
            out.push_str(&format!("# TYPE {} {}\n", e.name, e.metric.kind()));
            e.metric.encode(&e.name, "", &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_registered_metrics_in_order() {
        let r = Registry::new();
        let req = r.counter_vec("req_total", "Requests.", &["code"]);
        let _unused = r.counter_vec("never_total", "Left out while empty.", &["x"]);
        let depth = r.gauge("depth", "Queue\ndepth.");
        let lat = r.histogram_vec("lat_seconds", "", &["verb"], &[0.5]);
        let source = Arc::new(std::sync::atomic::AtomicI64::new(4));
        let (d, s) = (depth.clone(), source.clone());
        r.on_collect(move || d.set(s.load(std::sync::atomic::Ordering::Relaxed)));
        req.with(&["200"]).inc();
        lat.with(&["get"]).observe(0.25);
        assert_eq!(
            r.render(),
            "# HELP req_total Requests.\n# TYPE req_total counter\nreq_total{code=\"200\"} 1\n\
             # HELP depth Queue\\ndepth.\n# TYPE depth gauge\ndepth 4\n\
             # TYPE lat_seconds histogram\n\
             lat_seconds_bucket{verb=\"get\",le=\"0.5\"} 1\nlat_seconds_bucket{verb=\"get\",le=\"+Inf\"} 1\n\
             lat_seconds_sum{verb=\"get\"} 0.25\nlat_seconds_count{verb=\"get\"} 1\n"
        );
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_names_panic() {
        let r = Registry::new();
        r.counter("a", "");
        r.gauge("a", "");
    }
}
