//! The controller runtime (kube-runtime's `Controller`, client-go's
//! informer → work queue → worker pattern as every upstream controller
//! hand-writes it): informers feed keys of the primary kind into a
//! de-duplicating, rate-limited [`WorkQueue`]; N workers call
//! `reconcile(ctx, key)`; errors are retried with per-key exponential
//! backoff (5 ms .. 1000 s), never in a hot loop.
//!
//! - [`Controller::new`]: the primary kind's informer; each change queues the object's key.
//! - [`Controller::owns`]: a child kind; a change queues the key of the
//!   child's controller ownerReference when it names the primary kind and
//!   an object of that uid is in the primary's cache.
//! - [`Controller::watches`]: any kind, with your own mapping to keys (and
//!   side effects such as observing [`expectations`]).
//!
//! The controller does not start informers: start each one once
//! (`informer.spawn()`, or a shared informer factory) so controllers can
//! share them; [`Controller::run`] waits for every cache it uses to sync
//! before its workers start, as client-go's `WaitForCacheSync`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use client::controller::{Action, Controller};
//! use client::informer::{Informer, InformerConfig};
//! use client::store::{split_key, Store};
//! use client::{Api, Client};
//! use k8s_openapi::api::apps::v1::ReplicaSet;
//! use k8s_openapi::api::core::v1::Pod;
//!
//! struct Ctx { replicasets: Store<ReplicaSet>, pods: Store<Pod> }
//!
//! async fn reconcile(ctx: Arc<Ctx>, key: String) -> Result<Action, client::Error> {
//!     let (ns, name) = split_key(&key);
//!     let Some(rs) = ctx.replicasets.get(ns, name) else { return Ok(Action::Done) }; // deleted
//!     let _owned = ctx.pods.list().into_iter().filter(|p| p.metadata.namespace.as_deref() == Some(ns)).count();
//!     // ... create or delete pods, write status ...
//!     Ok(Action::RequeueAfter(Duration::from_secs(30))) // or Done; Err(_) retries with backoff
//! }
//!
//! async fn run(client: Client, shutdown: client::CancellationToken) {
//!     let replicasets = Informer::new(Api::<ReplicaSet>::all(client.clone()), InformerConfig::default());
//!     let pods = Informer::new(Api::<Pod>::all(client), InformerConfig::default());
//!     let controller = Controller::new("replicaset", &replicasets).owns(&pods).workers(5);
//!     let ctx = Arc::new(Ctx { replicasets: replicasets.store(), pods: pods.store() });
//!     let tasks = [replicasets.spawn(), pods.spawn()];
//!     controller.run(ctx, reconcile, shutdown).await; // returns once `shutdown` is cancelled
//!     tasks.iter().for_each(|t| t.abort());
//! }
//! ```

pub mod expectations;

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::dynamic::Object;
use crate::informer::{Informer, InformerEvent};
use crate::store::{key_of, make_key, Store};
use crate::workqueue::{QueueMetrics, WorkQueue};
use crate::Resource;

pub use expectations::{ControllerExpectations, UidTrackingExpectations, EXPECTATIONS_TIMEOUT};

/// What to do with a key after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing until something changes.
    Done,
    /// Reconcile again after this long (e.g. minReadySeconds), even if nothing changes.
    RequeueAfter(Duration),
}

/// Called after every reconcile with its duration and whether it succeeded
/// (for a `reconcile latency` histogram and error counters).
pub type ReconcileHook = Arc<dyn Fn(Duration, bool) + Send + Sync>;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A controller for the primary kind `K`; see the module docs.
pub struct Controller<K> {
    name: String,
    store: Store<K>,
    queue: WorkQueue<String>,
    /// Feed loops: informer events → keys → queue.
    feeders: Vec<BoxFuture>,
    /// Resolve once each cache used has synced.
    synced: Vec<BoxFuture>,
    workers: usize,
    hook: Option<ReconcileHook>,
}

impl<K: Resource> Controller<K> {
    /// A controller named `name` (for logs and metrics) over `primary`'s kind.
    pub fn new(name: &str, primary: &Informer<K>) -> Self {
        let c = Controller {
            name: name.to_string(),
            store: primary.store(),
            queue: WorkQueue::new(),
            feeders: Vec::new(),
            synced: Vec::new(),
            workers: 1,
            hook: None,
        };
        c.watches(primary, |ev: &InformerEvent<K>| vec![ev.key()])
    }

    /// Queues the owner's key when an object of kind `C` whose controller
    /// ownerReference names `K` (same API group and kind, and the uid of the
    /// cached owner) changes. An update that moves the reference queues both owners.
    pub fn owns<C: Object>(self, child: &Informer<C>) -> Self {
        let primary = self.store.clone();
        self.watches(child, move |ev: &InformerEvent<C>| {
            let mut keys = owner_keys::<K>(&primary, ev.object().meta());
            if let InformerEvent::Updated { old, .. } = ev {
                for k in owner_keys::<K>(&primary, old.meta()) {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            keys
        })
    }

    /// Queues the keys `mapper` returns for each change of `informer`'s kind.
    /// The mapper runs on one task per informer, in event order.
    pub fn watches<C: Object>(
        mut self,
        informer: &Informer<C>,
        mapper: impl Fn(&InformerEvent<C>) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        // Subscribe now, so nothing between building and running is missed.
        let mut events = informer.subscribe();
        let queue = self.queue.clone();
        self.feeders.push(Box::pin(async move {
            while let Some(ev) = events.recv().await {
                for key in mapper(&ev) {
                    queue.add(key);
                }
            }
        }));
        let store = informer.store();
        self.synced.push(Box::pin(async move { store.wait_synced().await }));
        self
    }

    /// How many keys are reconciled at once (upstream's `--concurrent-<name>-syncs`). Default 1.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Calls `hook(duration, ok)` after each reconcile.
    pub fn on_reconcile(mut self, hook: ReconcileHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The work queue: for queue metrics, or to queue keys from elsewhere
    /// (`queue().add_after(key, d)` from inside a reconcile).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// The primary kind's cache.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queue depth, adds and retries (client-go's workqueue metrics).
    pub fn metrics(&self) -> QueueMetrics {
        self.queue.metrics()
    }

    /// Runs until `shutdown` is cancelled: feeds the queue, waits for the
    /// caches to sync, then runs the workers. On shutdown workers finish
    /// the reconcile in hand and take no more keys (a replica that lost its
    /// lease must stop acting).
    pub async fn run<C, F, Fut, E>(self, ctx: Arc<C>, reconcile: F, shutdown: CancellationToken)
    where
        C: Send + Sync + 'static,
        F: Fn(Arc<C>, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let Controller { name, queue, feeders, synced, workers, hook, .. } = self;
        let feeders: Vec<_> = feeders.into_iter().map(tokio::spawn).collect();
        let all_synced = futures::future::join_all(synced);
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = all_synced => {
                tracing::info!(controller = %name, workers, "caches synced; starting workers");
                let reconcile = Arc::new(reconcile);
                let tasks: Vec<_> = (0..workers)
                    .map(|_| {
                        let worker = Worker { name: name.clone(), queue: queue.clone(), hook: hook.clone() };
                        tokio::spawn(worker.run(ctx.clone(), reconcile.clone(), shutdown.clone()))
                    })
                    .collect();
                shutdown.cancelled().await;
                for t in tasks {
                    let _ = t.await;
                }
            }
        }
        queue.shutdown();
        for f in feeders {
            f.abort();
        }
        tracing::info!(controller = %name, "stopped");
    }
}

struct Worker {
    name: String,
    queue: WorkQueue<String>,
    hook: Option<ReconcileHook>,
}

impl Worker {
    async fn run<C, F, Fut, E>(self, ctx: Arc<C>, reconcile: Arc<F>, shutdown: CancellationToken)
    where
        F: Fn(Arc<C>, String) -> Fut,
        Fut: Future<Output = Result<Action, E>>,
        E: Display,
    {
        loop {
            // `get` is cancel-safe: it only takes an item when it returns one.
            let key = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                key = self.queue.get() => match key { Some(k) => k, None => return },
            };
            let start = Instant::now();
            let result = reconcile(ctx.clone(), key.clone()).await;
            if let Some(h) = &self.hook {
                h(start.elapsed(), result.is_ok());
            }
            match result {
                Ok(Action::Done) => self.queue.forget(&key),
                Ok(Action::RequeueAfter(d)) => {
                    self.queue.forget(&key);
                    self.queue.add_after(key.clone(), d);
                }
                Err(e) => {
                    tracing::warn!(controller = %self.name, %key, error = %e, retries = self.queue.num_requeues(&key), "reconcile failed; requeued with backoff");
                    self.queue.add_rate_limited(key.clone());
                }
            }
            self.queue.done(&key);
        }
    }
}

/// The primary key `meta`'s controller reference points to, if it names
/// kind `K` (group and kind; any version, as upstream) and the primary
/// cache holds an object of that name with the same uid.
fn owner_keys<K: Resource>(primary: &Store<K>, meta: &ObjectMeta) -> Vec<String> {
    let Some(r) = ::api::owner::controller_of(meta) else { return Vec::new() };
    let group = r.api_version.split_once('/').map_or("", |(g, _)| g);
    if r.kind != K::KIND || group != K::GROUP {
        return Vec::new();
    }
    let ns = if K::namespaced() { meta.namespace.as_deref().unwrap_or_default() } else { "" };
    let key = make_key(ns, &r.name);
    match primary.get_by_key(&key) {
        Some(owner) if owner.metadata().uid.as_deref() == Some(r.uid.as_str()) => vec![key_of(owner.as_ref())],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Api, Client};
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use parking_lot::Mutex;

    fn meta(name: &str, uid: &str, rv: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(uid.into()),
            resource_version: Some(rv.into()),
            ..Default::default()
        }
    }

    fn rs(name: &str, uid: &str) -> ReplicaSet {
        ReplicaSet { metadata: meta(name, uid, "1"), ..Default::default() }
    }

    fn pod(name: &str, rv: &str, owner: Option<(&str, &str, &str, &str)>) -> Pod {
        let mut m = meta(name, &format!("pod-{name}"), rv);
        m.owner_references = owner.map(|(api_version, kind, name, uid)| {
            vec![OwnerReference {
                api_version: api_version.into(),
                kind: kind.into(),
                name: name.into(),
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]
        });
        Pod { metadata: m, ..Default::default() }
    }

    fn informer<K: Object>() -> Informer<K> {
        // Never connects: the tests write the caches directly.
        Informer::new(Api::for_resource(Client::connect_lazy("127.0.0.1:1").unwrap(), crate::ApiResourceRef::of::<Pod>(), None), Default::default())
    }

    #[tokio::test]
    async fn owner_mapping_follows_the_controller_ref_of_the_primary_kind() {
        let replicasets = informer::<ReplicaSet>();
        replicasets.store().replace(vec![rs("web", "u1"), rs("api", "u2")]);
        let store = replicasets.store();
        let keys = |p: &Pod| owner_keys::<ReplicaSet>(&store, &p.metadata);
        assert_eq!(keys(&pod("a", "1", Some(("apps/v1", "ReplicaSet", "web", "u1")))), ["ns/web"]);
        assert_eq!(keys(&pod("a", "1", Some(("apps/v1beta2", "ReplicaSet", "web", "u1")))), ["ns/web"], "any version of the group");
        assert!(keys(&pod("a", "1", Some(("apps/v1", "ReplicaSet", "web", "old-uid")))).is_empty(), "a deleted and recreated owner is another owner");
        assert!(keys(&pod("a", "1", Some(("apps/v1", "Deployment", "web", "u1")))).is_empty());
        assert!(keys(&pod("a", "1", Some(("extensions/v1", "ReplicaSet", "web", "u1")))).is_empty());
        assert!(keys(&pod("a", "1", Some(("apps/v1", "ReplicaSet", "gone", "u9")))).is_empty());
        assert!(keys(&pod("a", "1", None)).is_empty());
        // A non-controller owner reference is no controller.
        let mut p = pod("a", "1", Some(("apps/v1", "ReplicaSet", "web", "u1")));
        p.metadata.owner_references.as_mut().unwrap()[0].controller = None;
        assert!(keys(&p).is_empty());
    }

    /// Runs a controller whose reconcile records (key, time since start) and
    /// answers from `script` (per call, in order; then Done).
    #[allow(clippy::type_complexity)]
    fn recording_run(
        controller: Controller<ReplicaSet>,
        script: Vec<Result<Action, String>>,
    ) -> (Arc<Mutex<Vec<(String, Duration)>>>, CancellationToken, tokio::task::JoinHandle<()>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(std::collections::VecDeque::from(script)));
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        let ctx = Arc::new((seen.clone(), script));
        let task = tokio::spawn(controller.run(
            ctx,
            move |ctx: Arc<(Arc<Mutex<Vec<(String, Duration)>>>, Arc<Mutex<std::collections::VecDeque<Result<Action, String>>>>)>, key: String| async move {
                ctx.0.lock().push((key, start.elapsed()));
                ctx.1.lock().pop_front().unwrap_or(Ok(Action::Done))
            },
            shutdown.clone(),
        ));
        (seen, shutdown, task)
    }

    #[tokio::test(start_paused = true)]
    async fn child_changes_queue_their_owner_after_the_caches_sync() {
        let replicasets = informer::<ReplicaSet>();
        let pods = informer::<Pod>();
        let controller = Controller::new("test", &replicasets).owns(&pods).workers(2);
        let (seen, shutdown, task) = recording_run(controller, vec![]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(seen.lock().is_empty(), "no worker before the caches sync");

        replicasets.store().replace(vec![rs("web", "u1"), rs("api", "u2")]);
        pods.store().replace(vec![]);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut first: Vec<String> = seen.lock().drain(..).map(|(k, _)| k).collect();
        first.sort();
        assert_eq!(first, ["ns/api", "ns/web"], "every primary object once at start");

        pods.store().upsert(pod("a", "1", Some(("apps/v1", "ReplicaSet", "web", "u1"))));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(seen.lock().drain(..).map(|(k, _)| k).collect::<Vec<_>>(), ["ns/web"]);
        // The pod moves to another owner: both are told.
        pods.store().upsert(pod("a", "2", Some(("apps/v1", "ReplicaSet", "api", "u2"))));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut moved: Vec<String> = seen.lock().drain(..).map(|(k, _)| k).collect();
        moved.sort();
        assert_eq!(moved, ["ns/api", "ns/web"]);
        // An orphan changes: nobody owns it.
        pods.store().upsert(pod("b", "3", None));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(seen.lock().is_empty());

        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_retried_with_per_key_backoff_and_requeue_after_waits() {
        let replicasets = informer::<ReplicaSet>();
        replicasets.store().replace(vec![rs("web", "u1")]);
        let controller = Controller::new("test", &replicasets);
        let queue = controller.queue();
        let script = vec![
            Err("apiserver down".to_string()),
            Err("apiserver down".to_string()),
            Err("apiserver down".to_string()),
            Ok(Action::RequeueAfter(Duration::from_secs(30))),
            Err("again".to_string()),
        ];
        let (seen, shutdown, task) = recording_run(controller, script);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let times: Vec<Duration> = seen.lock().iter().map(|(_, t)| *t).collect();
        let ms = Duration::from_millis;
        // 5, 10, 20 ms backoff; success forgets the failures, so the error after the
        // 30 s requeue backs off from 5 ms again.
        assert_eq!(times, [ms(0), ms(5), ms(15), ms(35), ms(30_035), ms(30_040)]);
        let m = queue.metrics();
        assert_eq!((m.retries_total, m.depth), (4, 0));
        assert_eq!(queue.num_requeues(&"ns/web".to_string()), 0, "the last reconcile succeeded");
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_workers_and_the_hook_sees_each_reconcile() {
        let replicasets = informer::<ReplicaSet>();
        replicasets.store().replace(vec![rs("web", "u1")]);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let hook_calls = calls.clone();
        let controller = Controller::new("test", &replicasets).on_reconcile(Arc::new(move |_d, ok| hook_calls.lock().push(ok)));
        let queue = controller.queue();
        let (_seen, shutdown, task) = recording_run(controller, vec![Err("x".into())]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(*calls.lock(), [false, true]);
        shutdown.cancel();
        task.await.unwrap();
        assert!(queue.is_shutting_down());
        // Keys added after shutdown are not reconciled.
        queue.add("ns/web".into());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(calls.lock().len(), 2);
    }
}
