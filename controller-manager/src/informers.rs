//! Shared informers (client-go's SharedInformerFactory): one list+watch per
//! kind for the whole controller-manager, however many controllers use it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use client::informer::{Informer, InformerConfig};
use client::{Api, Client, Resource};
use parking_lot::Mutex;

/// The index every shared informer has: objects by namespace ("" for
/// cluster-scoped), so controllers list one namespace without a scan.
pub const NAMESPACE_INDEX: &str = "namespace";

/// Cheap to clone; clones share the informers.
#[derive(Clone)]
pub struct InformerFactory {
    client: Client,
    informers: Arc<Mutex<HashMap<TypeId, Entry>>>,
}

struct Entry {
    informer: Box<dyn Any + Send + Sync>,
    task: tokio::task::JoinHandle<()>,
}

impl InformerFactory {
    pub fn new(client: Client) -> Self {
        InformerFactory { client, informers: Default::default() }
    }

    /// The informer for `K` over all namespaces, started on first use.
    pub fn get<K: Resource>(&self) -> Informer<K> {
        let mut map = self.informers.lock();
        if let Some(e) = map.get(&TypeId::of::<K>()) {
            return e.informer.downcast_ref::<Informer<K>>().expect("keyed by type").clone();
        }
        let informer = Informer::new(Api::<K>::all(self.client.clone()), InformerConfig::default())
            .with_index(NAMESPACE_INDEX, |o: &K| vec![o.metadata().namespace.clone().unwrap_or_default()]);
        let task = informer.spawn();
        map.insert(TypeId::of::<K>(), Entry { informer: Box::new(informer.clone()), task });
        informer
    }

    /// Stops every informer.
    pub fn shutdown(&self) {
        for (_, e) in self.informers.lock().drain() {
            e.task.abort();
        }
    }
}
