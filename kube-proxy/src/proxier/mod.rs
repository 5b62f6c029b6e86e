//! Desired state from Services and EndpointSlices: the informers' events
//! are folded into [`ProxyState`], which remembers which Services changed
//! since the last sync (upstream's ServiceChangeTracker and
//! EndpointsChangeTracker, keyed by Service).

pub mod endpoints;
pub mod service;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use client::informer::InformerEvent;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

pub use endpoints::Endpoint;
pub use service::{ServicePort, ServicePortName};

/// Services with this label belong to another proxy (upstream skips them).
pub const SERVICE_PROXY_NAME_LABEL: &str = "service.kubernetes.io/service-proxy-name";
/// Headless services' slices carry this label; nothing to proxy.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// A service port and its endpoints: what gets rendered.
pub type PortEndpoints = (ServicePort, Vec<Endpoint>);

/// The Services and EndpointSlices seen, by Service key ("ns/name").
#[derive(Default)]
pub struct ProxyState {
    node_name: String,
    services: HashMap<String, Arc<Service>>,
    /// Service key -> slice name -> slice.
    slices: HashMap<String, BTreeMap<String, Arc<EndpointSlice>>>,
    /// "ns/slice" -> the Service key it was filed under (labels can change).
    slice_owner: HashMap<String, String>,
    dirty: HashSet<String>,
}

fn has_label<K: client::dynamic::Object>(o: &K, label: &str) -> bool {
    o.meta().labels.as_ref().is_some_and(|l| l.contains_key(label))
}

impl ProxyState {
    pub fn new(node_name: &str) -> Self {
        ProxyState { node_name: node_name.to_string(), ..Default::default() }
    }

    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Folds a Service event in; returns true if it may change the rules.
    pub fn service_event(&mut self, ev: &InformerEvent<Service>) -> bool {
        let svc = ev.object();
        let key = client::store::key_of(svc.as_ref());
        match ev {
            InformerEvent::Updated { old, new } if Arc::ptr_eq(old, new) => return false,
            InformerEvent::Updated { old, new } if old.spec == new.spec && old.status == new.status && old.metadata.labels == new.metadata.labels => {
                self.services.insert(key, new.clone());
                return false;
            }
            InformerEvent::Deleted(_) => {
                self.services.remove(&key);
            }
            _ if has_label(svc.as_ref(), SERVICE_PROXY_NAME_LABEL) => {
                self.services.remove(&key);
            }
            _ => {
                self.services.insert(key.clone(), svc.clone());
            }
        }
        self.dirty.insert(key);
        true
    }

    /// Folds an EndpointSlice event in; returns true if it may change the rules.
    pub fn slice_event(&mut self, ev: &InformerEvent<EndpointSlice>) -> bool {
        let slice = ev.object();
        if let InformerEvent::Updated { old, new } = ev {
            if Arc::ptr_eq(old, new) || (old.endpoints == new.endpoints && old.ports == new.ports && old.metadata.labels == new.metadata.labels) {
                return false;
            }
        }
        let slice_key = client::store::key_of(slice.as_ref());
        let name = slice.metadata.name.clone().unwrap_or_default();
        // Drop it from where it was filed (its service label may have changed).
        if let Some(owner) = self.slice_owner.remove(&slice_key) {
            if let Some(m) = self.slices.get_mut(&owner) {
                m.remove(&name);
                if m.is_empty() {
                    self.slices.remove(&owner);
                }
            }
            self.dirty.insert(owner);
        }
        if matches!(ev, InformerEvent::Deleted(_)) || has_label(slice.as_ref(), HEADLESS_LABEL) {
            return true;
        }
        if let Some(svc) = endpoints::service_key(slice) {
            self.slices.entry(svc.clone()).or_default().insert(name, slice.clone());
            self.slice_owner.insert(slice_key, svc.clone());
            self.dirty.insert(svc);
        }
        true
    }

    /// Marks every Service changed (a full sync).
    pub fn all_keys(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    /// The Services changed since the last call.
    pub fn take_dirty(&mut self) -> HashSet<String> {
        std::mem::take(&mut self.dirty)
    }

    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Puts keys back after a failed sync.
    pub fn mark_dirty(&mut self, keys: impl IntoIterator<Item = String>) {
        self.dirty.extend(keys);
    }

    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// The desired ports and endpoints of Service `key`; None when it does not exist (or is not proxied).
    pub fn desired(&self, key: &str) -> Option<Vec<PortEndpoints>> {
        let svc = self.services.get(key)?;
        let ports = service::service_ports(svc);
        let by_port = self.slices.get(key).map(|m| endpoints::endpoints_by_port(m.values(), &self.node_name)).unwrap_or_default();
        Some(ports.into_iter().map(|p| {
            let eps = by_port.get(&p.name.port).cloned().unwrap_or_default();
            (p, eps)
        }).collect())
    }
}
