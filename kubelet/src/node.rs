//! The Node object: registration, status (capacity, allocatable, conditions,
//! addresses) every few seconds, and the node Lease in kube-node-lease.

use crate::config::{pairs, Flags};
use crate::context::Kubelet;
use api::Quantity;
use client::{Api, Patch, PostParams};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct Machine {
    pub cpus: i64,
    pub memory: i64,
    pub storage: i64,
}

pub fn machine(root_dir: &std::path::Path) -> Machine {
    let cpus = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .unwrap_or(0)
        * 1024;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let p = std::ffi::CString::new(root_dir.as_os_str().as_encoded_bytes()).unwrap();
    let storage = if unsafe { libc::statvfs(p.as_ptr(), &mut st) } == 0 { (st.f_blocks as i64) * (st.f_frsize as i64) } else { 0 };
    Machine { cpus, memory, storage }
}

fn cpu_string(milli: i64) -> String {
    if milli % 1000 == 0 { (milli / 1000).to_string() } else { format!("{milli}m") }
}

/// Capacity and allocatable (capacity minus kube/system reserved and upstream's
/// default hard eviction thresholds: memory.available<100Mi, nodefs.available<10%).
pub fn resources(m: &Machine, flags: &Flags) -> (Value, Value) {
    let mut reserved: BTreeMap<String, i64> = BTreeMap::new();
    for (k, v) in pairs(&flags.kube_reserved).into_iter().chain(pairs(&flags.system_reserved)) {
        let n = if k == "cpu" { Quantity::parse(&v).ok().map(|q| q.milli_value()) } else { Quantity::parse(&v).ok().map(|q| q.value()) }.unwrap_or(0);
        *reserved.entry(k).or_default() += n;
    }
    let r = |k: &str| reserved.get(k).copied().unwrap_or(0);
    let capacity = json!({
        "cpu": m.cpus.to_string(),
        "memory": format!("{}Ki", m.memory / 1024),
        "ephemeral-storage": format!("{}Ki", m.storage / 1024),
        "pods": "110",
    });
    let alloc_mem = (m.memory - r("memory") - (100 << 20)).max(0);
    let alloc_storage = (m.storage - r("ephemeral-storage") - m.storage / 10).max(0);
    let allocatable = json!({
        "cpu": cpu_string((m.cpus * 1000 - r("cpu")).max(0)),
        "memory": format!("{}Ki", alloc_mem / 1024),
        "ephemeral-storage": alloc_storage.to_string(),
        "pods": "110",
    });
    (capacity, allocatable)
}

fn taints(flags: &Flags) -> Vec<Value> {
    flags
        .register_with_taints
        .iter()
        .filter_map(|t| {
            let (kv, effect) = t.rsplit_once(':')?;
            let (k, v) = kv.split_once('=').map(|(k, v)| (k, Some(v))).unwrap_or((kv, None));
            Some(json!({"key": k, "value": v, "effect": effect}))
        })
        .collect()
}

fn read_trim(p: &str) -> String {
    std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn os_image() -> String {
    read_trim("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

pub fn labels(node: &str, flags: &Flags) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("kubernetes.io/hostname".to_string(), node.to_string());
    l.insert("kubernetes.io/os".to_string(), "linux".to_string());
    l.insert("kubernetes.io/arch".to_string(), host_arch());
    l.insert("beta.kubernetes.io/os".to_string(), "linux".to_string());
    l.insert("beta.kubernetes.io/arch".to_string(), host_arch());
    l.extend(pairs(&flags.node_labels));
    l
}

pub struct NodeStatus {
    pub capacity: Value,
    pub allocatable: Value,
    /// The kubelet API's port (daemonEndpoints.kubeletEndpoint).
    pub kubelet_port: u16,
    /// Where the eviction signals are measured: nodefs, imagefs.
    pub root_dir: std::path::PathBuf,
    pub image_dir: std::path::PathBuf,
    pub thresholds: BTreeMap<String, crate::eviction::Threshold>,
}

/// The host's architecture as Go names it (GOARCH), from uname.
pub fn host_arch() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::env::consts::ARCH.to_string();
    }
    let machine = unsafe { std::ffi::CStr::from_ptr(u.machine.as_ptr()) }.to_string_lossy().into_owned();
    match machine.as_str() {
        "x86_64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i386" | "i686" => "386",
        m if m.starts_with("armv") => "arm",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => return other.to_string(),
    }
    .to_string()
}

/// The host's operating system as Go names it (GOOS), from uname.
pub fn host_os() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::env::consts::OS.to_string();
    }
    unsafe { std::ffi::CStr::from_ptr(u.sysname.as_ptr()) }.to_string_lossy().to_lowercase()
}

fn now_secs() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn status_body(kl: &Kubelet, ns: &NodeStatus, prev: Option<&Value>) -> Value {
    let now = now_secs();
    let cond = |ty: &str, status: &str, reason: &str, message: &str| {
        let since = prev
            .and_then(|p| p["conditions"].as_array())
            .and_then(|cs| cs.iter().find(|c| c["type"] == ty && c["status"] == status))
            .map(|c| c["lastTransitionTime"].clone())
            .unwrap_or(json!(now));
        json!({"type": ty, "status": status, "reason": reason, "message": message, "lastHeartbeatTime": now, "lastTransitionTime": since})
    };
    let images: Vec<Value> = kl
        .images
        .list()
        .iter()
        .map(|i| json!({"names": [i.image_id(), i.name], "sizeBytes": kl.images.image_size(i)}))
        .collect();
    let p = crate::eviction::pressure(&crate::eviction::measure(&ns.root_dir, &ns.image_dir), &ns.thresholds);
    let mut conditions = Vec::new();
    // Upstream's reasons and messages; a condition whose signals were not measured is left out.
    let pressure = [
        (p.memory, "MemoryPressure", ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"), ("KubeletHasSufficientMemory", "kubelet has sufficient memory available")),
        (p.disk, "DiskPressure", ("KubeletHasDiskPressure", "kubelet has disk pressure"), ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")),
        (p.pid, "PIDPressure", ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"), ("KubeletHasSufficientPID", "kubelet has sufficient PID available")),
    ];
    for (v, ty, yes, no) in pressure {
        match v {
            Some(true) => conditions.push(cond(ty, "True", yes.0, yes.1)),
            Some(false) => conditions.push(cond(ty, "False", no.0, no.1)),
            None => {}
        }
    }
    conditions.push(cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"));
    json!({
        "capacity": ns.capacity,
        "allocatable": ns.allocatable,
        "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": kl.host_ip}, {"type": "Hostname", "address": kl.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": ns.kubelet_port}},
        "nodeInfo": {
            "machineID": read_trim("/etc/machine-id"),
            "systemUUID": read_trim("/sys/class/dmi/id/product_uuid"),
            "bootID": read_trim("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": read_trim("/proc/sys/kernel/osrelease"),
            "osImage": os_image(),
            "containerRuntimeVersion": "libcontainer://0.7.0",
            "kubeletVersion": "v1.33.0-ferrokube",
            "kubeProxyVersion": "",
            "operatingSystem": host_os(),
            "architecture": host_arch(),
        },
        "images": images,
    })
}

/// Create the Node (or adopt an existing one), then post its status.
pub async fn register(kl: &Kubelet, flags: &Flags, ns: &NodeStatus) -> Result<(), client::Error> {
    let api: Api<Node> = Api::all(kl.client.clone());
    if api.get_opt(&kl.node_name).await?.is_none() {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": kl.node_name, "labels": labels(&kl.node_name, flags)},
            "spec": {"taints": taints(flags)},
        }))
        .expect("node object");
        match api.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e),
        }
    } else {
        // Re-registration keeps the node but reconciles our labels.
        let patch = Patch::Merge(json!({"metadata": {"labels": labels(&kl.node_name, flags)}}));
        api.patch(&kl.node_name, &PostParams::default(), &patch).await?;
    }
    post_status(kl, ns, None).await.map(|_| ())
}

pub async fn post_status(kl: &Kubelet, ns: &NodeStatus, prev: Option<&Value>) -> Result<Value, client::Error> {
    let api: Api<Node> = Api::all(kl.client.clone());
    let body = status_body(kl, ns, prev);
    api.patch_status(&kl.node_name, &PostParams::default(), &Patch::Merge(json!({"status": body}))).await?;
    Ok(body)
}

/// Create or renew the node's Lease (40 s duration, owned by the Node).
pub async fn renew_lease(kl: &Kubelet) -> Result<(), client::Error> {
    let api: Api<Lease> = Api::namespaced(kl.client.clone(), "kube-node-lease");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    match api.get_opt(&kl.node_name).await? {
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(Default::default);
            spec.holder_identity = Some(kl.node_name.clone());
            spec.lease_duration_seconds = Some(40);
            spec.renew_time = serde_json::from_value(json!(now)).ok();
            api.replace(&lease).await?;
        }
        None => {
            let node_uid = Api::<Node>::all(kl.client.clone()).get(&kl.node_name).await?.metadata.uid.unwrap_or_default();
            let lease: Lease = serde_json::from_value(json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": kl.node_name, "namespace": "kube-node-lease",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": kl.node_name, "uid": node_uid}]},
                "spec": {"holderIdentity": kl.node_name, "leaseDurationSeconds": 40, "renewTime": now},
            }))
            .expect("lease object");
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => {}
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Lease renewal and node status every `every`, until cancelled.
pub async fn heartbeat(kl: std::sync::Arc<Kubelet>, ns: NodeStatus, every: std::time::Duration, stop: client::CancellationToken) {
    let mut prev: Option<Value> = None;
    loop {
        if let Err(e) = renew_lease(&kl).await {
            tracing::warn!(error = %e, "lease renewal failed");
        }
        match post_status(&kl, &ns, prev.as_ref()).await {
            Ok(v) => prev = Some(v),
            Err(e) => tracing::warn!(error = %e, "node status update failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
