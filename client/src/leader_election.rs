//! Leader election on a `coordination.k8s.io/v1` Lease (client-go's
//! `leaderelection` with a `LeaseLock`): among replicas of a daemon, one
//! does the work.
//!
//! - Acquire: the lease is free (no holder) or expired. Expiry is judged by
//!   the local clock: the holder's record must stay unchanged for
//!   `leaseDurationSeconds` since *we* saw it change (no clock-skew trust).
//!   A takeover sets acquireTime and increments leaseTransitions.
//! - Renew every `retry_period`; if no renewal succeeds within
//!   `renew_deadline`, leadership is lost: the work is told to stop.
//! - Release on shutdown: holderIdentity is cleared (leaseDurationSeconds 1)
//!   so another replica takes over at its next try instead of waiting.
//!
//! ```no_run
//! # async fn f(client: client::Client) {
//! use client::leader_election::{LeaderElectionConfig, LeaderElector, LeadershipEnd};
//! use client::CancellationToken;
//!
//! let shutdown = CancellationToken::new(); // cancel on SIGTERM
//! let config = LeaderElectionConfig::new("kube-system", "kube-scheduler", "host-1_abc");
//! let end = LeaderElector::new(client, config)
//!     .run(shutdown.clone(), |leading: CancellationToken| async move {
//!         // Work until `leading` is cancelled.
//!         leading.cancelled().await;
//!     })
//!     .await;
//! if end == LeadershipEnd::Lost {
//!     std::process::exit(1); // as upstream daemons do: restart and campaign again
//! }
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{Api, Client, PostParams, Result};

/// Which lease, who we are, and the timings (upstream defaults 15 s / 10 s / 2 s).
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    pub namespace: String,
    pub name: String,
    /// Unique per replica, e.g. `"<hostname>_<uuid>"`.
    pub identity: String,
    /// How long non-leaders wait after the last renewal they saw before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a renewal before it gives up leadership.
    pub renew_deadline: Duration,
    /// Pause between tries (acquire and renew).
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        LeaderElectionConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Why [`LeaderElector::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadershipEnd {
    /// `shutdown` was cancelled (the lease was released if we held it).
    Shutdown,
    /// A renewal did not succeed within `renew_deadline`; another replica may lead now.
    Lost,
    /// The work returned on its own while leading (the lease was released).
    Finished,
}

/// Campaigns for one lease; see the module docs.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    /// The lease spec as last seen, and when (local clock) it last changed.
    observed: Option<(LeaseSpec, Instant)>,
}

impl LeaderElector {
    pub fn new(client: Client, config: LeaderElectionConfig) -> Self {
        LeaderElector { api: Api::namespaced(client, &config.namespace), config, observed: None }
    }

    /// Waits until this replica leads, then runs `lead(leading)` while
    /// renewing. `leading` is cancelled when leadership is lost or
    /// `shutdown` is cancelled; `run` waits for the work to return before
    /// it releases the lease (so two leaders never overlap) and returns.
    pub async fn run<F, Fut>(mut self, shutdown: CancellationToken, lead: F) -> LeadershipEnd
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()>,
    {
        tokio::select! {
            _ = shutdown.cancelled() => return LeadershipEnd::Shutdown,
            _ = self.acquire() => {}
        }
        tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
        let leading = shutdown.child_token();
        let mut work = std::pin::pin!(lead(leading.clone()));
        let mut work_done = true;
        let end = {
            let renew = self.renew_until_lost(&shutdown);
            tokio::select! {
                end = renew => {
                    work_done = false;
                    end
                }
                // `leading` is a child of `shutdown`: the work may see a shutdown first.
                _ = &mut work => if shutdown.is_cancelled() { LeadershipEnd::Shutdown } else { LeadershipEnd::Finished },
            }
        };
        leading.cancel();
        if !work_done {
            work.await;
        }
        match end {
            LeadershipEnd::Lost => tracing::warn!(lease = %self.config.name, identity = %self.config.identity, "leadership lost"),
            _ => self.release().await,
        }
        end
    }

    /// Tries every retry period (jittered as client-go's, x1..x2.2) until it holds the lease.
    async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(lease = %self.config.name, error = %e, "cannot acquire lease"),
            }
            let jitter = rand::rng().random_range(0.0..1.2);
            tokio::time::sleep(self.config.retry_period.mul_f64(1.0 + jitter)).await;
        }
    }

    /// Renews every retry period; returns when a renewal round misses its
    /// deadline (Lost) or on shutdown.
    async fn renew_until_lost(&mut self, shutdown: &CancellationToken) -> LeadershipEnd {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return LeadershipEnd::Shutdown,
                _ = tokio::time::sleep(self.config.retry_period) => {}
            }
            let deadline = Instant::now() + self.config.renew_deadline;
            loop {
                match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                    Ok(Ok(true)) => break,
                    Ok(Ok(false)) => tracing::warn!(lease = %self.config.name, "lease is held by another replica"),
                    Ok(Err(e)) => tracing::warn!(lease = %self.config.name, error = %e, "cannot renew lease"),
                    Err(_) => return LeadershipEnd::Lost,
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return LeadershipEnd::Shutdown,
                    _ = tokio::time::sleep(self.config.retry_period) => {}
                }
                if Instant::now() >= deadline {
                    return LeadershipEnd::Lost;
                }
            }
        }
    }

    /// One try: create the lease, renew it, or take it over if it is free or
    /// expired. Ok(false) when another replica holds it (or won a race).
    async fn try_acquire_or_renew(&mut self) -> Result<bool> {
        let now = MicroTime(crate::now_timestamp());
        let me = self.config.identity.clone();
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(self.lease_seconds()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(created.spec.unwrap_or_default());
                    Ok(true)
                }
                Err(e) if e.is_already_exists() || e.is_conflict() => Ok(false),
                Err(e) => Err(e),
            };
        };

        let spec = lease.spec.clone().unwrap_or_default();
        self.observe(spec.clone());
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_for = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
        let seen_at = self.observed.as_ref().map(|(_, at)| *at).unwrap_or_else(Instant::now);
        if !holder.is_empty() && holder != me && Instant::now() < seen_at + held_for {
            return Ok(false);
        }

        let mut next = LeaseSpec {
            holder_identity: Some(me.clone()),
            lease_duration_seconds: Some(self.lease_seconds()),
            renew_time: Some(now.clone()),
            ..spec.clone()
        };
        if holder != me {
            next.acquire_time = Some(now);
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec = Some(next);
        // The update is a compare-and-swap on resourceVersion: of two replicas
        // taking over at once, one gets Conflict.
        match self.api.replace(&lease).await {
            Ok(updated) => {
                self.observe(updated.spec.unwrap_or_default());
                Ok(true)
            }
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Clears holderIdentity if we hold the lease, so others need not wait.
    async fn release(&mut self) {
        let result: Result<()> = async {
            let Some(mut lease) = self.api.get_opt(&self.config.name).await? else { return Ok(()) };
            let spec = lease.spec.clone().unwrap_or_default();
            if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            let now = MicroTime(crate::now_timestamp());
            lease.spec = Some(LeaseSpec {
                holder_identity: None,
                lease_duration_seconds: Some(1),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                ..spec
            });
            self.api.replace(&lease).await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => tracing::info!(lease = %self.config.name, identity = %self.config.identity, "released lease"),
            Err(e) => tracing::warn!(lease = %self.config.name, error = %e, "cannot release lease"),
        }
    }

    /// Records the spec, restarting the expiry clock when it changed.
    fn observe(&mut self, spec: LeaseSpec) {
        if self.observed.as_ref().map(|(s, _)| s) != Some(&spec) {
            self.observed = Some((spec, Instant::now()));
        }
    }

    fn lease_seconds(&self) -> i32 {
        self.config.lease_duration.as_secs().max(1) as i32
    }
}
