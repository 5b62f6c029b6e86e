//! scheduler-bench: upstream scheduler_perf's SchedulingBasic shape on this
//! machine. Starts etcd + apiserver (the apiserver's test harness), creates
//! 5,000 Node objects, starts the scheduler, then creates 10,000 pods and
//! measures pods/s from the first create to the last binding seen by a
//! watch, and per-pod latency (create issued -> binding observed).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use parking_lot::Mutex;
use serde_json::json;

use client::informer::{Informer, InformerConfig, InformerEvent};
use client::{Api, CancellationToken, Client, PostParams};
use scheduler::metrics::Metrics;
use scheduler::{Scheduler, SchedulerConfig};

// mimalloc: the apiserver, the scheduler and the bench share this process and allocate many small JSON values per pod; glibc's malloc cost a large share of the CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// upstream's CI floor for SchedulingBasic 5000Nodes_10000Pods.
const ANCHOR_PODS_PER_S: f64 = 680.0;

#[derive(Parser, Debug)]
#[command(name = "scheduler-bench", about = "Scheduling throughput and latency, scheduler_perf style")]
struct Flags {
    /// Number of Node objects to create.
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Number of pods to create and schedule.
    #[arg(long, default_value_t = 10000)]
    pods: usize,
    /// Creates in flight at once (nodes and pods).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Use this apiserver (host:port) instead of starting etcd + apiserver.
    #[arg(long)]
    server: Option<String>,
    /// Only time the scheduling algorithm in-process (no etcd, apiserver or binding).
    #[arg(long)]
    algorithm_only: bool,
    /// Namespace for the pods.
    #[arg(long, default_value = "default")]
    namespace: String,
}

fn node(i: usize) -> Node {
    // upstream scheduler_perf node-default.yaml: 4 cpu, 32Gi, 110 pods.
    let cap = json!({"cpu": "4", "memory": "32Gi", "pods": "110"});
    serde_json::from_value(json!({
        "metadata": {"name": format!("scheduler-perf-node-{i}"), "labels": {"kubernetes.io/hostname": format!("scheduler-perf-node-{i}")}},
        "spec": {},
        "status": {"capacity": cap, "allocatable": cap, "conditions": [{"type": "Ready", "status": "True"}]}
    }))
    .expect("node")
}

fn pod(ns: &str, i: usize) -> Pod {
    // upstream pod-default.yaml: one container, 100m cpu / 500Mi memory.
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": ns},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}
    }))
    .expect("pod")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into())).with_writer(std::io::stderr).init();
    let flags = Flags::parse();
    if flags.algorithm_only {
        return algorithm_only(&flags);
    }

    let (_cluster, client) = match &flags.server {
        Some(s) => (None, Client::connect(s).await?),
        None => {
            let c = testing::TestCluster::start().await.context("starting etcd + apiserver")?;
            let client = c.client.clone();
            eprintln!("etcd at {}, apiserver at {}", c.etcd.endpoint, c.addr);
            (Some(c), client)
        }
    };

    // 1. Nodes.
    let t = Instant::now();
    let nodes = Api::<Node>::all(client.clone());
    stream::iter(0..flags.nodes)
        .map(|i| {
            let nodes = nodes.clone();
            async move { nodes.create(&PostParams::default(), &node(i)).await }
        })
        .buffer_unordered(flags.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    eprintln!("created {} nodes in {:.1}s", flags.nodes, t.elapsed().as_secs_f64());

    // 2. The scheduler, synced on the nodes.
    let mut config = SchedulerConfig::default();
    config.leader_election.leader_elect = false;
    let metrics = Arc::new(Metrics::default());
    let sched = Scheduler::new(client.clone(), config, metrics.clone());
    let stop = CancellationToken::new();
    let run = tokio::spawn(sched.clone().run(stop.clone()));
    sched.wait_synced().await;
    // The informer has synced; let the cache take in every node before pods arrive.
    while sched.cache_counts().0 < flags.nodes {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("scheduler synced: {:?} (nodes, pods) in cache", sched.cache_counts());

    // 3. A watch that records when each binding is observed.
    let bound: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let informer = Informer::new(Api::<Pod>::namespaced(client.clone(), &flags.namespace), InformerConfig::default());
    let mut events = informer.subscribe();
    let inf = informer.clone();
    let watch_task = tokio::spawn(async move { inf.run().await });
    informer.wait_synced().await;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let want = flags.pods;
    let b = bound.clone();
    tokio::spawn(async move {
        let mut done_tx = Some(done_tx);
        while let Some(ev) = events.recv().await {
            let p = match &ev {
                InformerEvent::Added(p) | InformerEvent::Updated { new: p, .. } => p,
                InformerEvent::Deleted(_) => continue,
            };
            if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                let mut g = b.lock();
                g.entry(p.metadata.name.clone().unwrap_or_default()).or_insert_with(Instant::now);
                if g.len() >= want {
                    if let Some(tx) = done_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        }
    });

    // 4. Pods.
    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let pods = Api::<Pod>::namespaced(client.clone(), &flags.namespace);
    let start = Instant::now();
    let ns = flags.namespace.clone();
    let results = stream::iter(0..flags.pods)
        .map(|i| {
            let (pods, created, ns) = (pods.clone(), created.clone(), ns.clone());
            async move {
                let p = pod(&ns, i);
                created.lock().insert(format!("pod-{i}"), Instant::now());
                pods.create(&PostParams::default(), &p).await
            }
        })
        .buffer_unordered(flags.concurrency)
        .collect::<Vec<_>>()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        anyhow::bail!("{failed} pod creates failed, e.g. {:?}", results.into_iter().find_map(|r| r.err()));
    }
    eprintln!("created {} pods in {:.1}s", flags.pods, start.elapsed().as_secs_f64());
    tokio::time::timeout(Duration::from_secs(600), done_rx).await.context("not all pods were bound within 10 minutes")??;

    let bound = bound.lock().clone();
    let created = created.lock().clone();
    let last = bound.values().max().copied().unwrap_or(start);
    let elapsed = last.duration_since(start).as_secs_f64();
    let mut lat: Vec<Duration> = bound.iter().filter_map(|(n, b)| created.get(n).map(|c| b.saturating_duration_since(*c))).collect();
    lat.sort();
    let rate = flags.pods as f64 / elapsed;
    let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));
    stop.cancel();
    let _ = run.await;
    watch_task.abort();

    eprintln!("mean scheduling algorithm time per attempt: {:.0} us", metrics.attempt_duration.mean() * 1e6);
    println!(
        "scheduled {} pods on {} nodes in {:.2}s; attempts scheduled={} unschedulable={} errors={}",
        flags.pods,
        flags.nodes,
        elapsed,
        metrics.scheduled.load(std::sync::atomic::Ordering::Relaxed),
        metrics.unschedulable.load(std::sync::atomic::Ordering::Relaxed),
        metrics.errors.load(std::sync::atomic::Ordering::Relaxed),
    );
    println!("anchor: upstream scheduler_perf CI floor {ANCHOR_PODS_PER_S:.0} pods/s (5000 nodes / 10000 pods); here {rate:.0} pods/s ({:.2}x)", rate / ANCHOR_PODS_PER_S);
    println!("scheduler-bench nodes={} pods={} pods_per_s={rate:.0} p50_ms={p50:.1} p99_ms={p99:.1}", flags.nodes, flags.pods);
    Ok(())
}

/// The filter/score/assume path alone, on the same nodes and pods.
fn algorithm_only(flags: &Flags) -> anyhow::Result<()> {
    use scheduler::cache::{Cache, Snapshot};
    use scheduler::framework::CycleState;
    use scheduler::pod_info::PodInfo;
    use scheduler::schedule_one::Algorithm;
    let config = SchedulerConfig::default();
    let fw = config.profiles[0].framework(config.percentage_of_nodes_to_score);
    let mut cache = Cache::new();
    for i in 0..flags.nodes {
        cache.add_node(Arc::new(node(i)));
    }
    let mut snap = Snapshot::default();
    let mut alg = Algorithm::default();
    let start = Instant::now();
    for i in 0..flags.pods {
        let pi = PodInfo::new(Arc::new(pod(&flags.namespace, i)));
        cache.update_snapshot(&mut snap);
        let r = alg.schedule(&fw, &mut CycleState::default(), &pi, &snap).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut assumed = pi.clone();
        assumed.node_name = Some(r.node.clone());
        cache.assume_pod(Arc::new(assumed), &r.node)?;
    }
    let el = start.elapsed().as_secs_f64();
    println!("algorithm-only nodes={} pods={} pods_per_s={:.0} us_per_pod={:.0}", flags.nodes, flags.pods, flags.pods as f64 / el, el * 1e6 / flags.pods as f64);
    Ok(())
}
