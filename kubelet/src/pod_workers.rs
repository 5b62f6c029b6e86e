//! One worker task per pod (keyed by UID), level-triggered: whatever woke it (a
//! new spec, a container exit seen through the shim's pidfd, a back-off timer),
//! it compares the desired pod with what runs and acts, then reports status.

use crate::context::Kubelet;
use api::image::Reference;
use crate::images::store::ImageRecord;
use crate::qos::{self, Qos};
use crate::runtime::manager::{wait_exit, wait_shim_exit, Attempt, ContainerRun, PodContext, Sandbox};
use crate::runtime::shim_state::{SandboxState, ShimStatus};
use crate::runtime::spec::Resources;
use crate::status::{self, ContainerView, Waiting};
use crate::probes::actions::NetTarget;
use client::{Api, DeleteParams, Patch, PostParams};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// Upstream's status message (and event) for activeDeadlineSeconds.
const DEADLINE_MESSAGE: &str = "Pod was active on the node longer than the specified deadline";

/// Annotation marking pods read from `--pod-manifest-path`.
pub const CONFIG_SOURCE: &str = "kubernetes.io/config.source";

#[derive(Clone)]
enum Update {
    Pod(Arc<Pod>),
    /// The pod is gone from its source: stop and clean up.
    Gone,
}

pub struct PodWorkers {
    kl: Arc<Kubelet>,
    workers: Mutex<HashMap<String, watch::Sender<Update>>>,
}

impl PodWorkers {
    pub fn new(kl: Arc<Kubelet>) -> Arc<PodWorkers> {
        Arc::new(PodWorkers { kl, workers: Mutex::new(HashMap::new()) })
    }

    /// Deliver the latest version of a pod (starting its worker if needed).
    pub fn update(self: &Arc<Self>, pod: Arc<Pod>) {
        let Some(uid) = pod.metadata.uid.clone() else { return };
        let mut m = self.workers.lock();
        if let Some(tx) = m.get(&uid) {
            if tx.send(Update::Pod(pod.clone())).is_ok() {
                return;
            }
        }
        let (tx, rx) = watch::channel(Update::Pod(pod));
        m.insert(uid.clone(), tx);
        let me = self.clone();
        tokio::spawn(async move {
            run_worker(me.kl.clone(), uid.clone(), rx).await;
            me.workers.lock().remove(&uid);
        });
    }

    /// The pod was deleted from its source.
    pub fn gone(&self, uid: &str) {
        if let Some(tx) = self.workers.lock().get(uid) {
            let _ = tx.send(Update::Gone);
        }
    }

    pub fn active(&self) -> HashSet<String> {
        self.workers.lock().keys().cloned().collect()
    }
}

#[derive(Default)]
struct WorkerState {
    /// Attempts whose shim exit we already wait for.
    watched: HashSet<(String, u32)>,
    waiting: HashMap<String, Waiting>,
    pull_failures: HashMap<String, u64>,
    /// The last pull error per container (ImagePullBackOff's message quotes it).
    pull_errors: HashMap<String, String>,
    last_status: Option<Value>,
    start_recorded: bool,
    counted_running: bool,
    counted_containers: i64,
    /// The pod cgroup and sandbox are in place.
    prepared: bool,
    /// The pod's pause process (None: host namespaces only).
    sandbox: Option<SandboxState>,
    /// activeDeadlineSeconds passed: the pod is Failed (DeadlineExceeded).
    deadline_exceeded: bool,
    /// The last FailedMount message and when it was recorded.
    mount_error: Option<(String, Instant)>,
}

enum Flow {
    Done,
    Wait(Duration),
}

async fn run_worker(kl: Arc<Kubelet>, uid: String, mut rx: watch::Receiver<Update>) {
    let notify = Arc::new(Notify::new());
    let mut w = WorkerState::default();
    let mut last_pod: Option<Arc<Pod>> = None;
    loop {
        let upd = rx.borrow_and_update().clone();
        let flow = match upd {
            Update::Pod(p) => {
                last_pod = Some(p.clone());
                sync(&kl, &p, &mut w, &notify).await
            }
            Update::Gone => {
                let grace = last_pod.as_ref().map(|p| grace_of(p)).unwrap_or(Duration::from_secs(30));
                let cg = last_pod.as_ref().map(|p| crate::cgroups::pod_cgroup(&kl.cgroup_root, qos::pod_qos(p), &uid));
                kl.probes.forget(&uid);
                if let Some(p) = &last_pod {
                    record_killing(&kl, p, &uid);
                    let ctx = pod_context(&kl, p, qos::pod_qos(p));
                    stop_running(&kl, p, &ctx, &net_target(&kl, w.sandbox.as_ref(), &ctx), grace).await;
                }
                kl.runtime.remove_pod(&uid, grace, cg.as_deref()).await;
                kl.network.teardown(&uid).await;
                Flow::Done
            }
        };
        match flow {
            Flow::Done => break,
            Flow::Wait(d) => {
                tokio::select! {
                    r = rx.changed() => if r.is_err() { break },
                    _ = notify.notified() => {},
                    _ = tokio::time::sleep(d) => {},
                }
            }
        }
    }
    kl.objects.forget(&uid);
    kl.probes.forget(&uid);
    if w.counted_running {
        kl.metrics.running_pods.fetch_sub(1, Ordering::Relaxed);
    }
    kl.metrics.running_containers.fetch_sub(w.counted_containers, Ordering::Relaxed);
}

fn grace_of(p: &Pod) -> Duration {
    let s = p
        .metadata
        .deletion_grace_period_seconds
        .or(p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30);
    Duration::from_secs(s.max(0) as u64)
}

pub fn is_static(p: &Pod) -> bool {
    p.metadata.annotations.as_ref().and_then(|a| a.get(CONFIG_SOURCE)).map(|s| s == "file").unwrap_or(false)
}

fn pod_context(kl: &Kubelet, pod: &Pod, qos: Qos) -> PodContext {
    let spec = pod.spec.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    PodContext {
        uid: uid.clone(),
        namespace: pod.metadata.namespace.clone().unwrap_or_else(|| "default".into()),
        hostname: if host_network {
            kl.node_name.clone()
        } else {
            let short = spec.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| name.clone());
            // setHostnameAsFQDN: <hostname>.<subdomain>.<ns>.svc.cluster.local as upstream.
            match (&spec.subdomain, spec.set_hostname_as_fqdn) {
                (Some(sub), Some(true)) if !sub.is_empty() => {
                    format!("{short}.{sub}.{}.svc.cluster.local", pod.metadata.namespace.as_deref().unwrap_or("default"))
                }
                _ => short,
            }
        },
        name,
        host_network,
        host_ipc: spec.host_ipc.unwrap_or(false),
        host_pid: spec.host_pid.unwrap_or(false),
        share_pid: spec.share_process_namespace.unwrap_or(false),
        mount_ns: crate::volumes::needs_mount_ns(pod),
        cgroup: crate::cgroups::pod_cgroup(&kl.cgroup_root, qos, &uid),
    }
}

async fn sync(kl: &Arc<Kubelet>, pod: &Arc<Pod>, w: &mut WorkerState, notify: &Arc<Notify>) -> Flow {
    let spec = pod.spec.clone().unwrap_or_default();
    let qos = qos::pod_qos(pod);
    let ctx = pod_context(kl, pod, qos);
    let api: Api<Pod> = Api::namespaced(kl.client.clone(), &ctx.namespace);

    if pod.metadata.deletion_timestamp.is_some() {
        record_killing(kl, pod, &ctx.uid);
        kl.probes.forget(&ctx.uid);
        stop_running(kl, pod, &ctx, &net_target(kl, w.sandbox.as_ref(), &ctx), grace_of(pod)).await;
        kl.runtime.remove_pod(&ctx.uid, grace_of(pod), Some(&ctx.cgroup)).await;
        kl.network.teardown(&ctx.uid).await;
        kl.backoff.forget_prefix(&format!("{}/", ctx.uid));
        if !is_static(pod) {
            // Confirm the graceful deletion: grace 0, only this incarnation.
            let mut dp = DeleteParams::immediate();
            dp.precondition_uid = Some(ctx.uid.clone());
            match api.delete(&ctx.name, &dp).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => {
                    tracing::warn!(pod = %ctx.name, error = %e, "confirming deletion failed; retrying");
                    return Flow::Wait(Duration::from_secs(1));
                }
            }
        }
        return Flow::Done;
    }

    let restart_policy = spec.restart_policy.clone().unwrap_or_else(|| "Always".into());
    // Finished as the apiserver or our own last report says (the pod's tmpfs
    // volumes went with its pause: nothing may be set up again).
    let finished = |p: Option<&str>| matches!(p, Some("Succeeded") | Some("Failed"));
    let mut terminal = finished(pod.status.as_ref().and_then(|s| s.phase.as_deref()))
        || finished(w.last_status.as_ref().and_then(|s| s["phase"].as_str()));
    // activeDeadlineSeconds, counted from the pod's startTime as upstream.
    let started = pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.as_second());
    if let (false, Some(ads), Some(start)) = (terminal, spec.active_deadline_seconds, started) {
        let left = start + ads - chrono::Utc::now().timestamp();
        if left <= 0 {
            w.deadline_exceeded = true;
            terminal = true;
            kl.events.pod_event(pod, false, "DeadlineExceeded", DEADLINE_MESSAGE);
            record_killing(kl, pod, &ctx.uid);
            kl.probes.forget(&ctx.uid);
            stop_running(kl, pod, &ctx, &net_target(kl, w.sandbox.as_ref(), &ctx), grace_of(pod)).await;
        }
    }
    if terminal {
        kl.objects.forget(&ctx.uid);
    } else {
        // Watch the ConfigMaps and Secrets it uses; a change wakes this worker.
        kl.objects.track(pod, notify);
    }
    let mut wake: Option<Instant> = None;
    let mut note = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
    if let (false, Some(ads), Some(start)) = (terminal, spec.active_deadline_seconds, started) {
        let left = (start + ads - chrono::Utc::now().timestamp()).max(0) as u64;
        note(Instant::now() + Duration::from_secs(left) + Duration::from_millis(100));
    }

    // Pod cgroup and sandbox: once per worker (they are idempotent, but every
    // status echo from the watch would otherwise redo them), and again if the
    // pause process died.
    let sandbox_dead = w.sandbox.as_ref().is_some_and(|s| !s.alive());
    if !terminal && (!w.prepared || sandbox_dead) {
        match prepare_pod(kl, pod, &ctx, qos).await {
            Ok(sb) => {
                if sb.replaced {
                    // Running containers are in the dead sandbox's namespaces.
                    tracing::info!(pod = %ctx.name, "pod sandbox changed, it will be killed and re-created");
                    kl.events.sandbox_changed(pod);
                    record_killing(kl, pod, &ctx.uid);
                    let net = net_target(kl, w.sandbox.as_ref(), &ctx);
                    stop_running(kl, pod, &ctx, &net, grace_of(pod)).await;
                }
                // A pause that dies wakes the worker, which replaces it.
                if let Some(s) = sb.state.clone() {
                    let notify = notify.clone();
                    tokio::spawn(async move {
                        wait_exit(s.pid, s.start_ticks).await;
                        notify.notify_one();
                    });
                }
                w.sandbox = sb.state;
                w.prepared = true;
            }
            Err(e) => {
                tracing::warn!(pod = %ctx.name, error = %e, "sandbox setup failed");
                return Flow::Wait(Duration::from_secs(2));
            }
        }
    }

    // Volumes: set up (and refreshed) on every sync; containers wait for them.
    let volumes = if terminal {
        Ok(HashMap::new())
    } else {
        let ips = pod_ips(kl, &ctx);
        crate::volumes::setup(kl, pod, &kl.runtime.pod_dir(&ctx.uid), &ips, w.sandbox.as_ref()).await
    };
    let volumes = match volumes {
        Ok(v) => {
            w.mount_error = None;
            Some(v)
        }
        Err(msg) => {
            // As upstream: a FailedMount event, retried; not one per sync.
            let again = w.mount_error.as_ref().is_none_or(|(m, at)| *m != msg || at.elapsed() > Duration::from_secs(60));
            if again {
                tracing::warn!(pod = %ctx.name, error = %msg, "volume setup failed");
                kl.events.failed_mount(pod, &msg);
                w.mount_error = Some((msg.clone(), Instant::now()));
            }
            for c in spec.init_containers.iter().flatten().chain(spec.containers.iter()) {
                if !kl.runtime.attempts(&ctx.uid, &c.name).last().is_some_and(|a| a.running()) {
                    w.waiting.insert(c.name.clone(), Waiting { reason: "ContainerCreating".into(), message: msg.clone() });
                }
            }
            note(Instant::now() + Duration::from_secs(5));
            None
        }
    };

    // Init containers, in order, each to successful completion.
    let mut init_done = true;
    let mut init_failed = false;
    if !terminal {
        for c in spec.init_containers.iter().flatten() {
            let Some(volumes) = &volumes else {
                init_done = false;
                break;
            };
            let attempts = kl.runtime.attempts(&ctx.uid, &c.name);
            if is_sidecar(c) {
                // A restartable init container (sidecar, upstream 1.29+): started
                // once it runs (and its startup probe passed), restarted whenever it
                // exits, whatever the pod's restartPolicy; it does not block the
                // next ones once it has started.
                match attempts.last() {
                    Some(a) if a.running() => {
                        w.waiting.remove(&c.name);
                        watch_exit(w, notify, &c.name, a);
                        if kl.probes.started(&ctx.uid, c, a.n) {
                            continue;
                        }
                        init_done = false;
                        break;
                    }
                    latest => {
                        match may_start(kl, &ctx, &c.name, latest) {
                            Ok(()) => start(kl, pod, &ctx, qos, c, latest.map_or(0, |a| a.n + 1), w, notify, volumes).await,
                            Err(until) => {
                                note(until);
                                crashloop(kl, w, pod, &ctx, &c.name);
                            }
                        }
                        let now = kl.runtime.attempts(&ctx.uid, &c.name);
                        if now.last().is_some_and(|a| a.running()) && c.startup_probe.is_none() || latest.is_some() {
                            continue;
                        }
                        init_done = false;
                        break;
                    }
                }
            }
            match attempts.last() {
                Some(a) if a.running() => {
                    watch_exit(w, notify, &c.name, a);
                    init_done = false;
                    break;
                }
                Some(a) if exit_code(a) == Some(0) => continue,
                Some(a) if restart_policy == "Never" && a.state.is_some() => {
                    init_failed = true;
                    break;
                }
                latest => {
                    init_done = false;
                    match may_start(kl, &ctx, &c.name, latest) {
                        Ok(()) => start(kl, pod, &ctx, qos, c, latest.map_or(0, |a| a.n + 1), w, notify, volumes).await,
                        Err(until) => {
                            note(until);
                            crashloop(kl, w, pod, &ctx, &c.name);
                        }
                    }
                    break;
                }
            }
        }
    }

    if let (true, false, false, Some(volumes)) = (init_done, init_failed, terminal, &volumes) {
        for c in &spec.containers {
            let attempts = kl.runtime.attempts(&ctx.uid, &c.name);
            match attempts.last() {
                Some(a) if a.running() => {
                    w.waiting.remove(&c.name);
                    watch_exit(w, notify, &c.name, a);
                }
                Some(a) if !wants_restart(&restart_policy, exit_code(a)) && a.state.is_some() => {
                    w.waiting.remove(&c.name);
                }
                latest => match may_start(kl, &ctx, &c.name, latest) {
                    Ok(()) => start(kl, pod, &ctx, qos, c, latest.map_or(0, |a| a.n + 1), w, notify, volumes).await,
                    Err(until) => {
                        note(until);
                        crashloop(kl, w, pod, &ctx, &c.name);
                    }
                },
            }
        }
    }

    // Probes for the running containers; a failed liveness or startup probe
    // kills the container, and its restart policy decides what comes next.
    let net = net_target(kl, w.sandbox.as_ref(), &ctx);
    if !terminal {
        let mut targets = Vec::new();
        for c in spec.init_containers.iter().flatten().filter(|c| is_sidecar(c)).chain(&spec.containers) {
            let Some(a) = kl.runtime.attempts(&ctx.uid, &c.name).pop().filter(|a| a.running()) else { continue };
            let Some(st) = a.state.clone() else { continue };
            if let Some(kind) = kl.probes.failed(&ctx.uid, c, a.n) {
                let what = if kind == crate::probes::Kind::Startup { "startup" } else { "liveness" };
                kl.events.killing_because(pod, &c.name, &format!("Container {} failed {what} probe, will be restarted", c.name));
                let probe = kind.of(c).and_then(|p| p.termination_grace_period_seconds);
                let grace = probe.map(|s| Duration::from_secs(s.max(0) as u64)).unwrap_or_else(|| grace_of(pod));
                crate::lifecycle::kill(kl, pod, Some(c), &st, &net, grace).await;
                note(Instant::now());
                continue;
            }
            let started_at = st.started_at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&chrono::Utc));
            targets.push(crate::probes::Target { container: c.clone(), attempt: a.n, init_pid: st.pid, started_at });
        }
        kl.probes.sync(kl, pod, targets, net.clone(), notify);
    } else {
        kl.probes.forget(&ctx.uid);
    }

    // Status from what is on disk now.
    let view = |c: &Container| ContainerView {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        image_id: Reference::parse(c.image.as_deref().unwrap_or(""))
            .ok()
            .and_then(|r| kl.images.get(&r))
            .map(|i| i.image_id())
            .unwrap_or_default(),
        attempts: kl.runtime.attempts(&ctx.uid, &c.name),
        waiting: w.waiting.get(&c.name).cloned(),
        container_id_prefix: format!("libcontainer://{}-{}", ctx.uid, c.name),
        messages: kl
            .runtime
            .attempts(&ctx.uid, &c.name)
            .iter()
            .filter(|a| a.state.as_ref().is_some_and(|s| s.status != ShimStatus::Running))
            .filter_map(|a| {
                let file = termination_file(kl, &ctx.uid, &c.name, a.n);
                let log = kl.runtime.log_path(&ctx, &c.name, a.n);
                Some((a.n, crate::lifecycle::termination_message(c, &file, &log, exit_code(a))?))
            })
            .collect(),
    };
    let inits: Vec<ContainerView> = spec.init_containers.iter().flatten().map(view).collect();
    let mains: Vec<ContainerView> = spec.containers.iter().map(view).collect();
    // Our last report, else what the apiserver holds (transition and start times stay).
    let prev = w
        .last_status
        .clone()
        .unwrap_or_else(|| pod.status.as_ref().map(|s| serde_json::to_value(s).unwrap_or_default()).unwrap_or_default());
    let phase = if w.deadline_exceeded {
        "Failed".to_string()
    } else if terminal {
        prev["phase"].as_str().unwrap_or("Succeeded").to_string()
    } else {
        status::phase(&restart_policy, init_done, init_failed, &mains).to_string()
    };
    let all_running = !mains.is_empty() && mains.iter().all(|c| c.running());
    // Per container: started (startup probe) and ready (readiness probe).
    let probe_state: Vec<(bool, bool)> = spec
        .containers
        .iter()
        .zip(&mains)
        .map(|(c, v)| {
            let n = v.latest().map_or(0, |a| a.n);
            (kl.probes.started(&ctx.uid, c, n), kl.probes.ready(&ctx.uid, c, n))
        })
        .collect();
    let all_ready = all_running && probe_state.iter().all(|(_, r)| *r);
    let completed = phase == "Succeeded" || phase == "Failed";
    // A finished pod keeps its logs and status, not its pause process (as upstream).
    if completed && inits.iter().any(|c| c.running()) && !mains.iter().any(|c| c.running()) {
        // Sidecars stop when the pod's main containers are done.
        kl.probes.forget(&ctx.uid);
        stop_running(kl, pod, &ctx, &net, grace_of(pod)).await;
    }
    let inits: Vec<ContainerView> = spec.init_containers.iter().flatten().map(view).collect();
    if completed && !running_any(&mains, &inits) && kl.runtime.sandbox(&ctx.uid).is_some() {
        kl.runtime.stop_sandbox(&ctx.uid).await;
        // Its address goes back to the pool; the status keeps reporting it.
        kl.network.teardown(&ctx.uid).await;
        w.sandbox = None;
    }
    let not_ready = if completed { "PodCompleted" } else { "ContainersNotReady" };
    let init_reason = if completed && init_done {
        Some("PodCompleted")
    } else if init_done {
        None
    } else {
        Some("ContainersNotInitialized")
    };
    let conditions = vec![
        status::condition(&prev, "PodReadyToStartContainers", !completed, None),
        status::condition(&prev, "Initialized", init_done, if init_done && !completed { None } else { init_reason }),
        status::condition(&prev, "Ready", all_ready, (!all_ready).then_some(not_ready)),
        status::condition(&prev, "ContainersReady", all_ready, (!all_ready).then_some(not_ready)),
        status::condition(&prev, "PodScheduled", true, None),
    ];
    let mut st = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": kl.host_ip,
        "hostIPs": [{"ip": kl.host_ip}],
        "startTime": prev.get("startTime").cloned().filter(|v| !v.is_null()).unwrap_or(json!(status::now_secs())),
        "qosClass": qos.as_str(),
        "containerStatuses": mains.iter().zip(&probe_state).map(|(c, (started, ready))| c.status(*ready, *started)).collect::<Vec<_>>(),
    });
    if !inits.is_empty() {
        let init_specs = spec.init_containers.clone().unwrap_or_default();
        let statuses: Vec<Value> = inits
            .iter()
            .zip(&init_specs)
            .map(|(v, c)| {
                let n = v.latest().map_or(0, |a| a.n);
                if is_sidecar(c) {
                    v.status(kl.probes.ready(&ctx.uid, c, n), kl.probes.started(&ctx.uid, c, n))
                } else {
                    // Upstream: a run-to-completion init container is ready once it succeeded.
                    let mut st = v.status(false, true);
                    st["ready"] = json!(v.exit_code() == Some(0));
                    st
                }
            })
            .collect();
        st["initContainerStatuses"] = json!(statuses);
    }
    if w.deadline_exceeded {
        st["reason"] = json!("DeadlineExceeded");
        st["message"] = json!(DEADLINE_MESSAGE);
    }
    if ctx.host_network {
        st["podIP"] = json!(kl.host_ip);
        st["podIPs"] = json!([{"ip": kl.host_ip}]);
    } else if let Some(ip) = kl.network.pod_ip(&ctx.uid) {
        st["podIP"] = json!(ip.to_string());
        st["podIPs"] = json!([{"ip": ip.to_string()}]);
    } else if let Some(ip) = prev.get("podIP").filter(|v| v.is_string()) {
        // A finished pod's address was released; upstream keeps reporting it.
        st["podIP"] = ip.clone();
        st["podIPs"] = prev.get("podIPs").cloned().unwrap_or_else(|| json!([{"ip": ip}]));
    }
    if phase == "Running" && all_running && !w.start_recorded {
        w.start_recorded = true;
        if let Some(created) = &pod.metadata.creation_timestamp {
            let created = created.0.as_millisecond() as f64 / 1000.0;
            let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
            kl.metrics.observe_pod_start((now - created).max(0.0));
        }
    }
    let running = mains.iter().any(|c| c.running()) || inits.iter().any(|c| c.running());
    let n_running = mains.iter().chain(inits.iter()).filter(|c| c.running()).count() as i64;
    kl.metrics.running_containers.fetch_add(n_running - w.counted_containers, Ordering::Relaxed);
    w.counted_containers = n_running;
    if running != w.counted_running {
        w.counted_running = running;
        kl.metrics.running_pods.fetch_add(if running { 1 } else { -1 }, Ordering::Relaxed);
    }
    if w.last_status.as_ref() != Some(&st) {
        let patch = Patch::Merge(json!({ "status": st }));
        match api.patch_status(&ctx.name, &PostParams::default(), &patch).await {
            Ok(_) => w.last_status = Some(st),
            Err(e) if e.is_not_found() => w.last_status = Some(st),
            Err(e) => {
                tracing::warn!(pod = %ctx.name, error = %e, "status patch failed");
                note(Instant::now() + Duration::from_secs(1));
            }
        }
    }
    // Level-triggered: re-check now and then even without events.
    let until = wake.map(|t| t.saturating_duration_since(Instant::now())).unwrap_or(Duration::from_secs(60));
    Flow::Wait(until.max(Duration::from_millis(10)))
}

fn running_any(mains: &[ContainerView], inits: &[ContainerView]) -> bool {
    mains.iter().chain(inits).any(|c| c.running())
}

fn exit_code(a: &Attempt) -> Option<i32> {
    let s = a.state.as_ref()?;
    match s.status {
        ShimStatus::Exited => s.exit_code,
        ShimStatus::Failed => Some(128),
        ShimStatus::Running => None,
    }
}

fn wants_restart(policy: &str, code: Option<i32>) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => code != Some(0),
        _ => true,
    }
}

/// May the next attempt start now? A first start always may; restarts follow the back-off.
fn may_start(kl: &Kubelet, ctx: &PodContext, name: &str, latest: Option<&Attempt>) -> Result<(), Instant> {
    let Some(a) = latest else { return Ok(()) };
    let ran = a
        .state
        .as_ref()
        .and_then(|s| Some((s.started_at.as_deref()?, s.finished_at.as_deref()?)))
        .and_then(|(s, f)| {
            let s = chrono::DateTime::parse_from_rfc3339(s).ok()?;
            let f = chrono::DateTime::parse_from_rfc3339(f).ok()?;
            (f - s).to_std().ok()
        })
        .unwrap_or_default();
    kl.backoff.check(&format!("{}/{}", ctx.uid, name), a.n as u64, ran, Instant::now())
}

fn crashloop(kl: &Kubelet, w: &mut WorkerState, pod: &Pod, ctx: &PodContext, name: &str) {
    let delay = kl.backoff.current(&format!("{}/{}", ctx.uid, name)).unwrap_or(crate::backoff::INITIAL);
    kl.events.back_off_restart(pod, name);
    w.waiting.insert(
        name.to_string(),
        Waiting {
            reason: "CrashLoopBackOff".into(),
            // Upstream prints the back-off as a Go duration (10s, 1m20s, 5m0s).
            message: format!(
                "back-off {} restarting failed container={} pod={}",
                crate::events::go_duration(delay),
                name,
                crate::events::format_pod(pod)
            ),
        },
    );
}

fn watch_exit(w: &mut WorkerState, notify: &Arc<Notify>, name: &str, a: &Attempt) {
    if !w.watched.insert((name.to_string(), a.n)) {
        return;
    }
    if let Some(s) = a.state.clone() {
        let notify = notify.clone();
        tokio::spawn(async move {
            wait_shim_exit(&s).await;
            notify.notify_one();
        });
    }
}

/// Upstream's Killing event for each running container of the pod.
fn record_killing(kl: &Kubelet, pod: &Pod, uid: &str) {
    let Some(spec) = pod.spec.as_ref() else { return };
    for c in spec.init_containers.iter().flatten().chain(spec.containers.iter()) {
        if kl.runtime.attempts(uid, &c.name).last().is_some_and(|a| a.running()) {
            kl.events.killing(pod, &c.name);
        }
    }
}

/// Stop every running container of the pod, preStop hooks first, all within `grace`.
async fn stop_running(kl: &Kubelet, pod: &Pod, ctx: &PodContext, net: &NetTarget, grace: Duration) {
    let spec: PodSpec = pod.spec.clone().unwrap_or_default();
    let stops: Vec<_> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .filter_map(|c| Some((c, kl.runtime.attempts(&ctx.uid, &c.name).pop()?)))
        .filter(|(_, a)| a.running())
        .filter_map(|(c, a)| Some((c, a.state?)))
        .collect();
    futures::future::join_all(stops.iter().map(|(c, s)| crate::lifecycle::kill(kl, pod, Some(c), s, net, grace))).await;
}

/// Where probes and hooks reach the pod: its network namespace (the pause's)
/// at 127.0.0.1 (no pod IPs yet), or the host's for hostNetwork pods.
fn net_target(kl: &Kubelet, sandbox: Option<&SandboxState>, ctx: &PodContext) -> NetTarget {
    if ctx.host_network {
        return NetTarget { netns_pid: None, host: kl.host_ip.clone() };
    }
    let pid = sandbox.filter(|s| s.namespaces.iter().any(|k| k == "net")).map(|s| s.pid);
    NetTarget { netns_pid: pid, host: "127.0.0.1".into() }
}

async fn prepare_pod(kl: &Kubelet, pod: &Pod, ctx: &PodContext, qos: Qos) -> Result<Sandbox, String> {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut limits = crate::cgroups::PodLimits::default();
    let sum = |f: &dyn Fn(&Container) -> Option<i64>| -> Option<i64> {
        spec.containers.iter().map(f).try_fold(0i64, |acc, v| v.map(|v| acc + v))
    };
    let req_cpu: i64 = spec.containers.iter().filter_map(qos::request_milli_cpu).sum();
    limits.cpu_shares = Some(if qos == Qos::BestEffort { 2 } else { qos::cpu_shares(req_cpu) });
    if qos != Qos::BestEffort {
        limits.memory_limit = sum(&|c| qos::limit_bytes(c, "memory"));
        limits.cpu_quota = sum(&qos::limit_milli_cpu).map(qos::cpu_quota);
    }
    crate::cgroups::ensure_pod(&ctx.cgroup, &limits).map_err(|e| format!("pod cgroup: {e}"))?;
    let json = serde_json::to_vec(pod).unwrap_or_default();
    let sb = kl.runtime.ensure_sandbox(ctx, &json).await.map_err(|e| e.to_string())?;
    // The pod's own network namespace gets its address and wiring.
    let netns = sb.state.as_ref().and_then(|s| s.ns_path("net"));
    let ip = match (&netns, ctx.host_network) {
        (Some(ns), false) => match kl.network.setup(pod, ns).await {
            Ok(ip) => ip,
            Err(e) => {
                if matches!(e, crate::network::SetupError::NotReady) {
                    kl.events.pod_event(pod, true, "NetworkNotReady", &e.to_string());
                } else {
                    kl.events.pod_event(pod, true, "FailedCreatePodSandBox", &e.to_string());
                }
                return Err(e.to_string());
            }
        },
        _ => None,
    };
    if kl.network.enabled {
        if let Some(msg) = crate::network::dns::missing_cluster_dns(pod, kl.network.dns()) {
            kl.events.pod_event(pod, true, "MissingClusterDNS", &msg);
        }
    }
    kl.network.write_dns_files(pod, &kl.runtime.pod_dir(&ctx.uid).join("etc"), ip).map_err(|e| format!("writing the pod's DNS files: {e}"))?;
    Ok(sb)
}

/// Resolve the container's image as its pull policy says.
async fn ensure_image(kl: &Kubelet, pod: &Pod, c: &Container, w: &mut WorkerState, ctx: &PodContext) -> Result<ImageRecord, Waiting> {
    let ev = &kl.events;
    let image = c.image.clone().unwrap_or_default();
    let r = match Reference::parse(&image) {
        Ok(r) => r,
        Err(_) => {
            let message = format!("Failed to apply default image tag \"{image}\": couldn't parse image name \"{image}\": invalid reference format");
            ev.invalid_image(pod, &c.name, &message);
            return Err(Waiting { reason: "InvalidImageName".into(), message });
        }
    };
    let policy = c.image_pull_policy.clone().unwrap_or_else(|| if r.is_latest() { "Always".into() } else { "IfNotPresent".into() });
    let local = kl.images.get(&r);
    // Images loaded from archives under docker.io names cannot be re-pulled on an
    // offline node; `Always` re-pulls only from registries that are not docker.io.
    let must_pull = match (&local, policy.as_str()) {
        (_, "Never") => false,
        (None, _) => true,
        (Some(_), "Always") => r.domain != "docker.io",
        _ => false,
    };
    if !must_pull {
        return match local {
            Some(rec) => {
                ev.already_present(pod, &c.name, &image);
                Ok(rec)
            }
            None => {
                let message = format!("Container image \"{image}\" is not present with pull policy of Never");
                ev.never_pull(pod, &c.name, &message);
                Err(Waiting { reason: "ErrImageNeverPull".into(), message })
            }
        };
    }
    let key = format!("{}/pull/{}", ctx.uid, c.name);
    let failures = w.pull_failures.get(&c.name).copied().unwrap_or(0);
    if failures > 0 {
        if let Err(_until) = kl.backoff.check(&key, failures, Duration::ZERO, Instant::now()) {
            ev.pull_back_off(pod, &c.name, &image);
            // As upstream: the status message carries the last pull error.
            let mut message = format!("Back-off pulling image \"{image}\"");
            if let Some(prev) = w.pull_errors.get(&c.name) {
                message = format!("{message}: ErrImagePull: {prev}");
            }
            return Err(Waiting { reason: "ImagePullBackOff".into(), message });
        }
    }
    let started = Instant::now();
    ev.pulling(pod, &c.name, &image);
    let secrets = crate::images::pull::pull_secrets(&kl.client, pod).await;
    // Pulls are not queued behind each other here: the whole time is pull time.
    match crate::images::pull::pull(&kl.images, &r, &secrets).await {
        Ok(rec) => {
            let took = started.elapsed();
            ev.pulled(pod, &c.name, &image, took, took, kl.images.image_size(&rec));
            w.pull_failures.remove(&c.name);
            w.pull_errors.remove(&c.name);
            Ok(rec)
        }
        Err(e) => {
            let n = failures + 1;
            let message = format!("failed to pull and unpack image \"{r}\": {e}");
            ev.pull_failed(pod, &c.name, &image, &message);
            w.pull_failures.insert(c.name.clone(), n);
            w.pull_errors.insert(c.name.clone(), message.clone());
            // Arm the back-off so the next try waits.
            let _ = kl.backoff.check(&key, n, Duration::ZERO, Instant::now());
            Err(Waiting { reason: "ErrImagePull".into(), message })
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn start(
    kl: &Kubelet,
    pod: &Pod,
    ctx: &PodContext,
    qos: Qos,
    c: &Container,
    attempt: u32,
    w: &mut WorkerState,
    notify: &Arc<Notify>,
    volumes: &HashMap<String, crate::volumes::Volume>,
) {
    let img = match ensure_image(kl, pod, c, w, ctx).await {
        Ok(i) => i,
        Err(waiting) => {
            kl.events.failed(pod, &c.name, &waiting.reason);
            w.waiting.insert(c.name.clone(), waiting);
            notify_later(notify, Duration::from_secs(1));
            return;
        }
    };
    let sec = match crate::security::resolve(pod, c, &img.config.user, &kl.runtime.root.join("seccomp")) {
        Ok(s) => s,
        Err((reason, message)) => {
            kl.events.failed(pod, &c.name, &message);
            w.waiting.insert(c.name.clone(), Waiting { reason: reason.into(), message });
            notify_later(notify, Duration::from_secs(5));
            return;
        }
    };
    for what in &sec.unsupported {
        kl.events.pod_event(pod, true, "UnsupportedField", &format!("container {}: {what} is not honoured by this node", c.name));
    }
    let (uid, gid) = (sec.uid, sec.gid);
    // fsGroup: the pod's writable local volumes belong to its group (upstream's SetVolumeOwnership).
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    if let Some(fs) = psc.and_then(|s| s.fs_group) {
        let policy = psc.and_then(|s| s.fs_group_change_policy.as_deref());
        for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
            let owned = v.empty_dir.is_some() || v.config_map.is_some() || v.secret.is_some() || v.downward_api.is_some() || v.projected.is_some();
            if owned && c.volume_mounts.iter().flatten().any(|m| m.name == v.name) {
                if let Some(vol) = volumes.get(&v.name) {
                    crate::security::set_volume_ownership(&vol.access, fs as u32, policy);
                }
            }
        }
    }
    let req_cpu = qos::request_milli_cpu(c).unwrap_or(0);
    let spec_env = match container_env(kl, pod, ctx, c).await {
        Ok(v) => v,
        Err(message) => {
            // Upstream's ErrCreateContainerConfig: retried, and the object's
            // informer wakes the worker as soon as it appears.
            kl.events.failed(pod, &c.name, &message);
            w.waiting.insert(c.name.clone(), Waiting { reason: "CreateContainerConfigError".into(), message });
            notify_later(notify, Duration::from_secs(5));
            return;
        }
    };
    let mounts = match crate::volumes::mounts(c, volumes, &spec_env) {
        Ok(mut m) => {
            // terminationMessagePath: a file of the pod dir, writable by any user.
            let file = termination_file(kl, &ctx.uid, &c.name, attempt);
            let made = file.parent().map(std::fs::create_dir_all).transpose().and_then(|_| std::fs::write(&file, b""));
            if made.is_ok() {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666));
                let dest = c.termination_message_path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/dev/termination-log".into());
                m.push(crate::runtime::spec::Mount { source: file, destination: dest, read_only: false, propagation: "rprivate".into() });
            }
            m
        }
        Err(message) => {
            kl.events.failed(pod, &c.name, &message);
            w.waiting.insert(c.name.clone(), Waiting { reason: "CreateContainerConfigError".into(), message });
            notify_later(notify, Duration::from_secs(5));
            return;
        }
    };
    let run = ContainerRun {
        name: c.name.clone(),
        attempt,
        args: crate::process::args(c, &img.config, &spec_env),
        env: crate::process::environment(&img.config, &spec_env, &ctx.hostname),
        cwd: c.working_dir.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| {
            if img.config.working_dir.is_empty() { "/".into() } else { img.config.working_dir.clone() }
        }),
        uid,
        gid,
        resources: Resources {
            cpu_shares: Some(qos::cpu_shares(req_cpu)),
            cpu_quota: qos::limit_milli_cpu(c).map(qos::cpu_quota),
            cpu_period: None,
            memory_limit: qos::limit_bytes(c, "memory"),
        },
        oom_score_adj: qos::oom_score_adj(qos, c, kl.memory_capacity, kl.oom_floor),
        image: img,
        mounts,
        security: sec.security,
    };
    match kl.runtime.start_container(ctx, w.sandbox.as_ref(), &run).await {
        Ok(state) => {
            // The shim creates and starts in one go.
            kl.events.created(pod, &c.name);
            kl.events.started(pod, &c.name);
            w.waiting.remove(&c.name);
            let net = net_target(kl, w.sandbox.as_ref(), ctx);
            if let Err(message) = crate::lifecycle::post_start(kl, pod, c, &net, state.pid).await {
                // As upstream: the container is killed; its restart policy goes on.
                kl.events.killing_because(pod, &c.name, "FailedPostStartHook");
                crate::lifecycle::kill(kl, pod, None, &state, &net, grace_of(pod)).await;
                w.waiting.insert(c.name.clone(), Waiting { reason: "PostStartHookError".into(), message });
            }
            let a = Attempt { n: attempt, dir: Default::default(), state: Some(state) };
            watch_exit(w, notify, &c.name, &a);
            kl.runtime.prune_attempts(&ctx.uid, &c.name, 2);
        }
        Err(e) => {
            tracing::warn!(pod = %ctx.name, container = %c.name, error = %e, "starting container failed");
            kl.events.failed(pod, &c.name, &e.to_string());
            w.waiting.insert(c.name.clone(), Waiting { reason: "RunContainerError".into(), message: e.to_string() });
            notify_later(notify, Duration::from_secs(1));
        }
    }
}

/// The pod's IPs as the downward API reports them (no pod network yet: a pod
/// outside the host network has none).
pub fn pod_ips(kl: &Kubelet, ctx: &PodContext) -> crate::downward::PodIps {
    let host = vec![kl.host_ip.clone()];
    let pod_ips = if ctx.host_network {
        host.clone()
    } else {
        kl.network.pod_ip(&ctx.uid).map(|ip| vec![ip.to_string()]).unwrap_or_default()
    };
    crate::downward::PodIps { pod_ips, host_ips: host }
}

/// The container's spec variables (env::make), recording skipped envFrom keys.
async fn container_env(kl: &Kubelet, pod: &Pod, ctx: &PodContext, c: &Container) -> Result<Vec<(String, String)>, String> {
    let fetched = crate::env::fetch(&kl.objects, &ctx.namespace, c).await;
    let ips = pod_ips(kl, ctx);
    // The Services that exist now (upstream: a container sees those created before it started).
    let links = pod.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true);
    let services = kl.objects.services.list(Duration::from_secs(10)).await?;
    let service_env = crate::env::service_env(&services, &ctx.namespace, links);
    let input = crate::env::EnvInput { pod, ips: &ips, allocatable: &kl.allocatable, fetched: &fetched, service_env: &service_env };
    let r = crate::env::make(c, &input)?;
    for msg in &r.invalid {
        kl.events.invalid_env_names(pod, msg);
    }
    Ok(r.vars)
}

fn notify_later(notify: &Arc<Notify>, d: Duration) {
    let n = notify.clone();
    tokio::spawn(async move {
        tokio::time::sleep(d).await;
        n.notify_one();
    });
}

/// The file mounted at a container attempt's terminationMessagePath.
fn termination_file(kl: &Kubelet, uid: &str, container: &str, attempt: u32) -> std::path::PathBuf {
    kl.runtime.pod_dir(uid).join("termination").join(format!("{container}-{attempt}"))
}

/// An init container with restartPolicy Always (a sidecar).
fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}
