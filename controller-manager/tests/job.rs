//! The Job and TTL-after-finished controllers against a real etcd and
//! apiserver, with no scheduler and no kubelet: the tests play the kubelet,
//! writing each pod's phase and its container's exit code.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use client::{Api, Client, ListParams, PostParams};
use controller_manager::controllers::{garbagecollector::GARBAGE_COLLECTOR, job::JOB, ttlafterfinished::TTL_AFTER_FINISHED};
use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::{Event, Pod};
use testing::TestCluster;

fn start(client: &Client) -> Running {
    start_controllers(client, vec![(JOB, 5), (TTL_AFTER_FINISHED, 5), (GARBAGE_COLLECTOR, 5)])
}

const NS: &str = "default";
const TRACKING: &str = "batch.kubernetes.io/job-tracking";





async fn create_job(client: &Client, name: &str, spec: serde_json::Value) -> Job {
    let mut s = serde_json::json!({"template": {"spec": {"containers": [{"name": "main", "image": "busybox"}], "restartPolicy": "Never"}}});
    s.as_object_mut().unwrap().extend(spec.as_object().cloned().unwrap());
    let job: Job = serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": NS}, "spec": s})).unwrap();
    Api::<Job>::namespaced(client.clone(), NS).create(&PostParams::default(), &job).await.unwrap()
}

/// All pods the Job controls, by name.
async fn job_pods(client: &Client, uid: &str) -> Vec<Pod> {
    let pods = Api::<Pod>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    let mut pods: Vec<Pod> = pods.into_iter().filter(|p| api::owner::is_controlled_by(&p.metadata, uid)).collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    pods
}

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Not finished and not being deleted.
fn running(pods: &[Pod]) -> Vec<Pod> {
    pods.iter().filter(|p| !matches!(phase(p), "Succeeded" | "Failed") && p.metadata.deletion_timestamp.is_none()).cloned().collect()
}

/// As a kubelet: the pod's container terminated with `exit`, so the pod is Succeeded (0) or Failed.
async fn finish(client: &Client, pod: &Pod, exit: i32) {
    let api = Api::<Pod>::namespaced(client.clone(), NS);
    let mut p = api.get(pod.metadata.name.as_deref().unwrap()).await.unwrap();
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(controller_manager::controller_utils::now());
    p.status = Some(
        serde_json::from_value(serde_json::json!({
            "phase": if exit == 0 { "Succeeded" } else { "Failed" },
            "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": exit, "finishedAt": now}}}]
        }))
        .unwrap(),
    );
    api.replace_status(&p).await.unwrap();
}

async fn get_job(client: &Client, name: &str) -> Job {
    Api::<Job>::namespaced(client.clone(), NS).get(name).await.unwrap()
}

fn cond(job: &Job, t: &str) -> Option<JobCondition> {
    job.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == t && c.status == "True").cloned()
}

async fn wait_condition(client: &Client, name: &str, t: &str, timeout: Duration) -> Job {
    wait_for(&format!("{name} {t}"), timeout, async || Some(get_job(client, name).await).filter(|j| cond(j, t).is_some())).await
}

async fn events(client: &Client, name: &str, reason: &str) -> Vec<Event> {
    let lp = ListParams { field_selector: Some(format!("involvedObject.name={name}")), ..Default::default() };
    let evs = Api::<Event>::namespaced(client.clone(), NS).list(&lp).await.unwrap().items;
    evs.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).collect()
}

#[tokio::test]
async fn completions_5_parallelism_2_never_runs_more_than_2_and_completes() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let job = create_job(&client, "five", serde_json::json!({"completions": 5, "parallelism": 2})).await;
    let uid = job.metadata.uid.clone().unwrap();

    let mut finished = BTreeSet::new();
    let mut max_running = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while finished.len() < 5 {
        assert!(Instant::now() < deadline, "only {} pods finished", finished.len());
        let pods = job_pods(&client, &uid).await;
        let run = running(&pods);
        max_running = max_running.max(run.len());
        assert!(run.len() <= 2, "{} pods running at once", run.len());
        if let Some(p) = run.first() {
            let labels = p.metadata.labels.as_ref().unwrap();
            for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
                assert_eq!(labels[key], uid);
            }
            for key in ["batch.kubernetes.io/job-name", "job-name"] {
                assert_eq!(labels[key], "five");
            }
            assert!(p.metadata.finalizers.as_ref().unwrap().iter().any(|f| f == TRACKING), "a running pod holds the tracking finalizer");
            // Finish the oldest running one once two run (or the last one).
            if run.len() == 2 || finished.len() == 4 {
                finish(&client, p, 0).await;
                finished.insert(p.metadata.name.clone().unwrap());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(max_running, 2, "parallelism is used");
    let job = wait_condition(&client, "five", "Complete", Duration::from_secs(20)).await;
    let st = job.status.clone().unwrap();
    assert_eq!(st.succeeded, Some(5));
    assert_eq!(st.active, None);
    assert_eq!(st.failed, None);
    assert!(st.start_time.is_some() && st.completion_time.is_some());
    let complete = cond(&job, "Complete").unwrap();
    assert_eq!((complete.reason.as_deref(), complete.message.as_deref()), (Some("CompletionsReached"), Some("Reached expected number of succeeded pods")));
    assert!(cond(&job, "SuccessCriteriaMet").is_some(), "the interim condition comes first");
    let unc = st.uncounted_terminated_pods.unwrap();
    assert!(unc.succeeded.is_none() && unc.failed.is_none());
    let pods = job_pods(&client, &uid).await;
    assert_eq!(pods.len(), 5, "exactly completions pods were created");
    assert!(pods.iter().all(|p| p.metadata.finalizers.as_ref().is_none_or(|f| !f.iter().any(|x| x == TRACKING))), "finalizers removed once counted");
    wait_for("5 SuccessfulCreate and a Completed event", Duration::from_secs(10), async || {
        (events(&client, "five", "SuccessfulCreate").await.len() == 5 && events(&client, "five", "Completed").await.len() == 1).then_some(())
    })
    .await;
    ctl.stop().await;
}

#[tokio::test]
async fn backoff_limit_exceeded_fails_the_job_after_backoff() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let job = create_job(&client, "flaky", serde_json::json!({"backoffLimit": 1})).await;
    let uid = job.metadata.uid.clone().unwrap();
    let first = wait_for("a pod", Duration::from_secs(20), async || running(&job_pods(&client, &uid).await).into_iter().next()).await;
    finish(&client, &first, 1).await;
    let failed_at = Instant::now();
    let j = wait_for("failed counted", Duration::from_secs(10), async || Some(get_job(&client, "flaky").await).filter(|j| j.status.as_ref().is_some_and(|s| s.failed == Some(1)))).await;
    assert!(cond(&j, "Failed").is_none(), "one failure is within backoffLimit 1");
    let second = wait_for("a replacement", Duration::from_secs(30), async || running(&job_pods(&client, &uid).await).into_iter().next()).await;
    let waited = failed_at.elapsed();
    assert!(waited >= Duration::from_secs(9), "the replacement waited out the 10 s backoff, came after {waited:?}");
    finish(&client, &second, 1).await;
    let job = wait_condition(&client, "flaky", "Failed", Duration::from_secs(20)).await;
    let failed = cond(&job, "Failed").unwrap();
    assert_eq!((failed.reason.as_deref(), failed.message.as_deref()), (Some("BackoffLimitExceeded"), Some("Job has reached the specified backoff limit")));
    assert_eq!(cond(&job, "FailureTarget").unwrap().reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(job.status.as_ref().unwrap().failed, Some(2));
    assert!(job.status.as_ref().unwrap().completion_time.is_none(), "only Complete sets completionTime");
    wait_for("a BackoffLimitExceeded Warning", Duration::from_secs(10), async || {
        events(&client, "flaky", "BackoffLimitExceeded").await.into_iter().find(|e| e.type_.as_deref() == Some("Warning"))
    })
    .await;
    ctl.stop().await;
}

#[tokio::test]
async fn active_deadline_fails_the_job_and_deletes_its_pods() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let job = create_job(&client, "slow", serde_json::json!({"parallelism": 2, "completions": 4, "activeDeadlineSeconds": 3})).await;
    let uid = job.metadata.uid.clone().unwrap();
    wait_for("2 running pods", Duration::from_secs(20), async || (running(&job_pods(&client, &uid).await).len() == 2).then_some(())).await;
    let job = wait_condition(&client, "slow", "Failed", Duration::from_secs(20)).await;
    let failed = cond(&job, "Failed").unwrap();
    assert_eq!((failed.reason.as_deref(), failed.message.as_deref()), (Some("DeadlineExceeded"), Some("Job was active longer than specified deadline")));
    let st = job.status.clone().unwrap();
    assert_eq!(st.active, None);
    assert_eq!(st.failed, Some(2), "the deleted running pods count as failed, as upstream");
    wait_for("the pods gone", Duration::from_secs(10), async || (job_pods(&client, &uid).await.is_empty()).then_some(())).await;
    assert_eq!(events(&client, "slow", "SuccessfulDelete").await.len(), 2);
    assert!(!events(&client, "slow", "DeadlineExceeded").await.is_empty());
    ctl.stop().await;
}

#[tokio::test]
async fn indexed_jobs_give_each_pod_its_index() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let job = create_job(&client, "idx", serde_json::json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"})).await;
    let uid = job.metadata.uid.clone().unwrap();
    let pods = wait_for("3 pods", Duration::from_secs(20), async || Some(running(&job_pods(&client, &uid).await)).filter(|p| p.len() == 3)).await;
    let mut indexes = BTreeSet::new();
    for p in &pods {
        let ix = p.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"].clone();
        assert_eq!(p.metadata.labels.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"], ix);
        assert!(p.metadata.name.as_deref().unwrap().starts_with(&format!("idx-{ix}-")));
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{ix}").as_str()));
        let env = spec.containers[0].env.as_ref().unwrap().iter().find(|e| e.name == "JOB_COMPLETION_INDEX").unwrap();
        assert_eq!(env.value_from.as_ref().unwrap().field_ref.as_ref().unwrap().field_path, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
        indexes.insert(ix.parse::<i32>().unwrap());
    }
    assert_eq!(indexes, BTreeSet::from([0, 1, 2]));
    // Index 1 fails once: it is recreated with the same index.
    let one = pods.iter().find(|p| p.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"] == "1").unwrap();
    for p in pods.iter().filter(|p| p.metadata.uid != one.metadata.uid) {
        finish(&client, p, 0).await;
    }
    let j = wait_for("indexes 0 and 2 completed", Duration::from_secs(10), async || {
        Some(get_job(&client, "idx").await).filter(|j| j.status.as_ref().and_then(|s| s.completed_indexes.as_deref()) == Some("0,2"))
    })
    .await;
    assert_eq!(j.status.unwrap().succeeded, Some(2));
    finish(&client, one, 3).await;
    let again = wait_for("index 1 again", Duration::from_secs(30), async || running(&job_pods(&client, &uid).await).into_iter().next()).await;
    assert_eq!(again.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"], "1");
    finish(&client, &again, 0).await;
    let job = wait_condition(&client, "idx", "Complete", Duration::from_secs(20)).await;
    let st = job.status.unwrap();
    assert_eq!((st.completed_indexes.as_deref(), st.succeeded, st.failed), (Some("0-2"), Some(3), Some(1)));
    ctl.stop().await;
}

#[tokio::test]
async fn pod_failure_policy_fail_job_on_exit_code() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let policy = serde_json::json!({"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}
    ]});
    let job = create_job(&client, "strict", serde_json::json!({"backoffLimit": 6, "podFailurePolicy": policy})).await;
    let uid = job.metadata.uid.clone().unwrap();
    // Exit 7 is ignored: not counted, replaced.
    let first = wait_for("a pod", Duration::from_secs(20), async || running(&job_pods(&client, &uid).await).into_iter().next()).await;
    finish(&client, &first, 7).await;
    let second = wait_for("a replacement", Duration::from_secs(20), async || running(&job_pods(&client, &uid).await).into_iter().next()).await;
    assert_eq!(get_job(&client, "strict").await.status.unwrap().failed, None, "an ignored failure is not counted");
    finish(&client, &second, 42).await;
    let job = wait_condition(&client, "strict", "Failed", Duration::from_secs(20)).await;
    let failed = cond(&job, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("PodFailurePolicy"));
    let name = second.metadata.name.unwrap();
    assert_eq!(failed.message.unwrap(), format!("Container main for pod {NS}/{name} failed with exit code 42 matching FailJob rule at index 1"));
    assert_eq!(job.status.unwrap().failed, Some(1));
    ctl.stop().await;
}

#[tokio::test]
async fn ttl_seconds_after_finished_deletes_the_job_and_its_pods() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let job = create_job(&client, "short", serde_json::json!({"ttlSecondsAfterFinished": 2})).await;
    let uid = job.metadata.uid.clone().unwrap();
    let pod = wait_for("a pod", Duration::from_secs(20), async || running(&job_pods(&client, &uid).await).into_iter().next()).await;
    finish(&client, &pod, 0).await;
    let done = wait_condition(&client, "short", "Complete", Duration::from_secs(20)).await;
    let finished_at = Instant::now();
    assert!(cond(&done, "Complete").is_some());
    let api = Api::<Job>::namespaced(client.clone(), NS);
    wait_for("the job deleted", Duration::from_secs(20), async || (api.get_opt("short").await.unwrap().is_none()).then_some(())).await;
    assert!(finished_at.elapsed() >= Duration::from_millis(1000), "deleted only after the TTL, {:?} after completion", finished_at.elapsed());
    wait_for("its pod collected", Duration::from_secs(20), async || (job_pods(&client, &uid).await.is_empty()).then_some(())).await;
    ctl.stop().await;
}

#[tokio::test]
async fn a_deleted_job_frees_its_pods_for_the_garbage_collector() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let job = create_job(&client, "gone", serde_json::json!({"parallelism": 2, "completions": 2})).await;
    let uid = job.metadata.uid.clone().unwrap();
    wait_for("2 pods", Duration::from_secs(20), async || (running(&job_pods(&client, &uid).await).len() == 2).then_some(())).await;
    let dp = client::DeleteParams { propagation_policy: Some("Background".into()), ..Default::default() };
    Api::<Job>::namespaced(client.clone(), NS).delete("gone", &dp).await.unwrap();
    // The pods hold the tracking finalizer: the controller releases them once the Job is gone.
    wait_for("the pods gone", Duration::from_secs(30), async || job_pods(&client, &uid).await.is_empty().then_some(())).await;
    ctl.stop().await;
}
