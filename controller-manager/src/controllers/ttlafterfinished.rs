//! TTL after finished (upstream's pkg/controller/ttlafterfinished): a Job
//! with `ttlSecondsAfterFinished` is deleted (background propagation, so
//! the garbage collector takes its pods) that many seconds after it got its
//! Complete or Failed condition.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use client::controller::{Action, Controller};
use client::store::{split_key, Store};
use client::{Api, Client, DeleteParams};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;

use super::job::is_finished;
use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::controller_utils::now;
use crate::Error;

pub const TTL_AFTER_FINISHED: Descriptor = Descriptor {
    name: "ttl-after-finished-controller",
    aliases: &["ttl-after-finished"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-ttl-after-finished-syncs",
        default: 5,
        help: "The number of ttl-after-finished-controller workers that are allowed to sync concurrently.",
    }),
    start,
};

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let jobs = ctx.informers.get::<Job>();
        let state = Arc::new(Ttl { client: ctx.client.clone(), jobs: jobs.store() });
        let controller = ctx.metrics.instrument("ttl_jobs_to_delete", Controller::new("ttl_jobs_to_delete", &jobs).workers(ctx.workers));
        controller.run(state, sync, ctx.shutdown.clone()).await;
    })
}

struct Ttl {
    client: Client,
    jobs: Store<Job>,
}

/// How long until `job` expires at `now` (None: it never does; zero: now).
pub fn time_left(job: &Job, now: Timestamp) -> Option<Duration> {
    if job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = is_finished(job)?.last_transition_time?.0;
    let expire_ns = finished.as_nanosecond() + i128::from(ttl) * 1_000_000_000;
    let left = expire_ns - now.as_nanosecond();
    Some(Duration::from_nanos(left.max(0) as u64))
}

/// processJob: expired? re-read it from the apiserver (the TTL may have
/// been changed), then delete with background propagation, pinned to its uid.
async fn sync(ctx: Arc<Ttl>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let Some(job) = ctx.jobs.get(ns, name) else { return Ok(Action::Done) };
    match time_left(&job, now()) {
        None => return Ok(Action::Done),
        Some(d) if !d.is_zero() => return Ok(Action::RequeueAfter(d)),
        _ => {}
    }
    let api = Api::<Job>::namespaced(ctx.client.clone(), ns);
    let Some(fresh) = api.get_opt(name).await? else { return Ok(Action::Done) };
    match time_left(&fresh, now()) {
        None => return Ok(Action::Done),
        Some(d) if !d.is_zero() => return Ok(Action::RequeueAfter(d)),
        _ => {}
    }
    tracing::info!(job = %key, "cleaning up finished Job after its TTL");
    let dp = DeleteParams { propagation_policy: Some("Background".into()), precondition_uid: fresh.metadata.uid.clone(), ..Default::default() };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(Action::Done),
        Err(e) if e.is_not_found() => Ok(Action::Done),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_counts_from_the_finished_condition() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j"},
            "spec": {"ttlSecondsAfterFinished": 100, "template": {}},
            "status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
        }))
        .unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(time_left(&job, at("2024-01-01T00:00:40Z")), Some(Duration::from_secs(60)));
        assert_eq!(time_left(&job, at("2024-01-01T00:05:00Z")), Some(Duration::ZERO));
        let mut running = job.clone();
        running.status = None;
        assert_eq!(time_left(&running, at("2024-01-01T00:05:00Z")), None, "not finished");
        let mut no_ttl = job;
        no_ttl.spec.as_mut().unwrap().ttl_seconds_after_finished = None;
        assert_eq!(time_left(&no_ttl, at("2024-01-01T00:05:00Z")), None);
    }
}
