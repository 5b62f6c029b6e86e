//! CronJob (upstream's pkg/controller/cronjob, ControllerV2): create a Job
//! at each time the schedule names (read in `spec.timeZone`, parsed by
//! `api::cron`, the parser the apiserver validates with), honouring
//! `suspend`, `startingDeadlineSeconds` and `concurrencyPolicy`; keep
//! `status.active`, `lastScheduleTime` and `lastSuccessfulTime`; delete
//! finished Jobs beyond the history limits.
//!
//! A Job is named `<cronjob>-<scheduled time in minutes since the epoch>`,
//! so a restarted controller that missed its own status update cannot
//! create the same run twice (the create answers AlreadyExists).
//!
//! The scheduling decision ([`decide`]) and the time arithmetic take `now`
//! as an argument; the controller reads it from its [`Clock`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::cron::Schedule;
use api::owner::{controller_of, controller_ref_for};
use client::controller::{Action, Controller};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{key_of, make_key, split_key, Store};
use client::{Api, Client, DeleteParams, PostParams};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::job::is_finished;
use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::informers::NAMESPACE_INDEX;
use crate::Error;

pub const CRONJOB_SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// upstream's nextScheduleDelta: requeue a little after the scheduled time.
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

pub const CRONJOB: Descriptor = Descriptor {
    name: "cronjob-controller",
    aliases: &["cronjob"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-cron-job-syncs",
        default: 5,
        help: "The number of cron job objects that are allowed to sync concurrently. Larger number = more responsive jobs, but more CPU (and network) load",
    }),
    start,
};

/// Where the controller reads the time (tests inject their own).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let cronjobs = ctx.informers.get::<CronJob>();
        let jobs = ctx.informers.get::<Job>();
        let state = Arc::new(CronSync {
            client: ctx.client.clone(),
            cronjobs: cronjobs.store(),
            jobs: jobs.store(),
            recorder: EventRecorder::new(ctx.client.clone(), "cronjob-controller", None),
            clock: Arc::new(crate::controller_utils::now),
        });
        let owners = cronjobs.store();
        let controller = Controller::new("cronjob", &cronjobs).workers(ctx.workers).watches(&jobs, move |ev: &InformerEvent<Job>| {
            // A Job's change syncs its CronJob (addJob/updateJob/deleteJob).
            let j = ev.object();
            let ns = j.metadata.namespace.as_deref().unwrap_or_default();
            controller_of(&j.metadata)
                .filter(|r| r.kind == "CronJob")
                .filter(|r| owners.get(ns, &r.name).is_some_and(|c| c.metadata.uid.as_deref() == Some(r.uid.as_str())))
                .map(|r| vec![make_key(ns, &r.name)])
                .unwrap_or_default()
        });
        let controller = ctx.metrics.instrument("cronjob", controller);
        controller.run(state.clone(), sync, ctx.shutdown.clone()).await;
        state.recorder.flush().await;
    })
}

struct CronSync {
    client: Client,
    cronjobs: Store<CronJob>,
    jobs: Store<Job>,
    recorder: EventRecorder,
    clock: Clock,
}

/// The schedule as the controller reads it (formatSchedule + ParseStandard):
/// a `TZ=` in the schedule wins, else `spec.timeZone`, else the local zone.
pub fn schedule_of(cj: &CronJob) -> Result<Schedule, String> {
    let spec = &cj.spec;
    let sched = api::cron::parse(&spec.schedule).map_err(|e| e.0)?;
    match spec.time_zone.as_deref() {
        Some(tz) if !spec.schedule.contains("TZ") => Ok(sched.in_time_zone(api::cron::load_location(tz).map_err(|e| e.0)?)),
        _ => Ok(sched),
    }
}

/// How many start times were missed (upstream's missedSchedules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    None,
    Few,
    Many,
}

fn plus(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(t)
}

/// upstream's mostRecentScheduleTime: (earliest time considered, the most
/// recent start time <= now if any, how many were missed).
pub fn most_recent_schedule_time(cj: &CronJob, now: Timestamp, sched: &Schedule, include_deadline: bool) -> Result<(Timestamp, Option<Timestamp>, Missed), String> {
    let created = cj.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
    let mut earliest = cj.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()).map(|t| t.0).unwrap_or(created);
    if include_deadline {
        if let Some(d) = cj.spec.starting_deadline_seconds {
            let deadline = plus(now, SignedDuration::from_secs(-d));
            if deadline > earliest {
                earliest = deadline;
            }
        }
    }
    let Some(t1) = sched.next(earliest) else { return Ok((earliest, None, Missed::None)) };
    if now < t1 {
        return Ok((earliest, None, Missed::None));
    }
    let Some(t2) = sched.next(t1) else { return Ok((earliest, Some(t1), Missed::None)) };
    if now < t2 {
        return Ok((earliest, Some(t1), Missed::None));
    }
    let between = (t2.as_nanosecond() - t1.as_nanosecond() + 500_000_000) / 1_000_000_000;
    if between < 1 {
        return Err("time difference between two schedules is less than 1 second".into());
    }
    let between = between as i64;
    let elapsed = ((now.as_nanosecond() - t1.as_nanosecond()) / 1_000_000_000) as i64;
    let missed = elapsed / between + 1;
    let potential = plus(t1, SignedDuration::from_secs((missed - 2) * between));
    let mut most_recent = None;
    let mut t = sched.next(potential);
    while let Some(x) = t.filter(|x| *x <= now) {
        most_recent = Some(x);
        t = sched.next(x);
    }
    let m = if missed > 100 { Missed::Many } else { Missed::Few };
    Ok((earliest, most_recent, m))
}

/// upstream's nextScheduleTimeDuration: how long until the next start
/// (plus 100 ms), to requeue the CronJob.
pub fn next_schedule_duration(cj: &CronJob, now: Timestamp, sched: &Schedule) -> Duration {
    let from = match most_recent_schedule_time(cj, now, sched, false) {
        Err(_) => now,
        Ok((_, Some(t), _)) => t,
        Ok((earliest, None, Missed::None)) => earliest,
        Ok((_, None, _)) => now,
    };
    let Some(next) = sched.next(from) else { return Duration::from_secs(3600) };
    let left = next.as_nanosecond() - now.as_nanosecond();
    Duration::from_nanos(left.max(0) as u64) + NEXT_SCHEDULE_DELTA
}

/// The Job's name for a start time: `<cronjob>-<minutes since the epoch>` (getJobName).
pub fn job_name(cj: &CronJob, scheduled: Timestamp) -> String {
    format!("{}-{}", cj.metadata.name.as_deref().unwrap_or_default(), scheduled.as_second().div_euclid(60))
}

/// The Job for a start time (getJobFromTemplate2): the template's labels,
/// annotations and spec, the scheduled-timestamp annotation (RFC 3339 in
/// the CronJob's zone), and the controller reference.
pub fn job_from_template(cj: &CronJob, scheduled: Timestamp) -> Result<Job, String> {
    let tmpl = &cj.spec.job_template;
    let tm = tmpl.metadata.clone().unwrap_or_default();
    let tz = api::cron::load_location(cj.spec.time_zone.as_deref().unwrap_or("")).map_err(|e| e.0)?;
    let mut annotations = tm.annotations.unwrap_or_default();
    annotations.insert(CRONJOB_SCHEDULED_TIMESTAMP.into(), scheduled.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string().replace("+00:00", "Z"));
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(job_name(cj, scheduled)),
            namespace: cj.metadata.namespace.clone(),
            labels: tm.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref_for(cj)]),
            ..Default::default()
        },
        spec: tmpl.spec.clone(),
        status: None,
    })
}

/// What one sync should do about starting a Job at `now` (the scheduling
/// half of syncCronJob, after the active list is reconciled).
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Suspended, or the schedule is unusable: nothing (an Event says why).
    Nothing,
    /// No start time is due; look again after this long.
    Wait(Duration),
    /// The due start time is past startingDeadlineSeconds.
    Missed { scheduled: Timestamp, requeue: Duration },
    /// Forbid, and a Job is still active.
    AlreadyActive { requeue: Duration },
    /// Start the Job for `scheduled`; with `replace`, delete the active ones first.
    Start { scheduled: Timestamp, replace: bool, requeue: Duration },
}

/// The scheduling decision for `cj` at `now`; `Err` carries the
/// Warning Event (reason, message) for an unusable schedule.
pub fn decide(cj: &CronJob, now: Timestamp, sched: &Schedule) -> Result<(Decision, Missed), (String, String)> {
    if cj.spec.suspend == Some(true) {
        return Ok((Decision::Nothing, Missed::None));
    }
    let (_, scheduled, missed) = most_recent_schedule_time(cj, now, sched, true)
        .map_err(|e| ("InvalidSchedule".to_string(), format!("invalid schedule: {} : {e}", cj.spec.schedule)))?;
    let requeue = next_schedule_duration(cj, now, sched);
    let Some(scheduled) = scheduled.filter(|t| *t <= now) else { return Ok((Decision::Wait(requeue), missed)) };
    if let Some(d) = cj.spec.starting_deadline_seconds {
        if plus(scheduled, SignedDuration::from_secs(d)) < now {
            return Ok((Decision::Missed { scheduled, requeue }, missed));
        }
    }
    let status = cj.status.clone().unwrap_or_default();
    let name = job_name(cj, scheduled);
    let active = status.active.unwrap_or_default();
    if active.iter().any(|r| r.name.as_deref() == Some(name.as_str())) || status.last_schedule_time.as_ref().is_some_and(|t| t.0 == scheduled) {
        return Ok((Decision::Wait(requeue), missed));
    }
    match cj.spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => Ok((Decision::AlreadyActive { requeue }, missed)),
        Some("Replace") => Ok((Decision::Start { scheduled, replace: !active.is_empty(), requeue }, missed)),
        _ => Ok((Decision::Start { scheduled, replace: false, requeue }, missed)),
    }
}

/// Finished Jobs beyond the history limits, oldest first (cleanupFinishedJobs, byJobStartTime).
pub fn jobs_over_history_limits(cj: &CronJob, jobs: &[Arc<Job>]) -> Vec<Arc<Job>> {
    let mut out = Vec::new();
    for (ty, limit) in [("Complete", cj.spec.successful_jobs_history_limit), ("Failed", cj.spec.failed_jobs_history_limit)] {
        let Some(limit) = limit else { continue };
        let mut done: Vec<Arc<Job>> = jobs.iter().filter(|j| is_finished(j).is_some_and(|c| c.type_ == ty)).cloned().collect();
        let n = done.len().saturating_sub(limit.max(0) as usize);
        if n == 0 {
            continue;
        }
        let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
        done.sort_by(|a, b| match (start(a), start(b)) {
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (x, y) if x == y => a.metadata.name.cmp(&b.metadata.name),
            (x, y) => x.cmp(&y),
        });
        out.extend(done.into_iter().take(n));
    }
    out
}

fn job_ref(j: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: j.metadata.name.clone(),
        namespace: j.metadata.namespace.clone(),
        uid: j.metadata.uid.clone(),
        resource_version: j.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn remove_active(cj: &mut CronJob, uid: Option<&str>) {
    if let Some(a) = cj.status.get_or_insert_with(Default::default).active.as_mut() {
        a.retain(|r| r.uid.as_deref() != uid);
    }
}

impl CronSync {
    /// deleteJob: background propagation; SuccessfulDelete or FailedDelete.
    async fn delete_job(&self, cj: &mut CronJob, job: &Job) -> bool {
        let ns = job.metadata.namespace.as_deref().unwrap_or_default();
        let name = job.metadata.name.as_deref().unwrap_or_default();
        let dp = DeleteParams { propagation_policy: Some("Background".into()), ..Default::default() };
        match Api::<Job>::namespaced(self.client.clone(), ns).delete(name, &dp).await {
            Ok(_) => {
                remove_active(cj, job.metadata.uid.as_deref());
                self.recorder.publish(&*cj, EventType::Normal, "SuccessfulDelete", format!("Deleted job {name}"));
                true
            }
            Err(e) => {
                self.recorder.publish(&*cj, EventType::Warning, "FailedDelete", format!("Deleted job: {e}"));
                false
            }
        }
    }
}

/// One sync of a CronJob (sync + syncCronJob + cleanupFinishedJobs).
async fn sync(ctx: Arc<CronSync>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let Some(cached) = ctx.cronjobs.get(ns, name) else { return Ok(Action::Done) };
    let uid = cached.metadata.uid.clone().unwrap_or_default();
    let jobs: Vec<Arc<Job>> = ctx.jobs.by_index(NAMESPACE_INDEX, ns).into_iter().filter(|j| controller_of(&j.metadata).is_some_and(|r| r.uid == uid)).collect();
    let mut cj = (*cached).clone();
    let now = (ctx.clock)();
    let mut update = false;
    let status = cj.status.get_or_insert_with(Default::default).clone();
    let active = status.active.clone().unwrap_or_default();
    let in_active = |cj: &CronJob, u: &Option<String>| cj.status.as_ref().and_then(|s| s.active.as_ref()).is_some_and(|a| a.iter().any(|r| r.uid == *u));

    for j in &jobs {
        let found = in_active(&cj, &j.metadata.uid);
        let finished = is_finished(j);
        if !found && finished.is_none() {
            let fresh = Api::<CronJob>::namespaced(ctx.client.clone(), ns).get(name).await?;
            if in_active(&fresh, &j.metadata.uid) {
                cj = fresh;
                continue;
            }
            ctx.recorder.publish(&cj, EventType::Warning, "UnexpectedJob", format!("Saw a job that the controller did not create or forgot: {}", j.metadata.name.as_deref().unwrap_or_default()));
        } else if let (true, Some(c)) = (found, finished.as_ref()) {
            remove_active(&mut cj, j.metadata.uid.as_deref());
            ctx.recorder.publish(&cj, EventType::Normal, "SawCompletedJob", format!("Saw completed job: {}, condition: {}", j.metadata.name.as_deref().unwrap_or_default(), c.type_));
            update = true;
        }
        if finished.as_ref().is_some_and(|c| c.type_ == "Complete") {
            let done = j.status.as_ref().and_then(|s| s.completion_time.clone());
            let st = cj.status.get_or_insert_with(Default::default);
            if done.is_some() && (st.last_successful_time.is_none() || done.as_ref().map(|t| t.0) > st.last_successful_time.as_ref().map(|t| t.0)) {
                st.last_successful_time = done;
                update = true;
            }
        }
    }
    // Active Jobs that are gone for good leave the list.
    for r in &active {
        if jobs.iter().any(|j| j.metadata.uid == r.uid) {
            continue;
        }
        let jname = r.name.as_deref().unwrap_or_default();
        if Api::<Job>::namespaced(ctx.client.clone(), ns).get_opt(jname).await?.is_none() {
            ctx.recorder.publish(&cj, EventType::Normal, "MissingJob", format!("Active job went missing: {jname}"));
            remove_active(&mut cj, r.uid.as_deref());
            update = true;
        }
    }

    let mut requeue = None;
    let mut sync_err = None;
    if cj.metadata.deletion_timestamp.is_none() {
        match schedule_step(&ctx, &mut cj, now).await {
            Ok((r, u)) => {
                requeue = r;
                update |= u;
            }
            Err((u, e)) => {
                update |= u;
                sync_err = Some(e);
            }
        }
    }
    for j in jobs_over_history_limits(&cj, &jobs) {
        update |= ctx.delete_job(&mut cj, &j).await;
    }
    if update {
        Api::<CronJob>::namespaced(ctx.client.clone(), ns).replace_status(&cj).await?;
    }
    if let Some(e) = sync_err {
        return Err(e);
    }
    Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
}

/// The scheduling half of syncCronJob: returns the requeue delay and
/// whether the status changed (also on error).
async fn schedule_step(ctx: &CronSync, cj: &mut CronJob, now: Timestamp) -> Result<(Option<Duration>, bool), (bool, Error)> {
    let ns = cj.metadata.namespace.clone().unwrap_or_default();
    if let Some(tz) = cj.spec.time_zone.clone() {
        if let Err(e) = api::cron::load_location(&tz) {
            ctx.recorder.publish(&*cj, EventType::Warning, "UnknownTimeZone", format!("invalid timeZone: {tz:?}: {e}"));
            return Ok((None, false));
        }
    }
    if cj.spec.suspend == Some(true) {
        return Ok((None, false));
    }
    if cj.spec.schedule.contains("TZ") {
        ctx.recorder.publish(&*cj, EventType::Warning, "UnsupportedSchedule", format!("CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.spec.schedule));
    }
    let sched = match schedule_of(cj) {
        Ok(s) => s,
        Err(e) => {
            ctx.recorder.publish(&*cj, EventType::Warning, "UnparseableSchedule", format!("unparseable schedule: {:?} : {e}", cj.spec.schedule));
            return Ok((None, false));
        }
    };
    let (decision, missed) = match decide(cj, now, &sched) {
        Ok(d) => d,
        Err((reason, msg)) => {
            ctx.recorder.publish(&*cj, EventType::Warning, &reason, msg);
            return Ok((None, false));
        }
    };
    if missed == Missed::Many && matches!(decision, Decision::Start { .. } | Decision::Missed { .. } | Decision::AlreadyActive { .. }) {
        ctx.recorder.publish(&*cj, EventType::Warning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".to_string());
    }
    let mut update = false;
    let (scheduled, requeue) = match decision {
        Decision::Nothing => return Ok((None, false)),
        Decision::Wait(d) => return Ok((Some(d), false)),
        Decision::Missed { scheduled, requeue } => {
            let when = scheduled.strftime("%a, %d %b %Y %H:%M:%S %z").to_string();
            ctx.recorder.publish(&*cj, EventType::Warning, "MissSchedule", format!("Missed scheduled time to start a job: {when}"));
            return Ok((Some(requeue), false));
        }
        Decision::AlreadyActive { requeue } => {
            ctx.recorder.publish(&*cj, EventType::Normal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid".to_string());
            return Ok((Some(requeue), false));
        }
        Decision::Start { scheduled, replace, requeue } => {
            if replace {
                let refs = cj.status.as_ref().and_then(|s| s.active.clone()).unwrap_or_default();
                for r in refs {
                    let jname = r.name.clone().unwrap_or_default();
                    let job = match Api::<Job>::namespaced(ctx.client.clone(), &ns).get(&jname).await {
                        Ok(j) => j,
                        Err(e) => {
                            ctx.recorder.publish(&*cj, EventType::Warning, "FailedGet", format!("Get job: {e}"));
                            return Err((update, e.into()));
                        }
                    };
                    if !ctx.delete_job(cj, &job).await {
                        return Err((update, Error::Other(format!("could not replace job {ns}/{jname}"))));
                    }
                    update = true;
                }
            }
            (scheduled, requeue)
        }
    };
    let req = job_from_template(cj, scheduled).map_err(|e| (update, Error::Other(e)))?;
    let api = Api::<Job>::namespaced(ctx.client.clone(), &ns);
    let created = match api.create(&PostParams::default(), &req).await {
        Ok(j) => {
            ctx.recorder.publish(&*cj, EventType::Normal, "SuccessfulCreate", format!("Created job {}", j.metadata.name.as_deref().unwrap_or_default()));
            j
        }
        Err(e) if e.reason() == Some(api::Reason::AlreadyExists) => {
            // Ours from a sync whose status update was lost, or someone else's.
            let j = api.get(req.metadata.name.as_deref().unwrap_or_default()).await.map_err(|e| (update, e.into()))?;
            let ours = controller_of(&j.metadata).is_some_and(|r| Some(r.uid.as_str()) == cj.metadata.uid.as_deref());
            let listed = cj.status.as_ref().and_then(|s| s.active.as_ref()).is_some_and(|a| a.iter().any(|r| r.uid == j.metadata.uid));
            if !ours || listed {
                return Ok((None, update));
            }
            j
        }
        Err(e) if e.reason() == Some(api::Reason::Forbidden) && e.to_string().contains("being terminated") => return Err((update, e.into())),
        Err(e) => {
            ctx.recorder.publish(&*cj, EventType::Warning, "FailedCreate", format!("Error creating job: {e}"));
            return Err((update, e.into()));
        }
    };
    let st = cj.status.get_or_insert_with(Default::default);
    st.active.get_or_insert_with(Vec::new).push(job_ref(&created));
    st.last_schedule_time = Some(Time(scheduled));
    tracing::debug!(cronjob = %key_of(&*cj), job = ?created.metadata.name, "created job");
    Ok((Some(requeue), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cronjob(schedule: &str, created: &str, extra: serde_json::Value) -> CronJob {
        let mut spec = serde_json::json!({"schedule": schedule, "concurrencyPolicy": "Allow", "jobTemplate": {"metadata": {"labels": {"app": "x"}}, "spec": {"template": {}}}});
        spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "hello", "namespace": "ns", "uid": "cj-uid", "creationTimestamp": created},
            "spec": spec,
        }))
        .unwrap()
    }

    fn with_status(mut cj: CronJob, last: Option<&str>, active: &[&str]) -> CronJob {
        let st = cj.status.get_or_insert_with(Default::default);
        st.last_schedule_time = last.map(|t| Time(ts(t)));
        st.active = Some(active.iter().map(|n| ObjectReference { name: Some(n.to_string()), uid: Some(format!("uid-{n}")), ..Default::default() }).collect());
        cj
    }

    fn decide_at(cj: &CronJob, now: &str) -> Decision {
        decide(cj, ts(now), &schedule_of(cj).unwrap()).unwrap().0
    }

    #[test]
    fn every_minute_starts_at_the_minute_and_names_the_job_by_it() {
        let cj = cronjob("* * * * *", "2024-05-01T10:00:30Z", serde_json::json!({}));
        // Before the first minute boundary: wait until it (+100 ms).
        assert_eq!(decide_at(&cj, "2024-05-01T10:00:45Z"), Decision::Wait(Duration::from_millis(15_100)));
        let d = decide_at(&cj, "2024-05-01T10:01:00.2Z");
        let Decision::Start { scheduled, replace: false, requeue } = d else { panic!("{d:?}") };
        assert_eq!(scheduled, ts("2024-05-01T10:01:00Z"));
        assert_eq!(requeue, Duration::from_millis(59_900));
        let job = job_from_template(&cj, scheduled).unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some(format!("hello-{}", ts("2024-05-01T10:01:00Z").as_second() / 60).as_str()));
        assert_eq!(job.metadata.name.as_deref(), Some("hello-28575961"));
        assert_eq!(job.metadata.annotations.as_ref().unwrap()[CRONJOB_SCHEDULED_TIMESTAMP], "2024-05-01T10:01:00Z");
        assert_eq!(job.metadata.labels.as_ref().unwrap()["app"], "x");
        assert_eq!(controller_of(&job.metadata).unwrap().kind, "CronJob");
        // Once started (lastScheduleTime), the same minute is not started again.
        let started = with_status(cj, Some("2024-05-01T10:01:00Z"), &["hello-28575961"]);
        assert!(matches!(decide_at(&started, "2024-05-01T10:01:30Z"), Decision::Wait(_)));
    }

    #[test]
    fn time_zone_moves_start_times_and_the_annotation() {
        let cj = cronjob("0 9 * * *", "2024-07-01T00:00:00Z", serde_json::json!({"timeZone": "America/New_York"}));
        assert!(matches!(decide_at(&cj, "2024-07-01T12:59:00Z"), Decision::Wait(_)));
        let Decision::Start { scheduled, .. } = decide_at(&cj, "2024-07-01T13:00:05Z") else { panic!() };
        assert_eq!(scheduled, ts("2024-07-01T13:00:00Z"), "09:00 EDT");
        let job = job_from_template(&cj, scheduled).unwrap();
        assert_eq!(job.metadata.annotations.unwrap()[CRONJOB_SCHEDULED_TIMESTAMP], "2024-07-01T09:00:00-04:00");
        assert_eq!(next_schedule_duration(&cj, ts("2024-07-01T12:00:00Z"), &schedule_of(&cj).unwrap()), Duration::from_millis(3_600_100));
    }

    #[test]
    fn forbid_waits_replace_replaces_allow_runs_alongside() {
        let base = |policy: &str| with_status(cronjob("*/5 * * * *", "2024-05-01T10:00:00Z", serde_json::json!({"concurrencyPolicy": policy})), Some("2024-05-01T10:05:00Z"), &["hello-old"]);
        let now = "2024-05-01T10:10:01Z";
        assert!(matches!(decide_at(&base("Forbid"), now), Decision::AlreadyActive { .. }));
        assert!(matches!(decide_at(&base("Replace"), now), Decision::Start { replace: true, .. }));
        assert!(matches!(decide_at(&base("Allow"), now), Decision::Start { replace: false, .. }));
        let idle = with_status(cronjob("*/5 * * * *", "2024-05-01T10:00:00Z", serde_json::json!({"concurrencyPolicy": "Forbid"})), Some("2024-05-01T10:05:00Z"), &[]);
        assert!(matches!(decide_at(&idle, now), Decision::Start { replace: false, .. }));
    }

    #[test]
    fn starting_deadline_misses_and_suspend_stops() {
        let cj = with_status(cronjob("0 * * * *", "2024-05-01T00:00:00Z", serde_json::json!({"startingDeadlineSeconds": 60})), Some("2024-05-01T09:00:00Z"), &[]);
        // 10:00 was due; at 10:00:30 it is within the deadline; at 10:02 it is not.
        assert!(matches!(decide_at(&cj, "2024-05-01T10:00:30Z"), Decision::Start { .. }));
        assert!(matches!(decide_at(&cj, "2024-05-01T10:02:00Z"), Decision::Wait(_)), "the deadline moves the earliest time past 10:00: nothing due");
        let mut late = cj.clone();
        late.spec.starting_deadline_seconds = Some(10);
        // As upstream, the earliest time considered is now - deadline, past
        // 10:00: the late run is skipped and the next one (11:00) awaited.
        assert_eq!(decide_at(&late, "2024-05-01T10:00:15Z"), Decision::Wait(Duration::from_millis(3_585_100)));
        let mut suspended = cj;
        suspended.spec.suspend = Some(true);
        assert_eq!(decide_at(&suspended, "2024-05-01T10:00:30Z"), Decision::Nothing);
    }

    #[test]
    fn many_missed_start_times_are_reported_and_the_latest_is_started() {
        let cj = cronjob("* * * * *", "2024-05-01T00:00:00Z", serde_json::json!({}));
        let (d, missed) = decide(&cj, ts("2024-05-01T05:00:30Z"), &schedule_of(&cj).unwrap()).unwrap();
        assert_eq!(missed, Missed::Many);
        assert!(matches!(d, Decision::Start { scheduled, .. } if scheduled == ts("2024-05-01T05:00:00Z")), "{d:?}");
        let (_, few) = decide(&cj, ts("2024-05-01T00:10:30Z"), &schedule_of(&cj).unwrap()).unwrap();
        assert_eq!(few, Missed::Few);
    }

    #[test]
    fn every_schedules_run_from_the_creation_time() {
        let cj = cronjob("@every 1h30m", "2024-05-01T10:00:00Z", serde_json::json!({}));
        assert!(matches!(decide_at(&cj, "2024-05-01T11:29:00Z"), Decision::Wait(_)));
        assert!(matches!(decide_at(&cj, "2024-05-01T11:30:01Z"), Decision::Start { scheduled, .. } if scheduled == ts("2024-05-01T11:30:00Z")));
    }

    #[test]
    fn history_limits_pick_the_oldest_finished_jobs() {
        let job = |name: &str, cond: &str, start: &str| -> Arc<Job> {
            Arc::new(serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "status": {"startTime": start, "conditions": [{"type": cond, "status": "True"}]}
            })).unwrap())
        };
        let cj = cronjob("* * * * *", "2024-05-01T00:00:00Z", serde_json::json!({"successfulJobsHistoryLimit": 2, "failedJobsHistoryLimit": 0}));
        let jobs = vec![
            job("s3", "Complete", "2024-05-01T00:03:00Z"),
            job("s1", "Complete", "2024-05-01T00:01:00Z"),
            job("f1", "Failed", "2024-05-01T00:01:30Z"),
            job("s2", "Complete", "2024-05-01T00:02:00Z"),
            job("running", "Suspended", "2024-05-01T00:00:30Z"),
        ];
        let names: Vec<String> = jobs_over_history_limits(&cj, &jobs).iter().map(|j| j.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["s1", "f1"]);
    }
}
