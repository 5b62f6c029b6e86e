//! `status` and `logs`: looking at a running cluster.

use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::state::{self, State};
use crate::{cluster, netns, process};

/// One line per component: name, node, PID, running, health, where it listens.
/// Health endpoints inside namespaces are checked from a thread that enters them.
pub fn print_components(st: &State) -> bool {
    println!("{:<24} {:<6} {:<8} {:<8} {:<12} {}", "COMPONENT", "NODE", "PID", "RUNNING", "HEALTH", "LISTENS (NETNS)");
    let mut ok = true;
    for c in &st.components {
        let running = process::alive(c.pid, &c.bin);
        let health = match process::http_get(c.netns.as_deref(), c.addr, &c.health) {
            Some(200) => "ok".to_string(),
            Some(code) => format!("HTTP {code}"),
            None => "unreachable".to_string(),
        };
        ok &= running && health == "ok";
        let node = c.node.map(|n| format!("node{n}")).unwrap_or_else(|| "-".into());
        let ns = c.netns.as_deref().unwrap_or("root");
        println!("{:<24} {:<6} {:<8} {:<8} {:<12} {} ({ns})", c.name, node, c.pid, if running { "yes" } else { "no" }, health, c.addr);
    }
    ok
}

pub fn status(workdir: &Path) -> anyhow::Result<bool> {
    let workdir = &workdir.canonicalize().unwrap_or_else(|_| workdir.to_path_buf());
    let Some(st) = state::load(workdir)? else {
        println!("no cluster in {} (start one with `ferrokube up`)", workdir.display());
        return Ok(false);
    };
    let mut ok = print_components(&st);
    let user = st.server.trim_start_matches("http://");
    let served = user.parse().ok().and_then(|a| process::http_get(None, a, "/readyz")) == Some(200);
    ok &= served;
    println!();
    println!("server: {} ({}), cluster network {}/{} in netns {}-net", st.server, if served { "ready" } else { "NOT ready" }, netns::GATEWAY, netns::PREFIX, st.netns_prefix);
    println!();
    ok &= print_nodes(&st);
    Ok(ok)
}

/// The nodes as the API reports them, beside the kubelet that runs each.
fn print_nodes(st: &State) -> bool {
    use client::{Api, ListParams};
    use k8s_openapi::api::core::v1::Node;
    let addr = st.server.trim_start_matches("http://").to_string();
    let listed = tokio::runtime::Builder::new_current_thread().enable_all().build().ok().and_then(|rt| {
        rt.block_on(async {
            let c = tokio::time::timeout(Duration::from_secs(3), client::Client::connect(&addr)).await.ok()?.ok()?;
            Api::<Node>::all(c).list(&ListParams::default()).await.ok()
        })
    });
    println!("{:<20} {:<10} {:<14} {:<16} {:<8} {}", "NODE", "STATUS", "INTERNAL-IP", "POD-CIDR", "KUBELET", "NETNS");
    let mut ok = listed.is_some();
    for n in 1..=st.nodes {
        let name = state::node_name(n);
        let node = listed.as_ref().and_then(|l| l.items.iter().find(|x| x.metadata.name.as_deref() == Some(&name)));
        let status = match node {
            Some(x) if cluster::node_ready(x) => "Ready",
            Some(_) => "NotReady",
            None => "missing",
        };
        ok &= status == "Ready";
        let cidr = node.and_then(|x| x.spec.as_ref()?.pod_cidr.clone()).unwrap_or_else(|| "<none>".into());
        let kubelet = st.components.iter().find(|c| c.name == "kubelet" && c.node == Some(n)).map(|c| c.pid.to_string()).unwrap_or_default();
        println!("{:<20} {:<10} {:<14} {:<16} {:<8} {}-node{n}", name, status, netns::node_ip(n), cidr, kubelet, st.netns_prefix);
    }
    if listed.is_none() {
        println!("(the apiserver did not answer: nodes unknown)");
    }
    ok
}

/// Prints a component's log; with `follow`, keeps printing what is appended.
pub fn logs(workdir: &Path, component: &str, node: Option<u32>, follow: bool) -> anyhow::Result<()> {
    let workdir = &workdir.canonicalize().unwrap_or_else(|_| workdir.to_path_buf());
    let st = state::load(workdir)?.context(format!("no cluster in {} (start one with `ferrokube up`)", workdir.display()))?;
    let per_node = ["kubelet", "kube-proxy"].contains(&component);
    let node = match (per_node, node) {
        (true, Some(n)) if n >= 1 && n <= st.nodes => Some(n),
        (true, Some(n)) => bail!("--node {n}: this cluster has nodes 1 to {}", st.nodes),
        (true, None) if st.nodes == 1 => Some(1),
        (true, None) => bail!("{component} runs on every node: pick one with --node 1..{}", st.nodes),
        (false, Some(_)) => bail!("{component} is not a node component: drop --node"),
        (false, None) => None,
    };
    let path = state::log_path(workdir, component, node);
    let mut f = std::fs::File::open(&path).map_err(|_| {
        let known: Vec<String> = st.components.iter().filter(|c| c.node.is_none() || c.node == Some(1)).map(|c| c.name.clone()).collect();
        anyhow::anyhow!("no log for {component} at {}: components are {}", path.display(), known.join(", "))
    })?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut f, &mut out)?;
    while follow {
        out.flush()?;
        std::thread::sleep(Duration::from_millis(200));
        let pos = f.stream_position()?;
        if f.metadata()?.len() < pos {
            f.rewind()?; // truncated: start over
        }
        let mut buf = vec![];
        f.read_to_end(&mut buf)?;
        out.write_all(&buf)?;
    }
    Ok(())
}
