//! Wiring of a running kubelet: images, node registration, the pod informer
//! feeding the pod workers, static pods, heartbeats, the HTTP endpoint, shutdown.

use crate::config::Flags;
use crate::context::Kubelet;
use crate::images::store::ImageStore;
use crate::node;
use crate::pod_workers::{is_static, PodWorkers};
use crate::runtime::manager::Runtime;
use crate::static_pods;
use anyhow::Context;
use client::informer::{Informer, InformerConfig, InformerEvent};
use client::{Api, CancellationToken};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Load images as the flags say.
pub fn load_images(flags: &Flags, store: &ImageStore) -> anyhow::Result<()> {
    if flags.load_test_images {
        let dir = flags.root_dir.join("test-images");
        for a in crate::images::testimages::build(&dir).context("building test images")? {
            let imported = store.import_archive(&a).with_context(|| format!("importing {}", a.display()))?;
            tracing::info!(images = ?imported.iter().map(|i| &i.name).collect::<Vec<_>>(), "loaded test images");
        }
    }
    if let Some(dir) = &flags.image_dir {
        for (path, r) in store.import_dir(dir) {
            match r {
                Ok(imgs) => tracing::info!(archive = %path.display(), images = ?imgs.iter().map(|i| &i.name).collect::<Vec<_>>(), "imported"),
                Err(e) => tracing::warn!(archive = %path.display(), error = %e, "import failed"),
            }
        }
    }
    Ok(())
}

/// Stop and remove every pod this kubelet's root dir holds (no apiserver needed).
pub async fn cleanup(flags: &Flags) -> anyhow::Result<()> {
    let images = Arc::new(ImageStore::open(&flags.root_dir.join("images"))?);
    let runtime = Runtime { root: flags.root_dir.clone(), logs: flags.pod_logs_dir.clone(), shim: flags.shim(), images };
    let uids = runtime.pods_on_disk();
    let jobs = uids.iter().map(|uid| {
        let pod: Option<Pod> = std::fs::read(runtime.pod_dir(uid).join("pod.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let cg = pod.as_ref().map(|p| crate::cgroups::pod_cgroup(&flags.cgroup_root, crate::qos::pod_qos(p), uid));
        let runtime = &runtime;
        async move { runtime.remove_pod(uid, Duration::ZERO, cg.as_deref()).await }
    });
    futures::future::join_all(jobs).await;
    crate::cgroups::remove_root_if_empty(&flags.cgroup_root);
    let _ = std::fs::remove_dir_all(flags.root_dir.join("libcontainer"));
    // The monitor executable kubelet-shim wrote out (runtime::shim::install_monitor).
    let _ = std::fs::remove_dir_all(flags.root_dir.join("bin"));
    tracing::info!(pods = uids.len(), "cleaned up");
    Ok(())
}

/// The pod network's settings from the flags.
fn network_settings(flags: &Flags, node_name: &str) -> anyhow::Result<crate::network::Settings> {
    let pod_cidr = flags.pod_cidr.as_deref().filter(|c| !c.is_empty()).map(|c| c.parse()).transpose().context("--pod-cidr")?;
    Ok(crate::network::Settings {
        root: flags.root_dir.join("network"),
        node_name: node_name.to_string(),
        pod_cidr,
        non_masquerade: flags.non_masquerade_cidr.parse().context("--non-masquerade-cidr")?,
        dns: crate::network::dns::DnsSettings {
            cluster_dns: flags.cluster_dns.iter().filter(|s| !s.is_empty()).cloned().collect(),
            cluster_domain: flags.cluster_domain.trim_end_matches('.').to_string(),
            host_resolv: std::fs::read_to_string(&flags.resolv_conf).unwrap_or_default(),
        },
    })
}

/// Run the kubelet until `stop` is cancelled. Containers keep running afterwards.
pub async fn run(flags: Flags, stop: CancellationToken) -> anyhow::Result<()> {
    let node_name = flags.node_name();
    std::fs::create_dir_all(&flags.root_dir)?;
    std::fs::create_dir_all(&flags.pod_logs_dir)?;
    let images = Arc::new(ImageStore::open(&flags.root_dir.join("images"))?);
    load_images(&flags, &images)?;

    let client = loop {
        match client::Client::connect(&flags.apiserver).await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(error = %e, apiserver = %flags.apiserver, "apiserver not reachable yet");
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let network = crate::network::PodNetwork::new(network_settings(&flags, &node_name)?, crate::network::in_node_netns());
    let m = node::machine(&flags.root_dir);
    let oom_floor = std::fs::read_to_string("/proc/self/oom_score_adj").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let kl = Arc::new(Kubelet {
        node_name: node_name.clone(),
        host_ip: flags.node_ip.clone(),
        client: client.clone(),
        runtime: Runtime {
            root: flags.root_dir.clone(),
            logs: flags.pod_logs_dir.clone(),
            shim: flags.shim(),
            images: images.clone(),
        },
        images: images.clone(),
        cgroup_root: flags.cgroup_root.clone(),
        memory_capacity: m.memory,
        oom_floor,
        backoff: Default::default(),
        metrics: Default::default(),
        events: crate::events::Events(client::events::EventRecorder::new(client.clone(), "kubelet", Some(&node_name))),
        objects: crate::objects::Objects::new(client.clone()),
        allocatable: serde_json::from_value(node::resources(&m, &flags).1).unwrap_or_default(),
        probes: Default::default(),
        network: network.clone(),
    });
    tokio::spawn(network.clone().run(client.clone(), stop.clone()));

    let listener = tokio::net::TcpListener::bind(&flags.healthz_bind_address).await.context("binding healthz address")?;
    let local = listener.local_addr()?;
    std::fs::write(flags.root_dir.join("healthz-address"), local.to_string())?;
    tokio::spawn(crate::server::serve(listener, kl.metrics.clone(), stop.clone()));
    let token = match &flags.streaming_token_file {
        Some(f) => Some(std::fs::read_to_string(f).with_context(|| format!("reading --streaming-token-file {}", f.display()))?),
        None => None,
    };
    let api_listener = tokio::net::TcpListener::bind((flags.address, flags.port)).await.context("binding the kubelet API address")?;
    let api_addr = api_listener.local_addr()?;
    std::fs::write(flags.root_dir.join("kubelet-address"), api_addr.to_string())?;
    tokio::spawn(crate::server::serve_streaming(api_listener, crate::streaming::StreamingService::new(kl.clone(), token), stop.clone()));

    let (capacity, allocatable) = node::resources(&m, &flags);
    let hard = if flags.eviction_hard.is_empty() {
        crate::eviction::DEFAULT_HARD.iter().map(|s| s.to_string()).collect()
    } else {
        flags.eviction_hard.clone()
    };
    let ns = node::NodeStatus {
        capacity,
        allocatable,
        kubelet_port: api_addr.port(),
        root_dir: flags.root_dir.clone(),
        image_dir: flags.root_dir.join("images"),
        thresholds: crate::eviction::parse_thresholds(&hard).map_err(anyhow::Error::msg)?,
    };
    loop {
        match node::register(&kl, &flags, &ns).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "node registration failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    tracing::info!(node = %node_name, "node registered");
    let every = Duration::from_secs(flags.node_status_update_frequency.max(1));
    tokio::spawn(node::heartbeat(kl.clone(), ns, every, stop.clone()));

    let workers = PodWorkers::new(kl.clone());
    let informer = Informer::new(
        Api::<Pod>::all(client.clone()),
        InformerConfig::default().fields(&format!("spec.nodeName={node_name}")),
    );
    let mut events = informer.subscribe();
    let inf = informer.clone();
    let inf_task = tokio::spawn(async move { inf.run().await });

    if let Some(dir) = flags.pod_manifest_path.clone() {
        tokio::spawn(static_pods::run(dir, node_name.clone(), client.clone(), workers.clone(), Duration::from_secs(5), stop.clone()));
    }

    // After the first list: pods on disk that the apiserver no longer has were
    // deleted while we were down: clean them up.
    let store = informer.store();
    let cleanup_kl = kl.clone();
    let cleanup_workers = workers.clone();
    let static_dir = flags.pod_manifest_path.clone();
    let node_for_cleanup = node_name.clone();
    tokio::spawn(async move {
        store.wait_synced().await;
        let mut live: HashSet<String> = store.list().iter().filter_map(|p| p.metadata.uid.clone()).collect();
        if let Some(d) = &static_dir {
            live.extend(static_pods::read_manifests(d, &node_for_cleanup).iter().filter_map(|p| p.metadata.uid.clone()));
        }
        live.extend(cleanup_workers.active());
        for uid in cleanup_kl.runtime.pods_on_disk() {
            if live.contains(&uid) {
                continue;
            }
            let pod: Option<Pod> = std::fs::read(cleanup_kl.runtime.pod_dir(&uid).join("pod.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
            if pod.as_ref().map(is_static).unwrap_or(false) && static_dir.is_some() {
                continue;
            }
            let cg = pod.as_ref().map(|p| crate::cgroups::pod_cgroup(&cleanup_kl.cgroup_root, crate::qos::pod_qos(p), &uid));
            tracing::info!(%uid, "removing pod deleted while the kubelet was down");
            cleanup_kl.runtime.remove_pod(&uid, Duration::from_secs(2), cg.as_deref()).await;
        }
        // Addresses (and veths, hostPort rules) of pods that are gone.
        cleanup_kl.network.collect_garbage(&live).await;
    });

    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    InformerEvent::Added(p) | InformerEvent::Updated { new: p, .. } => {
                        if !static_pods::is_mirror(&p) {
                            workers.update(p);
                        }
                    }
                    InformerEvent::Deleted(p) => {
                        if !static_pods::is_mirror(&p) {
                            if let Some(uid) = &p.metadata.uid {
                                workers.gone(uid);
                            }
                        }
                    }
                }
            }
        }
    }
    inf_task.abort();
    // Write the events still queued, unless the apiserver is gone.
    let _ = tokio::time::timeout(Duration::from_secs(2), kl.events.0.flush()).await;
    tracing::info!("kubelet stopped; containers keep running");
    Ok(())
}
