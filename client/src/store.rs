//! The informer's local cache: objects by key, with named indexes.
//!
//! A [`Store`] is a cheap-to-clone read handle; only its informer writes to
//! it. Keys are client-go's `MetaNamespaceKeyFunc` keys: `"<namespace>/<name>"`
//! for namespaced objects, `"<name>"` for cluster-scoped ones (see [`key_of`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::{mpsc, watch};

use crate::dynamic::Object;
use crate::informer::InformerEvent;

/// An index function: the index values of an object (e.g. its node name).
/// An object may have several values, or none (then it is not in the index).
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// The store key of an object: `"ns/name"`, or `"name"` when cluster-scoped.
pub fn key_of<K: Object>(obj: &K) -> String {
    let meta = obj.meta();
    make_key(meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

/// The key for `namespace` ("" when cluster-scoped) and `name`.
pub fn make_key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// Splits a key into (namespace, name); namespace is "" for cluster-scoped keys.
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// Read handle on an informer's cache. Clones share the same cache.
pub struct Store<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store { shared: self.shared.clone() }
    }
}

struct Shared<K> {
    state: RwLock<State<K>>,
    synced: watch::Sender<bool>,
}

struct State<K> {
    objects: HashMap<String, Arc<K>>,
    indexers: HashMap<String, IndexFn<K>>,
    /// index name -> index value -> keys.
    indices: HashMap<String, HashMap<String, HashSet<String>>>,
    /// Event handlers; each gets every change, in order.
    subscribers: Vec<mpsc::UnboundedSender<InformerEvent<K>>>,
}

impl<K: Object> Default for Store<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Object> Store<K> {
    pub(crate) fn new() -> Self {
        let state = State { objects: HashMap::new(), indexers: HashMap::new(), indices: HashMap::new(), subscribers: Vec::new() };
        Store { shared: Arc::new(Shared { state: RwLock::new(state), synced: watch::channel(false).0 }) }
    }

    /// The object `name` in `namespace` ("" for cluster-scoped kinds).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.get_by_key(&make_key(namespace, name))
    }

    /// The object with store key `key` ("ns/name" or "name").
    pub fn get_by_key(&self, key: &str) -> Option<Arc<K>> {
        self.shared.state.read().objects.get(key).cloned()
    }

    /// Every object in the cache (no particular order).
    pub fn list(&self) -> Vec<Arc<K>> {
        self.shared.state.read().objects.values().cloned().collect()
    }

    /// Every key in the cache (no particular order).
    pub fn keys(&self) -> Vec<String> {
        self.shared.state.read().objects.keys().cloned().collect()
    }

    /// Objects whose index function `index` returned `value`.
    /// An unknown index name yields nothing (and a warning).
    pub fn by_index(&self, index: &str, value: &str) -> Vec<Arc<K>> {
        let st = self.shared.state.read();
        let Some(idx) = st.indices.get(index) else {
            tracing::warn!(index, kind = std::any::type_name::<K>(), "by_index: no such index");
            return Vec::new();
        };
        idx.get(value).map(|keys| keys.iter().filter_map(|k| st.objects.get(k).cloned()).collect()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.shared.state.read().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the first list has been stored.
    pub fn has_synced(&self) -> bool {
        *self.shared.synced.borrow()
    }

    /// Waits until the first list has been stored.
    pub async fn wait_synced(&self) {
        let mut rx = self.shared.synced.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = rx.wait_for(|s| *s).await;
    }

    // ---- writer side, used by the informer ----

    /// Adds an index (and indexes the objects already cached).
    pub(crate) fn add_index(&self, name: &str, f: IndexFn<K>) {
        let mut st = self.shared.state.write();
        let mut idx: HashMap<String, HashSet<String>> = HashMap::new();
        for (key, obj) in &st.objects {
            for v in f(obj) {
                idx.entry(v).or_default().insert(key.clone());
            }
        }
        st.indices.insert(name.to_string(), idx);
        st.indexers.insert(name.to_string(), f);
    }

    /// A new event handler. It first gets `Added` for every cached object,
    /// then every change; it ends when the informer stops.
    pub(crate) fn subscribe(&self) -> mpsc::UnboundedReceiver<InformerEvent<K>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.shared.state.write();
        for obj in st.objects.values() {
            let _ = tx.send(InformerEvent::Added(obj.clone()));
        }
        st.subscribers.push(tx);
        rx
    }

    /// Ends every subscription (the informer stopped).
    pub(crate) fn close_subscribers(&self) {
        self.shared.state.write().subscribers.clear();
    }

    /// Stores a created or changed object.
    pub(crate) fn upsert(&self, obj: K) {
        let new = Arc::new(obj);
        let key = key_of(new.as_ref());
        let mut st = self.shared.state.write();
        let old = st.objects.insert(key.clone(), new.clone());
        if let Some(old) = &old {
            st.unindex(&key, old);
        }
        st.index(&key, &new);
        let ev = match old {
            // The same version again (e.g. replayed after a re-watch): nothing changed.
            Some(old) if resource_version(old.as_ref()) == resource_version(new.as_ref()) && !resource_version(new.as_ref()).is_empty() => return,
            Some(old) => InformerEvent::Updated { old, new },
            None => InformerEvent::Added(new),
        };
        st.emit(ev);
    }

    /// Removes a deleted object; handlers get its final state.
    pub(crate) fn delete(&self, obj: K) {
        let gone = Arc::new(obj);
        let key = key_of(gone.as_ref());
        let mut st = self.shared.state.write();
        if let Some(old) = st.objects.remove(&key) {
            st.unindex(&key, &old);
        }
        st.emit(InformerEvent::Deleted(gone));
    }

    /// Replaces the whole cache with a fresh list, emitting the difference:
    /// Added for new keys, Updated for changed resourceVersions, Deleted
    /// (with the last known state) for keys missing from the list.
    pub(crate) fn replace(&self, items: Vec<K>) {
        let mut st = self.shared.state.write();
        let mut old = std::mem::take(&mut st.objects);
        let mut events = Vec::new();
        let mut objects = HashMap::with_capacity(items.len());
        for obj in items {
            let key = key_of(&obj);
            let new = Arc::new(obj);
            match old.remove(&key) {
                Some(prev) if resource_version(prev.as_ref()) == resource_version(new.as_ref()) => {
                    objects.insert(key, prev);
                }
                Some(prev) => {
                    events.push(InformerEvent::Updated { old: prev, new: new.clone() });
                    objects.insert(key, new);
                }
                None => {
                    events.push(InformerEvent::Added(new.clone()));
                    objects.insert(key, new);
                }
            }
        }
        events.extend(old.into_values().map(InformerEvent::Deleted));
        st.objects = objects;
        st.reindex();
        for ev in events {
            st.emit(ev);
        }
        drop(st);
        self.shared.synced.send_replace(true);
    }

    /// Re-delivers every object as `Updated { old, new }` with old == new
    /// (client-go's periodic resync).
    pub(crate) fn resync(&self) {
        let mut st = self.shared.state.write();
        let all: Vec<Arc<K>> = st.objects.values().cloned().collect();
        for obj in all {
            st.emit(InformerEvent::Updated { old: obj.clone(), new: obj });
        }
    }
}

impl<K> State<K> {
    fn emit(&mut self, ev: InformerEvent<K>) {
        // Under the write lock, so every subscriber sees changes in store order.
        self.subscribers.retain(|s| s.send(ev.clone()).is_ok());
    }

    fn index(&mut self, key: &str, obj: &K) {
        for (name, f) in &self.indexers {
            let idx = self.indices.entry(name.clone()).or_default();
            for v in f(obj) {
                idx.entry(v).or_default().insert(key.to_string());
            }
        }
    }

    fn unindex(&mut self, key: &str, obj: &K) {
        for (name, f) in &self.indexers {
            let Some(idx) = self.indices.get_mut(name) else { continue };
            for v in f(obj) {
                if let Some(keys) = idx.get_mut(&v) {
                    keys.remove(key);
                    if keys.is_empty() {
                        idx.remove(&v);
                    }
                }
            }
        }
    }

    fn reindex(&mut self) {
        let mut indices: HashMap<String, HashMap<String, HashSet<String>>> = HashMap::new();
        for (name, f) in &self.indexers {
            let idx = indices.entry(name.clone()).or_default();
            for (key, obj) in &self.objects {
                for v in f(obj) {
                    idx.entry(v).or_default().insert(key.clone());
                }
            }
        }
        self.indices = indices;
    }
}

fn resource_version<K: Object>(obj: &K) -> &str {
    obj.meta().resource_version.as_deref().unwrap_or_default()
}
