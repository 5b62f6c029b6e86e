//! The garbage collector (upstream's pkg/controller/garbagecollector): an
//! informer over every deletable kind the apiserver's discovery lists
//! ([`PartialObjectMetadata`]s), the ownerReferences graph built from them
//! ([`graph`]), and two worker pools:
//!
//! - attemptToDelete: an object whose owners are all gone (verified by a
//!   live GET by name and uid, never from a cache alone) is deleted, with the
//!   propagation its own finalizers ask for; references to owners that are
//!   gone or being deleted in the foreground are removed when a live owner
//!   remains; an owner with the `foregroundDeletion` finalizer gets its
//!   dependents deleted and loses the finalizer once none with
//!   blockOwnerDeletion remain.
//! - attemptToOrphan: an owner deleted with the `orphan` finalizer has its
//!   reference removed from every dependent, then loses the finalizer.
//!
//! Discovery is re-read every 30 s, so kinds added later are watched too.

pub mod graph;
mod operations;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use client::dynamic::PartialObjectMetadata;
use client::informer::{Informer, InformerConfig, InformerEvent};
use client::workqueue::WorkQueue;
use client::{Api, ApiResourceRef, Client};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use graph::{Change, ChangeKind, Graph};

pub const GARBAGE_COLLECTOR: Descriptor = Descriptor {
    name: "garbage-collector-controller",
    aliases: &["garbagecollector"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-gc-syncs",
        default: 20,
        help: "The number of garbage collector workers that are allowed to sync concurrently.",
    }),
    start,
};

/// How often discovery is re-read for new kinds (upstream's resync of monitors).
const DISCOVERY_PERIOD: Duration = Duration::from_secs(30);

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(run(ctx))
}

/// Kinds the garbage collector leaves alone, as upstream's DefaultIgnoredResources.
fn ignored(r: &ApiResourceRef) -> bool {
    r.plural == "events" && (r.group.is_empty() || r.group == "events.k8s.io")
}

/// Every kind that can be listed, watched and deleted (upstream's GetDeletableResources).
pub async fn deletable_resources(client: &Client) -> Result<Vec<ApiResourceRef>, client::Error> {
    let d = client.discovery().await?;
    Ok(d.resources
        .iter()
        .filter(|r| ["delete", "list", "watch"].iter().all(|v| r.verbs.iter().any(|x| x == v)))
        .map(ApiResourceRef::from)
        .collect())
}

/// apiVersion + kind → resource (upstream's RESTMapper), from discovery.
#[derive(Default)]
pub struct Mapper {
    by_kind: HashMap<(String, String), ApiResourceRef>,
}

impl Mapper {
    pub fn new(resources: &[ApiResourceRef]) -> Self {
        let by_kind = resources.iter().map(|r| ((r.group.clone(), r.kind.clone()), r.clone())).collect();
        Mapper { by_kind }
    }
    /// The resource for `api_version` ("apps/v1", "v1") and `kind`; any served version of the group.
    pub fn resource_for(&self, api_version: &str, kind: &str) -> Option<ApiResourceRef> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        self.by_kind.get(&(group.to_string(), kind.to_string())).cloned()
    }
}

/// What the workers share.
pub struct Gc {
    pub client: Client,
    pub graph: Mutex<Graph>,
    pub mapper: RwLock<Mapper>,
    pub attempt_to_delete: WorkQueue<String>,
    pub attempt_to_orphan: WorkQueue<String>,
    pub changes: mpsc::UnboundedSender<Change>,
}

async fn run(ctx: ControllerContext) {
    let attempt_to_delete = WorkQueue::<String>::new();
    let attempt_to_orphan = WorkQueue::<String>::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<Change>();
    let gc = Arc::new(Gc {
        client: ctx.client.clone(),
        graph: Mutex::new(Graph::new(attempt_to_delete.clone(), attempt_to_orphan.clone())),
        mapper: RwLock::new(Mapper::default()),
        attempt_to_delete: attempt_to_delete.clone(),
        attempt_to_orphan: attempt_to_orphan.clone(),
        changes: tx.clone(),
    });

    // The graph builder: one task applies every change in order.
    let builder = {
        let gc = gc.clone();
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                gc.graph.lock().apply(change);
            }
        })
    };

    let mut monitors = Monitors::default();
    // Wait for discovery and the first sync of every monitor before acting.
    loop {
        match monitors.sync(&gc, &tx).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "garbage collector: discovery failed; retrying");
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    tokio::select! {
        _ = ctx.shutdown.cancelled() => { monitors.stop(); builder.abort(); return; }
        _ = monitors.wait_synced() => {}
    }
    tracing::info!(workers = ctx.workers, "garbage collector: all resource monitors have synced; proceeding to collect garbage");

    let mut workers = Vec::new();
    for _ in 0..ctx.workers {
        workers.push(tokio::spawn(operations::delete_worker(gc.clone())));
        workers.push(tokio::spawn(operations::orphan_worker(gc.clone())));
    }
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            _ = tokio::time::sleep(DISCOVERY_PERIOD) => {
                if let Err(e) = monitors.sync(&gc, &tx).await {
                    tracing::warn!(error = %e, "garbage collector: discovery failed");
                }
            }
        }
    }
    attempt_to_delete.shutdown();
    attempt_to_orphan.shutdown();
    for w in workers {
        let _ = w.await;
    }
    monitors.stop();
    builder.abort();
}

/// One informer per deletable kind (upstream's monitors).
#[derive(Default)]
struct Monitors {
    running: HashMap<ApiResourceRef, (Informer<PartialObjectMetadata>, Vec<tokio::task::JoinHandle<()>>)>,
}

impl Monitors {
    /// Starts informers for kinds discovery newly lists, stops those it no longer does.
    async fn sync(&mut self, gc: &Arc<Gc>, tx: &mpsc::UnboundedSender<Change>) -> Result<(), client::Error> {
        let resources: Vec<ApiResourceRef> = deletable_resources(&gc.client).await?.into_iter().filter(|r| !ignored(r)).collect();
        *gc.mapper.write() = Mapper::new(&resources);
        let wanted: HashSet<&ApiResourceRef> = resources.iter().collect();
        self.running.retain(|r, (_, tasks)| {
            let keep = wanted.contains(r);
            if !keep {
                tasks.iter().for_each(|t| t.abort());
            }
            keep
        });
        for r in resources {
            if self.running.contains_key(&r) {
                continue;
            }
            let informer = Informer::new(Api::<PartialObjectMetadata>::for_resource(gc.client.clone(), r.clone(), None), InformerConfig::default());
            let mut events = informer.subscribe();
            let (tx, resource) = (tx.clone(), r.clone());
            let feeder = tokio::spawn(async move {
                while let Some(ev) = events.recv().await {
                    let change = match ev {
                        InformerEvent::Added(obj) => Change::Observed { resource: resource.clone(), kind: ChangeKind::AddOrUpdate, old: None, obj },
                        InformerEvent::Updated { old, new } => {
                            Change::Observed { resource: resource.clone(), kind: ChangeKind::AddOrUpdate, old: Some(old), obj: new }
                        }
                        InformerEvent::Deleted(obj) => Change::Observed { resource: resource.clone(), kind: ChangeKind::Delete, old: None, obj },
                    };
                    if tx.send(change).is_err() {
                        return;
                    }
                }
            });
            let task = informer.spawn();
            self.running.insert(r, (informer, vec![feeder, task]));
        }
        Ok(())
    }

    async fn wait_synced(&self) {
        for (i, _) in self.running.values() {
            i.wait_synced().await;
        }
    }

    fn stop(&mut self) {
        for (_, (_, tasks)) in self.running.drain() {
            tasks.iter().for_each(|t| t.abort());
        }
    }
}
