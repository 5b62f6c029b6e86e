//! Leader election on a real Lease (real etcd + apiserver).

use std::time::Duration;

mod common;

use testing::{Etcd, TestCluster};
use common::KillableApiserver;
use client::leader_election::{LeaderElectionConfig, LeaderElector, LeadershipEnd};
use client::{Api, CancellationToken, Client, WatchEvent};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::mpsc;

/// Guards against a hang; not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn config(identity: &str, lease: Duration) -> LeaderElectionConfig {
    let mut c = LeaderElectionConfig::new("default", "test-lock", identity);
    c.lease_duration = lease;
    // Short, but with room for a loaded CI machine: renewals every 250 ms,
    // given up only after 3 s without one.
    c.renew_deadline = Duration::from_secs(3);
    c.retry_period = Duration::from_millis(250);
    c
}

#[derive(Debug, PartialEq)]
enum Note {
    Started(String),
    Stopped(String),
}

/// Runs an elector whose work reports when it starts and stops leading.
fn campaign(
    client: Client,
    config: LeaderElectionConfig,
    notes: mpsc::UnboundedSender<Note>,
) -> (CancellationToken, tokio::task::JoinHandle<LeadershipEnd>) {
    let shutdown = CancellationToken::new();
    let id = config.identity.clone();
    let s = shutdown.clone();
    let task = tokio::spawn(async move {
        LeaderElector::new(client, config)
            .run(s, |leading| async move {
                notes.send(Note::Started(id.clone())).unwrap();
                leading.cancelled().await;
                notes.send(Note::Stopped(id)).unwrap();
            })
            .await
    });
    (shutdown, task)
}

async fn note(rx: &mut mpsc::UnboundedReceiver<Note>) -> Note {
    tokio::time::timeout(PATIENCE, rx.recv()).await.expect("a leadership change").expect("sender alive")
}

async fn lease(client: &Client) -> k8s_openapi::api::coordination::v1::LeaseSpec {
    Api::<Lease>::namespaced(client.clone(), "default").get("test-lock").await.unwrap().spec.unwrap()
}

/// Waits until `holder` has renewed the lease `n` more times.
async fn renewals(client: &Client, holder: &str, n: usize) {
    let api = Api::<Lease>::namespaced(client.clone(), "default");
    let rv = api.get("test-lock").await.unwrap().metadata.resource_version.unwrap();
    let mut w = Box::pin(api.watch_object("test-lock", &rv).await.unwrap());
    let mut seen = 0;
    while seen < n {
        let ev = tokio::time::timeout(PATIENCE, w.next()).await.expect("a renewal").expect("watch open").unwrap();
        if let WatchEvent::Modified(l) = ev {
            assert_eq!(l.spec.unwrap().holder_identity.as_deref(), Some(holder), "the leader keeps the lease");
            seen += 1;
        }
    }
}

#[tokio::test]
async fn one_of_two_electors_leads_and_a_crashed_leader_is_replaced() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let (tx, mut notes) = mpsc::unbounded_channel();
    let (_s1, t1) = campaign(cluster.client.clone(), config("one", Duration::from_secs(4)), tx.clone());
    let (_s2, t2) = campaign(cluster.client.clone(), config("two", Duration::from_secs(4)), tx.clone());

    let Note::Started(leader) = note(&mut notes).await else { panic!("a Stopped before any Started") };
    let spec = lease(&cluster.client).await;
    assert_eq!(spec.holder_identity.as_deref(), Some(leader.as_str()));
    assert_eq!(spec.lease_duration_seconds, Some(4));
    // Several renewals later the other is still waiting: only one leads.
    renewals(&cluster.client, &leader, 5).await;
    assert!(notes.try_recv().is_err(), "nobody else started leading");

    // Crash the leader: no release; the other takes over once the lease expires.
    let (crashed, survivor, other) = if leader == "one" { (t1, t2, "two") } else { (t2, t1, "one") };
    crashed.abort();
    assert_eq!(note(&mut notes).await, Note::Started(other.to_string()));
    let spec = lease(&cluster.client).await;
    assert_eq!(spec.holder_identity.as_deref(), Some(other));
    assert_eq!(spec.lease_transitions, Some(1), "a takeover counts as a transition");
    survivor.abort();
    Ok(())
}

#[tokio::test]
async fn graceful_shutdown_releases_the_lease_for_an_immediate_takeover() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let (tx, mut notes) = mpsc::unbounded_channel();
    // A lease far longer than the test's patience: only a release can hand it over in time.
    let long = Duration::from_secs(600);
    let (s1, t1) = campaign(cluster.client.clone(), config("one", long), tx.clone());
    assert_eq!(note(&mut notes).await, Note::Started("one".into()));
    let (_s2, t2) = campaign(cluster.client.clone(), config("two", long), tx.clone());
    renewals(&cluster.client, "one", 2).await;

    s1.cancel();
    assert_eq!(note(&mut notes).await, Note::Stopped("one".into()), "work stops before the lease is released");
    assert_eq!(t1.await?, LeadershipEnd::Shutdown);
    assert_eq!(note(&mut notes).await, Note::Started("two".into()));
    let spec = lease(&cluster.client).await;
    assert_eq!(spec.holder_identity.as_deref(), Some("two"));
    assert_eq!(spec.lease_transitions, Some(1));
    t2.abort();
    Ok(())
}

#[tokio::test]
async fn leader_steps_down_when_it_cannot_renew() -> anyhow::Result<()> {
    let etcd = Etcd::start().await?;
    let mut server = KillableApiserver::start(&etcd).await?;
    let (tx, mut notes) = mpsc::unbounded_channel();
    let (_s1, t1) = campaign(server.client().await?, config("one", Duration::from_secs(4)), tx);
    assert_eq!(note(&mut notes).await, Note::Started("one".into()));
    server.kill();
    assert_eq!(note(&mut notes).await, Note::Stopped("one".into()));
    assert_eq!(t1.await?, LeadershipEnd::Lost);
    Ok(())
}
