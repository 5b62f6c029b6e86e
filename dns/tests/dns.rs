//! kube-dns against a real etcd and apiserver, queried over UDP on loopback:
//! each record kind, live updates from EndpointSlices, forwarding with its
//! cache to a fake upstream, and SERVFAIL without one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{Api, Client, PostParams};
use dns::feed::Feed;
use dns::forward::Forwarder;
use dns::metrics::DnsMetrics;
use dns::{Handler, Server, Zone};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use testing::TestCluster;
use tokio::net::UdpSocket;

struct Dns {
    addr: SocketAddr,
    shutdown: client::CancellationToken,
    feed: Option<Feed>,
}

impl Dns {
    async fn start(client: &Client, upstream: Option<SocketAddr>) -> Dns {
        let zone = Arc::new(Zone::new("cluster.local"));
        let feed = Feed::start(client.clone(), zone.clone());
        feed.wait_synced().await;
        let metrics = DnsMetrics::new(&daemon::metrics::Registry::new());
        let forwarder = upstream.map(|u| Arc::new(Forwarder::new(vec![u], Duration::from_secs(2))));
        let shutdown = client::CancellationToken::new();
        let server = Server::serve("127.0.0.1:0".parse().unwrap(), Handler { zone, forwarder, metrics }, shutdown.clone()).await.unwrap();
        Dns { addr: server.addr, shutdown, feed: Some(feed) }
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(f) = self.feed.take() {
            f.stop();
        }
    }
}

async fn query(addr: SocketAddr, name: &str, ty: RecordType) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), ty));
    sock.send_to(&m.to_vec().unwrap(), addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await.expect("an answer within 5s").unwrap();
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(r.metadata.id, 4242);
    r
}

/// The answers' data rendered as text, sorted.
fn answers(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}

/// Polls `name` until its sorted answers are `want`.
async fn answers_become(addr: SocketAddr, name: &str, ty: RecordType, want: &[&str]) -> Message {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = query(addr, name, ty).await;
        if answers(&m) == want {
            return m;
        }
        assert!(Instant::now() < deadline, "{name} {ty}: wanted {want:?}, last {:?} ({})", answers(&m), m.metadata.response_code);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create<K: client::Resource>(client: &Client, ns: &str, v: serde_json::Value) -> K {
    let obj: K = serde_json::from_value(v).unwrap();
    Api::<K>::namespaced(client.clone(), ns).create(&PostParams::default(), &obj).await.unwrap()
}

#[tokio::test]
async fn cluster_names_every_record_kind_and_live_updates() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let dns = Dns::start(&client, None).await;
    let web: Service = create(&client, "default", json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "dns", "port": 53, "protocol": "UDP"}]}})).await;
    let ip = web.spec.as_ref().unwrap().cluster_ip.clone().unwrap();

    // A for the ClusterIP; the Service is there under its full name only (no search path here).
    let m = answers_become(dns.addr, "web.default.svc.cluster.local.", RecordType::A, &[&ip]).await;
    assert!(m.metadata.authoritative || m.metadata.response_code == ResponseCode::NoError);
    // AAAA of an IPv4-only Service: NOERROR, no records, the zone's SOA.
    let m = query(dns.addr, "web.default.svc.cluster.local.", RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    // SRV per named port, with the target's address as additional.
    let m = query(dns.addr, "_http._tcp.web.default.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(answers(&m), ["0 100 80 web.default.svc.cluster.local."]);
    assert_eq!(m.additionals.iter().filter(|r| r.record_type() == RecordType::A).map(|r| r.data.to_string()).collect::<Vec<_>>(), [ip.clone()]);
    assert_eq!(answers(&query(dns.addr, "_dns._udp.web.default.svc.cluster.local.", RecordType::SRV).await), ["0 100 53 web.default.svc.cluster.local."]);
    assert_eq!(query(dns.addr, "_dns._tcp.web.default.svc.cluster.local.", RecordType::SRV).await.metadata.response_code, ResponseCode::NXDomain);
    // PTR for the ClusterIP.
    let o: Vec<&str> = ip.split('.').collect();
    let rev = format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]);
    assert_eq!(answers(&query(dns.addr, &rev, RecordType::PTR).await), ["web.default.svc.cluster.local."]);
    // Unknown names in the zone: NXDOMAIN; the namespace level exists (NOERROR, empty).
    let m = query(dns.addr, "nope.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(query(dns.addr, "default.svc.cluster.local.", RecordType::A).await.metadata.response_code, ResponseCode::NoError);
    assert_eq!(query(dns.addr, "web.nons.svc.cluster.local.", RecordType::A).await.metadata.response_code, ResponseCode::NXDomain);
    // Names outside the zone with no upstream: SERVFAIL.
    assert_eq!(query(dns.addr, "example.com.", RecordType::A).await.metadata.response_code, ResponseCode::ServFail);

    // ExternalName: a CNAME.
    create::<Service>(&client, "default", json!({"metadata": {"name": "ext", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "api.example.com"}})).await;
    let m = answers_become(dns.addr, "ext.default.svc.cluster.local.", RecordType::A, &["api.example.com."]).await;
    assert!(matches!(&m.answers[0].data, RData::CNAME(_)));

    let ns: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(json!({"metadata": {"name": "ns1"}})).unwrap();
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.unwrap();
    // Headless: every ready endpoint, hostnames of StatefulSet-style pods, PTRs, SRV per endpoint.
    create::<Service>(&client, "ns1", json!({"metadata": {"name": "db", "namespace": "ns1"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"name": "pg", "port": 5432}]}})).await
        .metadata
        .name
        .unwrap();
    let slice = json!({"metadata": {"name": "db-abc", "namespace": "ns1", "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": ["10.244.1.10"], "hostname": "db-0", "conditions": {"ready": true}},
            {"addresses": ["10.244.1.11"], "conditions": {"ready": true}},
            {"addresses": ["10.244.1.12"], "hostname": "db-2", "conditions": {"ready": false}}]});
    let created: EndpointSlice = create(&client, "ns1", slice).await;
    answers_become(dns.addr, "db.ns1.svc.cluster.local.", RecordType::A, &["10.244.1.10", "10.244.1.11"]).await;
    assert_eq!(answers(&query(dns.addr, "db-0.db.ns1.svc.cluster.local.", RecordType::A).await), ["10.244.1.10"]);
    assert_eq!(answers(&query(dns.addr, "10-244-1-11.db.ns1.svc.cluster.local.", RecordType::A).await), ["10.244.1.11"]);
    assert_eq!(query(dns.addr, "db-2.db.ns1.svc.cluster.local.", RecordType::A).await.metadata.response_code, ResponseCode::NXDomain, "not ready: not listed");
    assert_eq!(answers(&query(dns.addr, "10.1.244.10.in-addr.arpa.", RecordType::PTR).await), ["db-0.db.ns1.svc.cluster.local."]);
    let m = query(dns.addr, "_pg._tcp.db.ns1.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(answers(&m), ["0 50 5432 10-244-1-11.db.ns1.svc.cluster.local.", "0 50 5432 db-0.db.ns1.svc.cluster.local."]);

    // Readiness changes show up from the slice's watch event.
    let mut s = created.clone();
    s.endpoints.as_mut().unwrap()[2].conditions.as_mut().unwrap().ready = Some(true);
    s.endpoints.as_mut().unwrap()[0].conditions.as_mut().unwrap().ready = Some(false);
    Api::<EndpointSlice>::namespaced(client.clone(), "ns1").replace(&s).await.unwrap();
    answers_become(dns.addr, "db.ns1.svc.cluster.local.", RecordType::A, &["10.244.1.11", "10.244.1.12"]).await;
    answers_become(dns.addr, "db-2.db.ns1.svc.cluster.local.", RecordType::A, &["10.244.1.12"]).await;

    // A deleted Service's names go.
    Api::<Service>::namespaced(client.clone(), "default").delete("web", &Default::default()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while query(dns.addr, "web.default.svc.cluster.local.", RecordType::A).await.metadata.response_code != ResponseCode::NXDomain {
        assert!(Instant::now() < deadline, "web still answered after deletion");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Pod names answer their own address (CoreDNS' "pods insecure").
    assert_eq!(answers(&query(dns.addr, "10-244-3-4.default.pod.cluster.local.", RecordType::A).await), ["10.244.3.4"]);
}

/// A resolver answering every A query with 192.0.2.7 (TTL 60), counting queries.
async fn fake_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else { return };
            let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
            r.metadata.recursion_available = true;
            let query = q.queries[0].clone();
            let rec = hickory_proto::rr::Record::from_rdata(query.name().clone(), 60, RData::A(hickory_proto::rr::rdata::A("192.0.2.7".parse().unwrap())));
            r.add_query(query);
            r.add_answer(rec);
            let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
        }
    });
    (addr, count)
}

#[tokio::test]
async fn other_names_are_forwarded_and_cached() {
    let cluster = TestCluster::start().await.unwrap();
    let (upstream, count) = fake_upstream().await;
    let dns = Dns::start(&cluster.client, Some(upstream)).await;
    let m = query(dns.addr, "www.example.com.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers(&m), ["192.0.2.7"]);
    assert!(m.metadata.recursion_available);
    let again = query(dns.addr, "WWW.example.com.", RecordType::A).await;
    assert_eq!(answers(&again), ["192.0.2.7"]);
    assert_eq!(count.load(Ordering::SeqCst), 1, "the second answer came from the cache");
    // Cluster names never reach the upstream.
    assert_eq!(query(dns.addr, "nope.default.svc.cluster.local.", RecordType::A).await.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}
