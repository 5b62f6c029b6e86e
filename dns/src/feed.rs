//! Informers → zone: a Service's names are recomputed whenever it or one of
//! its EndpointSlices changes, from the caches (never an API call per query).

use std::sync::Arc;

use client::informer::{Informer, InformerConfig, InformerEvent};
use client::store::{make_key, split_key, Store};
use client::{Api, Client};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio::sync::mpsc;

use crate::records::service_records;
use crate::zone::Zone;

/// The label naming a slice's Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const BY_SERVICE: &str = "service";

/// The running informers; dropping it does not stop them: call [`Feed::stop`].
pub struct Feed {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
}

fn slice_service(s: &EndpointSlice) -> Option<String> {
    let svc = s.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some(make_key(s.metadata.namespace.as_deref().unwrap_or_default(), svc))
}

impl Feed {
    /// Starts the informers and the loop that keeps `zone` current.
    pub fn start(client: Client, zone: Arc<Zone>) -> Feed {
        // Pages of 500: one 10k-object list response would leave its decode buffers in the heap.
        let services = Informer::new(Api::<Service>::all(client.clone()), InformerConfig::default().page_size(500));
        let slices = Informer::new(Api::<EndpointSlice>::all(client), InformerConfig::default().page_size(500)).with_index(BY_SERVICE, |s: &EndpointSlice| slice_service(s).into_iter().collect());
        let (svc_events, slice_events) = (services.subscribe(), slices.subscribe());
        let (svc_store, slice_store) = (services.store(), slices.store());
        let mut tasks = vec![services.spawn(), slices.spawn()];
        tasks.push(tokio::spawn(apply_loop(svc_events, slice_events, svc_store.clone(), slice_store.clone(), zone)));
        Feed { tasks, services: svc_store, slices: slice_store }
    }

    /// True once both caches hold a first list.
    pub fn synced(&self) -> bool {
        self.services.has_synced() && self.slices.has_synced()
    }

    pub async fn wait_synced(&self) {
        self.services.wait_synced().await;
        self.slices.wait_synced().await;
    }

    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

async fn apply_loop(
    mut svc_events: mpsc::UnboundedReceiver<InformerEvent<Service>>,
    mut slice_events: mpsc::UnboundedReceiver<InformerEvent<EndpointSlice>>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    zone: Arc<Zone>,
) {
    let apply = |key: &str| {
        let (ns, name) = split_key(key);
        let records = services.get(ns, name).map(|svc| service_records(&svc, &slices.by_index(BY_SERVICE, key), zone.domain()));
        zone.set_service(key, records);
    };
    loop {
        tokio::select! {
            ev = svc_events.recv() => match ev {
                Some(ev) => apply(&ev.key()),
                None => return,
            },
            ev = slice_events.recv() => match ev {
                Some(ev) => {
                    let mut keys: Vec<String> = slice_service(ev.object()).into_iter().collect();
                    if let InformerEvent::Updated { old, .. } = &ev {
                        keys.extend(slice_service(old).filter(|k| !keys.contains(k)));
                    }
                    for k in keys {
                        apply(&k);
                    }
                }
                None => return,
            },
        }
    }
}
