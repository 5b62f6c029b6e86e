//! The Endpoints controller (upstream's pkg/controller/endpoint): for every
//! Service with a selector, an Endpoints object of the same name listing the
//! matching pods' IPs with each Service port resolved on that pod; ready
//! pods (or all, with publishNotReadyAddresses) as `addresses`, the others
//! as `notReadyAddresses`, repacked into subsets of identical port sets.
//! Services without a selector keep hand-made Endpoints; ExternalName
//! Services get none. Event driven: a pod's readiness change queues its
//! Services at once.

mod subsets;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use client::controller::{Action, Controller};
use client::informer::InformerEvent;
use client::store::{split_key, Store};
use client::{Api, Client, DeleteParams, PostParams};
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, Endpoints, ObjectReference, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::controller_utils::is_pod_ready;
use crate::endpoint_utils::{self as eu, LABEL_HEADLESS};
use crate::Error;

pub const ENDPOINT: Descriptor = Descriptor {
    name: "endpoints-controller",
    aliases: &["endpoint", "endpoint-controller"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-endpoint-syncs",
        default: 5,
        help: "The number of endpoint syncing operations that will be done concurrently. Larger number = faster endpoint updating, but more CPU (and network) load",
    }),
    start,
};

/// upstream's maxCapacity: addresses beyond it are dropped and the object annotated.
pub const MAX_CAPACITY: usize = 1000;
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";

struct Ctx {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
}

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let services = ctx.informers.get::<Service>();
        let pods = ctx.informers.get::<Pod>();
        let endpoints = ctx.informers.get::<Endpoints>();
        let svc_store = services.store();
        let svc_store2 = services.store();
        let controller = Controller::new("endpoint", &services)
            .workers(ctx.workers)
            // A pod queues the Services it belongs to, before and after a label change.
            .watches(&pods, move |ev: &InformerEvent<Pod>| {
                let mut keys = eu::services_of_pod(&svc_store, ev.object());
                if let InformerEvent::Updated { old, .. } = ev {
                    keys.extend(eu::services_of_pod(&svc_store, old));
                }
                keys
            })
            // Endpoints deleted (or changed) under a selector Service are put back.
            .watches(&endpoints, move |ev: &InformerEvent<Endpoints>| {
                let key = ev.key();
                let (ns, name) = split_key(&key);
                svc_store2.get(ns, name).filter(|s| eu::selector(s).is_some()).map(|_| key.clone()).into_iter().collect()
            });
        let controller = ctx.metrics.instrument("endpoint", controller);
        let c = Arc::new(Ctx { client: ctx.client.clone(), services: services.store(), pods: pods.store(), endpoints: endpoints.store() });
        controller.run(c, sync, ctx.shutdown.clone()).await;
    })
}

async fn sync(ctx: Arc<Ctx>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let api = Api::<Endpoints>::namespaced(ctx.client.clone(), ns);
    let Some(svc) = ctx.services.get(ns, name) else {
        // The Service is gone: so are its Endpoints (hand-made ones included, as upstream).
        if ctx.endpoints.get(ns, name).is_some() {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(Action::Done);
    };
    if eu::service_type(&svc) == "ExternalName" || eu::selector(&svc).is_none() {
        return Ok(Action::Done);
    }
    let desired = desired_endpoints(&svc, &eu::pods_of_service(&ctx.pods, &svc));
    let current = ctx.endpoints.get(ns, name);
    match current {
        Some(cur) if cur.subsets == desired.subsets && cur.metadata.labels == desired.metadata.labels && over_capacity(&cur) == over_capacity(&desired) => {
            Ok(Action::Done)
        }
        Some(cur) => {
            let mut new = (*cur).clone();
            new.subsets = desired.subsets;
            new.metadata.labels = desired.metadata.labels;
            let mut ann = new.metadata.annotations.take().unwrap_or_default();
            ann.remove(OVER_CAPACITY_ANNOTATION);
            ann.extend(desired.metadata.annotations.unwrap_or_default());
            new.metadata.annotations = (!ann.is_empty()).then_some(ann);
            api.replace(&new).await?;
            Ok(Action::Done)
        }
        None => match api.create(&PostParams::default(), &desired).await {
            Ok(_) => Ok(Action::Done),
            // Our cache is behind: the watch event will queue the Service again.
            Err(e) if e.is_already_exists() => Ok(Action::Done),
            Err(e) if crate::controller_utils::is_namespace_terminating(&e) => Ok(Action::Done),
            Err(e) => Err(e.into()),
        },
    }
}

fn over_capacity(e: &Endpoints) -> Option<&String> {
    e.metadata.annotations.as_ref().and_then(|a| a.get(OVER_CAPACITY_ANNOTATION))
}

/// The Endpoints `svc` should have for `pods` (upstream's syncService body).
pub fn desired_endpoints(svc: &Service, pods: &[Arc<Pod>]) -> Endpoints {
    let publish = eu::publish_not_ready(svc);
    let ports = svc.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    let mut entries = Vec::new();
    for pod in pods {
        if !eu::should_pod_be_in_endpoints(pod, publish) {
            continue;
        }
        // Endpoints carry the pod's first IP (upstream picks the Service's primary family).
        let Some(ip) = eu::pod_ips(pod).into_iter().next() else { continue };
        let address = EndpointAddress {
            ip,
            hostname: eu::hostname_for(pod, svc),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: pod.metadata.namespace.clone(),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
        };
        let ready = publish || is_pod_ready(pod);
        if ports.is_empty() {
            // A headless Service without ports still lists its pods.
            if eu::is_headless(svc) {
                entries.push(subsets::Entry { address, ready, port: None });
            }
            continue;
        }
        for sp in &ports {
            let Ok(port) = eu::find_port(pod, sp) else {
                tracing::debug!(pod = ?pod.metadata.name, port = ?sp.name, "failed to find the port on the pod");
                continue;
            };
            let ep = EndpointPort { name: sp.name.clone().filter(|n| !n.is_empty()), port, protocol: sp.protocol.clone().or(Some("TCP".into())), app_protocol: sp.app_protocol.clone() };
            entries.push(subsets::Entry { address: address.clone(), ready, port: Some(ep) });
        }
    }
    let (subsets, truncated) = subsets::repack(entries, MAX_CAPACITY);
    let mut labels: BTreeMap<String, String> = svc.metadata.labels.clone().unwrap_or_default();
    if eu::is_headless(svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    } else {
        labels.remove(LABEL_HEADLESS);
    }
    let annotations = truncated.then(|| BTreeMap::from([(OVER_CAPACITY_ANNOTATION.to_string(), "truncated".to_string())]));
    Endpoints {
        metadata: ObjectMeta {
            name: svc.metadata.name.clone(),
            namespace: svc.metadata.namespace.clone(),
            labels: (!labels.is_empty()).then_some(labels),
            annotations,
            ..Default::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    }
}
