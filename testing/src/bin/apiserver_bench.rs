//! apiserver-bench: raw etcd compare-and-swap throughput beside apiserver Pod
//! creates over gRPC (1 and 64 concurrent clients), a list of 10k pods, and
//! watch delivery latency to 100 concurrent watchers — all on one etcd that
//! this binary starts, with kube-apiserver as its own process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use client::{Api, Client, ListParams, PostParams, WatchEvent, WatchParams};
use clap::Parser;
use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use serde_json::json;

// Every request allocates and frees many small JSON values; glibc's malloc
// spent about a quarter of the server's CPU on them under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "apiserver-bench", about = "Compare apiserver Pod creates with raw etcd CAS, list 10k pods, measure watch fan-out latency.")]
struct Args {
    /// Operations per client count for the 1-client runs.
    #[arg(long, default_value_t = 2000)]
    serial_ops: usize,
    /// Pods created by the 64-client run (also the size of the listed namespace).
    #[arg(long, default_value_t = 10_000)]
    concurrent_ops: usize,
    /// Concurrent clients of the concurrent runs.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Concurrent watchers for the delivery-latency run.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Pods created (one at a time) while the watchers watch.
    #[arg(long, default_value_t = 200)]
    watch_events: usize,
    /// Directory holding kube-apiserver (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pod_body(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}, "annotations": {"bench/pad": "x".repeat(300)}},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"],
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}, "ports": [{"containerPort": 8080}]}]}
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Run {
    per_s: f64,
    p50: f64,
    p99: f64,
}

/// CPU seconds (user + system) a process has used so far, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Where the CPU of a phase went: microseconds per operation for each process.
struct CpuMeter {
    pids: Vec<(&'static str, u32)>,
    start: Vec<f64>,
}

impl CpuMeter {
    fn start(pids: &[(&'static str, u32)]) -> CpuMeter {
        CpuMeter { pids: pids.to_vec(), start: pids.iter().map(|(_, p)| cpu_seconds(*p)).collect() }
    }
    fn per_op(&self, ops: usize) -> String {
        let parts: Vec<String> = self
            .pids
            .iter()
            .zip(&self.start)
            .map(|((name, pid), s)| format!("{name} {:.0}", (cpu_seconds(*pid) - s) * 1e6 / ops as f64))
            .collect();
        format!("CPU us/op: {}", parts.join(", "))
    }
}

/// Runs `ops` operations on `clients` concurrent workers; `op(i)` is one operation.
async fn run<F, Fut>(ops: usize, clients: usize, op: F) -> anyhow::Result<Run>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..clients {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= ops {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                op(w, i).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let took = start.elapsed();
    all.sort();
    Ok(Run { per_s: ops as f64 / took.as_secs_f64(), p50: percentile(&all, 0.5), p99: percentile(&all, 0.99) })
}

async fn raw_etcd(endpoint: &str, ops: usize, clients: usize, tag: &str) -> anyhow::Result<Run> {
    let mut kvs = Vec::new();
    for _ in 0..clients.min(64) {
        kvs.push(etcd_client::Client::connect([endpoint], None).await?.kv_client());
    }
    let kvs = Arc::new(kvs);
    let tag = tag.to_string();
    let value = Arc::new(serde_json::to_vec(&pod_body("p"))?);
    run(ops, clients, move |w, i| {
        let (kvs, value, tag) = (kvs.clone(), value.clone(), tag.clone());
        async move {
            let key = format!("/bench-raw/{tag}/{i}");
            let txn = Txn::new()
                .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.as_str(), value.to_vec(), None)]);
            let resp = kvs[w % kvs.len()].clone().txn(txn).await?;
            anyhow::ensure!(resp.succeeded(), "raw CAS create of {key} failed");
            Ok(())
        }
    })
    .await
}

async fn api_creates(addr: &str, ns: &str, ops: usize, clients: usize) -> anyhow::Result<Run> {
    let mut apis = Vec::new();
    for _ in 0..clients.min(64) {
        apis.push(Api::<serde_json::Value>::dynamic(Client::connect(addr).await?, client::ApiResourceRef::of::<Pod>(), Some(ns)));
    }
    let apis = Arc::new(apis);
    run(ops, clients, move |w, i| {
        let apis = apis.clone();
        async move {
            apis[w % apis.len()].create(&PostParams::default(), &pod_body(&format!("p{i}"))).await?;
            Ok(())
        }
    })
    .await
}

async fn watch_latency(addr: &str, watchers: usize, events: usize) -> anyhow::Result<(f64, f64, usize)> {
    let c = Client::connect(addr).await?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "bench-watch"}}))?;
    Api::<Namespace>::all(c.clone()).create(&PostParams::default(), &ns).await?;
    let api = Api::<Pod>::namespaced(c.clone(), "bench-watch");
    let rv = api.list(&ListParams::default()).await?.resource_version;
    let sent: Arc<parking_lot::Mutex<Vec<Option<Instant>>>> = Arc::new(parking_lot::Mutex::new(vec![None; events]));
    let mut tasks = Vec::new();
    let conns: Vec<Client> = {
        let mut v = Vec::new();
        for _ in 0..10 {
            v.push(Client::connect(addr).await?);
        }
        v
    };
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(watchers);
    for w in 0..watchers {
        let api = Api::<Pod>::namespaced(conns[w % conns.len()].clone(), "bench-watch");
        let (rv, ready_tx) = (rv.clone(), ready_tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Box::pin(api.watch(&WatchParams::default(), &rv).await?);
            ready_tx.send(()).await.ok();
            let mut got = Vec::with_capacity(events);
            while got.len() < events {
                match tokio::time::timeout(Duration::from_secs(60), s.next()).await {
                    Ok(Some(Ok(WatchEvent::Added(p)))) => {
                        let i: usize = p.metadata.name.as_deref().unwrap_or("w0")[1..].parse().unwrap_or(0);
                        got.push((i, Instant::now()));
                    }
                    Ok(Some(Ok(_))) => {}
                    other => anyhow::bail!("watch ended early: {:?}", other.map(|o| o.map(|r| r.map(|_| ())))),
                }
            }
            Ok::<_, anyhow::Error>(got)
        }));
    }
    for _ in 0..watchers {
        ready_rx.recv().await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..events {
        let body: Pod = serde_json::from_value(pod_body(&format!("w{i}")))?;
        sent.lock()[i] = Some(Instant::now());
        api.create(&PostParams::default(), &body).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut lat = Vec::new();
    for t in tasks {
        for (i, at) in t.await?? {
            if let Some(s) = sent.lock()[i] {
                lat.push(at.saturating_duration_since(s));
            }
        }
    }
    lat.sort();
    Ok((percentile(&lat, 0.5), percentile(&lat, 0.99), lat.len()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = match args.bin_dir.clone() {
        Some(d) => d,
        None => std::env::current_exe()?.parent().context("binary dir")?.to_path_buf(),
    };
    let etcd = testing::Etcd::start().await.context("starting etcd")?;
    let port = testing::free_port();
    let addr = format!("127.0.0.1:{port}");
    let _api = Proc(
        Command::new(bin_dir.join("kube-apiserver"))
            .args(["--etcd-servers", &etcd.endpoint, "--bind-address", "127.0.0.1", "--secure-port", &port.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting kube-apiserver (build it beside this benchmark: `cargo build --release -p apiserver -p testing`)")?,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        if let Ok(c) = Client::connect(&addr).await {
            if Api::<Namespace>::all(c.clone()).get("default").await.is_ok() {
                break c;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "kube-apiserver did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for ns in ["bench-1", "bench-64"] {
        let n: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &n).await?;
    }
    let c = args.clients;
    println!("apiserver-bench: etcd {} and kube-apiserver {addr} on this machine ({} cores)", etcd.endpoint, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let pids = [("etcd", etcd.pid()), ("kube-apiserver", _api.0.id()), ("bench", std::process::id())];
    let mut cpu = Vec::new();
    let m = CpuMeter::start(&pids);
    let raw1 = raw_etcd(&etcd.endpoint, args.serial_ops, 1, "s").await?;
    cpu.push(m.per_op(args.serial_ops));
    let m = CpuMeter::start(&pids);
    let api1 = api_creates(&addr, "bench-1", args.serial_ops, 1).await?;
    cpu.push(m.per_op(args.serial_ops));
    let m = CpuMeter::start(&pids);
    let rawn = raw_etcd(&etcd.endpoint, args.concurrent_ops, c, "c").await?;
    cpu.push(m.per_op(args.concurrent_ops));
    let m = CpuMeter::start(&pids);
    let apin = api_creates(&addr, "bench-64", args.concurrent_ops, c).await?;
    cpu.push(m.per_op(args.concurrent_ops));
    println!();
    println!("{:<34} {:>10} {:>9} {:>9}", "create (1 KiB pod, CAS txn)", "ops/s", "p50 ms", "p99 ms");
    for ((name, r), cpu) in [
        ("raw etcd CAS, 1 client".to_string(), &raw1),
        ("apiserver Pod create, 1 client".to_string(), &api1),
        (format!("raw etcd CAS, {c} clients"), &rawn),
        (format!("apiserver Pod create, {c} clients"), &apin),
    ]
    .into_iter()
    .zip(&cpu)
    {
        println!("{name:<34} {:>10.0} {:>9.2} {:>9.2}   {cpu}", r.per_s, r.p50, r.p99);
    }
    let ratio1 = api1.per_s / raw1.per_s;
    let ratio = apin.per_s / rawn.per_s;
    println!("apiserver/raw ratio: {ratio1:.2} at 1 client, {ratio:.2} at {c} clients (target >= 0.70)");

    let api64 = Api::<Pod>::namespaced(client.clone(), "bench-64");
    let mut lists = Vec::new();
    let mut n = 0;
    for _ in 0..5 {
        let t = Instant::now();
        n = api64.list(&ListParams::default()).await?.items.len();
        lists.push(t.elapsed());
    }
    lists.sort();
    println!();
    println!("list {n} pods (consistent, watch cache): p50 {:.1} ms, max {:.1} ms (anchor: etcd range of 10k keys ~32 ms)", percentile(&lists, 0.5), percentile(&lists, 1.0));

    let (wp50, wp99, count) = watch_latency(&addr, args.watchers, args.watch_events).await?;
    println!(
        "watch delivery to {} watchers ({count} events, create sent -> event received): p50 {wp50:.2} ms, p99 {wp99:.2} ms (target p99 <= 10 ms)",
        args.watchers
    );
    println!("apiserver-bench create_ratio={ratio:.2} create_per_s={:.0} watch_p99_ms={wp99:.2}", apin.per_s);
    Ok(())
}
