//! The scheduling queue, as upstream: activeQ (by priority, then arrival),
//! backoffQ (by backoff expiry) and unschedulable pods that wait for a
//! cluster event that could make them fit.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::pod_info::PodInfo;

/// Pods stay unschedulable at most this long before a retry (upstream podMaxInUnschedulablePodsDuration).
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// Cluster events that may make unschedulable pods fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent {
    NodeAdd,
    NodeUpdate,
    AssignedPodAdd,
    AssignedPodDelete,
    /// A PersistentVolume, PersistentVolumeClaim or StorageClass was added or changed.
    VolumeChange,
    /// Periodic flush or anything that should retry every pod.
    Any,
}

impl ClusterEvent {
    /// Whether a pod rejected by `plugin` might fit after this event.
    fn may_help(self, plugin: &str) -> bool {
        use crate::plugins::*;
        match self {
            ClusterEvent::NodeAdd | ClusterEvent::NodeUpdate | ClusterEvent::Any => true,
            ClusterEvent::AssignedPodDelete => {
                matches!(plugin, NODE_RESOURCES_FIT | NODE_PORTS | INTER_POD_AFFINITY | POD_TOPOLOGY_SPREAD | DEFAULT_PREEMPTION)
            }
            ClusterEvent::AssignedPodAdd => matches!(plugin, INTER_POD_AFFINITY | POD_TOPOLOGY_SPREAD),
            ClusterEvent::VolumeChange => plugin == VOLUME_BINDING,
        }
    }
}

#[derive(Debug, Clone)]
pub struct QueuedPod {
    pub pod: Arc<PodInfo>,
    /// When it was last added to a queue.
    pub timestamp: Instant,
    pub attempts: u32,
    /// First time it was popped (for e2e latency).
    pub initial_attempt: Option<Instant>,
    /// When the pod was first seen by the scheduler.
    pub added: Instant,
    /// Plugins that rejected it in the last attempt.
    pub unschedulable_plugins: HashSet<&'static str>,
}

impl QueuedPod {
    pub fn new(pod: Arc<PodInfo>) -> Self {
        let now = Instant::now();
        QueuedPod { pod, timestamp: now, attempts: 0, initial_attempt: None, added: now, unschedulable_plugins: HashSet::new() }
    }
}

#[derive(PartialEq, Eq)]
struct ActiveKey {
    priority: i32,
    timestamp: Instant,
    seq: u64,
    key: String,
}

impl Ord for ActiveKey {
    fn cmp(&self, o: &Self) -> Ordering {
        // Max-heap: higher priority first, then earlier timestamp, then FIFO.
        self.priority.cmp(&o.priority).then(o.timestamp.cmp(&self.timestamp)).then(o.seq.cmp(&self.seq))
    }
}
impl PartialOrd for ActiveKey {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Where {
    Active(u64),
    Backoff(Instant, u64),
    Unschedulable,
}

#[derive(Default)]
struct Inner {
    pods: HashMap<String, (QueuedPod, Where)>,
    active: BinaryHeap<ActiveKey>,
    backoff: BTreeSet<(Instant, u64, String)>,
    in_flight: HashSet<String>,
    /// Keys of the pods in `pods` that are Where::Unschedulable (so events scan only those).
    unschedulable: HashSet<String>,
    seq: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    closed: bool,
}

pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    initial_backoff: Duration,
    max_backoff: Duration,
}

/// Queue lengths, for /metrics (scheduler_pending_pods{queue=...}).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lengths {
    pub active: usize,
    pub backoff: usize,
    pub unschedulable: usize,
}

impl SchedulingQueue {
    pub fn new(initial_backoff: Duration, max_backoff: Duration) -> Self {
        SchedulingQueue { inner: Mutex::new(Inner::default()), notify: Notify::new(), initial_backoff, max_backoff }
    }

    fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.max_backoff {
                return self.max_backoff;
            }
        }
        d.min(self.max_backoff)
    }

    fn backoff_expiry(&self, qp: &QueuedPod) -> Instant {
        qp.timestamp + self.backoff_duration(qp.attempts)
    }

    fn push_active(inner: &mut Inner, mut qp: QueuedPod) {
        inner.unschedulable.remove(&qp.pod.key);
        inner.seq += 1;
        let seq = inner.seq;
        let key = qp.pod.key.clone();
        if let Some((_, w)) = inner.pods.get(&key) {
            if let Where::Backoff(t, s) = *w {
                inner.backoff.remove(&(t, s, key.clone()));
            }
        }
        qp.timestamp = qp.timestamp.min(Instant::now());
        inner.active.push(ActiveKey { priority: qp.pod.priority, timestamp: qp.timestamp, seq, key: key.clone() });
        inner.pods.insert(key, (qp, Where::Active(seq)));
    }

    fn push_backoff(&self, inner: &mut Inner, qp: QueuedPod) {
        inner.unschedulable.remove(&qp.pod.key);
        inner.seq += 1;
        let seq = inner.seq;
        let at = self.backoff_expiry(&qp);
        let key = qp.pod.key.clone();
        inner.backoff.insert((at, seq, key.clone()));
        inner.pods.insert(key, (qp, Where::Backoff(at, seq)));
    }

    /// A new pending pod.
    pub fn add(&self, pod: Arc<PodInfo>) {
        let mut inner = self.inner.lock();
        if inner.pods.contains_key(&pod.key) {
            drop(inner);
            return self.update(pod);
        }
        Self::push_active(&mut inner, QueuedPod::new(pod));
        drop(inner);
        self.notify.notify_one();
    }

    /// A pending pod seen by the informer: added, or refreshed in place; an
    /// unschedulable one is retried only when its spec changed.
    pub fn add_or_update(&self, pod: Arc<PodInfo>, spec_changed: bool) {
        let mut inner = self.inner.lock();
        if let Some((qp, Where::Unschedulable)) = inner.pods.get_mut(&pod.key) {
            if !spec_changed {
                qp.pod = pod;
                return;
            }
        }
        drop(inner);
        self.add(pod);
    }

    /// A pending pod changed: refresh it; an unschedulable one is retried.
    pub fn update(&self, pod: Arc<PodInfo>) {
        let mut inner = self.inner.lock();
        let Some((mut qp, w)) = inner.pods.remove(&pod.key) else {
            if !inner.in_flight.contains(&pod.key) {
                Self::push_active(&mut inner, QueuedPod::new(pod));
                drop(inner);
                self.notify.notify_one();
            }
            return;
        };
        qp.pod = pod;
        match w {
            Where::Active(_) | Where::Backoff(..) => {
                // Keep its place; the heap entry points at the key.
                inner.pods.insert(qp.pod.key.clone(), (qp, w));
            }
            Where::Unschedulable => {
                if self.backoff_expiry(&qp) > Instant::now() {
                    self.push_backoff(&mut inner, qp);
                } else {
                    Self::push_active(&mut inner, qp);
                    drop(inner);
                    self.notify.notify_one();
                }
            }
        }
    }

    pub fn delete(&self, key: &str) {
        let mut inner = self.inner.lock();
        inner.unschedulable.remove(key);
        if let Some((_, Where::Backoff(t, s))) = inner.pods.remove(key) {
            inner.backoff.remove(&(t, s, key.to_string()));
        }
    }

    /// Waits for the next pod to schedule; None once closed.
    pub async fn pop(&self) -> Option<QueuedPod> {
        loop {
            let notified = self.notify.notified();
            if let Some(qp) = self.try_pop() {
                return Some(qp);
            }
            if self.inner.lock().closed {
                return None;
            }
            notified.await;
        }
    }

    pub fn try_pop(&self) -> Option<QueuedPod> {
        let mut inner = self.inner.lock();
        while let Some(top) = inner.active.pop() {
            let current = matches!(inner.pods.get(&top.key), Some((_, Where::Active(s))) if *s == top.seq);
            if !current {
                continue;
            }
            let (mut qp, _) = inner.pods.remove(&top.key).expect("present");
            qp.attempts += 1;
            qp.initial_attempt.get_or_insert_with(Instant::now);
            inner.scheduling_cycle += 1;
            inner.in_flight.insert(top.key);
            return Some(qp);
        }
        None
    }

    /// The cycle number of the last pop: passed back to `add_unschedulable`.
    pub fn scheduling_cycle(&self) -> u64 {
        self.inner.lock().scheduling_cycle
    }

    /// Scheduling of a popped pod ended (bound, failed, or requeued).
    pub fn done(&self, key: &str) {
        self.inner.lock().in_flight.remove(key);
    }

    /// Puts back a pod that failed in the cycle `cycle`. If a move request came
    /// in meanwhile it goes to backoff (it may fit now); else it waits.
    pub fn add_unschedulable(&self, mut qp: QueuedPod, cycle: u64) {
        let mut inner = self.inner.lock();
        inner.in_flight.remove(&qp.pod.key);
        if inner.pods.contains_key(&qp.pod.key) {
            return;
        }
        qp.timestamp = Instant::now();
        if inner.move_request_cycle >= cycle || qp.unschedulable_plugins.is_empty() {
            self.push_backoff(&mut inner, qp);
        } else {
            let key = qp.pod.key.clone();
            inner.unschedulable.insert(key.clone());
            inner.pods.insert(key, (qp, Where::Unschedulable));
        }
    }

    /// A cluster event: unschedulable pods that it may help go to backoff or active.
    pub fn move_all(&self, ev: ClusterEvent) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        let keys: Vec<String> = inner
            .unschedulable
            .iter()
            .filter(|k| {
                inner.pods.get(*k).is_some_and(|(qp, w)| {
                    *w == Where::Unschedulable
                        && (qp.unschedulable_plugins.is_empty() || qp.unschedulable_plugins.iter().any(|p| ev.may_help(p)))
                })
            })
            .cloned()
            .collect();
        let mut woke = false;
        for k in keys {
            let (qp, _) = inner.pods.remove(&k).expect("present");
            if self.backoff_expiry(&qp) > now {
                self.push_backoff(&mut inner, qp);
            } else {
                Self::push_active(&mut inner, qp);
                woke = true;
            }
        }
        inner.move_request_cycle = inner.scheduling_cycle;
        drop(inner);
        if woke {
            self.notify.notify_waiters();
            self.notify.notify_one();
        }
    }

    /// Moves pods whose backoff expired to active, and pods unschedulable for
    /// too long back to the queues. Called periodically.
    pub fn flush(&self) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        let mut woke = false;
        while let Some((at, _, _)) = inner.backoff.first().cloned() {
            if at > now {
                break;
            }
            let (_, _, key) = inner.backoff.pop_first().expect("present");
            if let Some((qp, _)) = inner.pods.remove(&key) {
                Self::push_active(&mut inner, qp);
                woke = true;
            }
        }
        let stale: Vec<String> = inner
            .unschedulable
            .iter()
            .filter(|k| inner.pods.get(*k).is_some_and(|(qp, w)| *w == Where::Unschedulable && now.duration_since(qp.timestamp) > MAX_IN_UNSCHEDULABLE))
            .cloned()
            .collect();
        for k in stale {
            let (qp, _) = inner.pods.remove(&k).expect("present");
            Self::push_active(&mut inner, qp);
            woke = true;
        }
        drop(inner);
        if woke {
            self.notify.notify_one();
        }
    }

    pub fn lengths(&self) -> Lengths {
        let inner = self.inner.lock();
        let mut l = Lengths::default();
        for (_, w) in inner.pods.values() {
            match w {
                Where::Active(_) => l.active += 1,
                Where::Backoff(..) => l.backoff += 1,
                Where::Unschedulable => l.unschedulable += 1,
            }
        }
        l
    }

    pub fn contains(&self, key: &str) -> bool {
        let inner = self.inner.lock();
        inner.pods.contains_key(key) || inner.in_flight.contains(key)
    }

    pub fn close(&self) {
        self.inner.lock().closed = true;
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::pod_info;

    fn q() -> SchedulingQueue {
        SchedulingQueue::new(Duration::from_millis(1000), Duration::from_millis(10_000))
    }

    #[test]
    fn pops_by_priority_then_fifo() {
        let q = q();
        let mut hi = pod_info("hi", "", "");
        hi.priority = 10;
        q.add(Arc::new(pod_info("a", "", "")));
        q.add(Arc::new(pod_info("b", "", "")));
        q.add(Arc::new(hi));
        let order: Vec<String> = std::iter::from_fn(|| q.try_pop()).map(|p| p.pod.name.clone()).collect();
        assert_eq!(order, ["hi", "a", "b"]);
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        let q = q();
        let d: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_millis() as u64).collect();
        assert_eq!(d, [1000, 2000, 4000, 8000, 10000, 10000]);
    }

    #[test]
    fn unschedulable_waits_for_a_relevant_event() {
        let q = SchedulingQueue::new(Duration::ZERO, Duration::ZERO);
        q.add(Arc::new(pod_info("p", "", "")));
        let mut qp = q.try_pop().unwrap();
        let cycle = q.scheduling_cycle();
        qp.unschedulable_plugins.insert(crate::plugins::NODE_RESOURCES_FIT);
        q.add_unschedulable(qp, cycle);
        assert_eq!(q.lengths(), Lengths { active: 0, backoff: 0, unschedulable: 1 });
        // A new pod bound elsewhere cannot free resources.
        q.move_all(ClusterEvent::AssignedPodAdd);
        assert_eq!(q.lengths().unschedulable, 1);
        q.move_all(ClusterEvent::AssignedPodDelete);
        assert_eq!(q.lengths(), Lengths { active: 1, backoff: 0, unschedulable: 0 });
        let qp = q.try_pop().unwrap();
        assert_eq!(qp.attempts, 2);
    }

    #[test]
    fn event_during_the_cycle_sends_pod_to_backoff() {
        let q = q();
        q.add(Arc::new(pod_info("p", "", "")));
        let mut qp = q.try_pop().unwrap();
        let cycle = q.scheduling_cycle();
        q.move_all(ClusterEvent::NodeAdd); // arrives while "p" is being scheduled
        qp.unschedulable_plugins.insert(crate::plugins::NODE_RESOURCES_FIT);
        q.add_unschedulable(qp, cycle);
        assert_eq!(q.lengths(), Lengths { active: 0, backoff: 1, unschedulable: 0 });
        q.flush();
        assert_eq!(q.lengths().backoff, 1, "still backing off (1 s)");
    }

    #[test]
    fn flush_moves_expired_backoff_to_active() {
        let q = SchedulingQueue::new(Duration::from_millis(1), Duration::from_millis(1));
        q.add(Arc::new(pod_info("p", "", "")));
        let qp = q.try_pop().unwrap();
        q.add_unschedulable(qp, 0);
        std::thread::sleep(Duration::from_millis(5));
        q.flush();
        assert_eq!(q.lengths().active, 1);
        q.delete("default/p");
        assert!(q.try_pop().is_none());
    }
}
