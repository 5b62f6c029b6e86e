//! Serving watches: from the watch cache when the requested revision is in
//! its window (or no revision is given), straight from etcd when it is older
//! (e.g. right after an apiserver restart), and Expired when etcd has
//! compacted it.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::status::StatusError;
use futures::Stream;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{errors, Store, Target};
use api::selector::{FieldSelector, Selector};
use crate::storage::{key_for, prefix_for, Storage};
use crate::watch_cache::{decorate, CacheEvent, CachedObject, EventKind, WatchCache};

/// How often an idle watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub label_selector: String,
    pub field_selector: String,
    pub resource_version: String,
    pub allow_bookmarks: bool,
    pub timeout: Option<Duration>,
}

/// A watch event's type (upstream's watch.EventType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
    /// The object carries only kind, apiVersion and metadata.resourceVersion.
    Bookmark,
    /// The object is a Status (e.g. reason Expired); the stream then ends.
    Error,
}

/// One event as sent: its type and the object's JSON.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub raw: bytes::Bytes,
}

pub type WatchStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

struct Filter {
    /// Exact key (one object) or a prefix.
    key: String,
    exact: bool,
    labels: Selector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, o: &CachedObject) -> bool {
        let key_ok = if self.exact { o.key == self.key } else { o.key.starts_with(&self.key) };
        key_ok && self.labels.matches(&o.labels) && self.fields.matches(&o.fields)
    }

    /// What a watcher with this filter sees of `ev`: an object entering the
    /// selection is ADDED, one leaving it DELETED, as upstream.
    fn translate(&self, ev: &CacheEvent) -> Option<Event> {
        let now = self.matches(&ev.object);
        let before = ev.prev.as_ref().is_some_and(|p| self.matches(p));
        let kind = match ev.kind {
            EventKind::Added => now.then_some(EventType::Added)?,
            EventKind::Deleted => now.then_some(EventType::Deleted)?,
            EventKind::Modified => match (before, now) {
                (true, true) => EventType::Modified,
                (false, true) => EventType::Added,
                (true, false) => EventType::Deleted,
                (false, false) => return None,
            },
        };
        Some(Event { kind, raw: ev.object.raw.clone() })
    }
}

fn bookmark(t: &Target, revision: i64) -> Event {
    let v = serde_json::json!({
        "kind": t.info().kind, "apiVersion": t.info().api_version(),
        "metadata": {"resourceVersion": revision.to_string()}
    });
    Event { kind: EventType::Bookmark, raw: serde_json::to_vec(&v).expect("serializes").into() }
}

fn error_event(e: StatusError) -> Event {
    Event { kind: EventType::Error, raw: serde_json::to_vec(&e.to_json()).expect("serializes").into() }
}

pub(super) async fn start(store: &Store, t: &Target, o: WatchOptions, labels: Selector, fields: FieldSelector) -> Result<WatchStream, StatusError> {
    let (key, exact) = if t.name.is_empty() {
        (prefix_for(t.info().plural, t.namespace.as_deref()), false)
    } else {
        (key_for(t.info().plural, t.namespace.as_deref(), &t.name), true)
    };
    let filter = Filter { key, exact, labels, fields };
    let after = match o.resource_version.as_str() {
        "" => {
            // "Most recent": the cache must have caught up with etcd first.
            let rev = store.storage().current_revision().await.map_err(errors::storage)?;
            store.cache().wait_for(rev, Duration::from_secs(3)).await;
            None
        }
        "0" => None,
        rv => Some(rv.parse::<i64>().map_err(|_| errors::bad_request(format!("invalid resourceVersion {rv:?}")))?),
    };
    let (tx, rx) = mpsc::channel(1024);
    let bookmark_for = store.cache().clone();
    let info_target = t.parent();
    // For one object the key doubles as the prefix; the filter drops longer names it also catches.
    match store.cache().subscribe(&filter.key.clone(), after) {
        Ok(sub) => {
            let stopped = store.cache().stopped();
            tokio::spawn(async move {
                tokio::select! {
                    _ = serve_from_cache(sub, filter, after.unwrap_or(0), tx, o.clone(), bookmark_for, info_target) => {}
                    _ = stopped => {}
                }
            });
        }
        Err(_) => {
            let storage = store.storage().clone();
            let kinds = store.kinds().clone();
            let stopped = store.cache().stopped();
            tokio::spawn(async move {
                tokio::select! {
                    _ = serve_from_etcd(storage, kinds, filter, after.unwrap_or(0), tx) => {}
                    _ = stopped => {}
                }
            });
        }
    }
    Ok(Box::pin(ReceiverStream::new(rx)))
}

async fn serve_from_cache(
    mut sub: crate::watch_cache::Subscription,
    filter: Filter,
    after: i64,
    tx: mpsc::Sender<Event>,
    o: WatchOptions,
    cache: Arc<WatchCache>,
    t: Target,
) {
    let deadline = o.timeout.map(|d| tokio::time::Instant::now() + d);
    let mut last = sub.revision.max(after);
    for ev in sub.initial.drain(..) {
        if let Some(e) = filter.translate(&ev) {
            if tx.send(e).await.is_err() {
                return;
            }
        }
    }
    let mut tick = tokio::time::interval(BOOKMARK_EVERY);
    tick.tick().await;
    loop {
        let sleep_until = deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = sub.live.recv() => match r {
                Ok(ev) => {
                    if ev.revision <= after {
                        continue;
                    }
                    last = last.max(ev.revision);
                    if let Some(e) = filter.translate(&ev) {
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                }
                // Too slow to keep up, or the cache relisted: end; the client re-watches from its last revision.
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
            _ = tick.tick(), if o.allow_bookmarks => {
                let rev = cache.current_revision().max(last);
                if tx.send(bookmark(&t, rev)).await.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(sleep_until), if deadline.is_some() => return,
            _ = tx.closed() => return,
        }
    }
}

/// A dedicated etcd watch, for revisions older than the cache's window.
async fn serve_from_etcd(storage: Storage, kinds: crate::registry::Kinds, filter: Filter, after: i64, tx: mpsc::Sender<Event>) {
    let prefix = filter.key.clone();
    let mut stream = match storage.watch(&prefix, after + 1, true).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(error_event(errors::storage(e))).await;
            return;
        }
    };
    loop {
        let resp = tokio::select! {
            r = stream.message() => r,
            _ = tx.closed() => return,
        };
        let resp = match resp {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(error_event(errors::unavailable(format!("etcd watch: {e}")))).await;
                return;
            }
        };
        if resp.compact_revision() > 0 {
            let _ = tx.send(error_event(errors::expired(after, resp.compact_revision()))).await;
            return;
        }
        for e in resp.events() {
            let Some(kv) = e.kv() else { continue };
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            let prev = e.prev_kv().and_then(|p| decorate(&kinds, &key, p.value(), p.mod_revision())).map(Arc::new);
            let ev = match e.event_type() {
                etcd_client::EventType::Put => {
                    let Some(obj) = decorate(&kinds, &key, kv.value(), kv.mod_revision()) else { continue };
                    let kind = if kv.create_revision() == kv.mod_revision() { EventKind::Added } else { EventKind::Modified };
                    CacheEvent { kind, revision: kv.mod_revision(), object: Arc::new(obj), prev }
                }
                etcd_client::EventType::Delete => {
                    let Some(p) = e.prev_kv() else { continue };
                    let Some(obj) = decorate(&kinds, &key, p.value(), kv.mod_revision()) else { continue };
                    CacheEvent { kind: EventKind::Deleted, revision: kv.mod_revision(), object: Arc::new(obj), prev }
                }
            };
            if let Some(out) = filter.translate(&ev) {
                if tx.send(out).await.is_err() {
                    return;
                }
            }
        }
    }
}
