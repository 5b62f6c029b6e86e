//! The EndpointSlice controller (upstream's pkg/controller/endpointslice):
//! for every Service with a selector, EndpointSlices (label
//! `kubernetes.io/service-name`, managed-by `endpointslice-controller.k8s.io`,
//! owned by the Service) holding at most `--max-endpoints-per-slice`
//! endpoints each: one per matching pod with an IP of the slice's family,
//! with ready/serving/terminating conditions, hostname, node, zone and a
//! targetRef, grouped by the pod's resolved port set. Terminating pods stay
//! listed (ready false, serving as their readiness) so proxies can drain.

pub(crate) mod reconciler;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::controller::{Action, Controller};
use client::informer::InformerEvent;
use client::store::{make_key, split_key, Store};
use client::{Api, Client, DeleteParams, PostParams};
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use parking_lot::Mutex;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::controller_utils::is_pod_ready;
use crate::endpoint_utils::{self as eu, LABEL_HEADLESS, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
use crate::informers::NAMESPACE_INDEX;
use crate::Error;
use reconciler::{SliceKey, SliceTemplate};

pub use reconciler::plan;

pub const ENDPOINTSLICE: Descriptor = Descriptor {
    name: "endpointslice-controller",
    aliases: &["endpointslice"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-service-endpoint-syncs",
        default: 5,
        help: "The number of service endpoint syncing operations that will be done concurrently. Larger number = faster endpoint slice updating, but more CPU (and network) load",
    }),
    start,
};

/// The managed-by value of this controller's slices.
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// upstream's --max-endpoints-per-slice default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

struct Ctx {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    slices: Store<EndpointSlice>,
    nodes: Store<Node>,
    tracker: Tracker,
}

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let services = ctx.informers.get::<Service>();
        let pods = ctx.informers.get::<Pod>();
        let slices = ctx.informers.get::<EndpointSlice>();
        let nodes = ctx.informers.get::<Node>();
        let svc_store = services.store();
        let controller = Controller::new("endpointslice", &services)
            .workers(ctx.workers)
            .watches(&pods, move |ev: &InformerEvent<Pod>| {
                let mut keys = eu::services_of_pod(&svc_store, ev.object());
                if let InformerEvent::Updated { old, .. } = ev {
                    keys.extend(eu::services_of_pod(&svc_store, old));
                }
                keys
            })
            // A change to one of our slices (ours or someone's edit) re-syncs its Service.
            .watches(&slices, |ev: &InformerEvent<EndpointSlice>| managed_service_key(ev.object(), MANAGED_BY).into_iter().collect());
        let controller = ctx.metrics.instrument("endpointslice", controller);
        let c = Arc::new(Ctx {
            client: ctx.client.clone(),
            services: services.store(),
            pods: pods.store(),
            slices: slices.store(),
            nodes: nodes.store(),
            tracker: Tracker::default(),
        });
        controller.run(c, sync, ctx.shutdown.clone()).await;
    })
}

/// The Service key of a slice managed by `managed_by`.
pub fn managed_service_key(s: &EndpointSlice, managed_by: &str) -> Option<String> {
    let labels = s.metadata.labels.as_ref()?;
    if labels.get(LABEL_MANAGED_BY).map(String::as_str) != Some(managed_by) {
        return None;
    }
    let svc = labels.get(LABEL_SERVICE_NAME)?;
    Some(make_key(s.metadata.namespace.as_deref().unwrap_or_default(), svc))
}

/// The slices `managed_by` manages for the Service `ns/name`, from the cache.
pub fn managed_slices(slices: &Store<EndpointSlice>, ns: &str, name: &str, managed_by: &str) -> Vec<Arc<EndpointSlice>> {
    let key = make_key(ns, name);
    let mut v: Vec<_> = slices.by_index(NAMESPACE_INDEX, ns).into_iter().filter(|s| managed_service_key(s, managed_by).as_deref() == Some(key.as_str())).collect();
    v.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    v
}

async fn sync(ctx: Arc<Ctx>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let existing = managed_slices(&ctx.slices, ns, name, MANAGED_BY);
    // Writes of ours the cache has not seen yet: acting now would duplicate them.
    if ctx.tracker.stale(&key, &existing) {
        return Ok(Action::RequeueAfter(Duration::from_millis(200)));
    }
    let api = Api::<EndpointSlice>::namespaced(ctx.client.clone(), ns);
    let Some(svc) = ctx.services.get(ns, name) else {
        // The garbage collector would remove them by ownerReference; do it now.
        for s in existing {
            delete(&ctx, &api, &key, &s).await?;
        }
        return Ok(Action::Done);
    };
    if eu::service_type(&svc) == "ExternalName" || eu::selector(&svc).is_none() {
        return Ok(Action::Done);
    }
    let families = address_types(&svc);
    let pods = eu::pods_of_service(&ctx.pods, &svc);
    let mut desired: BTreeMap<SliceKey, Vec<Endpoint>> = BTreeMap::new();
    for fam in &families {
        for pod in &pods {
            if !eu::should_pod_be_in_endpoints(pod, true) {
                continue;
            }
            let Some(ip) = eu::pod_ip_of_family(pod, fam == "IPv6") else { continue };
            let mut ports: Vec<_> = endpoint_ports(&svc, pod).iter().map(reconciler::port_key).collect();
            ports.sort();
            let ep = pod_to_endpoint(&svc, pod, ip, &ctx.nodes);
            desired.entry(SliceKey { address_type: fam.clone(), ports }).or_default().push(ep);
        }
    }
    let tpl = template(&svc);
    let plan = reconciler::plan(&tpl, desired, &existing, MAX_ENDPOINTS_PER_SLICE, Some(&families[0]));
    // Creates first, deletes last: a proxy never sees the Service empty in between.
    for s in plan.create {
        match api.create(&PostParams::default(), &s).await {
            Ok(made) => ctx.tracker.expect(&key, &made),
            Err(e) if crate::controller_utils::is_namespace_terminating(&e) => return Ok(Action::Done),
            Err(e) => return Err(e.into()),
        }
    }
    for s in plan.update {
        let made = api.replace(&s).await?;
        ctx.tracker.expect(&key, &made);
    }
    for s in plan.delete {
        delete(&ctx, &api, &key, &s).await?;
    }
    Ok(Action::Done)
}

async fn delete(ctx: &Ctx, api: &Api<EndpointSlice>, key: &str, s: &EndpointSlice) -> Result<(), Error> {
    match api.delete(s.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    ctx.tracker.expect_deleted(key, s);
    Ok(())
}

/// The address types of the Service's slices: its ipFamilies (IPv4 when unset).
fn address_types(svc: &Service) -> Vec<String> {
    let fams: Vec<String> = svc.spec.as_ref().and_then(|s| s.ip_families.clone()).unwrap_or_default();
    if fams.is_empty() {
        vec!["IPv4".into()]
    } else {
        fams
    }
}

/// upstream's getEndpointPorts: each Service port as resolved on this pod.
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let mut out = Vec::new();
    for sp in svc.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or(&[]) {
        let Ok(port) = eu::find_port(pod, sp) else {
            tracing::debug!(pod = ?pod.metadata.name, port = ?sp.name, "failed to find the port on the pod");
            continue;
        };
        out.push(EndpointPort { name: Some(sp.name.clone().unwrap_or_default()), port: Some(port), protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())), app_protocol: sp.app_protocol.clone() });
    }
    out
}

/// upstream's podToEndpoint.
fn pod_to_endpoint(svc: &Service, pod: &Pod, ip: String, nodes: &Store<Node>) -> Endpoint {
    let publish = eu::publish_not_ready(svc);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let serving = publish || is_pod_ready(pod);
    // A terminating pod is never "ready" unless the Service publishes unready ones.
    let ready = serving && (!terminating || publish);
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
    let zone = node_name.as_deref().and_then(|n| nodes.get("", n)).and_then(|n| n.metadata.labels.as_ref()?.get(ZONE_LABEL).cloned());
    Endpoint {
        addresses: vec![ip],
        conditions: Some(EndpointConditions { ready: Some(ready), serving: Some(serving), terminating: Some(terminating) }),
        hostname: eu::hostname_for(pod, svc),
        node_name,
        zone,
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The labels, name prefix and owner of the Service's slices (setEndpointSliceLabels).
fn template(svc: &Service) -> SliceTemplate {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = svc.metadata.labels.clone().unwrap_or_default();
    labels.remove(LABEL_HEADLESS);
    if eu::is_headless(svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(LABEL_SERVICE_NAME.into(), name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
    // generateName leaves room for the 5 random characters within 63.
    let mut prefix: String = name.chars().take(57).collect();
    prefix.push('-');
    let mut owner = api::owner::new_controller_ref(&svc.metadata, "v1", "Service");
    owner.block_owner_deletion = Some(true);
    SliceTemplate { namespace: svc.metadata.namespace.clone().unwrap_or_default(), generate_name: prefix, labels, owner }
}

/// upstream's endpointSliceTracker: the generation each of our recent writes
/// produced (None: deleted), so a sync does not act on a cache that has not
/// caught up with them. Entries expire: a watch that never shows a write
/// (someone deleted it meanwhile) must not block the Service forever.
#[derive(Default)]
pub(crate) struct Tracker {
    expected: Mutex<HashMap<String, HashMap<String, (Option<i64>, Instant)>>>,
}

const TRACK_FOR: Duration = Duration::from_secs(5);

impl Tracker {
    pub(crate) fn expect(&self, svc: &str, s: &EndpointSlice) {
        let uid = s.metadata.uid.clone().unwrap_or_default();
        self.expected.lock().entry(svc.to_string()).or_default().insert(uid, (Some(s.metadata.generation.unwrap_or(1)), Instant::now()));
    }

    pub(crate) fn expect_deleted(&self, svc: &str, s: &EndpointSlice) {
        let uid = s.metadata.uid.clone().unwrap_or_default();
        self.expected.lock().entry(svc.to_string()).or_default().insert(uid, (None, Instant::now()));
    }

    /// Whether `cached` lags behind a write of ours; forgets writes it shows.
    pub(crate) fn stale(&self, svc: &str, cached: &[Arc<EndpointSlice>]) -> bool {
        let mut map = self.expected.lock();
        let Some(writes) = map.get_mut(svc) else { return false };
        writes.retain(|uid, (generation, at)| {
            let seen = cached.iter().find(|s| s.metadata.uid.as_deref() == Some(uid.as_str()));
            let caught_up = match (generation, seen) {
                (None, seen) => seen.is_none(),
                (Some(g), Some(s)) => s.metadata.generation.unwrap_or(0) >= *g,
                (Some(_), None) => false,
            };
            !caught_up && at.elapsed() < TRACK_FOR
        });
        let stale = !writes.is_empty();
        if !stale {
            map.remove(svc);
        }
        stale
    }
}
