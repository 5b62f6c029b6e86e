//! dns-bench: kube-dns answering cluster names at 10,000 Services.
//! Starts etcd + an in-process apiserver, creates `--services` ClusterIP
//! Services, runs the `kube-dns` binary (from --bin-dir, default next to
//! this binary) as a process of its own, waits until it answers the last
//! Service, then:
//! - throughput: Debian's `dnsperf` over UDP on loopback for `--duration-s`
//!   with `--outstanding` queries in flight, random Service names (qps);
//! - latency: while dnsperf holds a steady `--latency-load-qps`, a prober of
//!   ours sends one query at a time and records each round trip (p50/p99);
//! - memory: kube-dns' VmRSS afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use client::{Api, PostParams};
use k8s_openapi::api::core::v1::{Namespace, Service};
use serde_json::json;
use tokio::net::UdpSocket;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NS: &str = "bench";

#[derive(Parser)]
#[command(name = "dns-bench", about = "kube-dns queries per second, p99 latency and memory at N Services (dnsperf over UDP on loopback).")]
struct Args {
    /// ClusterIP Services to create.
    #[arg(long, default_value_t = 10_000)]
    services: usize,
    /// Seconds of the throughput run.
    #[arg(long, default_value_t = 10)]
    duration_s: u64,
    /// dnsperf's queries in flight (-q).
    #[arg(long, default_value_t = 200)]
    outstanding: u32,
    /// dnsperf's client sockets (-c).
    #[arg(long, default_value_t = 4)]
    clients: u32,
    /// Background load (qps) while latency is probed.
    #[arg(long, default_value_t = 25_000)]
    latency_load_qps: u32,
    /// Round trips the latency prober measures.
    #[arg(long, default_value_t = 20_000)]
    probes: usize,
    /// Directory holding kube-dns (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first: kube-dns shuts down gracefully.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

/// One A query for `name`; the round trip, or None on timeout/failure.
async fn probe(sock: &UdpSocket, id: u16, name: &str) -> Option<Duration> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).ok()?, RecordType::A));
    let bytes = m.to_vec().ok()?;
    let start = Instant::now();
    sock.send(&bytes).await.ok()?;
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(1), sock.recv(&mut buf)).await.ok()?.ok()?;
        let r = Message::from_vec(&buf[..n]).ok()?;
        if r.metadata.id == id {
            return (!r.answers.is_empty()).then(|| start.elapsed());
        }
    }
}

fn svc_name(i: usize) -> String {
    format!("svc-{i}.{NS}.svc.cluster.local.")
}

fn dnsperf(addr: SocketAddr, data: &std::path::Path, seconds: u64, clients: u32, outstanding: u32, rate: Option<u32>) -> anyhow::Result<Child> {
    let mut cmd = Command::new("dnsperf");
    cmd.args(["-s", &addr.ip().to_string(), "-p", &addr.port().to_string(), "-d"]).arg(data);
    cmd.args(["-l", &seconds.to_string(), "-c", &clients.to_string(), "-q", &outstanding.to_string(), "-t", "2"]);
    if let Some(q) = rate {
        cmd.args(["-Q", &q.to_string()]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("running dnsperf (apt-get install dnsperf; deploy/scripts/prereqs.sh installs it)")
}

fn parse_dnsperf(out: &str) -> (f64, f64, u64) {
    let field = |key: &str| out.lines().find_map(|l| l.trim().strip_prefix(key)).map(|v| v.trim().split_whitespace().next().unwrap_or("0").to_string());
    let qps = field("Queries per second:").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let avg = field("Average Latency (s):").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let lost = field("Queries lost:").and_then(|v| v.parse().ok()).unwrap_or(0);
    (qps, avg, lost)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = match args.bin_dir.clone() {
        Some(d) => d,
        None => std::env::current_exe()?.parent().context("binary dir")?.to_path_buf(),
    };
    let cluster = testing::TestCluster::start().await?;
    let client = cluster.client.clone();
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;

    let t = Instant::now();
    let api = Api::<Service>::namespaced(client.clone(), NS);
    let mut pending = futures::stream::FuturesUnordered::new();
    use futures::StreamExt;
    for i in 0..args.services {
        let api = api.clone();
        pending.push(async move {
            let svc: Service = serde_json::from_value(json!({"metadata": {"name": format!("svc-{i}"), "namespace": NS},
                "spec": {"selector": {"app": format!("app-{i}")}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
            .expect("a valid Service");
            api.create(&PostParams::default(), &svc).await
        });
        if pending.len() >= 64 {
            pending.next().await.expect("pending").context("creating a Service")?;
        }
    }
    while let Some(r) = pending.next().await {
        r.context("creating a Service")?;
    }
    let create_s = t.elapsed().as_secs_f64();

    let port = testing::free_port();
    let health = testing::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let t = Instant::now();
    let child = Command::new(bin_dir.join("kube-dns"))
        .args(["--master", &cluster.addr.to_string(), "--bind-address", "127.0.0.1", "--dns-port", &port.to_string(), "--resolv-conf", ""])
        .args(["--healthz-bind-address", &format!("127.0.0.1:{health}"), "-v", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin_dir.join("kube-dns").display()))?;
    let dns = Proc(child);
    let pid = dns.0.id();
    // Ready once the last Service answers.
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    sock.connect(addr).await?;
    let last = svc_name(args.services - 1);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut id = 0u16;
    loop {
        id = id.wrapping_add(1);
        if probe(&sock, id, &last).await.is_some() {
            break;
        }
        if Instant::now() > deadline {
            bail!("kube-dns did not answer {last} within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sync_s = t.elapsed().as_secs_f64();
    let idle_rss = rss_mb(pid);

    // Query file: random Service names.
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("queries");
    let mut text = String::new();
    for _ in 0..args.services.max(1000) {
        let i = rand::random_range(0..args.services);
        text.push_str(&format!("{} A\n", svc_name(i).trim_end_matches('.')));
    }
    std::fs::write(&data, text)?;

    let out = dnsperf(addr, &data, args.duration_s, args.clients, args.outstanding, None)?.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("dnsperf failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    let (qps, avg_s, lost) = parse_dnsperf(&text);

    // Latency under a steady background load.
    let bg = dnsperf(addr, &data, (args.probes as u64 / 2000).max(5) + 2, 2, 100, Some(args.latency_load_qps))?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut rtts = Vec::with_capacity(args.probes);
    let mut failed = 0usize;
    for i in 0..args.probes {
        id = id.wrapping_add(1);
        match probe(&sock, id, &svc_name(i % args.services)).await {
            Some(d) => rtts.push(d),
            None => failed += 1,
        }
    }
    let bg_out = bg.wait_with_output()?;
    let (bg_qps, _, _) = parse_dnsperf(&String::from_utf8_lossy(&bg_out.stdout));
    rtts.sort();
    let pct = |p: f64| rtts.get(((rtts.len() as f64 * p) as usize).min(rtts.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let (p50, p99) = (pct(0.50), pct(0.99));
    let rss = rss_mb(pid).max(idle_rss);

    println!("{:<34} {:>12}", "phase", "value");
    println!("{:<34} {:>12.1}", "create services (s)", create_s);
    println!("{:<34} {:>12.2}", "kube-dns start to last name (s)", sync_s);
    println!("{:<34} {:>12.1}", "rss after sync (MB)", idle_rss);
    println!("{:<34} {:>12.0}", "dnsperf qps (saturated)", qps);
    println!("{:<34} {:>12.3}", "dnsperf avg latency (ms)", avg_s * 1000.0);
    println!("{:<34} {:>12}", "dnsperf queries lost", lost);
    println!("{:<34} {:>12.0}", "background load (qps)", bg_qps);
    println!("{:<34} {:>12.3}", "probe p50 (ms)", p50);
    println!("{:<34} {:>12.3}", "probe p99 (ms)", p99);
    println!("{:<34} {:>12}", "probe failures", failed);
    println!("{:<34} {:>12.1}", "rss after load (MB)", rss);
    println!("anchors: managed CoreDNS replica rated 5,000 qps; CoreDNS memory ~(pods+services)/1000+54 MB; targets >= 50,000 qps, p99 <= 2 ms, <= 30 MB");
    drop(dns);
    println!("dns-bench services={} qps={:.0} p99_ms={:.3} dns_rss_mb={:.1}", args.services, qps, p99, rss);
    Ok(())
}
