//! kubelet-bench: starts its own etcd, apiserver and one kubelet (test images
//! loaded), then measures
//! (a) paced: 100 pods created at 10/s, create -> Running (seen by a watch) p50/p99;
//! (b) burst: 100 pods created at once, time until all are Running;
//! (c) with those 100 pods running: kubelet RSS and the mean RSS of one shim.
//! With `--volumes` every pod mounts a ConfigMap, a Secret and an emptyDir and
//! has an exec readiness probe reading the two mounted files; pods are then
//! measured to Ready (condition True) instead of Running.
//! Last line: `kubelet-bench pods=100 p50_ms=.. p99_ms=.. burst_s=.. kubelet_rss_mb=.. shim_rss_kb=.. [volumes=1]`.

use anyhow::Context;
use clap::Parser;
use client::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const N: usize = 100;

#[derive(Parser)]
#[command(about = "Pod start latency, burst throughput and memory of one real kubelet")]
struct Args {
    /// Each pod mounts a ConfigMap, a Secret and an emptyDir and has a readiness
    /// probe; latencies are measured to Ready instead of Running.
    #[arg(long)]
    volumes: bool,
}

fn rss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Proportional set size: shared pages (libc, the shim binary) split among their users.
fn pss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("Pss:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

fn pod(name: &str, node: &str, volumes: bool) -> Pod {
    let mut p = serde_json::json!({
        "metadata": {"name": name, "labels": {"bench": "1"}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]}
    });
    if volumes {
        p["spec"]["volumes"] = serde_json::json!([
            {"name": "cfg", "configMap": {"name": "bench-cfg"}},
            {"name": "sec", "secret": {"secretName": "bench-secret"}},
            {"name": "scratch", "emptyDir": {}},
        ]);
        let c = &mut p["spec"]["containers"][0];
        c["volumeMounts"] = serde_json::json!([
            {"name": "cfg", "mountPath": "/etc/cfg"},
            {"name": "sec", "mountPath": "/etc/sec", "readOnly": true},
            {"name": "scratch", "mountPath": "/scratch"},
        ]);
        c["readinessProbe"] = serde_json::json!({"exec": {"command": ["cat", "/etc/cfg/key", "/etc/sec/key"]}, "periodSeconds": 1});
    }
    serde_json::from_value(p).unwrap()
}

/// The moment a watch event shows the pod Running (or, with --volumes, Ready).
fn reached(p: &Pod, volumes: bool) -> bool {
    let st = p.status.as_ref();
    if volumes {
        st.and_then(|s| s.conditions.as_ref()).into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
    } else {
        st.and_then(|s| s.phase.as_deref()) == Some("Running")
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn wait_all(running: &Arc<Mutex<HashMap<String, Instant>>>, names: &[String], limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while !names.iter().all(|n| running.lock().contains_key(n)) {
        anyhow::ensure!(start.elapsed() < limit, "pods did not all reach Running (Ready with --volumes)");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn delete_all(pods: &Api<Pod>, names: &[String]) -> anyhow::Result<()> {
    let dp = DeleteParams::default();
    futures::future::join_all(names.iter().map(|n| pods.delete(n, &dp))).await;
    let start = Instant::now();
    loop {
        let left = pods.list(&Default::default()).await?.items.len();
        if left == 0 {
            return Ok(());
        }
        anyhow::ensure!(start.elapsed() < Duration::from_secs(120), "{left} pods were not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())).with_writer(std::io::stderr).init();
    let tc = testing::TestCluster::start().await?;
    let dir = tempfile::Builder::new().prefix("kubelet-bench-").tempdir()?;
    let node = "bench-node";
    let cgroot = format!("kubepods-bench-{:06x}", rand::random::<u32>() & 0xffffff);
    let exe = std::env::current_exe()?.parent().context("binary dir")?.join("kubelet");
    let mut kubelet = std::process::Command::new(&exe)
        .args(["--apiserver", &tc.addr.to_string(), "--hostname-override", node, "--cgroup-root", &cgroot])
        .arg("--root-dir")
        .arg(dir.path().join("root"))
        .arg("--pod-logs-dir")
        .arg(dir.path().join("logs"))
        .args(["--healthz-bind-address", "127.0.0.1:0", "--load-test-images"])
        .env("RUST_LOG", "warn")
        .spawn()
        .with_context(|| format!("starting {} (build it beside this benchmark: `cargo build --release -p kubelet -p testing`)", exe.display()))?;
    let result = bench(&tc, node, &dir, kubelet.id() as i32, args.volumes).await;
    let _ = kubelet.kill();
    let _ = kubelet.wait();
    // Anything still running after a failure: stop the shims, unmount, drop cgroups.
    for s in shim_states(&dir.path().join("root")) {
        if kubelet::runtime::manager::shim_alive(&s) {
            unsafe { libc::kill(s.shim_pid, libc::SIGUSR1) };
        }
    }
    for p in std::fs::read_dir(dir.path().join("root/pods")).into_iter().flatten().flatten() {
        if let Ok(s) = kubelet::runtime::shim_state::SandboxState::load(&p.path().join("sandbox.json")) {
            if s.alive() {
                unsafe { libc::kill(s.pid, libc::SIGKILL) };
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let root = dir.path().to_string_lossy().to_string();
    for m in mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&root)) {
        let c = std::ffi::CString::new(m).unwrap();
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    for h in ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"] {
        let base = std::path::Path::new("/sys/fs/cgroup").join(h).join(&cgroot);
        for q in ["guaranteed", "burstable", "besteffort"] {
            let _ = std::fs::remove_dir(base.join(q));
        }
        let _ = std::fs::remove_dir(base);
    }
    result
}

fn shim_states(root: &std::path::Path) -> Vec<kubelet::runtime::shim_state::ShimState> {
    let mut out = Vec::new();
    for pod in std::fs::read_dir(root.join("pods")).into_iter().flatten().flatten() {
        for c in std::fs::read_dir(pod.path().join("containers")).into_iter().flatten().flatten() {
            for a in std::fs::read_dir(c.path()).into_iter().flatten().flatten() {
                if let Ok(s) = kubelet::runtime::shim_state::ShimState::load(&a.path().join("state.json")) {
                    out.push(s);
                }
            }
        }
    }
    out
}

async fn bench(tc: &testing::TestCluster, node: &str, dir: &tempfile::TempDir, kubelet_pid: i32, volumes: bool) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(tc.client.clone(), "default");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(tc.client.clone());
    let start = Instant::now();
    while nodes.get_opt(node).await?.is_none() {
        anyhow::ensure!(start.elapsed() < Duration::from_secs(60), "node did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    if volumes {
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {"name": "bench-cfg"}, "data": {"key": "value", "other": "x"}}))?;
        Api::<ConfigMap>::namespaced(tc.client.clone(), "default").create(&PostParams::default(), &cm).await?;
        let sec: Secret = serde_json::from_value(serde_json::json!({"metadata": {"name": "bench-secret"}, "stringData": {"key": "s3cret"}}))?;
        Api::<Secret>::namespaced(tc.client.clone(), "default").create(&PostParams::default(), &sec).await?;
    }
    let what = if volumes { "Ready" } else { "Running" };

    // Watch: first time each pod is seen Running (Ready with --volumes).
    let running: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let list = pods.list(&Default::default()).await?;
    let mut stream = Box::pin(pods.watch(&WatchParams::default(), &list.resource_version).await?);
    let r = running.clone();
    tokio::spawn(async move {
        while let Some(ev) = stream.next().await {
            if let Ok(WatchEvent::Added(p) | WatchEvent::Modified(p)) = ev {
                if reached(&p, volumes) {
                    r.lock().entry(p.metadata.name.unwrap_or_default()).or_insert_with(Instant::now);
                }
            }
        }
    });

    // Warm-up pod (first-use costs: image layer page cache, cgroup parents).
    let warm = vec!["warmup".to_string()];
    pods.create(&PostParams::default(), &pod("warmup", node, volumes)).await?;
    wait_all(&running, &warm, Duration::from_secs(60)).await?;
    delete_all(&pods, &warm).await?;

    // (a) paced.
    let names: Vec<String> = (0..N).map(|i| format!("paced-{i}")).collect();
    let mut created = HashMap::new();
    let t0 = Instant::now();
    for (i, n) in names.iter().enumerate() {
        let due = t0 + Duration::from_millis(100 * i as u64);
        tokio::time::sleep_until(due.into()).await;
        let p = pod(n, node, volumes);
        let api = pods.clone();
        created.insert(n.clone(), Instant::now());
        tokio::spawn(async move { api.create(&PostParams::default(), &p).await });
    }
    wait_all(&running, &names, Duration::from_secs(120)).await?;
    let mut lat: Vec<f64> = names.iter().map(|n| (running.lock()[n] - created[n]).as_secs_f64() * 1000.0).collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));
    println!("paced: {N} pods at 10/s: create->{what} p50 {p50:.1} ms, p99 {p99:.1} ms, max {:.1} ms", lat[lat.len() - 1]);
    delete_all(&pods, &names).await?;

    // (b) burst.
    let names: Vec<String> = (0..N).map(|i| format!("burst-{i}")).collect();
    let t0 = Instant::now();
    let pp = PostParams::default();
    let objs: Vec<Pod> = names.iter().map(|n| pod(n, node, volumes)).collect();
    futures::future::join_all(objs.iter().map(|p| pods.create(&pp, p))).await;
    wait_all(&running, &names, Duration::from_secs(300)).await?;
    let burst = names.iter().map(|n| running.lock()[n]).max().unwrap() - t0;
    println!("burst: {N} pods created at once, all {what} after {:.2} s", burst.as_secs_f64());

    // (c) memory with 100 pods running.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kubelet_rss = rss_kb(kubelet_pid).unwrap_or(0) as f64 / 1024.0;
    let shims: Vec<u64> = shim_states(&dir.path().join("root"))
        .iter()
        .filter(|s| kubelet::runtime::manager::shim_alive(s))
        .filter_map(|s| rss_kb(s.shim_pid))
        .collect();
    let shim_mean = shims.iter().sum::<u64>() as f64 / shims.len().max(1) as f64;
    let pss: Vec<u64> = shim_states(&dir.path().join("root"))
        .iter()
        .filter(|s| kubelet::runtime::manager::shim_alive(s))
        .filter_map(|s| pss_kb(s.shim_pid))
        .collect();
    let pss_mean = pss.iter().sum::<u64>() as f64 / pss.len().max(1) as f64;
    println!("memory: kubelet RSS {kubelet_rss:.1} MB; {} shims, mean RSS {shim_mean:.0} kB, mean PSS {pss_mean:.0} kB", shims.len());
    delete_all(&pods, &names).await?;
    println!(
        "kubelet-bench pods={N} p50_ms={p50:.1} p99_ms={p99:.1} burst_s={:.2} kubelet_rss_mb={kubelet_rss:.1} shim_rss_kb={shim_mean:.0}{}",
        burst.as_secs_f64(),
        if volumes { " volumes=1" } else { "" }
    );
    Ok(())
}
