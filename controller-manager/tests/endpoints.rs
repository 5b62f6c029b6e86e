//! The Endpoints and EndpointSlice controllers against a real etcd and
//! apiserver, with no scheduler and no kubelet: the tests bind pods and
//! write their IPs and readiness as a kubelet would.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::time::Duration;

use client::{Api, Client, DeleteParams, ListParams, PostParams};
use controller_manager::controllers::{endpoint::ENDPOINT, endpointslice::ENDPOINTSLICE, endpointslicemirroring::ENDPOINTSLICE_MIRRORING};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use testing::TestCluster;

const NS: &str = "default";
const WAIT: Duration = Duration::from_secs(20);

fn start(client: &Client) -> Running {
    start_controllers(client, vec![(ENDPOINT, 2), (ENDPOINTSLICE, 2), (ENDPOINTSLICE_MIRRORING, 2)])
}

async fn create<K: client::Resource>(client: &Client, v: serde_json::Value) -> K {
    let obj: K = serde_json::from_value(v).unwrap();
    Api::<K>::namespaced(client.clone(), NS).create(&PostParams::default(), &obj).await.unwrap()
}

/// A pod labelled app=`app` whose container names port `http` as `port`.
async fn pod(client: &Client, name: &str, app: &str, port: i32, extra_spec: serde_json::Value) -> Pod {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox", "ports": [{"name": "http", "containerPort": port}]}]});
    spec.as_object_mut().unwrap().extend(extra_spec.as_object().cloned().unwrap_or_default());
    create(client, json!({"metadata": {"name": name, "namespace": NS, "labels": {"app": app}}, "spec": spec})).await
}

/// Binds the pod (once) and writes Running with `ip` and Ready = `ready`, as a kubelet would.
async fn set_status(client: &Client, name: &str, ip: &str, ready: bool) {
    let api = Api::<Pod>::namespaced(client.clone(), NS);
    let mut p = api.get(name).await.unwrap();
    if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none() {
        api.bind(name, "n1").await.unwrap();
        p = api.get(name).await.unwrap();
    }
    p.status = Some(
        serde_json::from_value(json!({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.168.0.1",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}))
        .unwrap(),
    );
    api.replace_status(&p).await.unwrap();
}

/// (ip:port) of ready and not-ready addresses.
fn endpoint_addrs(e: &Endpoints) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut ready, mut not_ready) = (BTreeSet::new(), BTreeSet::new());
    for s in e.subsets.iter().flatten() {
        for p in s.ports.iter().flatten() {
            for a in s.addresses.iter().flatten() {
                ready.insert(format!("{}:{}", a.ip, p.port));
            }
            for a in s.not_ready_addresses.iter().flatten() {
                not_ready.insert(format!("{}:{}", a.ip, p.port));
            }
        }
    }
    (ready, not_ready)
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn endpoints_become(client: &Client, name: &str, ready: &[&str], not_ready: &[&str]) -> Endpoints {
    let api = Api::<Endpoints>::namespaced(client.clone(), NS);
    let want = (set(ready), set(not_ready));
    let mut last = None;
    let r = wait_quiet(async || {
        let e = api.get_opt(name).await.unwrap()?;
        let got = endpoint_addrs(&e);
        last = Some(got.clone());
        (got == want).then_some(e)
    })
    .await;
    r.unwrap_or_else(|| panic!("Endpoints {name}: wanted {want:?}, last {last:?}"))
}

async fn wait_quiet<T>(mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn slices_of(client: &Client, svc: &str) -> Vec<EndpointSlice> {
    let lp = ListParams { label_selector: Some(format!("kubernetes.io/service-name={svc}")), ..Default::default() };
    Api::<EndpointSlice>::namespaced(client.clone(), NS).list(&lp).await.unwrap().items
}

/// ip -> (ready, serving, terminating) over the Service's slices.
fn slice_conditions(slices: &[EndpointSlice]) -> std::collections::BTreeMap<String, (bool, bool, bool)> {
    let mut m = std::collections::BTreeMap::new();
    for s in slices {
        for e in s.endpoints.iter().flatten() {
            let c = e.conditions.clone().unwrap_or_default();
            m.insert(e.addresses[0].clone(), (c.ready.unwrap_or(false), c.serving.unwrap_or(false), c.terminating.unwrap_or(false)));
        }
    }
    m
}

async fn slices_become(client: &Client, svc: &str, want: &[(&str, (bool, bool, bool))]) -> Vec<EndpointSlice> {
    let want: std::collections::BTreeMap<String, (bool, bool, bool)> = want.iter().map(|(ip, c)| (ip.to_string(), *c)).collect();
    let mut last = None;
    let r = wait_quiet(async || {
        let s = slices_of(client, svc).await;
        let got = slice_conditions(&s);
        last = Some(got.clone());
        (got == want).then_some(s)
    })
    .await;
    r.unwrap_or_else(|| panic!("slices of {svc}: wanted {want:?}, last {last:?}"))
}

const READY: (bool, bool, bool) = (true, true, false);
const NOT_READY: (bool, bool, bool) = (false, false, false);

#[tokio::test]
async fn ready_pods_named_ports_readiness_changes_and_deletion() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    let svc: Service = create(&client, json!({"metadata": {"name": "web", "namespace": NS, "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})).await;
    pod(&client, "web-a", "web", 8080, json!({})).await;
    pod(&client, "web-b", "web", 9090, json!({})).await;
    pod(&client, "web-c", "web", 8080, json!({})).await;
    pod(&client, "pending", "web", 8080, json!({})).await; // no IP: listed nowhere
    pod(&client, "other", "db", 8080, json!({})).await;
    set_status(&client, "web-a", "10.244.0.10", true).await;
    set_status(&client, "web-b", "10.244.0.11", true).await;
    set_status(&client, "web-c", "10.244.0.12", false).await;
    set_status(&client, "other", "10.244.0.13", true).await;

    // The named targetPort resolves per pod: two port sets, two subsets.
    let e = endpoints_become(&client, "web", &["10.244.0.10:8080", "10.244.0.11:9090"], &["10.244.0.12:8080"]).await;
    assert_eq!(e.subsets.as_ref().unwrap().len(), 2, "{e:?}");
    assert_eq!(e.metadata.labels.as_ref().unwrap().get("tier").map(String::as_str), Some("front"));
    let a = e.subsets.iter().flatten().flat_map(|s| s.addresses.iter().flatten()).find(|a| a.ip == "10.244.0.10").unwrap();
    assert_eq!(a.node_name.as_deref(), Some("n1"));
    assert_eq!(a.target_ref.as_ref().unwrap().name.as_deref(), Some("web-a"));

    let slices = slices_become(&client, "web", &[("10.244.0.10", READY), ("10.244.0.11", READY), ("10.244.0.12", NOT_READY)]).await;
    assert_eq!(slices.len(), 2, "one slice per port set");
    for s in &slices {
        let l = s.metadata.labels.as_ref().unwrap();
        assert_eq!(l.get("kubernetes.io/service-name").map(String::as_str), Some("web"));
        assert_eq!(l.get("endpointslice.kubernetes.io/managed-by").map(String::as_str), Some("endpointslice-controller.k8s.io"));
        assert_eq!(l.get("tier").map(String::as_str), Some("front"));
        assert_eq!(s.address_type, "IPv4");
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("Service", svc.metadata.uid.as_deref().unwrap(), Some(true)));
        let port = &s.ports.as_ref().unwrap()[0];
        assert_eq!(port.name.as_deref(), Some("http"));
        assert!(s.metadata.name.as_deref().unwrap().starts_with("web-"));
    }

    // Readiness flips are reflected both ways.
    set_status(&client, "web-c", "10.244.0.12", true).await;
    endpoints_become(&client, "web", &["10.244.0.10:8080", "10.244.0.11:9090", "10.244.0.12:8080"], &[]).await;
    slices_become(&client, "web", &[("10.244.0.10", READY), ("10.244.0.11", READY), ("10.244.0.12", READY)]).await;
    set_status(&client, "web-a", "10.244.0.10", false).await;
    endpoints_become(&client, "web", &["10.244.0.11:9090", "10.244.0.12:8080"], &["10.244.0.10:8080"]).await;

    // A terminating pod (bound, deleted gracefully, no kubelet to finish it)
    // leaves Endpoints but stays in its slice: terminating, serving as its readiness.
    Api::<Pod>::namespaced(client.clone(), NS).delete("web-b", &DeleteParams::default()).await.unwrap();
    endpoints_become(&client, "web", &["10.244.0.12:8080"], &["10.244.0.10:8080"]).await;
    slices_become(&client, "web", &[("10.244.0.10", NOT_READY), ("10.244.0.11", (false, true, true)), ("10.244.0.12", READY)]).await;

    // Labels changing move a pod out.
    let p = Api::<Pod>::namespaced(client.clone(), NS);
    p.patch("web-c", &PostParams::default(), &client::Patch::Merge(json!({"metadata": {"labels": {"app": "moved"}}}))).await.unwrap();
    endpoints_become(&client, "web", &[], &["10.244.0.10:8080"]).await;

    // The Service gone: its Endpoints and slices go.
    Api::<Service>::namespaced(client.clone(), NS).delete("web", &DeleteParams::default()).await.unwrap();
    let ep_api = Api::<Endpoints>::namespaced(client.clone(), NS);
    wait_for("Endpoints web deleted", WAIT, async || ep_api.get_opt("web").await.unwrap().is_none().then_some(())).await;
    wait_for("slices of web deleted", WAIT, async || slices_of(&client, "web").await.is_empty().then_some(())).await;
    assert_eq!(running.metric("controller_reconcile_errors_total{name=\"endpointslice\"}"), 0.0);
    running.stop().await;
}

#[tokio::test]
async fn headless_publish_not_ready_placeholder_and_slices_of_100() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    // Headless, pods naming it as their subdomain get hostnames; unready pods published.
    create::<Service>(&client, json!({"metadata": {"name": "db", "namespace": NS},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": true, "selector": {"app": "db"}, "ports": [{"name": "pg", "port": 5432}]}})).await;
    pod(&client, "db-0", "db", 5432, json!({"hostname": "db-0", "subdomain": "db"})).await;
    pod(&client, "db-x", "db", 5432, json!({"hostname": "db-x", "subdomain": "other"})).await;
    set_status(&client, "db-0", "10.244.1.10", false).await;
    set_status(&client, "db-x", "10.244.1.11", true).await;
    let e = endpoints_become(&client, "db", &["10.244.1.10:5432", "10.244.1.11:5432"], &[]).await;
    let hostnames: BTreeSet<_> = e.subsets.iter().flatten().flat_map(|s| s.addresses.iter().flatten()).map(|a| (a.ip.clone(), a.hostname.clone())).collect();
    assert_eq!(hostnames, BTreeSet::from([("10.244.1.10".to_string(), Some("db-0".to_string())), ("10.244.1.11".to_string(), None)]));
    assert!(e.metadata.labels.as_ref().unwrap().contains_key("service.kubernetes.io/headless"));
    let slices = slices_become(&client, "db", &[("10.244.1.10", (true, true, false)), ("10.244.1.11", READY)]).await;
    let ep = slices[0].endpoints.iter().flatten().find(|e| e.addresses[0] == "10.244.1.10").unwrap();
    assert_eq!(ep.hostname.as_deref(), Some("db-0"));

    // A Service selecting nothing has one empty placeholder slice and empty Endpoints.
    create::<Service>(&client, json!({"metadata": {"name": "empty", "namespace": NS}, "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]}})).await;
    let ph = wait_for("a placeholder slice", WAIT, async || {
        let s = slices_of(&client, "empty").await;
        (s.len() == 1).then(|| s.into_iter().next().unwrap())
    })
    .await;
    assert!(ph.endpoints.is_none() && ph.ports.is_none(), "{ph:?}");
    let e = endpoints_become(&client, "empty", &[], &[]).await;
    assert!(e.subsets.is_none());

    // 150 ready pods: slices of at most 100.
    create::<Service>(&client, json!({"metadata": {"name": "big", "namespace": NS}, "spec": {"selector": {"app": "big"}, "ports": [{"port": 80, "targetPort": 8080}]}})).await;
    for i in 0..150 {
        let name = format!("big-{i}");
        pod(&client, &name, "big", 8080, json!({})).await;
        set_status(&client, &name, &format!("10.244.{}.{}", 2 + i / 200, i % 200 + 1), true).await;
    }
    let slices = wait_for("150 endpoints in slices", WAIT, async || {
        let s = slices_of(&client, "big").await;
        (slice_conditions(&s).len() == 150).then_some(s)
    })
    .await;
    let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.as_ref().map_or(0, |e| e.len())).collect();
    sizes.sort();
    assert_eq!(sizes, [50, 100], "{sizes:?}");
    // The placeholder of "empty" went away once... it never had endpoints: still exactly one.
    assert_eq!(slices_of(&client, "empty").await.len(), 1);
    assert_eq!(running.metric("controller_reconcile_errors_total{name=\"endpointslice\"}"), 0.0);
    running.stop().await;
}

#[tokio::test]
async fn selectorless_services_keep_hand_made_endpoints_and_external_names_get_none() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let running = start(&client);
    // The book's external-service: a Service without a selector and Endpoints by hand.
    create::<Service>(&client, json!({"metadata": {"name": "external-service", "namespace": NS}, "spec": {"ports": [{"port": 80}]}})).await;
    let hand: Endpoints = create(&client, json!({"metadata": {"name": "external-service", "namespace": NS},
        "subsets": [{"addresses": [{"ip": "11.11.11.11"}, {"ip": "22.22.22.22"}], "ports": [{"port": 80}]}]})).await;
    create::<Service>(&client, json!({"metadata": {"name": "ext", "namespace": NS}, "spec": {"type": "ExternalName", "externalName": "api.example.com", "selector": {"app": "web"}}})).await;
    // A Service created after both and reconciled shows the controllers have seen them.
    create::<Service>(&client, json!({"metadata": {"name": "marker", "namespace": NS}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})).await;
    pod(&client, "web-a", "web", 8080, json!({})).await;
    set_status(&client, "web-a", "10.244.0.10", true).await;
    endpoints_become(&client, "marker", &["10.244.0.10:80"], &[]).await;
    slices_become(&client, "marker", &[("10.244.0.10", READY)]).await;

    let ep_api = Api::<Endpoints>::namespaced(client.clone(), NS);
    let now = ep_api.get("external-service").await.unwrap();
    assert_eq!(now.metadata.resource_version, hand.metadata.resource_version, "hand-made Endpoints are left alone");
    assert!(ep_api.get_opt("ext").await.unwrap().is_none(), "ExternalName Services get no Endpoints");
    assert!(slices_of(&client, "ext").await.is_empty(), "nor slices");
    // The mirroring controller copies them into a slice of its own.
    let mirrored = slices_become(&client, "external-service", &[("11.11.11.11", (true, false, false)), ("22.22.22.22", (true, false, false))]).await;
    assert_eq!(mirrored.len(), 1);
    let l = mirrored[0].metadata.labels.as_ref().unwrap();
    assert_eq!(l.get("endpointslice.kubernetes.io/managed-by").map(String::as_str), Some("endpointslicemirroring-controller.k8s.io"));
    // An edit of the hand-made Endpoints is mirrored.
    let mut edited = ep_api.get("external-service").await.unwrap();
    edited.subsets.as_mut().unwrap()[0].addresses.as_mut().unwrap().pop();
    ep_api.replace(&edited).await.unwrap();
    slices_become(&client, "external-service", &[("11.11.11.11", (true, false, false))]).await;

    // Deleted Endpoints of a selector Service come back.
    ep_api.delete("marker", &DeleteParams::default()).await.unwrap();
    endpoints_become(&client, "marker", &["10.244.0.10:80"], &[]).await;
    running.stop().await;
}
