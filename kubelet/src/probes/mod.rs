//! Container probes as upstream's prober manager runs them: one task per probe of
//! each running container attempt (startup, liveness, readiness), probing every
//! `periodSeconds` after `initialDelaySeconds`, flipping its result only after
//! `successThreshold` / `failureThreshold` results in a row, and waking the pod
//! worker when a result changes. The pod worker reads the results: readiness
//! makes the container (and the pod) Ready, startup makes it `started` (liveness
//! and readiness wait for it), and a liveness or startup failure makes the pod
//! worker kill the container, which its restart policy then restarts.

pub mod actions;

use crate::context::Kubelet;
use actions::{NetTarget, Outcome};
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    /// As upstream's events say it.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }

    pub fn of(self, c: &Container) -> Option<&Probe> {
        match self {
            Kind::Startup => c.startup_probe.as_ref(),
            Kind::Liveness => c.liveness_probe.as_ref(),
            Kind::Readiness => c.readiness_probe.as_ref(),
        }
    }

    /// The result before the first probe (upstream's initialValue).
    fn initial(self) -> Option<bool> {
        match self {
            Kind::Liveness => Some(true),
            Kind::Readiness => Some(false),
            Kind::Startup => None,
        }
    }
}

/// (pod uid, container name, kind)
type Key = (String, String, Kind);

/// One running container attempt the probes look at.
pub struct Target {
    pub container: Container,
    pub attempt: u32,
    /// Host pid of the container's init (exec probes enter it).
    pub init_pid: i32,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Default)]
pub struct Probes {
    workers: Mutex<HashMap<Key, (u32, JoinHandle<()>)>>,
    /// Latest result per probe: (attempt, Some(success)); None = not yet known.
    results: Mutex<HashMap<Key, (u32, Option<bool>)>>,
}

impl Probes {
    /// Make the probe tasks match the pod's running containers: start the missing
    /// ones, stop those of attempts that are gone.
    pub fn sync(self: &Arc<Self>, kl: &Arc<Kubelet>, pod: &Arc<Pod>, targets: Vec<Target>, net: NetTarget, notify: &Arc<Notify>) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut workers = self.workers.lock();
        let mut keep = Vec::new();
        for t in targets {
            for kind in [Kind::Startup, Kind::Liveness, Kind::Readiness] {
                let Some(p) = kind.of(&t.container) else { continue };
                let key = (uid.clone(), t.container.name.clone(), kind);
                keep.push(key.clone());
                if workers.get(&key).is_some_and(|(n, _)| *n == t.attempt) {
                    continue;
                }
                if let Some((_, h)) = workers.remove(&key) {
                    h.abort();
                }
                self.results.lock().insert(key.clone(), (t.attempt, kind.initial()));
                let w = Worker {
                    kl: kl.clone(),
                    probes: self.clone(),
                    pod: pod.clone(),
                    key: key.clone(),
                    probe: p.clone(),
                    container: t.container.clone(),
                    attempt: t.attempt,
                    init_pid: t.init_pid,
                    started_at: t.started_at,
                    net: net.clone(),
                    notify: notify.clone(),
                    has_startup: t.container.startup_probe.is_some(),
                };
                workers.insert(key, (t.attempt, tokio::spawn(w.run())));
            }
        }
        workers.retain(|k, (_, h)| {
            let mine = k.0 == uid;
            if mine && !keep.contains(k) {
                h.abort();
                return false;
            }
            true
        });
    }

    /// Stop every probe of the pod and forget its results.
    pub fn forget(&self, uid: &str) {
        self.workers.lock().retain(|k, (_, h)| {
            if k.0 == uid {
                h.abort();
            }
            k.0 != uid
        });
        self.results.lock().retain(|k, _| k.0 != uid);
    }

    fn result(&self, uid: &str, c: &str, kind: Kind, attempt: u32) -> Option<bool> {
        self.results.lock().get(&(uid.to_string(), c.to_string(), kind)).filter(|(n, _)| *n == attempt).and_then(|(_, r)| *r)
    }

    fn set(&self, key: &Key, attempt: u32, v: bool) -> bool {
        let mut r = self.results.lock();
        let old = r.insert(key.clone(), (attempt, Some(v)));
        old != Some((attempt, Some(v)))
    }

    /// The container's `started`: its startup probe succeeded (or it has none).
    pub fn started(&self, uid: &str, c: &Container, attempt: u32) -> bool {
        c.startup_probe.is_none() || self.result(uid, &c.name, Kind::Startup, attempt) == Some(true)
    }

    /// The container's `ready`: started, and its readiness probe succeeded (or it has none).
    pub fn ready(&self, uid: &str, c: &Container, attempt: u32) -> bool {
        self.started(uid, c, attempt) && (c.readiness_probe.is_none() || self.result(uid, &c.name, Kind::Readiness, attempt) == Some(true))
    }

    /// A liveness or startup probe of this attempt failed: the container must be restarted.
    pub fn failed(&self, uid: &str, c: &Container, attempt: u32) -> Option<Kind> {
        [Kind::Startup, Kind::Liveness].into_iter().find(|k| k.of(c).is_some() && self.result(uid, &c.name, *k, attempt) == Some(false))
    }
}

struct Worker {
    kl: Arc<Kubelet>,
    probes: Arc<Probes>,
    pod: Arc<Pod>,
    key: Key,
    probe: Probe,
    container: Container,
    attempt: u32,
    init_pid: i32,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    net: NetTarget,
    notify: Arc<Notify>,
    has_startup: bool,
}

/// Probe a handler once (bounded by `timeout`).
pub async fn run_probe(kl: &Kubelet, p: &Probe, c: &Container, net: &NetTarget, init_pid: i32, timeout: Duration) -> Outcome {
    if let Some(e) = &p.exec {
        let cmd = e.command.clone().unwrap_or_default();
        actions::exec(&kl.runtime.shim, init_pid, &cmd, timeout).await
    } else if let Some(h) = &p.http_get {
        actions::http(net, c, h, timeout).await
    } else if let Some(t) = &p.tcp_socket {
        actions::tcp(net, c, t, timeout).await
    } else if let Some(g) = &p.grpc {
        actions::grpc(net, g, timeout).await
    } else {
        Outcome::Error("missing probe handler".into())
    }
}

impl Worker {
    async fn run(self) {
        let kind = self.key.2;
        let secs = |v: Option<i32>, d: i32| Duration::from_secs(v.unwrap_or(d).max(1) as u64);
        let period = secs(self.probe.period_seconds, 10);
        let timeout = secs(self.probe.timeout_seconds, 1);
        let success_threshold = self.probe.success_threshold.unwrap_or(1).max(1);
        let failure_threshold = self.probe.failure_threshold.unwrap_or(3).max(1);
        let initial_delay = chrono::Duration::seconds(self.probe.initial_delay_seconds.unwrap_or(0).max(0) as i64);
        let (uid, name) = (self.key.0.clone(), self.key.1.clone());
        let (mut successes, mut failures) = (0, 0);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // As upstream: nothing before initialDelaySeconds, and liveness and
            // readiness wait until the startup probe succeeded.
            if self.started_at.is_some_and(|s| chrono::Utc::now() - s < initial_delay) {
                continue;
            }
            if kind != Kind::Startup && self.has_startup && !self.probes.started(&uid, &self.container, self.attempt) {
                continue;
            }
            let out = run_probe(&self.kl, &self.probe, &self.container, &self.net, self.init_pid, timeout).await;
            match &out {
                Outcome::Success(_) => {
                    successes += 1;
                    failures = 0;
                }
                Outcome::Failure(msg) => {
                    failures += 1;
                    successes = 0;
                    self.kl.events.unhealthy(&self.pod, &name, &format!("{} probe failed: {msg}", kind.title()));
                }
                Outcome::Error(msg) => {
                    // Upstream throws an errored result away (no count), but reports it.
                    self.kl.events.unhealthy(&self.pod, &name, &format!("{} probe errored: {msg}", kind.title()));
                    continue;
                }
            }
            let verdict = if successes >= success_threshold {
                Some(true)
            } else if failures >= failure_threshold {
                Some(false)
            } else {
                None
            };
            let Some(v) = verdict else { continue };
            if self.probes.set(&self.key, self.attempt, v) {
                self.notify.notify_one();
            }
            match (kind, v) {
                // Started for good; liveness and readiness take over.
                (Kind::Startup, true) => return,
                // The pod worker kills this attempt; the next one gets new workers.
                (Kind::Startup | Kind::Liveness, false) => return,
                _ => {}
            }
        }
    }
}
