//! Hollow nodes, as upstream's kubemark: in-process node agents that do
//! everything a kubelet shows the API (a registered Node with capacity,
//! allocatable and a Ready condition, a Lease heartbeat in kube-node-lease,
//! pods bound to them reported Running and Ready, pods being deleted
//! finalized) without running containers. Controller and scheduler
//! benchmarks use them to stand up many nodes on one machine.
//!
//! One [`HollowNodes`] serves a whole fleet from one pod informer, so a
//! thousand nodes cost a thousand Leases, not a thousand watches.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use client::informer::{Informer, InformerConfig, InformerEvent};
use client::{Api, CancellationToken, Client, DeleteParams, Patch, PostParams};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{json, Value};

/// What every node of the fleet reports.
#[derive(Debug, Clone)]
pub struct HollowConfig {
    pub cpu: String,
    pub memory: String,
    pub pods: String,
    /// Lease renewal period (upstream's kubelet: 10 s of a 40 s lease).
    pub lease_renew: Duration,
    /// Node status (Ready heartbeat) period when nothing changed
    /// (upstream's nodeStatusReportFrequency: 5 min).
    pub status_report: Duration,
}

impl Default for HollowConfig {
    fn default() -> Self {
        HollowConfig {
            cpu: "4".into(),
            memory: "32Gi".into(),
            pods: "110".into(),
            lease_renew: Duration::from_secs(10),
            status_report: Duration::from_secs(300),
        }
    }
}

const LEASE_NS: &str = "kube-node-lease";
const LEASE_SECONDS: i32 = 40;

/// A running fleet of hollow nodes. Dropping it stops the agents (the Node
/// objects stay, and go NotReady once their Leases expire, as a dead kubelet's).
pub struct HollowNodes {
    names: Vec<String>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Per node: its index (for addresses) and the next pod address.
struct NodeState {
    index: u32,
    next_ip: AtomicU32,
}

impl HollowNodes {
    /// Registers `names` as Nodes (an existing Node keeps its spec; its status
    /// is rewritten) with Leases, and starts their heartbeats and pod handling.
    pub async fn start(client: Client, names: Vec<String>, config: HollowConfig) -> Result<HollowNodes, client::Error> {
        let stop = CancellationToken::new();
        let mut nodes = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            register(&client, name, i as u32, &config).await?;
            renew_lease(&client, name).await?;
            nodes.insert(name.clone(), NodeState { index: i as u32, next_ip: AtomicU32::new(2) });
        }
        let nodes = Arc::new(nodes);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(heartbeats(client.clone(), names.clone(), config.clone(), stop.clone())));

        let informer = Informer::new(Api::<Pod>::all(client.clone()), InformerConfig::default());
        let mut events = informer.subscribe();
        let runner = informer.clone();
        let run_stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = runner.run() => {}
                _ = run_stop.cancelled() => {}
            }
        }));
        let pod_stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let ev = tokio::select! {
                    ev = events.recv() => match ev { Some(ev) => ev, None => return },
                    _ = pod_stop.cancelled() => return,
                };
                let pod = match &ev {
                    InformerEvent::Deleted(_) => continue,
                    _ => ev.object().clone(),
                };
                let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| nodes.contains_key(n)) else {
                    continue;
                };
                // One task per pod update: a slow write for one pod must not hold up the fleet.
                let (client, nodes) = (client.clone(), nodes.clone());
                tokio::spawn(async move {
                    if let Err(e) = sync_pod(&client, &nodes[&node], &pod).await {
                        // Conflicts and NotFound resolve themselves: the informer delivers the newer state.
                        tracing::debug!(pod = ?pod.metadata.name, error = %e, "hollow node: pod sync");
                    }
                });
            }
        }));
        Ok(HollowNodes { names, stop, tasks })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Stops the agents and waits for them.
    pub async fn stop(mut self) {
        self.stop.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for HollowNodes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Node `index`'s address: 10.64.0.0/10 split per node, so a fleet of up to
/// 16k nodes gets distinct addresses.
fn node_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + (index << 8) + 1)
}

/// The next pod address in the node's /24 (2..=254, then wraps).
fn pod_ip(node: &NodeState) -> Ipv4Addr {
    let n = node.next_ip.fetch_add(1, Ordering::Relaxed);
    Ipv4Addr::from(u32::from(node_ip(node.index)) - 1 + 2 + (n - 2) % 253)
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn node_status(name: &str, index: u32, config: &HollowConfig) -> Value {
    let resources = json!({"cpu": config.cpu, "memory": config.memory, "pods": config.pods, "ephemeral-storage": "100Gi"});
    let t = now();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": t, "lastTransitionTime": t})
    };
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": node_ip(index).to_string()}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "hollow", "osImage": "hollow",
            "containerRuntimeVersion": "hollow://0", "kubeletVersion": "v1.33.0-hollow", "kubeProxyVersion": "",
            "operatingSystem": "linux", "architecture": "amd64",
        },
    })
}

async fn register(client: &Client, name: &str, index: u32, config: &HollowConfig) -> Result<(), client::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        }},
    }))
    .expect("node json");
    match api.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {}
        Err(e) => return Err(e),
    }
    // Status through its subresource: create ignores it, as upstream's.
    api.patch_status(name, &PostParams::default(), &Patch::Merge(json!({"status": node_status(name, index, config)}))).await?;
    Ok(())
}

/// Creates or renews the node's Lease (holder = node, 40 s), as the kubelet.
async fn renew_lease(client: &Client, name: &str) -> Result<(), client::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NS);
    let renew = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    if let Some(mut lease) = api.get_opt(name).await? {
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = Some(name.to_string());
        spec.lease_duration_seconds = Some(LEASE_SECONDS);
        spec.renew_time = serde_json::from_value(json!(renew)).ok();
        api.replace(&lease).await?;
        return Ok(());
    }
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": LEASE_NS},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": renew},
    }))
    .expect("lease json");
    api.create(&PostParams::default(), &lease).await?;
    Ok(())
}

async fn heartbeats(client: Client, names: Vec<String>, config: HollowConfig, stop: CancellationToken) {
    let mut lease_tick = tokio::time::interval(config.lease_renew);
    let mut status_tick = tokio::time::interval(config.status_report);
    lease_tick.tick().await;
    status_tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = lease_tick.tick() => {
                for n in &names {
                    if let Err(e) = renew_lease(&client, n).await {
                        tracing::warn!(node = %n, error = %e, "hollow node: lease renewal failed");
                    }
                }
            }
            _ = status_tick.tick() => {
                let api: Api<Node> = Api::all(client.clone());
                for (i, n) in names.iter().enumerate() {
                    let status = node_status(n, i as u32, &config);
                    if let Err(e) = api.patch_status(n, &PostParams::default(), &Patch::Merge(json!({"status": status}))).await {
                        tracing::warn!(node = %n, error = %e, "hollow node: status update failed");
                    }
                }
            }
        }
    }
}

fn is_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status.and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A pod bound to this node: being deleted -> finalize it (grace 0, as the
/// kubelet once its containers stopped); otherwise report it Running and Ready.
async fn sync_pod(client: &Client, node: &NodeState, pod: &Pod) -> Result<(), client::Error> {
    let (Some(name), Some(ns)) = (pod.metadata.name.as_deref(), pod.metadata.namespace.as_deref()) else {
        return Ok(());
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    if pod.metadata.deletion_timestamp.is_some() {
        let dp = DeleteParams { precondition_uid: pod.metadata.uid.clone(), ..DeleteParams::immediate() };
        return match api.delete(name, &dp).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        };
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded") | Some("Failed")) || is_ready(pod) {
        return Ok(());
    }
    let spec = pod.spec.as_ref();
    let t = now();
    let running = |c: &k8s_openapi::api::core::v1::Container| {
        json!({"name": c.name, "image": c.image, "imageID": "", "containerID": format!("hollow://{}-{}", pod.metadata.uid.as_deref().unwrap_or(name), c.name),
               "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": t}}})
    };
    let completed = |c: &k8s_openapi::api::core::v1::Container| {
        json!({"name": c.name, "image": c.image, "imageID": "", "ready": true, "restartCount": 0,
               "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}})
    };
    let containers: Vec<Value> = spec.map(|s| s.containers.iter().map(running).collect()).unwrap_or_default();
    let inits: Vec<Value> = spec.and_then(|s| s.init_containers.as_ref()).map(|cs| cs.iter().map(completed).collect()).unwrap_or_default();
    let condition = |type_: &str| json!({"type": type_, "status": "True", "lastProbeTime": null, "lastTransitionTime": t});
    let host_ip = node_ip(node.index).to_string();
    // Keep an address once given; informer redeliveries must not move the pod.
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_else(|| pod_ip(node).to_string());
    let status = json!({
        "phase": "Running",
        "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("Ready"),
                       condition("ContainersReady"), condition("PodScheduled")],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": pod.status.as_ref().and_then(|s| s.start_time.clone()).map(|s| json!(s)).unwrap_or(json!(t)),
        "containerStatuses": containers,
        "initContainerStatuses": inits,
    });
    api.patch_status(name, &PostParams::default(), &Patch::Merge(json!({"status": status}))).await?;
    Ok(())
}

