//! Recording core/v1 Events about objects (client-go's `record.EventRecorder`
//! with its correlator's aggregation).
//!
//! [`EventRecorder::publish`] never blocks: events go through a bounded
//! channel to a background writer, and are dropped (with a warning) when it
//! is full, as upstream's broadcaster does. The writer names events
//! `<object name>.<hex unix nanos>` and correlates as upstream's
//! EventCorrelator: a repeat (same object, type, reason, message) bumps
//! `count` and `lastTimestamp` of the existing Event instead of creating a
//! new one; from the 10th distinct message with the same object, type and
//! reason within 10 minutes, they fold into one "(combined from similar
//! events): ..." Event; and a per-object spam filter (burst 25, then one per
//! 5 minutes) drops floods.
//!
//! ```no_run
//! # async fn f(client: client::Client, pod: k8s_openapi::api::core::v1::Pod) {
//! use client::events::{EventRecorder, EventType};
//! let recorder = EventRecorder::new(client, "default-scheduler", None);
//! recorder.publish(&pod, EventType::Normal, "Scheduled", "Successfully assigned default/web to n1");
//! recorder.flush().await; // before exit: write what is queued
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use tokio::sync::{mpsc, oneshot};

mod correlator;

use correlator::{Correlator, DedupKey, ObjectKey};

use crate::backoff::Backoff;
use crate::{Api, Client, Error, Patch, PostParams, Resource};

/// Events waiting to be written; more are dropped (upstream's maxQueuedEvents).
const QUEUE: usize = 1000;
/// Aggregation keys remembered (upstream's maxLruCacheEntries).
const CACHE: usize = 4096;
/// Writes tried per event before it is dropped.
const ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// The reference an Event makes to `obj` (kind, apiVersion, namespace,
/// name, uid, resourceVersion).
pub fn object_reference<K: Resource>(obj: &K) -> ObjectReference {
    let m = obj.metadata();
    ObjectReference {
        api_version: Some(K::API_VERSION.to_string()),
        kind: Some(K::KIND.to_string()),
        namespace: m.namespace.clone(),
        name: m.name.clone(),
        uid: m.uid.clone(),
        resource_version: m.resource_version.clone(),
        field_path: None,
    }
}

struct Record {
    reference: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
}

enum Command {
    Record(Box<Record>),
    Flush(oneshot::Sender<()>),
}

/// Cheap-to-clone handle; the writer task stops when the last clone is dropped.
#[derive(Clone)]
pub struct EventRecorder {
    tx: mpsc::Sender<Command>,
    dropped: Arc<AtomicU64>,
}

impl EventRecorder {
    /// A recorder for `component` (e.g. "kubelet", "default-scheduler") on
    /// `host` (the node name, if any). Spawns the writer: call it inside a
    /// tokio runtime.
    pub fn new(client: Client, component: &str, host: Option<&str>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let source = EventSource { component: Some(component.to_string()), host: host.map(str::to_string) };
        tokio::spawn(Writer { client, source, correlator: Correlator::default(), cache: HashMap::new(), order: VecDeque::new() }.run(rx));
        EventRecorder { tx, dropped: Arc::new(AtomicU64::new(0)) }
    }

    /// Events dropped because the queue was full (for /metrics).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records an event about `obj`. Never blocks; drops the event if the queue is full.
    pub fn publish<K: Resource>(&self, obj: &K, type_: EventType, reason: &str, message: impl Into<String>) {
        self.publish_ref(object_reference(obj), type_, reason, message)
    }

    /// Records an event about the object `reference` points to.
    pub fn publish_ref(&self, reference: ObjectReference, type_: EventType, reason: &str, message: impl Into<String>) {
        let cmd = Command::Record(Box::new(Record { reference, type_, reason: reason.to_string(), message: message.into() }));
        if let Err(mpsc::error::TrySendError::Full(Command::Record(r))) = self.tx.try_send(cmd) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Under a burst this fires per event: log the 1st, 2nd, 4th, 8th... drop.
            if dropped.is_power_of_two() {
                tracing::warn!(reason = %r.reason, object = ?r.reference.name, dropped, "event queue full; dropping events");
            }
        }
    }

    /// Waits until every event published before this call has been written
    /// (or given up on).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct Written {
    namespace: String,
    name: String,
    count: i32,
}

struct Writer {
    client: Client,
    source: EventSource,
    correlator: Correlator,
    cache: HashMap<DedupKey, Written>,
    /// Insertion order, to evict the oldest key when the cache is full.
    order: VecDeque<DedupKey>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Command::Flush(done) => {
                    let _ = done.send(());
                }
                Command::Record(r) => {
                    let Record { reference, type_, reason, message } = *r;
                    self.record(reference, type_, reason, message).await;
                }
            }
        }
    }

    async fn record(&mut self, reference: ObjectReference, type_: EventType, reason: String, message: String) {
        let Some((key, message)) =
            self.correlator.correlate(&ObjectKey::of(&reference), type_, &reason, &message, tokio::time::Instant::now())
        else {
            tracing::debug!(%reason, object = ?reference.name, "event rate-limited (spam filter); dropping it");
            return;
        };
        let now = Time(crate::now_timestamp());
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..=ATTEMPTS {
            let result = match self.cache.get(&key) {
                Some(w) => self.bump(w, &message, &now).await,
                None => self.create(&reference, type_, &reason, &message, &now).await,
            };
            match result {
                Ok(written) => {
                    self.remember(key, written);
                    return;
                }
                // The aggregated event is gone (deleted, TTL): start a new one.
                Err(e) if e.is_not_found() && self.cache.contains_key(&key) => {
                    self.cache.remove(&key);
                    self.order.retain(|k| k != &key);
                }
                Err(e @ (Error::Rpc(_) | Error::Connect(_))) if attempt < ATTEMPTS => {
                    tracing::debug!(error = %e, %reason, "cannot write event; retrying");
                    backoff.wait().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, %reason, object = ?reference.name, "cannot write event; dropping it");
                    return;
                }
            }
        }
    }

    async fn create(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
        now: &Time,
    ) -> crate::Result<Written> {
        // Events about cluster-scoped objects (nodes) live in "default", as upstream.
        let namespace = reference.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("{}.{:x}", reference.name.as_deref().unwrap_or_default(), nanos);
        let event = Event {
            metadata: ObjectMeta { name: Some(name), namespace: Some(namespace.clone()), ..Default::default() },
            involved_object: reference.clone(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            type_: Some(type_.as_str().to_string()),
            source: Some(self.source.clone()),
            reporting_component: self.source.component.clone(),
            reporting_instance: self.source.host.clone(),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now.clone()),
            count: Some(1),
            ..Default::default()
        };
        let created = Api::<Event>::namespaced(self.client.clone(), &namespace).create(&PostParams::default(), &event).await?;
        Ok(Written { namespace, name: created.metadata.name.unwrap_or_default(), count: 1 })
    }

    /// Bumps count and lastTimestamp of an event written before.
    async fn bump(&self, w: &Written, message: &str, now: &Time) -> crate::Result<Written> {
        let count = w.count + 1;
        let patch = Patch::Merge(serde_json::json!({ "count": count, "lastTimestamp": now, "message": message }));
        Api::<Event>::namespaced(self.client.clone(), &w.namespace).patch(&w.name, &PostParams::default(), &patch).await?;
        Ok(Written { namespace: w.namespace.clone(), name: w.name.clone(), count })
    }

    fn remember(&mut self, key: DedupKey, written: Written) {
        if self.cache.insert(key.clone(), written).is_none() {
            self.order.push_back(key);
            while self.order.len() > CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.cache.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[tokio::test]
    async fn publish_never_blocks_and_drops_when_the_queue_is_full() {
        // Nothing listens there; on this single-threaded runtime the writer
        // does not even run until the test yields, so the queue just fills.
        let client = Client::connect_lazy("127.0.0.1:1").unwrap();
        let recorder = EventRecorder::new(client, "test", None);
        let cm = ConfigMap { metadata: ObjectMeta { name: Some("x".into()), namespace: Some("default".into()), ..Default::default() }, ..Default::default() };
        for i in 0..QUEUE + 100 {
            recorder.publish(&cm, EventType::Normal, "Test", format!("event {i}"));
        }
        assert_eq!(recorder.dropped(), 100);
    }

    #[test]
    fn references_carry_kind_version_and_identity() {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some("x".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                resource_version: Some("7".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let r = object_reference(&cm);
        assert_eq!(
            (r.kind.as_deref(), r.api_version.as_deref(), r.namespace.as_deref(), r.name.as_deref(), r.uid.as_deref(), r.resource_version.as_deref()),
            (Some("ConfigMap"), Some("v1"), Some("ns"), Some("x"), Some("u1"), Some("7"))
        );
    }
}
