//! The watch cache: one etcd watch on `/registry/` feeds an in-memory copy
//! of every object plus a window of recent events. Lists are served from it,
//! and every client watch is a subscription to it, so N watchers cost one
//! etcd watch.
//!
//! Ordering: events are applied and broadcast under the write lock, and
//! subscriptions snapshot under the read lock, so a subscriber sees every
//! event after its snapshot exactly once.

mod object;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::EventType as EtcdEvent;
use parking_lot::RwLock;
use tokio::sync::{broadcast, watch};

pub use object::{decorate, plural_of, with_resource_version, CacheEvent, CachedObject, EventKind};

use crate::registry::Kinds;
use crate::storage::{Storage, StorageError, RESOURCE_PREFIX};

/// Events kept for watches resuming from a recent resourceVersion.
const HISTORY: usize = 100_000;
/// Fan-out buffer; a watcher further behind than this is closed and re-watches.
const BROADCAST: usize = 16_384;

/// An etcd event parsed, before it is applied.
struct Decoded {
    kind: EventKind,
    key: String,
    revision: i64,
    object: Option<Arc<CachedObject>>,
}

struct State {
    revision: i64,
    /// The highest event revision applied.
    pending: i64,
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<CacheEvent>>,
    /// Every event after this revision is in `history`.
    history_start: i64,
}

pub struct WatchCache {
    state: RwLock<State>,
    events: broadcast::Sender<Arc<CacheEvent>>,
    revision: watch::Sender<i64>,
    kinds: Kinds,
    /// Set when the server stops: the etcd follower and every watch end.
    stopped: watch::Sender<bool>,
}

/// What a subscriber gets: the events it missed (or the initial state), then a live feed.
pub struct Subscription {
    pub initial: Vec<Arc<CacheEvent>>,
    /// The revision `initial` brings the subscriber to.
    pub revision: i64,
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
}

/// The requested revision is older than the cache's window.
#[derive(Debug)]
pub struct TooOld;

impl WatchCache {
    /// Lists everything once, then follows etcd in a background task.
    pub async fn start(storage: Storage, kinds: Kinds) -> Result<Arc<Self>, StorageError> {
        let (events, _) = broadcast::channel(BROADCAST);
        let (revision, _) = watch::channel(0);
        let cache = Arc::new(WatchCache {
            state: RwLock::new(State { revision: 0, pending: 0, objects: BTreeMap::new(), history: VecDeque::new(), history_start: 0 }),
            events,
            revision,
            kinds,
            stopped: watch::channel(false).0,
        });
        cache.relist(&storage).await?;
        let c = cache.clone();
        let mut stopped = cache.stopped.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = c.follow(storage) => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
        });
        Ok(cache)
    }

    async fn relist(&self, storage: &Storage) -> Result<(), StorageError> {
        let page = storage.list(RESOURCE_PREFIX, None, 0, 0).await?;
        let mut objects = BTreeMap::new();
        for s in &page.items {
            if let Some(o) = decorate(&self.kinds, &s.key, &s.value, s.mod_revision) {
                objects.insert(s.key.clone(), Arc::new(o));
            }
        }
        let mut st = self.state.write();
        *st = State { revision: page.revision, pending: page.revision, objects, history: VecDeque::new(), history_start: page.revision };
        drop(st);
        self.revision.send_replace(page.revision);
        tracing::info!(revision = page.revision, "watch cache listed");
        Ok(())
    }

    /// Follows etcd forever; on compaction or errors, relists and resumes.
    async fn follow(self: Arc<Self>, storage: Storage) {
        loop {
            let from = self.current_revision() + 1;
            match self.follow_from(&storage, from).await {
                Ok(()) => tracing::warn!("etcd watch ended; resuming"),
                Err(StorageError::Compacted { .. }) => {
                    tracing::warn!(from, "watch cache fell behind compaction; relisting");
                    // Watchers built on the old state end; they re-watch and relist as needed.
                    while let Err(e) = self.relist(&storage).await {
                        tracing::error!(error = %e, "relist failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "etcd watch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    async fn follow_from(&self, storage: &Storage, from: i64) -> Result<(), StorageError> {
        let mut stream = storage.watch(RESOURCE_PREFIX, from, false).await?;
        while let Some(resp) = stream.message().await? {
            if resp.compact_revision() > 0 {
                return Err(StorageError::Compacted { requested: from, compacted: resp.compact_revision() });
            }
            if resp.canceled() {
                return Ok(());
            }
            let events: Vec<Decoded> = resp.events().iter().filter_map(|e| self.decode(e)).collect();
            // A response's header revision may be ahead of its events (later
            // events follow in the next response); only a progress notification
            // (no events) says every event up to its header revision was sent.
            // The creation response has no events either, but its header revision
            // says nothing about delivery.
            let progress = resp.events().is_empty() && !resp.created();
            let synced_to = if progress { resp.header().map(|h| h.revision()).unwrap_or(0) } else { 0 };
            self.apply(events, synced_to);
        }
        Ok(())
    }

    /// Parses an etcd event outside the lock (the expensive part).
    fn decode(&self, e: &etcd_client::Event) -> Option<Decoded> {
        let kv = e.kv()?;
        let key = String::from_utf8_lossy(kv.key()).into_owned();
        match e.event_type() {
            EtcdEvent::Put => {
                let obj = decorate(&self.kinds, &key, kv.value(), kv.mod_revision())?;
                let kind = if kv.create_revision() == kv.mod_revision() { EventKind::Added } else { EventKind::Modified };
                Some(Decoded { kind, key, revision: kv.mod_revision(), object: Some(Arc::new(obj)) })
            }
            EtcdEvent::Delete => {
                // The last state, stamped with the deletion revision (as upstream);
                // the cache's watch asks for no previous values, so `apply` takes
                // the cached state.
                let obj = e.prev_kv().and_then(|p| decorate(&self.kinds, &key, p.value(), kv.mod_revision())).map(Arc::new);
                Some(Decoded { kind: EventKind::Deleted, key, revision: kv.mod_revision(), object: obj })
            }
        }
    }

    fn apply(&self, events: Vec<Decoded>, synced_to: i64) {
        let mut st = self.state.write();
        for d in events {
            if d.revision <= st.revision {
                continue;
            }
            let prev = st.objects.get(&d.key).cloned();
            let object = match (d.object, &prev) {
                (Some(o), _) => o,
                // A delete without prev_kv: fall back to the cached state.
                (None, Some(p)) => Arc::new(CachedObject {
                    key: p.key.clone(),
                    revision: d.revision,
                    raw: p.raw.clone(),
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    labels: p.labels.clone(),
                    fields: p.fields.clone(),
                }),
                (None, None) => continue,
            };
            match d.kind {
                EventKind::Deleted => {
                    st.objects.remove(&d.key);
                }
                _ => {
                    st.objects.insert(d.key.clone(), object.clone());
                }
            }
            let ev = Arc::new(CacheEvent { kind: d.kind, revision: d.revision, object, prev });
            st.history.push_back(ev.clone());
            if st.history.len() > HISTORY {
                if let Some(old) = st.history.pop_front() {
                    st.history_start = old.revision;
                }
            }
            // Sent under the lock, so subscribers never miss or double an event.
            let _ = self.events.send(ev);
            st.pending = st.pending.max(d.revision);
        }
        // Events of one transaction share a revision: the revision counts as
        // seen once the batch holding it is applied.
        let seen = st.pending.max(synced_to);
        if seen > st.revision {
            st.revision = seen;
        }
        let rev = st.revision;
        drop(st);
        self.revision.send_if_modified(|r| {
            let changed = *r != rev;
            *r = rev;
            changed
        });
    }

    /// A cache holding `objects` (key, stored JSON) at revision 1 and
    /// following nothing: for unit tests of code that reads the cache.
    #[cfg(test)]
    pub fn from_objects(kinds: Kinds, objects: &[(&str, serde_json::Value)]) -> Arc<Self> {
        let objects = objects
            .iter()
            .filter_map(|(k, v)| decorate(&kinds, k, &serde_json::to_vec(v).ok()?, 1).map(|o| (k.to_string(), Arc::new(o))))
            .collect();
        Arc::new(WatchCache {
            state: RwLock::new(State { revision: 1, pending: 1, objects, history: VecDeque::new(), history_start: 1 }),
            events: broadcast::channel(16).0,
            revision: watch::channel(1).0,
            kinds,
            stopped: watch::channel(false).0,
        })
    }

    pub fn current_revision(&self) -> i64 {
        self.state.read().revision
    }

    /// Waits until the cache has seen `revision`; false on timeout.
    pub async fn wait_for(&self, revision: i64, timeout: Duration) -> bool {
        let mut rx = self.revision.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r >= revision)).await.is_ok_and(|r| r.is_ok())
    }

    /// Objects under `prefix` and the revision they are current at.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<CachedObject>>, i64) {
        let st = self.state.read();
        let items = st
            .objects
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (items, st.revision)
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.state.read().objects.get(key).cloned()
    }

    /// Subscribes to changes under `prefix`: from the current state
    /// (`after` = None: every object as ADDED) or after a revision.
    pub fn subscribe(&self, prefix: &str, after: Option<i64>) -> Result<Subscription, TooOld> {
        let st = self.state.read();
        let live = self.events.subscribe();
        let initial = match after {
            None => st
                .objects
                .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(_, o)| Arc::new(CacheEvent { kind: EventKind::Added, revision: o.revision, object: o.clone(), prev: None }))
                .collect(),
            Some(rev) if rev >= st.history_start => {
                let skip = st.history.partition_point(|e| e.revision <= rev);
                st.history.iter().skip(skip).filter(|e| e.object.key.starts_with(prefix)).cloned().collect()
            }
            Some(_) => return Err(TooOld),
        };
        Ok(Subscription { initial, revision: st.revision, live })
    }

    /// Stops following etcd and ends every watch served from this cache.
    pub fn stop(&self) {
        self.stopped.send_replace(true);
    }

    /// Resolves once [`stop`](Self::stop) was called.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stopped.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }

    pub fn kinds(&self) -> &Kinds {
        &self.kinds
    }
}
