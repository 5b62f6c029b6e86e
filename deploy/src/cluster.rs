//! `up`, `down` and `status`: the cluster's components, their state file
//! (WORKDIR/state.json) and health checks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::{kubeconfig, process};

/// One started process.
#[derive(Serialize, Deserialize, Debug)]
struct Component {
    name: String,
    /// The executable's file name, checked against /proc before signalling.
    bin: String,
    pid: u32,
    /// Loopback port of its health endpoint.
    port: u16,
    health: String,
}

#[derive(Serialize, Deserialize, Debug, Default)]
struct State {
    components: Vec<Component>,
    server: String,
}

fn state_path(workdir: &Path) -> PathBuf {
    workdir.join("state.json")
}

fn load(workdir: &Path) -> anyhow::Result<Option<State>> {
    match std::fs::read(state_path(workdir)) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b).context("reading state.json")?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn save(workdir: &Path, st: &State) -> anyhow::Result<()> {
    std::fs::write(state_path(workdir), serde_json::to_vec_pretty(st)?)?;
    Ok(())
}

fn wait_healthy(c: &Component, workdir: &Path, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if process::http_get(c.port, &c.health) == Some(200) {
            return Ok(());
        }
        if !process::alive(c.pid, &c.bin) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = workdir.join("logs").join(format!("{}.log", c.name));
    let tail = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: Vec<&str> = tail.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
    bail!("{} did not become healthy (log {}):\n{}", c.name, log.display(), tail.join("\n"))
}

pub fn up(workdir: &Path, apiserver_port: u16, bin_dir: Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(st) = load(workdir)? {
        if st.components.iter().any(|c| process::alive(c.pid, &c.bin)) {
            bail!("a cluster is already running in {} (run `ferrokube down` first, or use --workdir)", workdir.display());
        }
    }
    let etcd = process::which("etcd").context("etcd not found: install it with `apt-get install -y etcd-server`")?;
    let bin_dir = match bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?.parent().context("locating the binaries")?.to_path_buf(),
    };
    let apiserver = bin_dir.join("kube-apiserver");
    if !apiserver.is_file() {
        bail!("kube-apiserver not found in {}: build it with `cargo build --release` (or pass --bin-dir)", bin_dir.display());
    }
    let api_port = match apiserver_port {
        0 => process::free_port()?,
        p if process::port_free(p) => p,
        p => bail!("port {p} is in use: pick another with --apiserver-port, or stop what listens there"),
    };
    std::fs::create_dir_all(workdir.join("logs")).with_context(|| format!("creating {}", workdir.display()))?;
    let mut st = State { server: format!("http://127.0.0.1:{api_port}"), ..Default::default() };

    let result = (|| -> anyhow::Result<()> {
        let (client, peer) = (process::free_port()?, process::free_port()?);
        let etcd_url = format!("http://127.0.0.1:{client}");
        let data = workdir.join("etcd");
        let args: Vec<String> = vec![
            "--name".into(), "ferrokube".into(),
            "--data-dir".into(), data.display().to_string(),
            "--listen-client-urls".into(), etcd_url.clone(),
            "--advertise-client-urls".into(), etcd_url.clone(),
            "--listen-peer-urls".into(), format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls".into(), format!("http://127.0.0.1:{peer}"),
            "--initial-cluster".into(), format!("ferrokube=http://127.0.0.1:{peer}"),
            "--max-request-bytes".into(), "3145728".into(),
            "--log-level".into(), "warn".into(),
        ];
        let pid = process::spawn(&etcd, &args, &workdir.join("logs/etcd.log"))?;
        st.components.push(Component { name: "etcd".into(), bin: "etcd".into(), pid, port: client, health: "/health".into() });
        save(workdir, &st)?;
        wait_healthy(st.components.last().expect("pushed"), workdir, Duration::from_secs(30))?;

        let args: Vec<String> = vec![
            "--etcd-servers".into(), etcd_url,
            "--bind-address".into(), "127.0.0.1".into(),
            "--secure-port".into(), api_port.to_string(),
        ];
        let pid = process::spawn(&apiserver, &args, &workdir.join("logs/kube-apiserver.log"))?;
        st.components.push(Component { name: "kube-apiserver".into(), bin: "kube-apiserver".into(), pid, port: api_port, health: "/readyz".into() });
        save(workdir, &st)?;
        wait_healthy(st.components.last().expect("pushed"), workdir, Duration::from_secs(30))?;

        let server = format!("127.0.0.1:{api_port}");
        let port = process::free_port()?;
        let args: Vec<String> = vec![
            "--master".into(), server.clone(),
            "--bind-address".into(), "127.0.0.1".into(),
            "--secure-port".into(), port.to_string(),
        ];
        let pid = process::spawn(&bin_dir.join("kube-scheduler"), &args, &workdir.join("logs/kube-scheduler.log"))?;
        st.components.push(Component { name: "kube-scheduler".into(), bin: "kube-scheduler".into(), pid, port, health: "/healthz".into() });
        save(workdir, &st)?;
        wait_healthy(st.components.last().expect("pushed"), workdir, Duration::from_secs(30))?;

        let port = process::free_port()?;
        let args: Vec<String> = vec![
            "--master".into(), server.clone(),
            "--bind-address".into(), "127.0.0.1".into(),
            "--secure-port".into(), port.to_string(),
            // One local cluster: more than upstream's 20/30 so big ReplicaSets fill quickly.
            "--kube-api-qps".into(), "200".into(),
            "--kube-api-burst".into(), "400".into(),
        ];
        let pid = process::spawn(&bin_dir.join("kube-controller-manager"), &args, &workdir.join("logs/kube-controller-manager.log"))?;
        st.components.push(Component { name: "kube-controller-manager".into(), bin: "kube-controller-manager".into(), pid, port, health: "/healthz".into() });
        save(workdir, &st)?;
        wait_healthy(st.components.last().expect("pushed"), workdir, Duration::from_secs(30))?;

        // One node on this machine. Containers need root (namespaces, cgroups, mounts).
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("warning: not root: no node is started (the kubelet needs root); pods will stay Pending");
            return Ok(());
        }
        let port = process::free_port()?;
        let mut args = kubelet_dirs(workdir);
        args.extend([
            "--apiserver".into(), server,
            "--hostname-override".into(), NODE.into(),
            "--healthz-bind-address".into(), format!("127.0.0.1:{port}"),
            "--load-test-images".into(),
        ]);
        let pid = process::spawn(&bin_dir.join("kubelet"), &args, &workdir.join("logs/kubelet.log"))?;
        st.components.push(Component { name: "kubelet".into(), bin: "kubelet".into(), pid, port, health: "/healthz".into() });
        save(workdir, &st)?;
        wait_healthy(st.components.last().expect("pushed"), workdir, Duration::from_secs(60))?;
        Ok(())
    })();
    if let Err(e) = result {
        stop_all(&st);
        cleanup_node(workdir, &st);
        let _ = std::fs::remove_file(state_path(workdir));
        return Err(e);
    }
    let kc = workdir.join("kubeconfig");
    kubeconfig::write(&kc, &st.server)?;
    println!("ferrokube is up (workdir {})", workdir.display());
    for c in &st.components {
        println!("  {:<16} pid {:<8} 127.0.0.1:{}", c.name, c.pid, c.port);
    }
    println!();
    println!("Use it with ferrokube's kubectl:");
    println!("  export KUBECONFIG={}", kc.display());
    println!("  export PATH={}:$PATH", bin_dir.display());
    println!("  kubectl get nodes");
    println!("  kubectl run hello --image=busybox --restart=Never -- echo hello");
    println!();
    println!("Logs are in {}/logs. Stop it with: ferrokube down", workdir.display());
    Ok(())
}

/// The node `up` starts on this machine.
const NODE: &str = "ferrokube-node";

/// Where the kubelet keeps its state, logs and cgroups, all owned by this workdir.
fn kubelet_dirs(workdir: &Path) -> Vec<String> {
    vec![
        "--root-dir".into(), workdir.join("kubelet").display().to_string(),
        "--pod-logs-dir".into(), workdir.join("pod-logs").display().to_string(),
        "--cgroup-root".into(), format!("ferrokube-{}", cgroup_suffix(workdir)),
    ]
}

/// A cgroup name unique to this workdir, so two clusters never share one.
fn cgroup_suffix(workdir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    workdir.hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

/// Stops the node's containers and removes their mounts, cgroups and state.
fn cleanup_node(workdir: &Path, st: &State) {
    let Some(k) = st.components.iter().find(|c| c.name == "kubelet") else { return };
    let bin = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(&k.bin)));
    let Some(bin) = bin.filter(|b| b.is_file()) else { return };
    let mut args = kubelet_dirs(workdir);
    args.push("--cleanup".into());
    match std::process::Command::new(&bin).args(&args).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!("warning: kubelet --cleanup failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => eprintln!("warning: kubelet --cleanup: {e}"),
    }
}

fn stop_all(st: &State) {
    // Reverse order: clients before the servers they talk to.
    for c in st.components.iter().rev() {
        process::stop(c.pid, &c.bin, Duration::from_secs(10));
    }
}

pub fn down(workdir: &Path) -> anyhow::Result<()> {
    let Some(st) = load(workdir)? else {
        println!("no cluster in {}", workdir.display());
        return Ok(());
    };
    stop_all(&st);
    cleanup_node(workdir, &st);
    for c in &st.components {
        if process::alive(c.pid, &c.bin) {
            bail!("{} (pid {}) did not stop", c.name, c.pid);
        }
    }
    for sub in ["etcd", "logs", "kubeconfig", "state.json", "kubelet", "pod-logs"] {
        let p = workdir.join(sub);
        if p.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    let _ = std::fs::remove_dir(workdir);
    println!("ferrokube is down ({} stopped, {} removed)", st.components.len(), workdir.display());
    Ok(())
}

pub fn status(workdir: &Path) -> anyhow::Result<()> {
    let Some(st) = load(workdir)? else {
        println!("no cluster in {} (start one with `ferrokube up`)", workdir.display());
        std::process::exit(1);
    };
    println!("{:<16} {:<8} {:<8} {}", "COMPONENT", "PID", "RUNNING", "HEALTH");
    let mut ok = true;
    for c in &st.components {
        let running = process::alive(c.pid, &c.bin);
        let health = match process::http_get(c.port, &c.health) {
            Some(200) => "ok".to_string(),
            Some(code) => format!("HTTP {code}"),
            None => "unreachable".to_string(),
        };
        ok &= running && health == "ok";
        println!("{:<16} {:<8} {:<8} {}", c.name, c.pid, if running { "yes" } else { "no" }, health);
    }
    println!("server: {}", st.server);
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
