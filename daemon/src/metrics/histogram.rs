//! The one histogram type: cumulative buckets, sum and count, lock-free.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{format_float, sample, Metric};

/// Prometheus' (and component-base's) `DefBuckets`, in seconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// `count` buckets: `start`, `start*factor`, `start*factor^2`... (client_golang's `ExponentialBuckets`).
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Vec<f64> {
    std::iter::successors(Some(start), |b| Some(b * factor)).take(count).collect()
}

/// `count` buckets: `start`, `start+width`, ... (client_golang's `LinearBuckets`).
pub fn linear_buckets(start: f64, width: f64, count: usize) -> Vec<f64> {
    (0..count).map(|i| start + width * i as f64).collect()
}

/// What a histogram can observe: a number, or a `Duration` as its seconds
/// (Prometheus' base unit).
pub trait Observation {
    fn value(self) -> f64;
}

impl Observation for f64 {
    fn value(self) -> f64 {
        self
    }
}

impl Observation for Duration {
    fn value(self) -> f64 {
        self.as_secs_f64()
    }
}

/// Observations counted into buckets by upper bound (`le`), with their sum.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    bounds: Box<[f64]>,
    /// Per bucket (not cumulative), plus one past the last bound (+Inf).
    counts: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new(&DEFAULT_BUCKETS)
    }
}

impl Histogram {
    /// A histogram with these upper bounds (sorted here; a +Inf bound is implied).
    pub fn new(buckets: &[f64]) -> Self {
        let mut bounds: Vec<f64> = buckets.iter().copied().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(Inner { bounds: bounds.into(), counts, sum_bits: AtomicU64::new(0f64.to_bits()) }))
    }

    pub fn observe(&self, v: impl Observation) {
        let v = v.value();
        let i = self.0.bounds.partition_point(|b| *b < v);
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        let _ = self.0.sum_bits.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| Some((f64::from_bits(s) + v).to_bits()));
    }

    pub fn count(&self) -> u64 {
        self.0.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    pub fn sum(&self) -> f64 {
        f64::from_bits(self.0.sum_bits.load(Ordering::Relaxed))
    }

    /// Mean of the observations (0 when there are none).
    pub fn mean(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum() / n as f64,
        }
    }

    /// The bounds with their cumulative counts, +Inf last.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        let mut acc = 0;
        let bounds = self.0.bounds.iter().copied().chain([f64::INFINITY]);
        bounds.zip(self.0.counts.iter()).map(|(b, c)| { acc += c.load(Ordering::Relaxed); (b, acc) }).collect()
    }
}

impl Metric for Histogram {
    fn kind(&self) -> &'static str {
        "histogram"
    }
    fn encode(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let buckets = self.buckets();
        let bucket = format!("{name}_bucket");
        for (le, n) in &buckets {
            sample(out, &bucket, &format!("{labels}{sep}le=\"{}\"", format_float(*le)), &n.to_string());
        }
        // Count from the same snapshot as the buckets, so +Inf == count.
        let count = buckets.last().map_or(0, |b| b.1);
        sample(out, &format!("{name}_sum"), labels, &format_float(self.sum()));
        sample(out, &format!("{name}_count"), labels, &count.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets_sum_and_count() {
        let h = Histogram::new(&[0.1, 1.0, 0.5]);
        h.observe(0.1); // le is inclusive
        h.observe(Duration::from_millis(300));
        h.observe(7.0);
        let mut out = String::new();
        h.encode("x_seconds", "verb=\"get\"", &mut out);
        assert_eq!(
            out,
            "x_seconds_bucket{verb=\"get\",le=\"0.1\"} 1\n\
             x_seconds_bucket{verb=\"get\",le=\"0.5\"} 2\n\
             x_seconds_bucket{verb=\"get\",le=\"1\"} 2\n\
             x_seconds_bucket{verb=\"get\",le=\"+Inf\"} 3\n\
             x_seconds_sum{verb=\"get\"} 7.4\n\
             x_seconds_count{verb=\"get\"} 3\n"
        );
        assert!((h.mean() - 7.4 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn unlabelled_and_empty() {
        let h = Histogram::new(&[1.0]);
        let mut out = String::new();
        h.encode("y", "", &mut out);
        assert_eq!(out, "y_bucket{le=\"1\"} 0\ny_bucket{le=\"+Inf\"} 0\ny_sum 0\ny_count 0\n");
        assert_eq!(h.mean(), 0.0);
    }

    #[test]
    fn bucket_helpers_match_client_golang() {
        let e: Vec<String> = exponential_buckets(0.001, 2.0, 15).iter().map(|b| format_float(*b)).collect();
        assert_eq!(e.first().map(String::as_str), Some("0.001"));
        assert_eq!(e[2], "0.004");
        assert_eq!(e[14], "16.384");
        assert_eq!(linear_buckets(1.0, 0.5, 3), vec![1.0, 1.5, 2.0]);
        assert_eq!(Histogram::default().buckets().len(), DEFAULT_BUCKETS.len() + 1);
    }
}
