//! Job (upstream's pkg/controller/job): run pods until `completions` of
//! them succeed (or, without completions, until one does), `parallelism` at
//! a time, and fail the Job on `backoffLimit`, `activeDeadlineSeconds` or a
//! `podFailurePolicy` FailJob rule.
//!
//! Pods carry the `batch.kubernetes.io/job-tracking` finalizer, so a pod
//! cannot vanish before it is counted. One sync: claim pods, find the newly
//! finished ones, record their uids in `status.uncountedTerminatedPods`
//! (one status write), remove their finalizers, then move them into
//! `succeeded`/`failed` (a second write). A finished pod whose finalizer is
//! gone was counted already. Failures delay replacements by 10 s doubling
//! per failure since the last success, capped at 6 min.
//!
//! Terminal conditions as upstream 1.31+: first the interim
//! `SuccessCriteriaMet` / `FailureTarget` (active pods are deleted then),
//! and `Complete` / `Failed` once no pod is left running or uncounted.
//! Indexed Jobs give each pod a completion index (annotation and label
//! `batch.kubernetes.io/job-completion-index`, env `JOB_COMPLETION_INDEX`,
//! hostname `<job>-<index>`) and report `status.completedIndexes`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::owner::{controller_of, controller_ref_for};
use api::Selector;
use client::controller::{Action, Controller, UidTrackingExpectations};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{key_of, make_key, split_key, Store};
use client::{Api, Client, DeleteParams, Patch, PostParams};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, PodFailurePolicyRule, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::controller_utils::{is_pod_active, is_pod_ready, now, pod_from_template, pod_key, pods_to_delete, slow_start_batch, SLOW_START_INITIAL_BATCH_SIZE};
use crate::informers::NAMESPACE_INDEX;
use crate::ref_manager::claim_pods;
use crate::Error;

pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const JOB_COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
pub const JOB_COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// upstream's DefaultJobPodFailureBackOff and the documented cap.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_BACKOFF: Duration = Duration::from_secs(360);
/// upstream's MaxPodCreateDeletePerSync.
const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;

pub const JOB: Descriptor = Descriptor {
    name: "job-controller",
    aliases: &["job"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-job-syncs",
        default: 5,
        help: "The number of job objects that are allowed to sync concurrently. Larger number = more responsive jobs, but more CPU (and network) load",
    }),
    start,
};

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let jobs = ctx.informers.get::<Job>();
        let pods = ctx.informers.get::<Pod>();
        let state = Arc::new(JobSync {
            client: ctx.client.clone(),
            jobs: jobs.store(),
            pods: pods.store(),
            expectations: UidTrackingExpectations::new(),
            finalizers_removed: Default::default(),
            recorder: EventRecorder::new(ctx.client.clone(), "job-controller", None),
        });
        let controller = Controller::new("job", &jobs).workers(ctx.workers);
        let on_pod = state.clone();
        let on_job = state.clone();
        let controller = controller.watches(&pods, move |ev| on_pod.pod_event(ev)).watches(&jobs, move |ev| {
            if let InformerEvent::Deleted(j) = ev {
                on_job.expectations.delete(&key_of(j.as_ref()));
            }
            Vec::new()
        });
        let controller = ctx.metrics.instrument("job", controller);
        controller.run(state.clone(), sync, ctx.shutdown.clone()).await;
        state.recorder.flush().await;
    })
}

struct JobSync {
    client: Client,
    jobs: Store<Job>,
    pods: Store<Pod>,
    expectations: UidTrackingExpectations,
    /// Pods whose tracking finalizer this controller removed and whose
    /// removal the pod cache has not shown yet: never count them again
    /// (upstream's finalizerExpectations).
    finalizers_removed: Mutex<HashSet<String>>,
    recorder: EventRecorder,
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == JOB_TRACKING_FINALIZER))
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// The pod's completion index, if it has a valid one (getCompletionIndex).
pub fn completion_index(pod: &Pod) -> Option<i32> {
    let m = &pod.metadata;
    let v = m.annotations.as_ref().and_then(|a| a.get(JOB_COMPLETION_INDEX)).or_else(|| m.labels.as_ref().and_then(|l| l.get(JOB_COMPLETION_INDEX)))?;
    v.parse::<i32>().ok().filter(|i| *i >= 0)
}

impl JobSync {
    /// upstream's addPod/updatePod/deletePod: expectations, and which Job to sync.
    fn pod_event(&self, ev: &InformerEvent<Pod>) -> Vec<String> {
        let pod = ev.object();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if matches!(ev, InformerEvent::Deleted(_)) || !has_finalizer(pod) {
            self.finalizers_removed.lock().remove(&uid);
        }
        let Some(r) = controller_of(&pod.metadata).filter(|r| r.kind == "Job") else { return Vec::new() };
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let key = make_key(ns, &r.name);
        let ours = self.jobs.get(ns, &r.name).is_some_and(|j| j.metadata.uid.as_deref() == Some(r.uid.as_str()));
        if !ours {
            // A pod of a Job that is gone still holding the finalizer: the sync of that name frees it.
            return if has_finalizer(pod) { vec![key] } else { Vec::new() };
        }
        match ev {
            InformerEvent::Added(p) if p.metadata.deletion_timestamp.is_none() => self.expectations.creation_observed(&key),
            InformerEvent::Added(p) => self.expectations.deletion_observed(&key, &pod_key(p)),
            InformerEvent::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return Vec::new();
                }
                if new.metadata.deletion_timestamp.is_some() {
                    self.expectations.deletion_observed(&key, &pod_key(new));
                }
            }
            InformerEvent::Deleted(p) => self.expectations.deletion_observed(&key, &pod_key(p)),
        }
        vec![key]
    }

    async fn remove_finalizer(&self, pod: &Pod) -> Result<(), Error> {
        let Some(i) = pod.metadata.finalizers.as_ref().and_then(|f| f.iter().position(|x| x == JOB_TRACKING_FINALIZER)) else { return Ok(()) };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.finalizers_removed.lock().insert(uid.clone());
        let path = format!("/metadata/finalizers/{i}");
        let patch = Patch::Json(serde_json::json!([{"op": "test", "path": path, "value": JOB_TRACKING_FINALIZER}, {"op": "remove", "path": path}]));
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        match Api::<Pod>::namespaced(self.client.clone(), ns).patch(pod.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &patch).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => {
                self.finalizers_removed.lock().remove(&uid);
                Err(e.into())
            }
        }
    }

    /// The Job is gone: free its pods (upstream's orphan pod finalizer cleanup).
    async fn free_orphans(&self, ns: &str, name: &str) -> Result<(), Error> {
        let orphans: Vec<Arc<Pod>> = self
            .pods
            .by_index(NAMESPACE_INDEX, ns)
            .into_iter()
            .filter(|p| has_finalizer(p) && controller_of(&p.metadata).is_some_and(|r| r.kind == "Job" && r.name == name))
            .collect();
        for p in orphans {
            self.remove_finalizer(&p).await?;
        }
        Ok(())
    }

    async fn create_pod(&self, job: &Job, pod: &Pod) -> Result<(), Error> {
        let ns = job.metadata.namespace.as_deref().unwrap_or_default();
        match Api::<Pod>::namespaced(self.client.clone(), ns).create(&PostParams::default(), pod).await {
            Ok(created) => {
                let name = created.metadata.name.unwrap_or_default();
                self.recorder.publish(job, EventType::Normal, "SuccessfulCreate", format!("Created pod: {name}"));
                Ok(())
            }
            Err(e) => {
                self.recorder.publish(job, EventType::Warning, "FailedCreate", format!("Error creating: {e}"));
                Err(e.into())
            }
        }
    }

    /// Deletes `victims` (expecting their deletions first); NotFound is fine.
    async fn delete_pods(&self, job: &Job, key: &str, victims: &[Arc<Pod>]) -> Result<(), Error> {
        if victims.is_empty() {
            return Ok(());
        }
        self.expectations.expect_deletions(key, victims.iter().map(|p| pod_key(p)).collect());
        let results = futures::future::join_all(victims.iter().map(|p| async move {
            let ns = p.metadata.namespace.as_deref().unwrap_or_default();
            let name = p.metadata.name.as_deref().unwrap_or_default();
            let r = Api::<Pod>::namespaced(self.client.clone(), ns).delete(name, &DeleteParams::default()).await;
            match r {
                Ok(_) => {
                    self.recorder.publish(job, EventType::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                    Ok(())
                }
                Err(e) => {
                    self.expectations.deletion_observed(key, &pod_key(p));
                    if e.is_not_found() {
                        return Ok(());
                    }
                    self.recorder.publish(job, EventType::Warning, "FailedDelete", format!("Error deleting: {e}"));
                    Err(Error::from(e))
                }
            }
        }))
        .await;
        results.into_iter().collect::<Result<Vec<()>, Error>>().map(|_| ())
    }

    /// Creates pods for the next `n` indexes (or `n` pods), with expectations.
    async fn create_pods(&self, job: &Job, key: &str, indexes: Vec<Option<i32>>) -> Result<(), Error> {
        let n = indexes.len();
        if n == 0 {
            return Ok(());
        }
        self.expectations.expect_creations(key, n);
        let template = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let base = pod_from_template(&template, &job.metadata, controller_ref_for(job));
        let pods: Vec<Pod> = indexes.into_iter().map(|ix| job_pod(&base, job, ix)).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (created, err) = slow_start_batch(n, SLOW_START_INITIAL_BATCH_SIZE, || {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let pod = &pods[i];
            async move { self.create_pod(job, pod).await }
        })
        .await;
        for _ in created..n {
            self.expectations.creation_observed(key);
        }
        err.map_or(Ok(()), Err)
    }
}

/// A Job's pod: the tracking finalizer, and for an index its annotation,
/// label, hostname, env and generateName `<job>-<index>-`.
fn job_pod(base: &Pod, job: &Job, index: Option<i32>) -> Pod {
    let mut pod = base.clone();
    let fins = pod.metadata.finalizers.get_or_insert_with(Vec::new);
    if !fins.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
        fins.push(JOB_TRACKING_FINALIZER.into());
    }
    let Some(ix) = index else { return pod };
    let name = job.metadata.name.as_deref().unwrap_or_default();
    pod.metadata.annotations.get_or_insert_with(Default::default).insert(JOB_COMPLETION_INDEX.into(), ix.to_string());
    pod.metadata.labels.get_or_insert_with(Default::default).insert(JOB_COMPLETION_INDEX.into(), ix.to_string());
    pod.metadata.generate_name = Some(format!("{name}-{ix}-"));
    if let Some(spec) = pod.spec.as_mut() {
        spec.hostname = Some(format!("{name}-{ix}"));
        for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
            let env = c.env.get_or_insert_with(Vec::new);
            if !env.iter().any(|e| e.name == JOB_COMPLETION_INDEX_ENV) {
                env.push(EnvVar {
                    name: JOB_COMPLETION_INDEX_ENV.into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector { field_path: format!("metadata.annotations['{JOB_COMPLETION_INDEX}']"), ..Default::default() }),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
        }
    }
    pod
}

/// "1,3-5" as a set (parseIndexesFromString); bad parts are skipped.
pub fn parse_indexes(s: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
            out.extend((a..=b.min(completions - 1)).filter(|i| *i >= 0));
        }
    }
    out
}

/// A set as "1,3-5" (orderedIntervals.String).
pub fn format_indexes(set: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut it = set.iter().copied().peekable();
    while let Some(first) = it.next() {
        let mut last = first;
        while it.peek() == Some(&(last + 1)) {
            last = it.next().unwrap();
        }
        parts.push(if first == last { first.to_string() } else { format!("{first}-{last}") });
    }
    parts.join(",")
}

/// What a podFailurePolicy says about a failed pod (matchPodFailurePolicy).
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyVerdict {
    /// No rule matched, or Count: a failure.
    Count,
    Ignore,
    FailIndex,
    FailJob(String),
}

pub fn match_pod_failure_policy(rules: &[PodFailurePolicyRule], pod: &Pod) -> PolicyVerdict {
    let status = pod.status.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let matched: Option<String> = if let Some(req) = &rule.on_exit_codes {
            status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten()).find_map(|cs| {
                if req.container_name.as_ref().is_some_and(|n| *n != cs.name) {
                    return None;
                }
                let code = cs.state.as_ref()?.terminated.as_ref()?.exit_code;
                let listed = req.values.contains(&code);
                let hit = code != 0 && if req.operator == "In" { listed } else { !listed };
                hit.then(|| format!("Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {i}", cs.name, rule.action))
            })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            status.conditions.iter().flatten().find_map(|c| {
                patterns
                    .iter()
                    .any(|p| p.type_ == c.type_ && p.status.as_deref().unwrap_or("True") == c.status)
                    .then(|| format!("Pod {ns}/{name} has condition {} matching {} rule at index {i}", c.type_, rule.action))
            })
        } else {
            None
        };
        if let Some(msg) = matched {
            return match rule.action.as_str() {
                "Ignore" => PolicyVerdict::Ignore,
                "FailIndex" => PolicyVerdict::FailIndex,
                "FailJob" => PolicyVerdict::FailJob(msg),
                _ => PolicyVerdict::Count,
            };
        }
    }
    PolicyVerdict::Count
}

/// When the pod finished: its containers' latest finishedAt, else its
/// deletion or creation time (getFinishedTime).
fn finished_time(pod: &Pod) -> Option<Timestamp> {
    let s = pod.status.as_ref();
    let latest = s
        .into_iter()
        .flat_map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()))
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0))
        .max();
    latest.or(pod.metadata.deletion_timestamp.as_ref().map(|t| t.0)).or(pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Backoff before replacing failed pods: 10 s doubling per failure since the
/// last success, capped (getRemainingTimeForFailuresCount), left at `now`.
pub fn remaining_backoff(failures: u32, last_failure: Option<Timestamp>, now: Timestamp, base: Duration, max: Duration) -> Duration {
    let Some(last) = last_failure.filter(|_| failures > 0) else { return Duration::ZERO };
    let mut d = base;
    for _ in 1..failures {
        d *= 2;
        if d >= max {
            d = max;
            break;
        }
    }
    let elapsed = Duration::from_nanos(now.as_nanosecond().saturating_sub(last.as_nanosecond()).max(0) as u64);
    d.saturating_sub(elapsed)
}

/// Failed pods since the last succeeded one, and the latest failure.
fn backoff_record(pods: &[Arc<Pod>]) -> (u32, Option<Timestamp>) {
    let last_success = pods.iter().filter(|p| phase(p) == "Succeeded").filter_map(|p| finished_time(p)).max();
    let failed: Vec<Timestamp> = pods.iter().filter(|p| phase(p) == "Failed").filter_map(|p| finished_time(p)).filter(|t| last_success.is_none_or(|s| *t > s)).collect();
    (failed.len() as u32, failed.into_iter().max())
}

fn condition(status: &JobStatus, type_: &str) -> Option<JobCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_ && c.status == "True").cloned()
}

/// The Job has a Complete or Failed condition (IsJobFinished).
pub fn is_finished(job: &Job) -> Option<JobCondition> {
    let s = job.status.as_ref()?;
    condition(s, "Complete").or_else(|| condition(s, "Failed"))
}

fn new_condition(type_: &str, reason: &str, message: &str, now: Timestamp) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Sets a condition of `c`'s type (the transition time only moves with the status).
fn set_condition(status: &mut JobStatus, c: JobCondition) {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    match conds.iter_mut().find(|x| x.type_ == c.type_) {
        Some(x) if x.status == c.status && x.reason == c.reason && x.message == c.message => {}
        Some(x) => {
            if x.status != c.status {
                x.last_transition_time = c.last_transition_time.clone();
            }
            x.last_probe_time = c.last_probe_time;
            x.status = c.status;
            x.reason = c.reason;
            x.message = c.message;
        }
        None => conds.push(c),
    }
}

/// Restarts of pending/running pods reach the backoff limit (pastBackoffLimitOnFailure).
fn past_backoff_limit_on_failure(job: &Job, pods: &[Arc<Pod>]) -> bool {
    let spec = job.spec.as_ref().expect("checked");
    if spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()))
        .map(|c| c.restart_count)
        .sum();
    let limit = spec.backoff_limit.unwrap_or(6);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// The pods a sync may count now (trackJobStatusAndRemoveFinalizers' loop).
struct Scan {
    new_succeeded: Vec<String>,
    new_failed: Vec<String>,
    /// Counted (or not countable any more): their finalizers go.
    to_release: Vec<Arc<Pod>>,
    /// Scanned with a FailureTarget condition.
    failing: bool,
}

/// Finished pods still holding the finalizer, not yet uncounted: what they
/// add. Succeeded indexes and FailIndex'ed indexes go into the sets.
#[allow(clippy::too_many_arguments)]
fn scan(
    job: &Job,
    pods: &[Arc<Pod>],
    removed: &HashSet<String>,
    interim: Option<&JobCondition>,
    unc_succeeded: &HashSet<String>,
    unc_failed: &HashSet<String>,
    succeeded_indexes: &mut BTreeSet<i32>,
    failed_indexes: &mut BTreeSet<i32>,
) -> Scan {
    let spec = job.spec.as_ref().expect("checked");
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let rules = spec.pod_failure_policy.as_ref().map(|p| &p.rules);
    let failing = interim.is_some_and(|c| c.type_ == "FailureTarget");
    let mut sc = Scan { new_succeeded: Vec::new(), new_failed: Vec::new(), to_release: Vec::new(), failing };
    for p in pods.iter().filter(|p| has_finalizer(p)) {
        let puid = p.metadata.uid.clone().unwrap_or_default();
        if removed.contains(&puid) {
            continue;
        }
        let considered_failed = if rules.is_some() { phase(p) == "Failed" } else { phase(p) == "Failed" || (p.metadata.deletion_timestamp.is_some() && phase(p) != "Succeeded") };
        let can_release = job.metadata.deletion_timestamp.is_some() || interim.is_some() || phase(p) == "Succeeded" || considered_failed;
        if !can_release {
            continue;
        }
        sc.to_release.push(p.clone());
        let ix = completion_index(p).filter(|i| spec.completions.is_some_and(|c| *i < c));
        if phase(p) == "Succeeded" && !unc_failed.contains(&puid) {
            if indexed {
                succeeded_indexes.extend(ix);
            } else if !unc_succeeded.contains(&puid) {
                sc.new_succeeded.push(puid);
            }
        } else if (considered_failed || failing) && !unc_failed.contains(&puid) && (!indexed || ix.is_some()) {
            let verdict = match (rules, phase(p)) {
                (Some(r), "Failed") => match_pod_failure_policy(r, p),
                _ => PolicyVerdict::Count,
            };
            if verdict == PolicyVerdict::FailIndex {
                failed_indexes.extend(ix);
            }
            if verdict != PolicyVerdict::Ignore {
                sc.new_failed.push(puid);
            }
        }
    }
    sc
}

/// One sync of a Job (syncJob).
async fn sync(ctx: Arc<JobSync>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let Some(job) = ctx.jobs.get(ns, name) else {
        ctx.expectations.delete(&key);
        ctx.free_orphans(ns, name).await?;
        return Ok(Action::Done);
    };
    let Some(spec) = job.spec.clone() else { return Ok(Action::Done) };
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let selector = match Selector::from_label_selector(spec.selector.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%key, error = %e, "invalid selector");
            return Ok(Action::Done);
        }
    };
    // Every pod of the Job, finished ones included.
    let candidates: Vec<Arc<Pod>> = ctx.pods.by_index(NAMESPACE_INDEX, ns);
    let recheck = || async {
        let fresh = Api::<Job>::namespaced(ctx.client.clone(), ns).get(name).await?;
        if fresh.metadata.uid != job.metadata.uid || fresh.metadata.deletion_timestamp.is_some() {
            return Err(Error::Other(format!("job {ns}/{name} is gone or being deleted")));
        }
        Ok(())
    };
    let (mut pods, claim_err) = claim_pods(&ctx.client, &job.metadata, &controller_ref_for(job.as_ref()), &selector, candidates.clone(), recheck).await;
    if let Some(e) = claim_err {
        return Err(e);
    }
    // Pods still holding our finalizer count even if they stopped matching.
    for p in candidates.iter().filter(|p| has_finalizer(p) && api::owner::is_controlled_by(&p.metadata, &uid)) {
        if !pods.iter().any(|q| q.metadata.uid == p.metadata.uid) {
            pods.push(p.clone());
        }
    }
    if is_finished(&job).is_some() {
        // Late pods: nothing left to count; let them go.
        for p in pods.iter().filter(|p| has_finalizer(p)) {
            ctx.remove_finalizer(p).await?;
        }
        return Ok(Action::Done);
    }

    let now = now();
    let satisfied = ctx.expectations.satisfied(&key);
    let mut status = job.status.clone().unwrap_or_default();
    let suspended = spec.suspend == Some(true);
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions;
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let rules = spec.pod_failure_policy.as_ref().map(|p| p.rules.clone());
    let mut requeue: Option<Duration> = None;
    if status.start_time.is_none() && !suspended {
        status.start_time = Some(Time(now));
    }

    let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let unc_succeeded: HashSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let unc_failed: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();
    let mut succeeded_indexes = parse_indexes(status.completed_indexes.as_deref().unwrap_or(""), completions.unwrap_or(0));
    let mut failed_indexes = parse_indexes(status.failed_indexes.as_deref().unwrap_or(""), completions.unwrap_or(0));
    let mut interim = condition(&status, "FailureTarget").or_else(|| condition(&status, "SuccessCriteriaMet"));

    // A podFailurePolicy FailJob rule matched by any failed pod fails the Job.
    if interim.is_none() {
        if let Some(rules) = &rules {
            let msg = pods.iter().filter(|p| phase(p) == "Failed").find_map(|p| match match_pod_failure_policy(rules, p) {
                PolicyVerdict::FailJob(m) => Some(m),
                _ => None,
            });
            if let Some(m) = msg {
                interim = Some(new_condition("FailureTarget", "PodFailurePolicy", &m, now));
            }
        }
    }

    // Newly finished pods: their uids go into uncountedTerminatedPods before their finalizers go.
    let removed = ctx.finalizers_removed.lock().clone();
    let base_indexes = (succeeded_indexes.clone(), failed_indexes.clone());
    let scan_with = |interim: Option<&JobCondition>| {
        let (mut si, mut fi) = base_indexes.clone();
        let sc = scan(&job, &pods, &removed, interim, &unc_succeeded, &unc_failed, &mut si, &mut fi);
        (sc, si, fi)
    };
    let (mut sc, si, fi) = scan_with(interim.as_ref());
    (succeeded_indexes, failed_indexes) = (si, fi);

    let counted_succeeded = if indexed {
        succeeded_indexes.len() as i32
    } else {
        status.succeeded.unwrap_or(0) + unc_succeeded.len() as i32 + sc.new_succeeded.len() as i32
    };
    let failed_total = status.failed.unwrap_or(0) + unc_failed.len() as i32 + sc.new_failed.len() as i32;

    let active_pods: Vec<Arc<Pod>> = pods.iter().filter(|p| is_pod_active(p)).cloned().collect();
    let terminating = pods.iter().filter(|p| p.metadata.deletion_timestamp.is_some() && !matches!(phase(p), "Succeeded" | "Failed")).count() as i32;
    let mut active = active_pods.len() as i32;

    // Failure by backoff limit, then by deadline.
    if interim.is_none() {
        let backoff_limit = spec.backoff_limit.unwrap_or(6);
        if failed_total > backoff_limit || past_backoff_limit_on_failure(&job, &pods) {
            interim = Some(new_condition("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now));
        } else if let (Some(ads), Some(start)) = (spec.active_deadline_seconds, status.start_time.as_ref().filter(|_| !suspended)) {
            let deadline = start.0.as_second() + ads;
            if now.as_second() >= deadline {
                interim = Some(new_condition("FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline", now));
            } else {
                requeue = Some(Duration::from_secs((deadline - now.as_second()) as u64));
            }
        } else if indexed && !failed_indexes.is_empty() && (succeeded_indexes.len() + failed_indexes.len()) as i32 >= completions.unwrap_or(0) {
            interim = Some(new_condition("FailureTarget", "FailedIndexes", "Job has failed indexes", now));
        }
    }

    let mut manage_err = None;
    let mut terminating = terminating;
    if interim.as_ref().is_some_and(|c| c.type_ == "FailureTarget") {
        if !sc.failing {
            // The Job failed in this sync: every unfinished pod now counts as failed.
            let (again, si, fi) = scan_with(interim.as_ref());
            (sc, succeeded_indexes, failed_indexes) = (again, si, fi);
        }
        // The Job failed: nothing may keep running.
        if let Err(e) = ctx.delete_pods(&job, &key, &active_pods).await {
            manage_err = Some(e);
        }
        // Bound pods now terminate gracefully; the terminal condition waits for them.
        terminating += active_pods.iter().filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some())).count() as i32;
        active = 0;
    } else if interim.is_none() && satisfied && job.metadata.deletion_timestamp.is_none() {
        if suspended {
            if let Err(e) = ctx.delete_pods(&job, &key, &active_pods).await {
                manage_err = Some(e);
            }
            active = 0;
        } else {
            let (failures, last) = backoff_record(&pods);
            match manage(&ctx, &job, &key, &active_pods, terminating, counted_succeeded, &succeeded_indexes, &failed_indexes, parallelism, failures, last, now).await {
                Ok((a, wait)) => {
                    active = a;
                    if let Some(w) = wait {
                        requeue = Some(requeue.map_or(w, |r| r.min(w)));
                    }
                }
                Err(e) => manage_err = Some(e),
            }
        }
    }
    if interim.is_none() && manage_err.is_none() {
        let complete = match completions {
            None => counted_succeeded > 0 && active == 0,
            Some(c) => counted_succeeded >= c && active == 0,
        };
        if complete {
            interim = Some(new_condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", now));
        }
    }
    // Suspended / resumed.
    if spec.suspend.is_some() {
        let was = condition(&status, "Suspended").is_some();
        if suspended && !was {
            set_condition(&mut status, new_condition("Suspended", "JobSuspended", "Job suspended", now));
            ctx.recorder.publish(job.as_ref(), EventType::Normal, "Suspended", "Job suspended".to_string());
        } else if !suspended && was {
            let mut c = new_condition("Suspended", "JobResumed", "Job resumed", now);
            c.status = "False".into();
            set_condition(&mut status, c);
            status.start_time = Some(Time(now));
            ctx.recorder.publish(job.as_ref(), EventType::Normal, "Resumed", "Job resumed".to_string());
        }
    }

    // Write 1: the newly finished pods as uncounted, the interim condition.
    status.active = (active > 0).then_some(active);
    status.ready = Some(active_pods.iter().filter(|p| is_pod_ready(p)).count() as i32);
    status.terminating = Some(terminating);
    if indexed {
        status.completed_indexes = Some(format_indexes(&succeeded_indexes));
        if spec.backoff_limit_per_index.is_some() || !failed_indexes.is_empty() {
            status.failed_indexes = Some(format_indexes(&failed_indexes));
        }
    }
    if let Some(c) = &interim {
        set_condition(&mut status, c.clone());
    }
    uncounted.succeeded = Some(uncounted.succeeded.take().unwrap_or_default().into_iter().chain(sc.new_succeeded).collect());
    uncounted.failed = Some(uncounted.failed.take().unwrap_or_default().into_iter().chain(sc.new_failed).collect());
    status.uncounted_terminated_pods = Some(uncounted.clone());
    let mut current = write_status(&ctx.client, &job, status.clone()).await?;

    // Release the counted pods, then move whoever no longer holds a finalizer into the counters.
    let mut release_err = None;
    for p in &sc.to_release {
        if let Err(e) = ctx.remove_finalizer(p).await {
            release_err.get_or_insert(e);
        }
    }
    let holding: HashSet<String> = pods
        .iter()
        .filter(|p| has_finalizer(p) && !ctx.finalizers_removed.lock().contains(p.metadata.uid.as_deref().unwrap_or_default()))
        .filter_map(|p| p.metadata.uid.clone())
        .collect();
    let mut status = current.status.clone().unwrap_or_default();
    let mut unc = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let (done_s, keep_s): (Vec<String>, Vec<String>) = unc.succeeded.take().unwrap_or_default().into_iter().partition(|u| !holding.contains(u));
    let (done_f, keep_f): (Vec<String>, Vec<String>) = unc.failed.take().unwrap_or_default().into_iter().partition(|u| !holding.contains(u));
    if !indexed {
        status.succeeded = Some(status.succeeded.unwrap_or(0) + done_s.len() as i32).filter(|n| *n > 0);
    } else {
        status.succeeded = Some(succeeded_indexes.len() as i32).filter(|n| *n > 0);
    }
    status.failed = Some(status.failed.unwrap_or(0) + done_f.len() as i32).filter(|n| *n > 0);
    let all_counted = keep_s.is_empty() && keep_f.is_empty();
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods { succeeded: Some(keep_s).filter(|v| !v.is_empty()), failed: Some(keep_f).filter(|v| !v.is_empty()) });

    // The terminal condition once nothing runs and everything is counted.
    let mut finished_event = None;
    if let Some(c) = interim.as_ref().filter(|_| all_counted && active == 0 && terminating == 0 && release_err.is_none()) {
        let final_type = if c.type_ == "FailureTarget" { "Failed" } else { "Complete" };
        let reason = c.reason.clone().unwrap_or_default();
        let message = c.message.clone().unwrap_or_default();
        set_condition(&mut status, new_condition(final_type, &reason, &message, now));
        if final_type == "Complete" {
            status.completion_time = Some(Time(now));
            finished_event = Some((EventType::Normal, "Completed".to_string(), "Job completed".to_string()));
        } else {
            finished_event = Some((EventType::Warning, reason, message));
        }
    }
    current = write_status(&ctx.client, &current, status).await?;
    if let Some((t, reason, message)) = finished_event {
        ctx.recorder.publish(&current, t, &reason, message);
    }
    if let Some(e) = release_err.or(manage_err) {
        return Err(e);
    }
    if is_finished(&current).is_some() {
        return Ok(Action::Done);
    }
    Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
}

/// Creates or deletes pods toward the wanted number of active ones
/// (manageJob). Returns the active count after it, and how long the
/// failure backoff still holds replacements back.
#[allow(clippy::too_many_arguments)]
async fn manage(
    ctx: &JobSync,
    job: &Job,
    key: &str,
    active_pods: &[Arc<Pod>],
    terminating: i32,
    succeeded: i32,
    succeeded_indexes: &BTreeSet<i32>,
    failed_indexes: &BTreeSet<i32>,
    parallelism: i32,
    failures: u32,
    last_failure: Option<Timestamp>,
    now: Timestamp,
) -> Result<(i32, Option<Duration>), Error> {
    let spec = job.spec.as_ref().expect("checked");
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let mut active = active_pods.len() as i32;
    let mut victims: Vec<Arc<Pod>> = Vec::new();
    let mut keep: Vec<Arc<Pod>> = active_pods.to_vec();
    if indexed {
        // Pods whose index is invalid, done already, or duplicated go.
        let mut seen = HashMap::new();
        keep.clear();
        for p in active_pods {
            match completion_index(p).filter(|i| spec.completions.is_some_and(|c| *i < c)) {
                Some(i) if !succeeded_indexes.contains(&i) && !failed_indexes.contains(&i) && seen.insert(i, ()).is_none() => keep.push(p.clone()),
                _ => victims.push(p.clone()),
            }
        }
    }
    let want = match spec.completions {
        None if succeeded > 0 => keep.len() as i32,
        None => parallelism,
        Some(c) => (c - succeeded - if indexed { failed_indexes.len() as i32 } else { 0 }).clamp(0, parallelism),
    };
    let held = keep.len() as i32 + if spec.pod_replacement_policy.as_deref() == Some("Failed") { terminating } else { 0 };
    if (keep.len() as i32) > want {
        let n = (keep.len() as i32 - want) as usize;
        victims.extend(pods_to_delete(&keep, &keep, n.min(MAX_POD_CREATE_DELETE_PER_SYNC), now));
    }
    if !victims.is_empty() {
        ctx.delete_pods(job, key, &victims).await?;
        active -= victims.len() as i32;
        return Ok((active, None));
    }
    if held < want {
        let wait = remaining_backoff(failures, last_failure, now, DEFAULT_BACKOFF, MAX_BACKOFF);
        if !wait.is_zero() {
            return Ok((active, Some(wait)));
        }
        let n = ((want - held) as usize).min(MAX_POD_CREATE_DELETE_PER_SYNC);
        let indexes: Vec<Option<i32>> = if indexed {
            let taken: HashSet<i32> = keep.iter().filter_map(|p| completion_index(p)).collect();
            (0..spec.completions.unwrap_or(0)).filter(|i| !succeeded_indexes.contains(i) && !failed_indexes.contains(i) && !taken.contains(i)).take(n).map(Some).collect()
        } else {
            vec![None; n]
        };
        let created = indexes.len() as i32;
        ctx.create_pods(job, key, indexes).await?;
        active += created;
    }
    Ok((active, None))
}

/// Writes the status if it changed; returns the Job as stored.
async fn write_status(client: &Client, job: &Job, status: JobStatus) -> Result<Job, Error> {
    if job.status.as_ref() == Some(&status) {
        return Ok(job.clone());
    }
    let mut obj = job.clone();
    obj.status = Some(status);
    let ns = job.metadata.namespace.as_deref().unwrap_or_default();
    Ok(Api::<Job>::namespaced(client.clone(), ns).replace_status(&obj).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn indexes_round_trip_as_intervals() {
        let s = parse_indexes("0,2-4,7", 10);
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), [0, 2, 3, 4, 7]);
        assert_eq!(format_indexes(&s), "0,2-4,7");
        assert_eq!(format_indexes(&[0, 1].into()), "0-1");
        assert_eq!(format_indexes(&BTreeSet::new()), "");
        assert_eq!(parse_indexes("3-9", 5).len(), 2, "beyond completions is dropped");
    }

    #[test]
    fn backoff_doubles_from_10s_and_is_capped() {
        let b = |n, last, now| remaining_backoff(n, Some(ts(last)), ts(now), DEFAULT_BACKOFF, MAX_BACKOFF).as_secs();
        assert_eq!(b(0, 100, 100), 0);
        assert_eq!(b(1, 100, 100), 10);
        assert_eq!(b(1, 100, 104), 6);
        assert_eq!(b(2, 100, 100), 20);
        assert_eq!(b(3, 100, 100), 40);
        assert_eq!(b(10, 100, 100), 360, "capped at 6 minutes");
        assert_eq!(b(1, 100, 200), 0, "elapsed");
    }

    fn failed_pod(exit: i32, conditions: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "conditions": conditions,
                "containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": exit}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn pod_failure_policy_rules_match_in_order() {
        let rules: Vec<PodFailurePolicyRule> = serde_json::from_value(serde_json::json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}}
        ]))
        .unwrap();
        assert_eq!(
            match_pod_failure_policy(&rules, &failed_pod(42, serde_json::json!([]))),
            PolicyVerdict::FailJob("Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1".into())
        );
        assert_eq!(match_pod_failure_policy(&rules, &failed_pod(42, serde_json::json!([{"type": "DisruptionTarget", "status": "True"}]))), PolicyVerdict::Ignore);
        assert_eq!(match_pod_failure_policy(&rules, &failed_pod(1, serde_json::json!([]))), PolicyVerdict::Count, "no rule: counted");
        assert_eq!(match_pod_failure_policy(&rules, &failed_pod(7, serde_json::json!([]))), PolicyVerdict::Count);
    }

    #[test]
    fn indexed_pods_get_index_hostname_env_and_name() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "work", "namespace": "ns", "uid": "u"},
            "spec": {"completionMode": "Indexed", "completions": 3, "template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}
        }))
        .unwrap();
        let base = pod_from_template(&job.spec.as_ref().unwrap().template, &job.metadata, controller_ref_for(&job));
        let p = job_pod(&base, &job, Some(2));
        assert_eq!(p.metadata.generate_name.as_deref(), Some("work-2-"));
        assert_eq!(p.metadata.annotations.as_ref().unwrap()[JOB_COMPLETION_INDEX], "2");
        assert_eq!(p.metadata.labels.as_ref().unwrap()[JOB_COMPLETION_INDEX], "2");
        assert_eq!(p.metadata.finalizers.as_deref(), Some(&[JOB_TRACKING_FINALIZER.to_string()][..]));
        let spec = p.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("work-2"));
        let env = &spec.containers[0].env.as_ref().unwrap()[0];
        assert_eq!(env.name, "JOB_COMPLETION_INDEX");
        assert_eq!(env.value_from.as_ref().unwrap().field_ref.as_ref().unwrap().field_path, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
        assert_eq!(completion_index(&Pod { metadata: p.metadata, ..Default::default() }), Some(2));
    }
}
