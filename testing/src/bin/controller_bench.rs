//! controller-bench: one big Deployment through the whole control plane.
//! Starts etcd, kube-apiserver, kube-scheduler and kube-controller-manager
//! as processes of their own (so /proc tells each one's CPU and memory) and
//! a fleet of hollow nodes in this process; creates a Deployment of
//! `--replicas` pods and measures create -> all available, then a rolling
//! update to a new image until the rollout is complete.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use client::informer::{Informer, InformerConfig};
use client::{Api, Client, ListParams, Patch, PostParams};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NS: &str = "bench";
const NAME: &str = "bench";

#[derive(Parser)]
#[command(name = "controller-bench", about = "Deployment create-to-available and rolling-update time through etcd, apiserver, scheduler, controller-manager and hollow nodes.")]
struct Args {
    /// Replicas of the Deployment.
    #[arg(long, default_value_t = 2000)]
    replicas: usize,
    /// Hollow nodes (110 pods each).
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// The controller-manager's --kube-api-qps (upstream's default is 20; scale tests raise it).
    #[arg(long, default_value_t = 2000.0)]
    cm_qps: f32,
    /// The controller-manager's --kube-api-burst (upstream's default is 30).
    #[arg(long, default_value_t = 4000)]
    cm_burst: u32,
    /// Give up on a phase after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Extra flags for kube-controller-manager, e.g. `--cm-arg=--controllers=*,-garbage-collector-controller` (for finding where its memory goes).
    #[arg(long = "cm-arg", allow_hyphen_values = true)]
    cm_args: Vec<String>,
    /// Directory holding kube-apiserver, kube-scheduler and kube-controller-manager (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    fn spawn(bin_dir: &std::path::Path, name: &'static str, args: &[String]) -> anyhow::Result<Proc> {
        let child = Command::new(bin_dir.join(name))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| {
                format!("starting {name} from {} (build it beside this benchmark: `cargo build --release -p testing -p controller-manager -p apiserver -p scheduler --bin controller-bench --bin kube-apiserver --bin kube-scheduler --bin kube-controller-manager`)", bin_dir.display())
            })?;
        Ok(Proc { name, child })
    }
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // utime and stime are the 12th and 13th fields after the parenthesised name.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// A `/proc/<pid>/status` field in kB (VmRSS now, VmHWM peak).
fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.trim_start_matches(':').split_whitespace().next()).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Waits until `GET /healthz` on 127.0.0.1:`port` answers 200 (the daemons serve plain HTTP).
async fn wait_healthz(name: &str, port: u16, deadline: Instant) -> anyhow::Result<()> {
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let req = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
            if s.write_all(req.as_bytes()).await.is_ok() {
                let mut buf = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await;
                if buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200") {
                    return Ok(());
                }
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "{name} /healthz on port {port} did not answer 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CPU seconds per process over a phase.
struct CpuMeter {
    pids: Vec<(&'static str, u32)>,
    start: Vec<f64>,
}

impl CpuMeter {
    fn start(pids: &[(&'static str, u32)]) -> CpuMeter {
        CpuMeter { pids: pids.to_vec(), start: pids.iter().map(|(_, p)| cpu_seconds(*p)).collect() }
    }
    fn spent(&self) -> Vec<(&'static str, f64)> {
        self.pids.iter().zip(&self.start).map(|((n, p), s)| (*n, cpu_seconds(*p) - s)).collect()
    }
}

fn deployment(replicas: usize) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                         "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
            }
        }
    }))?)
}

/// Waits on the informer's cache until `done` holds for the Deployment.
async fn wait_for(informer: &Informer<Deployment>, timeout: Duration, what: &str, done: impl Fn(&Deployment) -> bool) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut events = informer.subscribe();
    loop {
        if informer.store().get_by_key(&format!("{NS}/{NAME}")).is_some_and(|d| done(&d)) {
            return Ok(start.elapsed());
        }
        let left = timeout.checked_sub(start.elapsed()).unwrap_or_default();
        if tokio::time::timeout(left.min(Duration::from_millis(200)), events.recv()).await.is_err() && start.elapsed() >= timeout {
            let status = informer.store().get_by_key(&format!("{NS}/{NAME}")).and_then(|d| d.status.clone());
            anyhow::bail!("{what}: not reached in {timeout:?}; deployment status: {status:?}");
        }
    }
}

fn counts(d: &Deployment) -> (i64, i64, i64, i64, i64, i64) {
    let s = d.status.clone().unwrap_or_default();
    (
        d.metadata.generation.unwrap_or(0),
        s.observed_generation.unwrap_or(0),
        s.replicas.unwrap_or(0) as i64,
        s.updated_replicas.unwrap_or(0) as i64,
        s.available_replicas.unwrap_or(0) as i64,
        s.ready_replicas.unwrap_or(0) as i64,
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let n = args.replicas;
    let timeout = Duration::from_secs(args.timeout_s);
    let bin_dir = match args.bin_dir.clone() {
        Some(d) => d,
        None => std::env::current_exe()?.parent().context("binary dir")?.to_path_buf(),
    };

    let etcd = testing::Etcd::start().await.context("starting etcd")?;
    let api_port = testing::free_port();
    let addr = format!("127.0.0.1:{api_port}");
    let apiserver = Proc::spawn(
        &bin_dir,
        "kube-apiserver",
        &["--etcd-servers".into(), etcd.endpoint.clone(), "--bind-address".into(), "127.0.0.1".into(), "--secure-port".into(), api_port.to_string()],
    )?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        if let Ok(c) = Client::connect(&addr).await {
            if Api::<Namespace>::all(c.clone()).get("default").await.is_ok() {
                break c;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "kube-apiserver did not come up at {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The fleet first, so the scheduler's first list sees every node.
    let t = Instant::now();
    let names: Vec<String> = (0..args.nodes).map(|i| format!("hollow-node-{i}")).collect();
    let hollow = testing::hollow::HollowNodes::start(client.clone(), names, testing::hollow::HollowConfig::default()).await.context("starting hollow nodes")?;
    eprintln!("{} hollow nodes registered in {:.1}s", args.nodes, t.elapsed().as_secs_f64());

    let sched_port = testing::free_port();
    let scheduler = Proc::spawn(
        &bin_dir,
        "kube-scheduler",
        &[
            "--master".into(), addr.clone(), "--leader-elect=false".into(),
            "--bind-address".into(), "127.0.0.1".into(), "--secure-port".into(), sched_port.to_string(),
        ],
    )?;
    let cm_port = testing::free_port();
    let mut cm_flags: Vec<String> = vec![
        "--master".into(), addr.clone(), "--leader-elect=false".into(),
        "--bind-address".into(), "127.0.0.1".into(), "--secure-port".into(), cm_port.to_string(),
        "--kube-api-qps".into(), args.cm_qps.to_string(), "--kube-api-burst".into(), args.cm_burst.to_string(),
    ];
    cm_flags.extend(args.cm_args.iter().cloned());
    let cm = Proc::spawn(&bin_dir, "kube-controller-manager", &cm_flags)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    wait_healthz("kube-scheduler", sched_port, deadline).await?;
    wait_healthz("kube-controller-manager", cm_port, deadline).await?;

    // The controllers run once the ServiceAccount controller fills a new namespace.
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    let sas = Api::<ServiceAccount>::namespaced(client.clone(), NS);
    while sas.get_opt("default").await?.is_none() {
        anyhow::ensure!(Instant::now() < deadline, "the controller-manager did not create the default ServiceAccount in {NS}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cm_rss_idle_kb = status_kb(cm.pid(), "VmRSS");

    let deployments = Api::<Deployment>::namespaced(client.clone(), NS);
    let informer = Informer::new(deployments.clone(), InformerConfig::default());
    let inf = informer.clone();
    let watch_task = tokio::spawn(async move { inf.run().await });
    informer.wait_synced().await;

    let pids = [
        ("etcd", etcd.pid()),
        (apiserver.name, apiserver.pid()),
        (scheduler.name, scheduler.pid()),
        (cm.name, cm.pid()),
        ("bench (hollow nodes)", std::process::id()),
    ];
    println!(
        "controller-bench: {n} replicas on {} hollow nodes; etcd, kube-apiserver, kube-scheduler, kube-controller-manager (--kube-api-qps {} --kube-api-burst {}) as processes on {} cores",
        args.nodes,
        args.cm_qps,
        args.cm_burst,
        std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1)
    );

    // Phase 1: create -> status.availableReplicas == n.
    let cpu_create = CpuMeter::start(&pids);
    let t0 = Instant::now();
    deployments.create(&PostParams::default(), &deployment(n)?).await?;
    wait_for(&informer, timeout, "create to available", |d| {
        let (g, og, _, _, avail, _) = counts(d);
        og >= g && avail == n as i64
    })
    .await?;
    let create_s = t0.elapsed().as_secs_f64();
    let create_cpu = cpu_create.spent();
    eprintln!("available: {n} in {create_s:.2}s");

    // Phase 2: a new image; complete = every replica updated and available, no old ones left.
    let cpu_rollout = CpuMeter::start(&pids);
    let t1 = Instant::now();
    let patched = deployments
        .patch(NAME, &PostParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}}})))
        .await?;
    let generation = patched.metadata.generation.unwrap_or(0);
    wait_for(&informer, timeout, "rollout", |d| {
        let (_, og, replicas, updated, avail, _) = counts(d);
        og >= generation && updated == n as i64 && avail == n as i64 && replicas == n as i64
    })
    .await?;
    let rollout_s = t1.elapsed().as_secs_f64();
    let rollout_cpu = cpu_rollout.spent();
    let rss_kb = status_kb(cm.pid(), "VmRSS");
    let hwm_kb = status_kb(cm.pid(), "VmHWM");

    // The old ReplicaSet must be scaled to 0 with no pods left.
    let rss = Api::<ReplicaSet>::namespaced(client.clone(), NS).list(&ListParams::default()).await?.items;
    let mut old_left = 0;
    for rs in &rss {
        let image = rs.spec.template.as_ref().and_then(|t| t.spec.as_ref()).map(|s| s.containers[0].image.clone().unwrap_or_default()).unwrap_or_default();
        let (spec, status) = (rs.spec.replicas.unwrap_or(0), rs.status.as_ref().map(|s| s.replicas).unwrap_or(0));
        eprintln!("replicaset {} image {image}: spec.replicas {spec}, status.replicas {status}", rs.metadata.name.as_deref().unwrap_or(""));
        if image.ends_with("pause:3.9") {
            old_left += spec + status;
        }
    }
    anyhow::ensure!(rss.len() == 2 && old_left == 0, "rollout left {old_left} old replicas across {} ReplicaSets", rss.len());

    println!();
    println!("{:<30} {:>9}   {:<78} {}", "phase", "seconds", "anchor / target", "CPU seconds per process");
    let split = |cpu: &[(&str, f64)]| cpu.iter().map(|(n, s)| format!("{} {s:.2}", n.split(' ').next().unwrap_or(n))).collect::<Vec<_>>().join(", ");
    println!(
        "{:<30} {create_s:>9.2}   {:<78} {}",
        format!("create -> {n} available"),
        format!("upstream QPS 20/burst 30: > {:.0} s; scale tests ~100 pods/s: {:.0} s; target <= 4 s", (n as f64 - 30.0).max(0.0) / 20.0, n as f64 / 100.0),
        split(&create_cpu)
    );
    println!("{:<30} {rollout_s:>9.2}   {:<78} {}", "rolling update complete", "target <= 8 s", split(&rollout_cpu));
    let cm_cpu = create_cpu.iter().chain(&rollout_cpu).filter(|(name, _)| *name == "kube-controller-manager").map(|(_, s)| s).sum::<f64>();
    println!(
        "kube-controller-manager memory: RSS {:.1} MB idle, {:.1} MB after the rollout, peak {:.1} MB (target <= 60 MB); CPU {cm_cpu:.2} s over both phases",
        cm_rss_idle_kb as f64 / 1024.0,
        rss_kb as f64 / 1024.0,
        hwm_kb as f64 / 1024.0
    );
    println!("controller-bench replicas={n} create_to_available_s={create_s:.2} rollout_s={rollout_s:.2} cm_cpu_s={cm_cpu:.2} cm_rss_mb={:.1}", hwm_kb as f64 / 1024.0);

    watch_task.abort();
    hollow.stop().await;
    drop(cm);
    drop(scheduler);
    drop(apiserver);
    drop(etcd);
    Ok(())
}
