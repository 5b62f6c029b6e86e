//! The sync loop (upstream's Proxier.syncProxyRules driven by a
//! BoundedFrequencyRunner): Service and EndpointSlice informers feed
//! [`ProxyState`]; a full sync at start and every `sync_period`, partial
//! syncs of the changed Services in between, no two syncs closer than
//! `min_sync_period`. Each sync is one `iptables-restore --noflush`.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api::cidr::Ipv4Cidr;
use client::informer::{Informer, InformerConfig};
use client::{Api, Client};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use parking_lot::Mutex;
use tokio::sync::watch;
use client::CancellationToken;

use crate::iptables::render::{NodePortAddresses, RenderConfig, Renderer};
use crate::iptables::{self, Exec, ExecError, Iptables, Mode};
use crate::metrics::Metrics;
use crate::proxier::ProxyState;

#[derive(Clone, Debug)]
pub struct ProxierConfig {
    pub node_name: String,
    pub render: RenderConfig,
    /// `--nodeport-addresses`: NodePorts answer only on local addresses in these ranges (empty: on all).
    pub nodeport_addresses: Vec<Ipv4Cidr>,
    pub sync_period: Duration,
    pub min_sync_period: Duration,
    /// Where iptables and conntrack run.
    pub exec: Exec,
    /// None: detect as upstream's iptables-wrapper.
    pub mode: Option<Mode>,
}

impl ProxierConfig {
    pub fn new(node_name: &str) -> Self {
        ProxierConfig {
            node_name: node_name.into(),
            render: RenderConfig::new(),
            nodeport_addresses: Vec::new(),
            sync_period: Duration::from_secs(30),
            min_sync_period: Duration::from_secs(1),
            exec: Exec::here(),
            mode: None,
        }
    }
}

/// What a finished sync did (published on [`Proxier::reports`]).
#[derive(Clone, Debug, Default)]
pub struct SyncReport {
    /// Successful syncs so far.
    pub seq: u64,
    pub full: bool,
    pub duration: Duration,
    /// Rules in our chains after the sync.
    pub rules: usize,
    /// Rules written by this sync's restore.
    pub rules_written: usize,
    pub services: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("iptables-restore: {0}")]
    Restore(ExecError),
    #[error("ensuring jump rules: {0}")]
    Jumps(ExecError),
}

/// Whether syncs keep up, for /healthz (upstream's ProxierHealthServer):
/// unhealthy when a change has waited, or no sync succeeded, for longer than the timeout.
#[derive(Clone)]
pub struct SyncHealth {
    inner: Arc<Mutex<(Instant, Option<Instant>)>>,
    timeout: Duration,
}

impl SyncHealth {
    pub fn new(timeout: Duration) -> Self {
        SyncHealth { inner: Arc::new(Mutex::new((Instant::now(), None))), timeout }
    }
    fn queued(&self) {
        let mut g = self.inner.lock();
        if g.1.is_none() {
            g.1 = Some(Instant::now());
        }
    }
    fn updated(&self) {
        *self.inner.lock() = (Instant::now(), None);
    }
    pub fn check(&self) -> Result<(), String> {
        let (last, pending) = *self.inner.lock();
        if let Some(p) = pending {
            if p.elapsed() > self.timeout {
                return Err(format!("a change has waited {:.0?} for a sync (timeout {:?})", p.elapsed(), self.timeout));
            }
        }
        if last.elapsed() > self.timeout {
            return Err(format!("no successful sync for {:.0?} (timeout {:?})", last.elapsed(), self.timeout));
        }
        Ok(())
    }
}

pub struct Proxier {
    cfg: ProxierConfig,
    pub state: ProxyState,
    renderer: Renderer,
    iptables: Iptables,
    metrics: Metrics,
    health: SyncHealth,
    need_full: bool,
    seq: u64,
    nodeports: NodePortAddresses,
    reports: watch::Sender<SyncReport>,
}

impl Proxier {
    /// Picks the iptables backend and sets the sysctls the rules need.
    pub fn new(cfg: ProxierConfig, metrics: Metrics) -> Self {
        let mode = cfg.mode.unwrap_or_else(|| iptables::detect_mode(&cfg.exec));
        tracing::info!(%mode, netns = ?cfg.exec.netns(), "using iptables");
        if cfg.render.localhost_nodeports {
            // NodePorts on 127.0.0.1 need DNAT of loopback-destined packets to be routable.
            if let Err(e) = cfg.exec.run("sysctl", &["-q", "-w", "net.ipv4.conf.all.route_localnet=1"], None) {
                tracing::warn!(error = %e, "cannot set route_localnet: NodePorts will not answer on localhost");
            }
        }
        // Bridged pod-to-pod traffic must traverse iptables for service DNAT; br_netfilter may be absent.
        if let Err(e) = cfg.exec.run("sysctl", &["-q", "-w", "net.bridge.bridge-nf-call-iptables=1"], None) {
            tracing::debug!(error = %e, "bridge-nf-call-iptables not set");
        }
        let health = SyncHealth::new(2 * cfg.sync_period);
        Proxier {
            state: ProxyState::new(&cfg.node_name),
            renderer: Renderer::new(cfg.render.clone()),
            iptables: Iptables::new(mode, cfg.exec.clone()),
            metrics,
            health,
            need_full: true,
            seq: 0,
            nodeports: NodePortAddresses::All,
            reports: watch::channel(SyncReport::default()).0,
            cfg,
        }
    }

    pub fn mode(&self) -> Mode {
        self.iptables.mode
    }

    pub fn health(&self) -> SyncHealth {
        self.health.clone()
    }

    /// Every finished sync, latest first.
    pub fn reports(&self) -> watch::Receiver<SyncReport> {
        self.reports.subscribe()
    }

    /// Local IPv4 addresses within `--nodeport-addresses`.
    fn nodeport_addresses(&self) -> NodePortAddresses {
        if self.cfg.nodeport_addresses.is_empty() {
            return NodePortAddresses::All;
        }
        let out = match self.cfg.exec.run("ip", &["-4", "-o", "addr", "show"], None) {
            Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
            Err(e) => {
                tracing::error!(error = %e, "listing node addresses for --nodeport-addresses");
                String::new()
            }
        };
        let mut ips: Vec<Ipv4Addr> = out
            .lines()
            .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1))
            .filter_map(|a| a.split('/').next()?.parse().ok())
            .filter(|ip| self.cfg.nodeport_addresses.iter().any(|c| c.contains(*ip)))
            .collect();
        ips.sort();
        ips.dedup();
        NodePortAddresses::Only(ips)
    }

    /// One sync: all Services when `full` (or when the last one failed), else the changed ones.
    pub fn sync(&mut self, full: bool) -> Result<SyncReport, SyncError> {
        let start = Instant::now();
        let full = full || self.need_full;
        let mut keys = self.state.take_dirty();
        if !full && keys.is_empty() {
            return Ok(self.reports.borrow().clone());
        }
        if full {
            if self.seq == 0 {
                // Chains left by an earlier run: a full sync deletes the ones no Service wants.
                match self.iptables.chains("nat") {
                    Ok(c) => self.renderer.adopt_existing_chains(c),
                    Err(e) => tracing::warn!(error = %e, "iptables-save: stale chains of an earlier run stay"),
                }
            }
            self.nodeports = self.nodeport_addresses();
            keys.extend(self.state.all_keys());
            keys.extend(self.renderer.keys().cloned());
        }
        let changed: Vec<_> = keys.into_iter().map(|k| {
            let d = self.state.desired(&k);
            (k, d)
        }).collect();
        let restore = self.renderer.render(full, changed, &self.nodeports);
        if !restore.text.is_empty() {
            if let Err(e) = self.iptables.restore(&restore.text) {
                self.metrics.restore_failures.inc();
                if !full {
                    self.metrics.partial_restore_failures.inc();
                }
                // The changes are consumed: only a full sync can converge now.
                self.need_full = true;
                self.renderer.forget_written();
                return Err(SyncError::Restore(e));
            }
        }
        self.renderer.commit(&restore);
        if full {
            let firewall: &[_] = if self.cfg.render.localhost_nodeports { iptables::FIREWALL_JUMPS } else { &[] };
            for (table, src, extra, comment, dst) in iptables::JUMPS.iter().chain(firewall) {
                if let Err(e) = self.iptables.ensure_jump(table, src, extra, comment, dst) {
                    self.need_full = true;
                    return Err(SyncError::Jumps(e));
                }
            }
        }
        if !restore.stale_flows.is_empty() {
            crate::conntrack::clear_stale(&self.cfg.exec, &restore.stale_flows);
        }
        self.need_full = false;
        self.seq += 1;
        let duration = start.elapsed();
        let m = &self.metrics;
        m.sync_duration.observe(duration);
        if full {
            m.full_sync_duration.observe(duration);
        } else {
            m.partial_sync_duration.observe(duration);
        }
        m.last_sync_timestamp.set(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64);
        m.rules_total.with(&["nat"]).set(restore.nat_rules as i64);
        m.rules_total.with(&["filter"]).set(restore.filter_rules as i64);
        m.rules_last_sync.with(&["nat"]).set(restore.nat_rules_written as i64);
        m.rules_last_sync.with(&["filter"]).set(restore.filter_rules_written as i64);
        m.services.set(self.state.service_count() as i64);
        self.health.updated();
        let report = SyncReport {
            seq: self.seq,
            full,
            duration,
            rules: restore.nat_rules + restore.filter_rules,
            rules_written: restore.nat_rules_written + restore.filter_rules_written,
            services: self.state.service_count(),
        };
        tracing::debug!(full, elapsed = ?duration, rules = report.rules, written = report.rules_written, deleted_chains = restore.deleted_chains.len(), "synced iptables rules");
        self.reports.send_replace(report.clone());
        Ok(report)
    }
}

/// Watches Services and EndpointSlices and keeps the rules in sync until `shutdown`.
pub async fn run(mut proxier: Proxier, client: Client, shutdown: CancellationToken) {
    let services = Informer::new(Api::<Service>::all(client.clone()), InformerConfig::default());
    let slices = Informer::new(Api::<EndpointSlice>::all(client), InformerConfig::default());
    let mut svc_rx = services.subscribe();
    let mut es_rx = slices.subscribe();
    let tasks = [services.spawn(), slices.spawn()];
    tokio::select! {
        _ = shutdown.cancelled() => { for t in tasks { t.abort(); } return; }
        _ = async { services.wait_synced().await; slices.wait_synced().await } => {}
    }
    tracing::info!("services and endpointslices synced");
    let (period, min) = (proxier.cfg.sync_period, proxier.cfg.min_sync_period);
    let health = proxier.health();
    let mut last_full: Option<Instant> = None;
    let mut last_sync = Instant::now() - min;
    let mut failed = false;
    loop {
        // Fold in everything already queued.
        while let Ok(ev) = svc_rx.try_recv() {
            if proxier.state.service_event(&ev) {
                health.queued();
            }
        }
        while let Ok(ev) = es_rx.try_recv() {
            if proxier.state.slice_event(&ev) {
                health.queued();
            }
        }
        let now = Instant::now();
        let full_due = last_full.is_none_or(|t| now >= t + period);
        // After a failure, retry no sooner than the minimum period (as upstream's runner retries).
        let sync_allowed = now >= last_sync + min;
        if sync_allowed && (full_due || failed || proxier.state.has_dirty()) {
            let full = full_due || failed;
            let (p, result) = match tokio::task::spawn_blocking(move || {
                let r = proxier.sync(full);
                (proxier, r)
            })
            .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "sync task panicked");
                    break;
                }
            };
            proxier = p;
            last_sync = Instant::now();
            match result {
                Ok(r) => {
                    failed = false;
                    if r.full {
                        last_full = Some(last_sync);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "sync failed");
                    failed = true;
                }
            }
            continue;
        }
        let next_full = last_full.map(|t| t + period).unwrap_or(now);
        let wake = if proxier.state.has_dirty() || failed { (last_sync + min).min(next_full.max(last_sync + min)) } else { next_full };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            ev = svc_rx.recv() => match ev {
                Some(ev) => if proxier.state.service_event(&ev) { health.queued(); },
                None => break,
            },
            ev = es_rx.recv() => match ev {
                Some(ev) => if proxier.state.slice_event(&ev) { health.queued(); },
                None => break,
            },
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
    }
    for t in tasks {
        t.abort();
    }
}
