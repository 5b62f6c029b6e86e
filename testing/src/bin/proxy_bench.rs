//! proxy-bench: kube-proxy programming real iptables at scale. Starts etcd +
//! apiserver, creates N Services with M endpoints each (EndpointSlices made
//! by hand), then runs the kube-proxy binary with `--netns` pointing at a
//! network namespace of its own, and reads its /metrics: the first full
//! sync's duration, the rule count, then the time from one EndpointSlice
//! update to the end of the partial sync that applied it, and the proxy's RSS.
//!
//! Build both binaries first: `cargo build --release -p kube-proxy -p testing --bin kube-proxy --bin proxy-bench`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use client::{Api, Client, PostParams};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "proxy-bench", about = "kube-proxy full and partial sync times with real iptables in a network namespace")]
struct Flags {
    #[arg(long, default_value_t = 10000)]
    services: usize,
    /// Endpoints per Service.
    #[arg(long, default_value_t = 5)]
    endpoints: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The kube-proxy binary (default: beside this one).
    #[arg(long)]
    kube_proxy: Option<PathBuf>,
    /// iptables backend for kube-proxy: auto, nft or legacy.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Partial syncs to time (one EndpointSlice update each).
    #[arg(long, default_value_t = 5)]
    changes: usize,
}

fn service(i: usize) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": format!("svc-{i}"), "namespace": "default"},
        "spec": {"selector": {"app": format!("svc-{i}")}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap()
}

fn endpoint_ip(i: usize, j: usize, gen: usize) -> String {
    let n = i * 8 + j + gen * 1000;
    format!("10.{}.{}.{}", 128 + (n >> 16) % 64, (n >> 8) & 255, n & 255)
}

fn slice(i: usize, m: usize, gen: usize) -> EndpointSlice {
    let eps: Vec<_> = (0..m).map(|j| json!({"addresses": [endpoint_ip(i, j, gen)], "conditions": {"ready": true}, "nodeName": "bench-node"})).collect();
    serde_json::from_value(json!({
        "metadata": {"name": format!("svc-{i}-abcde"), "namespace": "default", "labels": {"kubernetes.io/service-name": format!("svc-{i}")}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": eps,
    }))
    .unwrap()
}

struct Netns(String);
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

struct Proxy(Child);
impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn metrics(port: u16) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let bin = match &flags.kube_proxy {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.parent().context("exe dir")?.join("kube-proxy"),
    };
    if !bin.exists() {
        bail!("{}: not found (build it: cargo build --release -p kube-proxy --bin kube-proxy, or pass --kube-proxy)", bin.display());
    }
    let ns = Netns(format!("proxy-bench-{}", std::process::id()));
    let st = Command::new("ip").args(["netns", "add", &ns.0]).status()?;
    if !st.success() {
        bail!("ip netns add {} failed", ns.0);
    }
    let _ = Command::new("ip").args(["-n", &ns.0, "link", "set", "lo", "up"]).status();

    let cluster = testing::TestCluster::start().await?;
    let client: Client = cluster.client.clone();
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let t = Instant::now();
    let (n, m) = (flags.services, flags.endpoints);
    stream::iter(0..n)
        .map(|i| {
            let (svcs, slices) = (svcs.clone(), slices.clone());
            async move {
                svcs.create(&PostParams::default(), &service(i)).await?;
                slices.create(&PostParams::default(), &slice(i, m, 0)).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(flags.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    eprintln!("created {n} services and slices in {:.1?}", t.elapsed());

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let started = Instant::now();
    let child = Command::new(&bin)
        .args(["--master", &cluster.addr.to_string(), "--hostname-override", "bench-node", "--cluster-cidr", "10.128.0.0/10"])
        .args(["--netns", &format!("/run/netns/{}", ns.0), "--iptables-backend", &flags.backend])
        .args(["--healthz-bind-address", "", "--metrics-bind-address", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting kube-proxy")?;
    let proxy = Proxy(child);
    let full = "kubeproxy_sync_full_proxy_rules_duration_seconds";
    let partial = "kubeproxy_sync_partial_proxy_rules_duration_seconds";
    let text = loop {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("no full sync within 300 s");
        }
        if let Ok(t) = metrics(port).await {
            if metric(&t, &format!("{full}_count")) >= 1.0 {
                break t;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let start_to_rules = started.elapsed();
    let full_sync_s = metric(&text, &format!("{full}_sum"));
    let rules = metric(&text, "kubeproxy_sync_proxy_rules_iptables_total{table=\"nat\"}") + metric(&text, "kubeproxy_sync_proxy_rules_iptables_total{table=\"filter\"}");

    // One endpoint change at a time: update -> the partial sync that applied it.
    let mut e2e = Vec::new();
    let mut sync_ms = Vec::new();
    for c in 0..flags.changes {
        tokio::time::sleep(Duration::from_millis(1100)).await; // past --iptables-min-sync-period
        let before = metrics(port).await?;
        let (count0, sum0) = (metric(&before, &format!("{partial}_count")), metric(&before, &format!("{partial}_sum")));
        let i = (c * 7919) % n;
        let mut s = slices.get(&format!("svc-{i}-abcde")).await?;
        s.endpoints.as_mut().context("slice endpoints")?[0].addresses = vec![endpoint_ip(i, 0, c + 1)];
        let t0 = Instant::now();
        slices.replace(&s).await?;
        let after = loop {
            let t = metrics(port).await?;
            if metric(&t, &format!("{partial}_count")) > count0 {
                break t;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("the change was not synced within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        e2e.push(t0.elapsed().as_secs_f64() * 1000.0);
        sync_ms.push((metric(&after, &format!("{partial}_sum")) - sum0) * 1000.0);
    }
    let rss = rss_mb(proxy.0.id());
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (e2e_med, sync_med) = (med(&mut e2e), med(&mut sync_ms));
    println!("{:<44} {:>12}", "measure", "value");
    println!("{:<44} {:>12.3}", "full sync (first, s)", full_sync_s);
    println!("{:<44} {:>12.3}", "start -> first full sync done (s)", start_to_rules.as_secs_f64());
    println!("{:<44} {:>12.0}", "rules (nat + filter)", rules);
    println!("{:<44} {:>12.1}", "one change: update -> applied, median (ms)", e2e_med);
    println!("{:<44} {:>12.1}", "one change: partial sync itself, median (ms)", sync_med);
    println!("{:<44} {:>12.1}", "kube-proxy RSS (MB)", rss);
    println!("{:<44} {:>12}", "anchor: upstream iptables p50 at 5k nodes", "5-13 s");
    println!("proxy-bench services={n} endpoints={m} full_sync_s={full_sync_s:.3} one_change_ms={e2e_med:.1} rules={rules:.0} proxy_rss_mb={rss:.1}");
    drop(proxy);
    Ok(())
}
