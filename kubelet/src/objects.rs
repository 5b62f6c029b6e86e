//! ConfigMaps and Secrets the node's pods refer to, as upstream's watch-based
//! managers (pkg/kubelet/util/manager): one informer per referenced object
//! (`fieldSelector metadata.name=<name>` in its namespace), started when the first
//! pod refers to it and stopped when the last one is gone. A change wakes the
//! workers of the pods that refer to it, so updated volumes and a ConfigMap that
//! appears late are picked up at once.

use client::informer::{Informer, InformerConfig};
use client::{Api, Client};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Why an object could not be read (the wording is upstream's).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ObjectError {
    /// `configmap "x" not found` (upstream's manager uses the singular resource).
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("failed to sync {kind} cache: timed out waiting for the condition")]
    NotSynced { kind: &'static str },
}

impl ObjectError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ObjectError::NotFound { .. })
    }
}

struct Entry<K> {
    informer: Informer<K>,
    task: tokio::task::JoinHandle<()>,
    forward: tokio::task::JoinHandle<()>,
    /// Pod UIDs referring to the object, with their workers' wake-ups.
    pods: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

impl<K> Drop for Entry<K> {
    fn drop(&mut self) {
        self.task.abort();
        self.forward.abort();
    }
}

/// The watched objects of one kind.
pub struct Manager<K> {
    client: Client,
    kind: &'static str,
    entries: Mutex<HashMap<(String, String), Entry<K>>>,
}

pub type ConfigMaps = Manager<ConfigMap>;
pub type Secrets = Manager<Secret>;

impl<K> Manager<K>
where
    K: client::Resource + client::dynamic::Object,
{
    /// `kind` is the singular lower-case name used in messages ("configmap").
    pub fn new(client: Client, kind: &'static str) -> Self {
        Manager { client, kind, entries: Mutex::new(HashMap::new()) }
    }

    /// Make sure `ns/name` is watched for the pod `uid`, whose worker `wake` wakes
    /// on every change.
    pub fn register(&self, ns: &str, name: &str, uid: &str, wake: &Arc<Notify>) {
        let mut m = self.entries.lock();
        let e = m.entry((ns.to_string(), name.to_string())).or_insert_with(|| {
            let informer = Informer::new(
                Api::<K>::namespaced(self.client.clone(), ns),
                InformerConfig::default().fields(&format!("metadata.name={name}")),
            );
            let pods: Arc<Mutex<HashMap<String, Arc<Notify>>>> = Default::default();
            let mut events = informer.subscribe();
            let p = pods.clone();
            let forward = tokio::spawn(async move {
                while events.recv().await.is_some() {
                    for n in p.lock().values() {
                        n.notify_one();
                    }
                }
            });
            Entry { task: informer.spawn(), informer, forward, pods }
        });
        e.pods.lock().insert(uid.to_string(), wake.clone());
    }

    /// Forget every reference of pod `uid` except those in `keep`; objects nobody
    /// refers to any more stop being watched.
    pub fn release(&self, uid: &str, keep: &BTreeSet<(String, String)>) {
        let mut m = self.entries.lock();
        m.retain(|key, e| {
            if !keep.contains(key) {
                e.pods.lock().remove(uid);
            }
            !e.pods.lock().is_empty()
        });
    }

    /// The object, once its informer has listed (at most `wait`).
    pub async fn get(&self, ns: &str, name: &str, wait: Duration) -> Result<Arc<K>, ObjectError> {
        let informer = {
            let m = self.entries.lock();
            m.get(&(ns.to_string(), name.to_string())).map(|e| e.informer.clone())
        };
        let Some(informer) = informer else {
            // Not registered: a one-off read.
            return match Api::<K>::namespaced(self.client.clone(), ns).get_opt(name).await {
                Ok(Some(o)) => Ok(Arc::new(o)),
                Ok(None) => Err(ObjectError::NotFound { kind: self.kind, name: name.to_string() }),
                Err(_) => Err(ObjectError::NotSynced { kind: self.kind }),
            };
        };
        if !informer.has_synced() && tokio::time::timeout(wait, informer.wait_synced()).await.is_err() {
            return Err(ObjectError::NotSynced { kind: self.kind });
        }
        informer.store().get(ns, name).ok_or_else(|| ObjectError::NotFound { kind: self.kind, name: name.to_string() })
    }
}

/// Both managers, as the pod workers use them.
pub struct Objects {
    pub config_maps: ConfigMaps,
    pub secrets: Secrets,
    /// Every Service (upstream's serviceLister), for the service environment variables.
    pub services: Services,
}

impl Objects {
    /// Starts the Service informer (call from within the runtime).
    pub fn new(client: Client) -> Self {
        Objects { config_maps: Manager::new(client.clone(), "configmap"), secrets: Manager::new(client.clone(), "secret"), services: Services::start(client) }
    }
}

/// All Services of the cluster, watched from the start (as upstream's
/// kubelet does) so a container's service variables are those that exist
/// when it starts.
pub struct Services {
    store: client::store::Store<Service>,
    task: tokio::task::JoinHandle<()>,
}

impl Services {
    fn start(client: Client) -> Self {
        let informer = Informer::new(Api::<Service>::all(client), InformerConfig::default());
        Services { store: informer.store(), task: informer.spawn() }
    }

    /// The cached Services, once the first list has arrived; upstream's
    /// error when it has not within `wait`.
    pub async fn list(&self, wait: Duration) -> Result<Vec<Arc<Service>>, String> {
        if tokio::time::timeout(wait, self.store.wait_synced()).await.is_err() {
            return Err("services have not yet been read at least once, cannot construct envvars".into());
        }
        Ok(self.store.list())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// (namespace, name) pairs.
pub type Refs = BTreeSet<(String, String)>;

/// Every ConfigMap and Secret (namespace, name) a pod refers to from its
/// containers' environment and its volumes.
pub fn pod_references(pod: &Pod) -> (Refs, Refs) {
    let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let (mut cms, mut secrets) = (BTreeSet::new(), BTreeSet::new());
    let Some(spec) = &pod.spec else { return (cms, secrets) };
    for c in spec.init_containers.iter().flatten().chain(&spec.containers) {
        let (c_cms, c_secrets) = crate::env::references(c);
        cms.extend(c_cms.into_iter().map(|n| (ns.clone(), n)));
        secrets.extend(c_secrets.into_iter().map(|n| (ns.clone(), n)));
    }
    for v in spec.volumes.iter().flatten() {
        cms.extend(v.config_map.as_ref().map(|c| (ns.clone(), c.name.clone())));
        secrets.extend(v.secret.as_ref().and_then(|s| s.secret_name.clone()).map(|n| (ns.clone(), n)));
        for s in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            cms.extend(s.config_map.as_ref().map(|c| (ns.clone(), c.name.clone())));
            secrets.extend(s.secret.as_ref().map(|c| (ns.clone(), c.name.clone())));
        }
    }
    (cms, secrets)
}

impl Objects {
    /// Watch what `pod` refers to now (waking `wake` on changes), forget the rest.
    pub fn track(&self, pod: &Pod, wake: &Arc<Notify>) {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let (cms, secrets) = pod_references(pod);
        for (ns, n) in &cms {
            self.config_maps.register(ns, n, uid, wake);
        }
        for (ns, n) in &secrets {
            self.secrets.register(ns, n, uid, wake);
        }
        self.config_maps.release(uid, &cms);
        self.secrets.release(uid, &secrets);
    }

    /// The pod is gone: stop watching what only it referred to.
    pub fn forget(&self, uid: &str) {
        self.config_maps.release(uid, &BTreeSet::new());
        self.secrets.release(uid, &BTreeSet::new());
    }
}
