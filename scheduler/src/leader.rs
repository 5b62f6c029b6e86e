//! Running the scheduler only while this replica holds the kube-scheduler Lease.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use client::leader_election::{LeaderElectionConfig, LeaderElector, LeadershipEnd};
use client::{CancellationToken, Client};

use crate::config::SchedulerConfig;
use crate::metrics::Metrics;
use crate::Scheduler;

/// Campaigns for the lease in `config.leader_election` as `identity`, and
/// schedules while leading. Without leader election, schedules at once.
pub async fn run(client: Client, config: SchedulerConfig, metrics: Arc<Metrics>, identity: &str, shutdown: CancellationToken) -> LeadershipEnd {
    let le = config.leader_election.clone();
    let sched = Scheduler::new(client.clone(), config, metrics.clone());
    if !le.leader_elect {
        metrics.is_leader.store(1, Ordering::Relaxed);
        sched.run(shutdown).await;
        return LeadershipEnd::Shutdown;
    }
    let mut lec = LeaderElectionConfig::new(&le.resource_namespace, &le.resource_name, identity);
    lec.lease_duration = le.lease_duration;
    lec.renew_deadline = le.renew_deadline;
    lec.retry_period = le.retry_period;
    LeaderElector::new(client, lec)
        .run(shutdown, |leading| async move {
            metrics.is_leader.store(1, Ordering::Relaxed);
            sched.run(leading).await;
            metrics.is_leader.store(0, Ordering::Relaxed);
        })
        .await
}
