//! How long an item waits before it is retried (client-go's
//! `workqueue.RateLimiter` family).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// Decides retry delays. `when` counts as one failure of `item`.
pub trait RateLimiter<T>: Send {
    /// The delay before `item` may be processed again.
    fn when(&mut self, item: &T) -> Duration;
    /// Stops tracking `item` (it succeeded).
    fn forget(&mut self, item: &T);
    /// How many times `item` has been rate-limited since it was last forgotten.
    fn num_requeues(&self, item: &T) -> u32;
}

/// Per-item exponential backoff: `base * 2^failures`, capped at `max`.
pub struct ItemExponentialFailureRateLimiter<T> {
    base: Duration,
    max: Duration,
    failures: HashMap<T, u32>,
}

impl<T> ItemExponentialFailureRateLimiter<T> {
    pub fn new(base: Duration, max: Duration) -> Self {
        ItemExponentialFailureRateLimiter { base, max, failures: HashMap::new() }
    }
}

impl<T: Eq + Hash + Clone + Send> RateLimiter<T> for ItemExponentialFailureRateLimiter<T> {
    fn when(&mut self, item: &T) -> Duration {
        let n = self.failures.entry(item.clone()).or_insert(0);
        let exp = *n;
        *n = n.saturating_add(1);
        2u32.checked_pow(exp).and_then(|f| self.base.checked_mul(f)).map_or(self.max, |d| d.min(self.max))
    }
    fn forget(&mut self, item: &T) {
        self.failures.remove(item);
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.get(item).copied().unwrap_or(0)
    }
}

/// An overall token bucket (Go's `rate.Limiter` reservations): `burst`
/// items at once, then `qps` per second, whatever the item.
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl BucketRateLimiter {
    pub fn new(qps: f64, burst: u32) -> Self {
        BucketRateLimiter { qps, burst: burst as f64, tokens: burst as f64, last: Instant::now() }
    }
}

impl<T> RateLimiter<T> for BucketRateLimiter {
    fn when(&mut self, _item: &T) -> Duration {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
    fn forget(&mut self, _item: &T) {}
    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// The longest delay of several limiters.
pub struct MaxOfRateLimiter<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> MaxOfRateLimiter<T> {
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        MaxOfRateLimiter { limiters }
    }
}

impl<T: Send> RateLimiter<T> for MaxOfRateLimiter<T> {
    fn when(&mut self, item: &T) -> Duration {
        // Every limiter must count the failure, so no short-circuit.
        self.limiters.iter_mut().map(|l| l.when(item)).max().unwrap_or(Duration::ZERO)
    }
    fn forget(&mut self, item: &T) {
        self.limiters.iter_mut().for_each(|l| l.forget(item));
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.limiters.iter().map(|l| l.num_requeues(item)).max().unwrap_or(0)
    }
}

/// client-go's `DefaultControllerRateLimiter`: per-item 5 ms .. 1000 s
/// exponential backoff, and 10 qps with a burst of 100 overall.
pub fn default_controller_rate_limiter<T: Eq + Hash + Clone + Send + 'static>() -> MaxOfRateLimiter<T> {
    MaxOfRateLimiter::new(vec![
        Box::new(ItemExponentialFailureRateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000))),
        Box::new(BucketRateLimiter::new(10.0, 100)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn item_backoff_doubles_per_failure_caps_and_forgets() {
        let mut l = ItemExponentialFailureRateLimiter::new(5 * MS, Duration::from_secs(1000));
        let delays: Vec<_> = (0..5).map(|_| l.when(&"a")).collect();
        assert_eq!(delays, [5 * MS, 10 * MS, 20 * MS, 40 * MS, 80 * MS]);
        assert_eq!(l.when(&"b"), 5 * MS, "items back off independently");
        assert_eq!(l.num_requeues(&"a"), 5);
        for _ in 0..40 {
            l.when(&"a");
        }
        assert_eq!(l.when(&"a"), Duration::from_secs(1000), "capped at max, no overflow");
        l.forget(&"a");
        assert_eq!(l.num_requeues(&"a"), 0);
        assert_eq!(l.when(&"a"), 5 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_qps() {
        let mut l = BucketRateLimiter::new(10.0, 100);
        for i in 0..100 {
            assert_eq!(RateLimiter::<u32>::when(&mut l, &i), Duration::ZERO, "item {i} is within the burst");
        }
        assert_eq!(RateLimiter::<u32>::when(&mut l, &100), 100 * MS);
        assert_eq!(RateLimiter::<u32>::when(&mut l, &101), 200 * MS);
        // One second refills 10 tokens: the debt of 2 is paid, 8 are free again.
        tokio::time::advance(Duration::from_secs(1)).await;
        for i in 0..8 {
            assert_eq!(RateLimiter::<u32>::when(&mut l, &i), Duration::ZERO);
        }
        assert_eq!(RateLimiter::<u32>::when(&mut l, &9), 100 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn default_controller_limiter_is_the_max_of_both() {
        let mut l = default_controller_rate_limiter::<String>();
        let a = "a".to_string();
        assert_eq!(l.when(&a), 5 * MS);
        assert_eq!(l.when(&a), 10 * MS);
        assert_eq!(l.num_requeues(&a), 2);
        // Exhaust the bucket with other items: now the bucket dominates for a fresh item.
        for i in 0..98 {
            l.when(&format!("x{i}"));
        }
        let fresh = "fresh".to_string();
        assert_eq!(l.when(&fresh), 100 * MS);
        l.forget(&a);
        assert_eq!(l.num_requeues(&a), 0);
    }
}
