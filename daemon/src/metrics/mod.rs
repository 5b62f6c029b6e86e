//! Prometheus metrics: [`Counter`], [`Gauge`], one [`Histogram`] type,
//! [`Family`] for labelled children, all registered in a [`Registry`] that
//! renders the text exposition format (version 0.0.4) served on `/metrics`.
//!
//! Metrics are cheap handles (an `Arc` inside): clone one into the code that
//! updates it and keep another in the registry. Counters and gauges deref to
//! their atomic, so hot paths can `fetch_add` directly.

mod histogram;
mod registry;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use histogram::{exponential_buckets, linear_buckets, Histogram, Observation, DEFAULT_BUCKETS};
pub use registry::Registry;

/// The content type of [`Registry::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Something a registry can render. `labels` are this sample's rendered
/// label pairs (`a="x",b="y"`, possibly empty), already escaped.
pub trait Metric: Send + Sync + 'static {
    /// The `# TYPE` of the metric: counter, gauge or histogram.
    fn kind(&self) -> &'static str;
    /// Appends this metric's sample lines.
    fn encode(&self, name: &str, labels: &str, out: &mut String);
    /// Whether there is nothing to print (an empty family).
    fn is_empty(&self) -> bool {
        false
    }
}

/// A monotonically increasing count.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.inc_by(1);
    }
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Deref for Counter {
    type Target = AtomicU64;
    fn deref(&self) -> &AtomicU64 {
        &self.0
    }
}

impl Metric for Counter {
    fn kind(&self) -> &'static str {
        "counter"
    }
    fn encode(&self, name: &str, labels: &str, out: &mut String) {
        sample(out, name, labels, &self.get().to_string());
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn add(&self, d: i64) {
        self.0.fetch_add(d, Ordering::Relaxed);
    }
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn dec(&self) {
        self.add(-1);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Deref for Gauge {
    type Target = AtomicI64;
    fn deref(&self) -> &AtomicI64 {
        &self.0
    }
}

impl Metric for Gauge {
    fn kind(&self) -> &'static str {
        "gauge"
    }
    fn encode(&self, name: &str, labels: &str, out: &mut String) {
        sample(out, name, labels, &self.get().to_string());
    }
}

/// Children of one metric told apart by label values (client_golang's
/// `*Vec`). `with` creates a child on first use.
pub struct Family<M> {
    inner: Arc<FamilyInner<M>>,
}

type Children<M> = HashMap<u64, Vec<(Box<[String]>, M)>>;

struct FamilyInner<M> {
    labels: Box<[String]>,
    kind: &'static str,
    make: Box<dyn Fn() -> M + Send + Sync>,
    // Keyed by a hash of the values so a lookup needs no allocation.
    children: RwLock<Children<M>>,
}

impl<M> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family { inner: self.inner.clone() }
    }
}

fn hash_values(values: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in values {
        v.hash(&mut h);
    }
    h.finish()
}

impl<M: Metric + Clone> Family<M> {
    /// A family with these label names whose children `make` creates.
    pub fn new(labels: &[&str], make: impl Fn() -> M + Send + Sync + 'static) -> Self {
        let kind = make().kind();
        Family { inner: Arc::new(FamilyInner { labels: labels.iter().map(|s| s.to_string()).collect(), kind, make: Box::new(make), children: Default::default() }) }
    }

    /// The child for these label values (in label order).
    ///
    /// # Panics
    /// When the number of values differs from the number of labels, a
    /// programming error (as client_golang's `WithLabelValues`).
    pub fn with(&self, values: &[&str]) -> M {
        assert_eq!(values.len(), self.inner.labels.len(), "metric family has labels {:?}, got values {values:?}", self.inner.labels);
        let key = hash_values(values);
        let same = |k: &[String]| k.iter().map(String::as_str).eq(values.iter().copied());
        if let Some(m) = self.inner.children.read().unwrap_or_else(|e| e.into_inner()).get(&key).and_then(|b| b.iter().find(|(k, _)| same(k))) {
            return m.1.clone();
        }
        let mut children = self.inner.children.write().unwrap_or_else(|e| e.into_inner());
        let bucket = children.entry(key).or_default();
        if let Some((_, m)) = bucket.iter().find(|(k, _)| same(k)) {
            return m.clone();
        }
        let m = (self.inner.make)();
        bucket.push((values.iter().map(|s| s.to_string()).collect(), m.clone()));
        m
    }

    /// Drops the child for these values (e.g. a deleted object's series).
    pub fn remove(&self, values: &[&str]) -> bool {
        let key = hash_values(values);
        let mut children = self.inner.children.write().unwrap_or_else(|e| e.into_inner());
        let Some(bucket) = children.get_mut(&key) else { return false };
        let before = bucket.len();
        bucket.retain(|(k, _)| !k.iter().map(String::as_str).eq(values.iter().copied()));
        before != bucket.len()
    }
}

impl<M: Metric + Clone> Metric for Family<M> {
    fn kind(&self) -> &'static str {
        self.inner.kind
    }
    fn encode(&self, name: &str, outer: &str, out: &mut String) {
        let children = self.inner.children.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<&(Box<[String]>, M)> = children.values().flatten().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (values, m) in all {
            let mut labels = outer.to_string();
            for (l, v) in self.inner.labels.iter().zip(values.iter()) {
                if !labels.is_empty() {
                    labels.push(',');
                }
                labels.push_str(l);
                labels.push_str("=\"");
                escape_label_value(v, &mut labels);
                labels.push('"');
            }
            m.encode(name, &labels, out);
        }
    }
    fn is_empty(&self) -> bool {
        self.inner.children.read().unwrap_or_else(|e| e.into_inner()).values().all(Vec::is_empty)
    }
}

/// One line: `name{labels} value`.
pub(crate) fn sample(out: &mut String, name: &str, labels: &str, value: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// Label values escape `\`, `"` and newlines.
fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Floats as Prometheus (and Go's strconv) print them.
pub(crate) fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_renders_children_sorted_with_escaped_values() {
        let f = Family::new(&["verb", "path"], Counter::default);
        f.with(&["get", "/b"]).inc();
        f.with(&["get", "/a\"x\\\n"]).inc_by(2);
        f.with(&["get", "/b"]).inc();
        let mut out = String::new();
        f.encode("req_total", "", &mut out);
        assert_eq!(out, "req_total{verb=\"get\",path=\"/a\\\"x\\\\\\n\"} 2\nreq_total{verb=\"get\",path=\"/b\"} 2\n");
        assert!(f.remove(&["get", "/b"]));
        assert!(!f.remove(&["get", "/b"]));
    }

    #[test]
    #[should_panic(expected = "metric family has labels")]
    fn family_rejects_wrong_number_of_values() {
        Family::new(&["a"], Gauge::default).with(&["x", "y"]);
    }
}
