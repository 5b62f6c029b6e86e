//! The EndpointSlice mirroring controller (upstream's
//! pkg/controller/endpointslicemirroring): Endpoints of a Service without a
//! selector (written by hand or by another controller) are mirrored into
//! EndpointSlices managed by `endpointslicemirroring-controller.k8s.io`, so
//! consumers of slices (kube-proxy, DNS) see them too. Endpoints labelled
//! `endpointslice.kubernetes.io/skip-mirror: "true"` are left alone.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use client::controller::{Action, Controller};
use client::informer::InformerEvent;
use client::store::{split_key, Store};
use client::{Api, Client, DeleteParams, PostParams};
use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};

use super::endpointslice::reconciler::{self, SliceKey, SliceTemplate};
use super::endpointslice::{managed_service_key, managed_slices, Tracker};
use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::endpoint_utils::{self as eu, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
use crate::Error;

pub const ENDPOINTSLICE_MIRRORING: Descriptor = Descriptor {
    name: "endpointslice-mirroring-controller",
    aliases: &["endpointslicemirroring", "endpointslicemirroring-controller"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "mirroring-concurrent-service-endpoint-syncs",
        default: 5,
        help: "The number of service endpoint syncing operations that will be done concurrently by the endpointslice-mirroring-controller. Larger number = faster endpoint slice updating, but more CPU (and network) load",
    }),
    start,
};

pub const MANAGED_BY: &str = "endpointslicemirroring-controller.k8s.io";
pub const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// upstream's --mirroring-max-endpoints-per-subset default.
pub const MAX_ENDPOINTS_PER_SUBSET: usize = 1000;

struct Ctx {
    client: Client,
    services: Store<Service>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
    tracker: Tracker,
}

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let services = ctx.informers.get::<Service>();
        let endpoints = ctx.informers.get::<Endpoints>();
        let slices = ctx.informers.get::<EndpointSlice>();
        // Keyed by the Endpoints' (= the Service's) key.
        let controller = Controller::new("endpointslice_mirroring", &endpoints)
            .workers(ctx.workers)
            .watches(&services, |ev: &InformerEvent<Service>| vec![ev.key()])
            .watches(&slices, |ev: &InformerEvent<EndpointSlice>| managed_service_key(ev.object(), MANAGED_BY).into_iter().collect());
        let controller = ctx.metrics.instrument("endpointslice_mirroring", controller);
        let c = Arc::new(Ctx { client: ctx.client.clone(), services: services.store(), endpoints: endpoints.store(), slices: slices.store(), tracker: Tracker::default() });
        controller.run(c, sync, ctx.shutdown.clone()).await;
    })
}

/// Whether `ep` of `svc` is mirrored (upstream's shouldMirror plus the Service checks).
fn should_mirror(ep: &Endpoints, svc: Option<&Service>) -> bool {
    let skip = ep.metadata.labels.as_ref().and_then(|l| l.get(SKIP_MIRROR)).map(String::as_str) == Some("true");
    // Endpoints of a Service with a selector are the endpoints controller's; its slices come from pods.
    !skip && svc.is_some_and(|s| eu::selector(s).is_none() && eu::service_type(s) != "ExternalName")
}

async fn sync(ctx: Arc<Ctx>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let existing = managed_slices(&ctx.slices, ns, name, MANAGED_BY);
    if ctx.tracker.stale(&key, &existing) {
        return Ok(Action::RequeueAfter(Duration::from_millis(200)));
    }
    let api = Api::<EndpointSlice>::namespaced(ctx.client.clone(), ns);
    let svc = ctx.services.get(ns, name);
    let ep = ctx.endpoints.get(ns, name);
    let (Some(svc), Some(ep)) = (svc, ep.filter(|e| should_mirror(e, ctx.services.get(ns, name).as_deref()))) else {
        for s in existing {
            delete(&ctx, &api, &key, &s).await?;
        }
        return Ok(Action::Done);
    };
    let desired = desired_endpoints(&ep);
    let tpl = template(&svc, &ep);
    let plan = reconciler::plan(&tpl, desired, &existing, MAX_ENDPOINTS_PER_SUBSET, None);
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

/// Each subset's addresses (ready and not) by address type and port set;
/// invalid addresses and anything beyond 1000 per subset are dropped, as upstream.
fn desired_endpoints(ep: &Endpoints) -> BTreeMap<SliceKey, Vec<Endpoint>> {
    let mut out: BTreeMap<SliceKey, Vec<Endpoint>> = BTreeMap::new();
    for subset in ep.subsets.iter().flatten() {
        let mut ports: Vec<_> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| reconciler::port_key(&EndpointPort { name: Some(p.name.clone().unwrap_or_default()), port: Some(p.port), protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())), app_protocol: p.app_protocol.clone() }))
            .collect();
        ports.sort();
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset.not_ready_addresses.iter().flatten().map(|a| (a, false));
        for (a, is_ready) in ready.chain(not_ready).take(MAX_ENDPOINTS_PER_SUBSET) {
            let Ok(ip) = a.ip.parse::<std::net::IpAddr>() else { continue };
            let ty = if ip.is_ipv6() { "IPv6" } else { "IPv4" };
            out.entry(SliceKey { address_type: ty.into(), ports: ports.clone() }).or_default().push(to_endpoint(a, is_ready));
        }
    }
    out
}

fn to_endpoint(a: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![a.ip.clone()],
        conditions: Some(EndpointConditions { ready: Some(ready), ..Default::default() }),
        hostname: a.hostname.clone().filter(|h| !h.is_empty()),
        node_name: a.node_name.clone().filter(|n| !n.is_empty()),
        target_ref: a.target_ref.clone(),
        ..Default::default()
    }
}

/// The Endpoints' labels, then the Service name and manager (upstream's mirroring labels).
fn template(svc: &Service, ep: &Endpoints) -> SliceTemplate {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = ep.metadata.labels.clone().unwrap_or_default();
    labels.insert(LABEL_SERVICE_NAME.into(), name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
    let mut prefix: String = name.chars().take(57).collect();
    prefix.push('-');
    let mut owner = api::owner::new_controller_ref(&svc.metadata, "v1", "Service");
    owner.block_owner_deletion = Some(true);
    SliceTemplate { namespace: svc.metadata.namespace.clone().unwrap_or_default(), generate_name: prefix, labels, owner }
}
