//! Informers: list + watch one kind into a local [`Store`], with indexes and
//! event handlers (client-go's SharedIndexInformer, kube-runtime's
//! watcher + reflector).
//!
//! The loop: one consistent List (or pages of `page_size` with continue
//! tokens), then a Watch from the list's resourceVersion with bookmarks.
//! When a watch ends it re-watches from the last resourceVersion seen; when
//! the server answers Expired/Gone it relists and emits the difference
//! against the old store. Connection errors back off (jittered, 0.8 s .. 30 s).
//!
//! ```no_run
//! # async fn f(client: client::Client) {
//! use client::informer::{Informer, InformerConfig, InformerEvent};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! let informer = Informer::new(client::Api::<Pod>::all(client), InformerConfig::default().fields("spec.nodeName=n1"))
//!     .with_index("namespace", |p: &Pod| p.metadata.namespace.clone().into_iter().collect());
//! let store = informer.store();
//! let mut events = informer.subscribe();
//! let task = informer.spawn(); // task.abort() stops it
//! store.wait_synced().await;
//! while let Some(ev) = events.recv().await {
//!     match ev {
//!         InformerEvent::Added(p) => println!("added {:?}", p.metadata.name),
//!         InformerEvent::Updated { old, new } => println!("updated {:?}", new.metadata.name),
//!         InformerEvent::Deleted(p) => println!("deleted {:?}", p.metadata.name),
//!     }
//! }
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

use crate::backoff::Backoff;
use crate::store::{key_of, IndexFn, Store};
use crate::dynamic::Object;
use crate::{Api, Error, ListParams, WatchEvent, WatchParams};

/// A change to the informer's store, as delivered to handlers.
#[derive(Debug)]
pub enum InformerEvent<K> {
    Added(Arc<K>),
    /// `old` is the previously stored state. On a periodic resync both are the same object.
    Updated { old: Arc<K>, new: Arc<K> },
    /// The final state seen (from the watch, or the last cached state when a relist found it gone).
    Deleted(Arc<K>),
}

impl<K> Clone for InformerEvent<K> {
    fn clone(&self) -> Self {
        match self {
            InformerEvent::Added(o) => InformerEvent::Added(o.clone()),
            InformerEvent::Updated { old, new } => InformerEvent::Updated { old: old.clone(), new: new.clone() },
            InformerEvent::Deleted(o) => InformerEvent::Deleted(o.clone()),
        }
    }
}

impl<K: Object> InformerEvent<K> {
    /// The object's current (or, for Deleted, final) state.
    pub fn object(&self) -> &Arc<K> {
        match self {
            InformerEvent::Added(o) | InformerEvent::Deleted(o) => o,
            InformerEvent::Updated { new, .. } => new,
        }
    }
    /// The store key ("ns/name" or "name"), e.g. for a work queue.
    pub fn key(&self) -> String {
        key_of(self.object().as_ref())
    }
}

/// What to list and watch, and how.
#[derive(Debug, Clone, Default)]
pub struct InformerConfig {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    /// List in pages of this many objects (limit/continue); None = one List.
    pub page_size: Option<i64>,
    /// Re-deliver every cached object as `Updated` (old == new) this often.
    pub resync: Option<Duration>,
}

impl InformerConfig {
    /// Only objects matching this label selector ("app=web,tier!=db").
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }
    /// Only objects matching this field selector ("spec.nodeName=n1").
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }
    pub fn page_size(mut self, n: i64) -> Self {
        self.page_size = Some(n);
        self
    }
    pub fn resync(mut self, every: Duration) -> Self {
        self.resync = Some(every);
        self
    }
}

/// Keeps a [`Store`] of `K` in sync with the apiserver and tells handlers
/// what changed. Clones share the store and handlers; [`run`](Self::run) one of them.
pub struct Informer<K> {
    api: Api<K>,
    config: InformerConfig,
    store: Store<K>,
}

impl<K> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer { api: self.api.clone(), config: self.config.clone(), store: self.store.clone() }
    }
}

/// How a watch ended.
enum WatchEnd {
    /// The server closed it (timeout, shutdown): re-watch from the last resourceVersion.
    Closed { progressed: bool },
    /// Our resourceVersion is too old: relist.
    Expired { progressed: bool },
    Failed(Error),
}

impl<K: Object> Informer<K> {
    /// An informer over what `api` addresses (one namespace, or all).
    pub fn new(api: Api<K>, config: InformerConfig) -> Self {
        Informer { api, config, store: Store::new() }
    }

    /// Adds a named index, queried with [`Store::by_index`].
    pub fn with_index(self, name: &str, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) -> Self {
        let f: IndexFn<K> = Arc::new(f);
        self.store.add_index(name, f);
        self
    }

    /// A read handle on the cache.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// A new event handler: `Added` for every object already cached, then
    /// every change in order. The channel is unbounded (as client-go's
    /// handler buffers) so a slow handler never stalls the informer; it
    /// closes when `run` stops.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<InformerEvent<K>> {
        self.store.subscribe()
    }

    pub fn has_synced(&self) -> bool {
        self.store.has_synced()
    }

    pub async fn wait_synced(&self) {
        self.store.wait_synced().await
    }

    /// Runs [`run`](Self::run) on a new task; abort the handle to stop.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move { me.run().await })
    }

    /// Lists and watches until the future is dropped (abort its task to stop).
    /// Run it once per informer.
    pub async fn run(&self) {
        struct CloseOnDrop<'a, K: Object>(&'a Store<K>);
        impl<K: Object> Drop for CloseOnDrop<'_, K> {
            fn drop(&mut self) {
                self.0.close_subscribers();
            }
        }
        let _close = CloseOnDrop(&self.store);

        let mut backoff = Backoff::default();
        let mut resync = self.config.resync.map(|every| {
            let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        });
        // None: (re)list before watching.
        let mut rv: Option<String> = None;
        loop {
            let from = match &rv {
                Some(v) => v.clone(),
                None => match self.list_all().await {
                    Ok((items, version)) => {
                        tracing::debug!(kind = %self.api.resource().kind, count = items.len(), rv = %version, "listed");
                        self.store.replace(items);
                        rv = Some(version.clone());
                        version
                    }
                    Err(e) => {
                        tracing::warn!(kind = %self.api.resource().kind, error = %e, "list failed; retrying");
                        backoff.wait().await;
                        continue;
                    }
                },
            };
            match self.watch(&from, &mut rv, &mut resync).await {
                WatchEnd::Closed { progressed } => {
                    tracing::debug!(kind = %self.api.resource().kind, "watch closed; re-watching");
                    if progressed {
                        backoff.reset();
                    } else {
                        backoff.wait().await;
                    }
                }
                WatchEnd::Expired { progressed } => {
                    tracing::info!(kind = %self.api.resource().kind, rv = %from, "resourceVersion expired; relisting");
                    rv = None;
                    if !progressed {
                        backoff.wait().await;
                    }
                }
                WatchEnd::Failed(e) => {
                    tracing::warn!(kind = %self.api.resource().kind, error = %e, "watch failed; retrying");
                    backoff.wait().await;
                }
            }
        }
    }

    fn list_params(&self) -> ListParams {
        ListParams {
            label_selector: self.config.label_selector.clone(),
            field_selector: self.config.field_selector.clone(),
            limit: self.config.page_size,
            ..Default::default()
        }
    }

    /// One consistent list, page by page; a page whose continue token
    /// expired restarts as one unpaginated list (client-go's pager).
    async fn list_all(&self) -> crate::Result<(Vec<K>, String)> {
        let mut lp = self.list_params();
        let mut items = Vec::new();
        loop {
            let page = match self.api.list(&lp).await {
                Err(e) if e.is_expired() && lp.continue_token.is_some() => {
                    let full = self.api.list(&ListParams { limit: None, ..self.list_params() }).await?;
                    return Ok((full.items, full.resource_version));
                }
                r => r?,
            };
            items.extend(page.items);
            match page.continue_token {
                Some(c) => lp.continue_token = Some(c),
                None => return Ok((items, page.resource_version)),
            }
        }
    }

    async fn watch(&self, from: &str, rv: &mut Option<String>, resync: &mut Option<Interval>) -> WatchEnd {
        let wp = WatchParams {
            label_selector: self.config.label_selector.clone(),
            field_selector: self.config.field_selector.clone(),
            allow_bookmarks: true,
            // As client-go: end watches after 5-10 min so load spreads over apiservers.
            timeout_seconds: Some(rand::rng().random_range(300..600)),
        };
        let stream = match self.api.watch(&wp, from).await {
            Ok(s) => s,
            Err(e) if e.is_expired() => return WatchEnd::Expired { progressed: false },
            Err(e) => return WatchEnd::Failed(e),
        };
        let mut stream = std::pin::pin!(stream);
        let mut progressed = false;
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = tick(resync) => {
                    self.store.resync();
                    continue;
                }
            };
            let ev = match item {
                None => return WatchEnd::Closed { progressed },
                Some(Err(e)) if e.is_expired() => return WatchEnd::Expired { progressed },
                Some(Err(e)) => return WatchEnd::Failed(e),
                Some(Ok(ev)) => ev,
            };
            if let Some(end) = apply(&self.store, ev, rv) {
                return match end {
                    Err(e) if e.is_expired() => WatchEnd::Expired { progressed },
                    Err(e) => WatchEnd::Failed(e),
                    Ok(()) => WatchEnd::Closed { progressed },
                };
            }
            progressed = true;
        }
    }
}

/// Applies one watch event to the store and advances `rv`.
/// Returns Some when the event ends the watch (an ERROR event).
fn apply<K: Object>(store: &Store<K>, ev: WatchEvent<K>, rv: &mut Option<String>) -> Option<crate::Result<()>> {
    let mut seen = |o: &K| {
        if let Some(v) = o.meta().resource_version.as_deref().filter(|v| !v.is_empty()) {
            *rv = Some(v.to_string());
        }
    };
    match ev {
        WatchEvent::Added(o) | WatchEvent::Modified(o) => {
            seen(&o);
            store.upsert(o);
        }
        WatchEvent::Deleted(o) => {
            seen(&o);
            store.delete(o);
        }
        WatchEvent::Bookmark(v) if !v.is_empty() => *rv = Some(v),
        WatchEvent::Bookmark(_) => {}
        WatchEvent::Error(status) => return Some(Err(Error::Api(status))),
    }
    None
}

async fn tick(resync: &mut Option<Interval>) {
    match resync {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn cm(name: &str, rv: &str, node: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                resource_version: Some(rv.into()),
                labels: Some([("node".to_string(), node.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn by_node(c: &ConfigMap) -> Vec<String> {
        c.metadata.labels.as_ref().and_then(|l| l.get("node")).cloned().into_iter().collect()
    }

    /// (kind, name, old rv, new rv) of each pending event.
    fn drain(rx: &mut mpsc::UnboundedReceiver<InformerEvent<ConfigMap>>) -> Vec<(&'static str, String, String, String)> {
        let rv = |c: &ConfigMap| c.metadata.resource_version.clone().unwrap_or_default();
        let name = |c: &ConfigMap| c.metadata.name.clone().unwrap_or_default();
        let mut out = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            out.push(match ev {
                InformerEvent::Added(o) => ("Added", name(&o), String::new(), rv(&o)),
                InformerEvent::Updated { old, new } => ("Updated", name(&new), rv(&old), rv(&new)),
                InformerEvent::Deleted(o) => ("Deleted", name(&o), String::new(), rv(&o)),
            });
        }
        out
    }

    fn ev(kind: &'static str, name: &str, old: &str, new: &str) -> (&'static str, String, String, String) {
        (kind, name.to_string(), old.to_string(), new.to_string())
    }

    #[test]
    fn watch_events_become_added_updated_deleted_and_advance_rv() {
        let store = Store::<ConfigMap>::new();
        let mut rx = store.subscribe();
        let mut rv = Some("1".to_string());
        assert!(apply(&store, WatchEvent::Added(cm("a", "2", "n1")), &mut rv).is_none());
        assert!(apply(&store, WatchEvent::Modified(cm("a", "3", "n1")), &mut rv).is_none());
        // A Modified for an unknown object (e.g. it entered the selector) is an Add.
        assert!(apply(&store, WatchEvent::Modified(cm("b", "4", "n1")), &mut rv).is_none());
        assert!(apply(&store, WatchEvent::Deleted(cm("a", "5", "n1")), &mut rv).is_none());
        assert_eq!(rv.as_deref(), Some("5"));
        assert!(apply(&store, WatchEvent::Bookmark("9".into()), &mut rv).is_none());
        assert_eq!(rv.as_deref(), Some("9"));
        assert_eq!(
            drain(&mut rx),
            vec![ev("Added", "a", "", "2"), ev("Updated", "a", "2", "3"), ev("Added", "b", "", "4"), ev("Deleted", "a", "", "5")]
        );
        assert!(store.get("default", "a").is_none());
        assert_eq!(store.get("default", "b").unwrap().metadata.resource_version.as_deref(), Some("4"));
        assert_eq!(store.get_by_key("default/b").unwrap().metadata.name.as_deref(), Some("b"));

        let end = apply(&store, WatchEvent::Error(ApiError::new(crate::Reason::Expired, "too old")), &mut rv);
        assert!(matches!(end, Some(Err(e)) if e.is_expired()));
    }

    #[test]
    fn replayed_version_is_not_an_update() {
        let store = Store::<ConfigMap>::new();
        let mut rx = store.subscribe();
        store.upsert(cm("a", "2", "n1"));
        store.upsert(cm("a", "2", "n1"));
        assert_eq!(drain(&mut rx), vec![ev("Added", "a", "", "2")]);
    }

    #[test]
    fn relist_emits_the_difference_against_the_old_store() {
        let store = Store::<ConfigMap>::new();
        assert!(!store.has_synced());
        store.replace(vec![cm("a", "1", "n1"), cm("b", "1", "n1"), cm("c", "1", "n1")]);
        assert!(store.has_synced());
        let mut rx = store.subscribe();
        assert_eq!(drain(&mut rx).len(), 3, "a late subscriber gets Added for each cached object");

        store.replace(vec![cm("a", "1", "n1"), cm("b", "7", "n1"), cm("d", "8", "n1")]);
        let mut got = drain(&mut rx);
        got.sort();
        assert_eq!(got, vec![ev("Added", "d", "", "8"), ev("Deleted", "c", "", "1"), ev("Updated", "b", "1", "7")]);
        let mut names: Vec<_> = store.list().iter().map(|c| c.metadata.name.clone().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "d"]);
    }

    #[test]
    fn indexes_follow_upserts_deletes_and_relists() {
        let store = Store::<ConfigMap>::new();
        store.add_index("node", Arc::new(by_node));
        let names = |v: Vec<Arc<ConfigMap>>| {
            let mut n: Vec<_> = v.iter().map(|c| c.metadata.name.clone().unwrap()).collect();
            n.sort();
            n
        };
        store.upsert(cm("a", "1", "n1"));
        store.upsert(cm("b", "2", "n1"));
        store.upsert(cm("c", "3", "n2"));
        assert_eq!(names(store.by_index("node", "n1")), ["a", "b"]);
        store.upsert(cm("b", "4", "n2"));
        assert_eq!(names(store.by_index("node", "n1")), ["a"]);
        assert_eq!(names(store.by_index("node", "n2")), ["b", "c"]);
        store.delete(cm("c", "5", "n2"));
        assert_eq!(names(store.by_index("node", "n2")), ["b"]);
        store.replace(vec![cm("x", "6", "n2"), cm("a", "1", "n1")]);
        assert_eq!(names(store.by_index("node", "n2")), ["x"]);
        assert_eq!(names(store.by_index("node", "n1")), ["a"]);
        assert!(store.by_index("no-such-index", "n1").is_empty());

        // An index added later covers the objects already cached.
        store.add_index("name", Arc::new(|c: &ConfigMap| c.metadata.name.clone().into_iter().collect()));
        assert_eq!(names(store.by_index("name", "x")), ["x"]);
    }

    #[test]
    fn resync_redelivers_every_object_as_update_to_itself() {
        let store = Store::<ConfigMap>::new();
        store.replace(vec![cm("a", "1", "n1")]);
        let mut rx = store.subscribe();
        drain(&mut rx);
        store.resync();
        assert_eq!(drain(&mut rx), vec![ev("Updated", "a", "1", "1")]);
    }

    #[test]
    fn keys_are_namespace_slash_name() {
        use crate::store::{make_key, split_key};
        assert_eq!(key_of(&cm("a", "1", "n1")), "default/a");
        assert_eq!(make_key("", "node1"), "node1");
        assert_eq!(split_key("default/a"), ("default", "a"));
        assert_eq!(split_key("node1"), ("", "node1"));
    }
}
