//! Expectations (upstream's `ControllerExpectations` and
//! `UIDTrackingControllerExpectations`, pkg/controller/controller_utils.go):
//! what a controller has asked the apiserver to create or delete and not yet
//! seen in its informer cache.
//!
//! A controller that created 3 pods must not count pods again until its
//! cache has seen those 3, or a lagging cache makes it create 3 more. So:
//! before creating, [`expect_creations`](ControllerExpectations::expect_creations);
//! in the pod informer's handler, [`creation_observed`](ControllerExpectations::creation_observed);
//! when a create fails, lower the expectation (the informer will never see
//! that pod); and only act when [`satisfied`](ControllerExpectations::satisfied).
//! Expectations older than [`EXPECTATIONS_TIMEOUT`] count as satisfied, so a
//! lost watch event cannot wedge a controller forever.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Upstream's ExpectationsTimeout: after this, unfulfilled expectations are
/// ignored and the controller syncs anyway.
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy)]
struct Expectation {
    add: i64,
    del: i64,
    /// When they were set (the TTL runs from here).
    at: Instant,
}

impl Expectation {
    fn fulfilled(&self) -> bool {
        self.add <= 0 && self.del <= 0
    }
}

/// Outstanding creations and deletions per controller key ("ns/name").
/// Cheap to clone; clones share the counts.
#[derive(Clone, Default)]
pub struct ControllerExpectations {
    map: Arc<Mutex<HashMap<String, Expectation>>>,
}

impl ControllerExpectations {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the controller may act on `key`: nothing is expected (or
    /// never was), or the expectations are older than [`EXPECTATIONS_TIMEOUT`].
    pub fn satisfied(&self, key: &str) -> bool {
        match self.map.lock().get(key) {
            None => true,
            Some(e) if e.fulfilled() => true,
            Some(e) if e.at.elapsed() > EXPECTATIONS_TIMEOUT => {
                tracing::info!(key, add = e.add, del = e.del, "expectations expired; syncing anyway");
                true
            }
            Some(_) => false,
        }
    }

    /// (adds, deletes) still expected, if any were set.
    pub fn get(&self, key: &str) -> Option<(i64, i64)> {
        self.map.lock().get(key).map(|e| (e.add, e.del))
    }

    /// Sets the expectations of `key` (replacing any) and restarts the TTL.
    pub fn set(&self, key: &str, add: i64, del: i64) {
        self.map.lock().insert(key.to_string(), Expectation { add, del, at: Instant::now() });
    }

    pub fn expect_creations(&self, key: &str, adds: usize) {
        self.set(key, adds as i64, 0)
    }

    pub fn expect_deletions(&self, key: &str, dels: usize) {
        self.set(key, 0, dels as i64)
    }

    /// Lowers the outstanding counts (observations, or requests that failed
    /// and so will never be observed). Does not restart the TTL.
    pub fn lower(&self, key: &str, add: i64, del: i64) {
        if let Some(e) = self.map.lock().get_mut(key) {
            e.add -= add;
            e.del -= del;
        }
    }

    /// Raises the outstanding counts. Does not restart the TTL.
    pub fn raise(&self, key: &str, add: i64, del: i64) {
        if let Some(e) = self.map.lock().get_mut(key) {
            e.add += add;
            e.del += del;
        }
    }

    /// One expected creation was seen (or failed).
    pub fn creation_observed(&self, key: &str) {
        self.lower(key, 1, 0)
    }

    /// One expected deletion was seen (or failed).
    pub fn deletion_observed(&self, key: &str) {
        self.lower(key, 0, 1)
    }

    /// Forgets `key` (its controller object was deleted).
    pub fn delete(&self, key: &str) {
        self.map.lock().remove(key);
    }
}

/// [`ControllerExpectations`] that also remember *which* objects are
/// expected to go (by their store key), so a deletion observed twice (the
/// pod got a deletionTimestamp, later it vanished) counts once.
#[derive(Clone, Default)]
pub struct UidTrackingExpectations {
    counts: ControllerExpectations,
    deleting: Arc<Mutex<HashMap<String, HashSet<String>>>>,
}

impl UidTrackingExpectations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn satisfied(&self, key: &str) -> bool {
        self.counts.satisfied(key)
    }

    pub fn get(&self, key: &str) -> Option<(i64, i64)> {
        self.counts.get(key)
    }

    pub fn expect_creations(&self, key: &str, adds: usize) {
        self.counts.expect_creations(key, adds)
    }

    pub fn creation_observed(&self, key: &str) {
        self.counts.creation_observed(key)
    }

    /// Expects the objects `deleted_keys` to go; replaces what was tracked before.
    pub fn expect_deletions(&self, key: &str, deleted_keys: Vec<String>) {
        let mut deleting = self.deleting.lock();
        if let Some(old) = deleting.get(key).filter(|s| !s.is_empty()) {
            tracing::warn!(key, clobbered = old.len(), "expect_deletions: replacing deletions still expected");
        }
        let n = deleted_keys.len();
        deleting.insert(key.to_string(), deleted_keys.into_iter().collect());
        self.counts.expect_deletions(key, n);
    }

    /// The object `deleted_key` was seen going (or its delete failed);
    /// counts only once per expected object.
    pub fn deletion_observed(&self, key: &str, deleted_key: &str) {
        let mut deleting = self.deleting.lock();
        if let Some(set) = deleting.get_mut(key) {
            if set.remove(deleted_key) {
                self.counts.deletion_observed(key);
            }
        }
    }

    /// The keys still expected to be deleted.
    pub fn pending_deletions(&self, key: &str) -> Vec<String> {
        self.deleting.lock().get(key).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    pub fn delete(&self, key: &str) {
        self.deleting.lock().remove(key);
        self.counts.delete(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn creations_are_satisfied_once_observed() {
        let e = ControllerExpectations::new();
        assert!(e.satisfied("ns/rs"), "nothing expected yet");
        e.expect_creations("ns/rs", 2);
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(!e.satisfied("ns/rs"));
        assert_eq!(e.get("ns/rs"), Some((1, 0)));
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));
        // More observations than expected (adopted pods) stay satisfied.
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));
        assert!(e.satisfied("ns/other"));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_creations_lower_the_expectation() {
        let e = ControllerExpectations::new();
        e.expect_creations("ns/rs", 4);
        // 1 created and observed; the batch of 2 failed, 1 was never tried: the informer sees none of those 3.
        e.creation_observed("ns/rs");
        e.lower("ns/rs", 3, 0);
        assert!(e.satisfied("ns/rs"));
    }

    #[tokio::test(start_paused = true)]
    async fn unfulfilled_expectations_expire_after_five_minutes() {
        let e = ControllerExpectations::new();
        e.expect_creations("ns/rs", 1);
        tokio::time::advance(EXPECTATIONS_TIMEOUT).await;
        assert!(!e.satisfied("ns/rs"), "not yet: the timeout is a strict bound");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(e.satisfied("ns/rs"));
        // Lowering does not restart the TTL; setting does.
        e.lower("ns/rs", -1, 0);
        assert!(e.satisfied("ns/rs"));
        e.expect_deletions("ns/rs", 1);
        assert!(!e.satisfied("ns/rs"));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(!e.satisfied("ns/rs"));
        e.delete("ns/rs");
        assert!(e.satisfied("ns/rs"));
        assert_eq!(e.get("ns/rs"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn uid_tracking_counts_each_deleted_object_once() {
        let e = UidTrackingExpectations::new();
        e.expect_deletions("ns/rs", vec!["ns/a".into(), "ns/b".into()]);
        assert!(!e.satisfied("ns/rs"));
        // Graceful deletion: seen with a deletionTimestamp, then seen gone.
        e.deletion_observed("ns/rs", "ns/a");
        e.deletion_observed("ns/rs", "ns/a");
        assert_eq!(e.get("ns/rs"), Some((0, 1)));
        assert!(!e.satisfied("ns/rs"));
        // A pod nobody expected to go does not count.
        e.deletion_observed("ns/rs", "ns/zzz");
        assert!(!e.satisfied("ns/rs"));
        assert_eq!(e.pending_deletions("ns/rs"), ["ns/b"]);
        e.deletion_observed("ns/rs", "ns/b");
        assert!(e.satisfied("ns/rs"));
        e.delete("ns/rs");
        assert!(e.pending_deletions("ns/rs").is_empty());
    }
}
