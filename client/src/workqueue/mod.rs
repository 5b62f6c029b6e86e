//! A rate-limited, de-duplicating work queue (client-go's
//! `workqueue.TypedRateLimitingInterface`), the middle of every controller:
//! informer handlers [`add`](WorkQueue::add) keys, workers
//! [`get`](WorkQueue::get) them, reconcile, and call [`done`](WorkQueue::done).
//!
//! Guarantees, as client-go's:
//! - an item is queued at most once however often it is added;
//! - an item is never processed by two workers at once: added while being
//!   processed, it is queued again (once) when `done` is called;
//! - after `shutdown`, `get` hands out what is still queued, then `None`.
//!
//! ```no_run
//! # async fn reconcile(_: &str) -> Result<(), ()> { Ok(()) }
//! # async fn f() {
//! use client::workqueue::WorkQueue;
//! let queue = WorkQueue::<String>::new();
//! queue.add("default/web".to_string());
//! while let Some(key) = queue.get().await {
//!     match reconcile(&key).await {
//!         Ok(()) => queue.forget(&key),
//!         Err(()) => queue.add_rate_limited(key.clone()),
//!     }
//!     queue.done(&key);
//! }
//! # }
//! ```

pub mod rate_limiter;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

pub use rate_limiter::{
    default_controller_rate_limiter, BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter, RateLimiter,
};

/// What a queue item needs: usually a `String` key ("ns/name").
pub trait QueueItem: Clone + Eq + Hash + Send + Sync + 'static {}
impl<T: Clone + Eq + Hash + Send + Sync + 'static> QueueItem for T {}

/// `workqueue_depth`, `workqueue_adds_total`, `workqueue_retries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueMetrics {
    pub depth: usize,
    /// Items queued (adds of an item already waiting are not counted; delayed adds count when they fire).
    pub adds_total: u64,
    /// Calls to `add_rate_limited`.
    pub retries_total: u64,
}

/// A cheap-to-clone handle on one queue; clones share it.
pub struct WorkQueue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue { inner: self.inner.clone() }
    }
}

struct Inner<T> {
    state: Mutex<State<T>>,
    retries: AtomicU64,
    /// Wakes `get`ters: an item was queued, a delay may have shortened, or shutdown.
    wake: Notify,
    limiter: Mutex<Box<dyn RateLimiter<T>>>,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Items that need processing (queued, or re-added while processing).
    dirty: HashSet<T>,
    processing: HashSet<T>,
    /// Delayed items by ready time; stale entries are skipped (see `ready_at`).
    delayed: BinaryHeap<Delayed<T>>,
    /// The one ready time that counts for each delayed item (the earliest asked for).
    ready_at: HashMap<T, Instant>,
    seq: u64,
    shutting_down: bool,
    /// Adds that were not de-duplicated (metrics).
    adds: u64,
}

struct Delayed<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Delayed<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<T> Eq for Delayed<T> {}
impl<T> PartialOrd for Delayed<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Delayed<T> {
    /// Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

impl<T: QueueItem> State<T> {
    /// Queues `item` unless it is queued already; true if it was queued now.
    fn add(&mut self, item: T) -> bool {
        if self.shutting_down || !self.dirty.insert(item.clone()) {
            return false;
        }
        self.adds += 1;
        if self.processing.contains(&item) {
            // Queued again by `done`.
            return false;
        }
        self.queue.push_back(item);
        true
    }

    /// Moves delayed items whose time has come into the queue.
    fn promote(&mut self, now: Instant) {
        while self.delayed.peek().is_some_and(|d| d.at <= now) {
            let d = self.delayed.pop().expect("peeked");
            if self.ready_at.get(&d.item) == Some(&d.at) {
                self.ready_at.remove(&d.item);
                self.add(d.item);
            }
        }
    }
}

impl<T: QueueItem> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: QueueItem> WorkQueue<T> {
    /// A queue with client-go's default controller rate limiter.
    pub fn new() -> Self {
        Self::with_rate_limiter(default_controller_rate_limiter())
    }

    pub fn with_rate_limiter(limiter: impl RateLimiter<T> + 'static) -> Self {
        let state = State {
            queue: VecDeque::new(),
            dirty: HashSet::new(),
            processing: HashSet::new(),
            delayed: BinaryHeap::new(),
            ready_at: HashMap::new(),
            seq: 0,
            shutting_down: false,
            adds: 0,
        };
        WorkQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                retries: AtomicU64::new(0),
                wake: Notify::new(),
                limiter: Mutex::new(Box::new(limiter)),
            }),
        }
    }

    /// Queues `item` (no-op if it is queued already, or after shutdown).
    pub fn add(&self, item: T) {
        if self.inner.state.lock().add(item) {
            self.inner.wake.notify_waiters();
        }
    }

    /// Queues `item` once `delay` has passed. Asked again before then, the
    /// earlier time wins.
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let at = Instant::now() + delay;
        let mut st = self.inner.state.lock();
        if st.shutting_down || st.ready_at.get(&item).is_some_and(|t| *t <= at) {
            return;
        }
        st.seq += 1;
        let seq = st.seq;
        st.ready_at.insert(item.clone(), at);
        st.delayed.push(Delayed { at, seq, item });
        drop(st);
        // A sleeping `get` may now have an earlier deadline.
        self.inner.wake.notify_waiters();
    }

    /// Queues `item` after its rate limiter's delay (one more failure).
    pub fn add_rate_limited(&self, item: T) {
        self.inner.retries.fetch_add(1, AtomicOrdering::Relaxed);
        let delay = self.inner.limiter.lock().when(&item);
        self.add_after(item, delay);
    }

    /// Clears `item`'s failure count (call it after a successful reconcile).
    pub fn forget(&self, item: &T) {
        self.inner.limiter.lock().forget(item);
    }

    /// How many times `item` was rate-limited since it was last forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.inner.limiter.lock().num_requeues(item)
    }

    /// Waits for the next item and marks it as being processed; call
    /// [`done`](Self::done) with it afterwards. `None` once the queue is shut
    /// down and drained.
    pub async fn get(&self) -> Option<T> {
        loop {
            // Register for wake-ups before looking, so none is missed.
            let woken = self.inner.wake.notified();
            let mut woken = std::pin::pin!(woken);
            woken.as_mut().enable();
            let deadline = {
                let mut st = self.inner.state.lock();
                st.promote(Instant::now());
                if let Some(item) = st.queue.pop_front() {
                    st.dirty.remove(&item);
                    st.processing.insert(item.clone());
                    return Some(item);
                }
                if st.shutting_down {
                    return None;
                }
                st.delayed.peek().map(|d| d.at)
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => woken.await,
            }
        }
    }

    /// Marks `item` as processed; if it was added meanwhile, queues it again.
    pub fn done(&self, item: &T) {
        let mut st = self.inner.state.lock();
        st.processing.remove(item);
        if st.dirty.contains(item) {
            st.queue.push_back(item.clone());
            drop(st);
            self.inner.wake.notify_waiters();
        }
    }

    /// Items ready to be processed now (for metrics: the queue depth).
    pub fn len(&self) -> usize {
        let mut st = self.inner.state.lock();
        st.promote(Instant::now());
        st.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters for /metrics, as client-go's workqueue metrics.
    pub fn metrics(&self) -> QueueMetrics {
        QueueMetrics {
            depth: self.len(),
            adds_total: self.inner.state.lock().adds,
            retries_total: self.inner.retries.load(AtomicOrdering::Relaxed),
        }
    }

    /// Stops accepting items and drops delayed ones; `get` drains what is
    /// queued, then returns `None` to every worker.
    pub fn shutdown(&self) {
        let mut st = self.inner.state.lock();
        st.shutting_down = true;
        st.delayed.clear();
        st.ready_at.clear();
        drop(st);
        self.inner.wake.notify_waiters();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.lock().shutting_down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn queue() -> WorkQueue<&'static str> {
        WorkQueue::new()
    }

    #[tokio::test]
    async fn adds_are_deduplicated_while_queued_and_fifo() {
        let q = queue();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn added_while_processing_is_requeued_once_after_done() {
        let q = queue();
        q.add("a");
        assert_eq!(q.get().await, Some("a"));
        q.add("a");
        q.add("a");
        assert_eq!(q.len(), 0, "not handed to a second worker while processing");
        q.done(&"a");
        assert_eq!(q.len(), 1, "queued again, once");
        assert_eq!(q.get().await, Some("a"));
        q.done(&"a");
        assert_eq!(q.len(), 0, "done without a new add does not requeue");
    }

    #[tokio::test(start_paused = true)]
    async fn get_waits_for_an_add() {
        let q = queue();
        let worker = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        assert!(!worker.is_finished());
        q.add("a");
        assert_eq!(worker.await.unwrap(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_drains_then_ends_every_worker() {
        let q = queue();
        let idle = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.add("a");
        // The idle worker takes "a"; add "b" for the drain check.
        assert_eq!(idle.await.unwrap(), Some("a"));
        q.add("b");
        q.add_after("late", 10 * MS);
        let blocked = tokio::spawn({
            let q = q.clone();
            async move { (q.get().await, q.get().await) }
        });
        tokio::task::yield_now().await;
        q.shutdown();
        q.add("c");
        assert_eq!(blocked.await.unwrap(), (Some("b"), None), "queued items drain, delayed and new ones are dropped");
        assert_eq!(q.get().await, None);
        assert!(q.is_shutting_down());
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_waits_and_the_earliest_time_wins() {
        let q = queue();
        let start = Instant::now();
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(5));
        q.add_after("a", Duration::from_secs(20));
        assert_eq!(q.len(), 0);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
        q.done(&"a");
        // The superseded 10 s entry must not queue it again.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(q.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_delay_wakes_a_sleeping_get() {
        let q = queue();
        let start = Instant::now();
        q.add_after("slow", Duration::from_secs(60));
        let worker = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.add_after("fast", Duration::from_secs(1));
        assert_eq!(worker.await.unwrap(), Some("fast"));
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_adds_back_off_per_item_until_forgotten() {
        let q = queue();
        let start = Instant::now();
        for expected in [5 * MS, 10 * MS, 20 * MS] {
            let t0 = Instant::now();
            q.add_rate_limited("a");
            assert_eq!(q.get().await, Some("a"));
            assert_eq!(Instant::now() - t0, expected);
            q.done(&"a");
        }
        assert_eq!(q.num_requeues(&"a"), 3);
        assert_eq!(q.metrics(), QueueMetrics { depth: 0, adds_total: 3, retries_total: 3 });
        q.forget(&"a");
        assert_eq!(q.num_requeues(&"a"), 0);
        let t0 = Instant::now();
        q.add_rate_limited("a");
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(Instant::now() - t0, 5 * MS);
        assert!(Instant::now() - start < Duration::from_secs(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_workers_never_hold_the_same_item() {
        let q = WorkQueue::<u32>::new();
        let busy = Arc::new(Mutex::new(HashSet::new()));
        let processed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (q, busy, processed) = (q.clone(), busy.clone(), processed.clone());
                tokio::spawn(async move {
                    while let Some(item) = q.get().await {
                        assert!(busy.lock().insert(item), "item {item} handed to two workers");
                        tokio::task::yield_now().await;
                        busy.lock().remove(&item);
                        processed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        q.done(&item);
                    }
                })
            })
            .collect();
        for round in 0..200u32 {
            q.add(round % 5);
            if round % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Let the workers drain, then stop them.
        while !q.is_empty() || !busy.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        q.shutdown();
        for w in workers {
            w.await.unwrap();
        }
        assert!(processed.load(std::sync::atomic::Ordering::Relaxed) >= 5);
    }
}
