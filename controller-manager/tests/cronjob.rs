//! The CronJob controller against a real etcd and apiserver. One test waits
//! for a real minute boundary; the others put the CronJob into the state
//! they need (a past lastScheduleTime, active or finished Jobs) through the
//! API, so a start time is already due when the controller first sees it.

mod common;
use common::*;

use std::time::Duration;

use client::{Api, Client, ListParams, Patch, PostParams};
use controller_manager::controllers::cronjob::CRONJOB;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use testing::TestCluster;

fn start(client: &Client) -> Running {
    start_controllers(client, vec![(CRONJOB, 5)])
}

const NS: &str = "default";





fn now() -> Timestamp {
    controller_manager::controller_utils::now()
}

async fn create_cronjob(client: &Client, name: &str, extra: serde_json::Value) -> CronJob {
    let mut spec = serde_json::json!({"schedule": "* * * * *", "jobTemplate": {"metadata": {"labels": {"run": name}},
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox"}], "restartPolicy": "Never"}}}}});
    spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap());
    let cj: CronJob = serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": NS}, "spec": spec})).unwrap();
    Api::<CronJob>::namespaced(client.clone(), NS).create(&PostParams::default(), &cj).await.unwrap()
}

/// A Job the CronJob controls (as if created by it earlier), optionally finished.
async fn owned_job(client: &Client, cj: &CronJob, name: &str, finished: Option<(&str, Timestamp)>) -> Job {
    let job: Job = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": NS, "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
            "name": cj.metadata.name, "uid": cj.metadata.uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox"}], "restartPolicy": "Never"}}}
    }))
    .unwrap();
    let api = Api::<Job>::namespaced(client.clone(), NS);
    let mut job = api.create(&PostParams::default(), &job).await.unwrap();
    if let Some((cond, at)) = finished {
        job.status = Some(
            serde_json::from_value(serde_json::json!({
                "startTime": Time(at), "completionTime": if cond == "Complete" { Some(Time(at)) } else { None },
                "conditions": [{"type": cond, "status": "True", "lastTransitionTime": Time(at)}]
            }))
            .unwrap(),
        );
        job = api.replace_status(&job).await.unwrap();
    }
    job
}

fn job_ref(j: &Job) -> ObjectReference {
    ObjectReference { api_version: Some("batch/v1".into()), kind: Some("Job".into()), name: j.metadata.name.clone(), namespace: Some(NS.into()), uid: j.metadata.uid.clone(), ..Default::default() }
}

/// Sets lastScheduleTime (and the active list), then resumes the CronJob.
async fn resume_with_status(client: &Client, name: &str, last: Timestamp, active: Vec<ObjectReference>) {
    let api = Api::<CronJob>::namespaced(client.clone(), NS);
    let mut cj = api.get(name).await.unwrap();
    let st = cj.status.get_or_insert_with(Default::default);
    st.last_schedule_time = Some(Time(last));
    st.active = Some(active).filter(|a| !a.is_empty());
    api.replace_status(&cj).await.unwrap();
    api.patch(name, &PostParams::default(), &Patch::Merge(serde_json::json!({"spec": {"suspend": false}}))).await.unwrap();
}

async fn jobs_of(client: &Client, uid: &str) -> Vec<Job> {
    let jobs = Api::<Job>::namespaced(client.clone(), NS).list(&ListParams::default()).await.unwrap().items;
    jobs.into_iter().filter(|j| api::owner::is_controlled_by(&j.metadata, uid) && j.metadata.deletion_timestamp.is_none()).collect()
}

async fn events(client: &Client, name: &str, reason: &str) -> Vec<Event> {
    let lp = ListParams { field_selector: Some(format!("involvedObject.name={name}")), ..Default::default() };
    let evs = Api::<Event>::namespaced(client.clone(), NS).list(&lp).await.unwrap().items;
    evs.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).collect()
}

fn minute_floor(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() - t.as_second().rem_euclid(60)).unwrap()
}

#[tokio::test]
async fn every_minute_creates_a_job_at_the_minute_and_sees_it_complete() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let cj = create_cronjob(&client, "tick", serde_json::json!({})).await;
    let uid = cj.metadata.uid.clone().unwrap();
    let created = now();
    let job = wait_for("a Job at the next minute", Duration::from_secs(75), async || jobs_of(&client, &uid).await.into_iter().next()).await;
    let seen = now();
    let scheduled = minute_floor(seen);
    assert!(scheduled > created, "started at the first minute boundary after creation");
    assert!(seen.as_second() - scheduled.as_second() < 5, "started within seconds of the minute, at {seen}");
    assert_eq!(job.metadata.name.as_deref(), Some(format!("tick-{}", scheduled.as_second() / 60).as_str()));
    assert_eq!(job.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/cronjob-scheduled-timestamp"], scheduled.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    assert_eq!(job.metadata.labels.as_ref().unwrap()["run"], "tick");
    let cjs = Api::<CronJob>::namespaced(client.clone(), NS);
    let st = wait_for("status", Duration::from_secs(10), async || cjs.get("tick").await.unwrap().status.filter(|s| s.active.is_some())).await;
    assert_eq!(st.last_schedule_time.map(|t| t.0), Some(scheduled));
    assert_eq!(st.active.unwrap()[0].uid, job.metadata.uid);
    let name = job.metadata.name.clone().unwrap();
    wait_for("SuccessfulCreate", Duration::from_secs(10), async || events(&client, "tick", "SuccessfulCreate").await.into_iter().find(|e| e.message.as_deref() == Some(format!("Created job {name}").as_str()))).await;

    // The Job completes (as the Job controller would record it): it leaves the active list.
    let jobs = Api::<Job>::namespaced(client.clone(), NS);
    let mut done = jobs.get(&name).await.unwrap();
    let at = now();
    done.status = Some(serde_json::from_value(serde_json::json!({"startTime": Time(at), "completionTime": Time(at), "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": Time(at)}]})).unwrap());
    jobs.replace_status(&done).await.unwrap();
    let st = wait_for("active cleared", Duration::from_secs(10), async || cjs.get("tick").await.unwrap().status.filter(|s| s.active.as_ref().is_none_or(|a| a.is_empty()))).await;
    assert_eq!(st.last_successful_time.map(|t| t.0.as_second()), Some(at.as_second()));
    let saw = wait_for("SawCompletedJob", Duration::from_secs(10), async || events(&client, "tick", "SawCompletedJob").await.into_iter().next()).await;
    assert_eq!(saw.message.as_deref(), Some(format!("Saw completed job: {name}, condition: Complete").as_str()));
    ctl.stop().await;
}

#[tokio::test]
async fn forbid_skips_while_a_job_runs_and_replace_replaces_it() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let ctl = start(&client);
    let two_min_ago = now().checked_add(SignedDuration::from_secs(-120)).unwrap();

    let forbid = create_cronjob(&client, "forbid", serde_json::json!({"concurrencyPolicy": "Forbid", "suspend": true})).await;
    let running = owned_job(&client, &forbid, "forbid-old", None).await;
    resume_with_status(&client, "forbid", two_min_ago, vec![job_ref(&running)]).await;
    let ev = wait_for("JobAlreadyActive", Duration::from_secs(15), async || events(&client, "forbid", "JobAlreadyActive").await.into_iter().next()).await;
    assert_eq!(ev.message.as_deref(), Some("Not starting job because prior execution is running and concurrency policy is Forbid"));
    let jobs = jobs_of(&client, forbid.metadata.uid.as_deref().unwrap()).await;
    assert_eq!(jobs.len(), 1, "no second Job while one runs");

    let replace = create_cronjob(&client, "replace", serde_json::json!({"concurrencyPolicy": "Replace", "suspend": true})).await;
    let old = owned_job(&client, &replace, "replace-old", None).await;
    resume_with_status(&client, "replace", two_min_ago, vec![job_ref(&old)]).await;
    let uid = replace.metadata.uid.clone().unwrap();
    let new = wait_for("the replacement Job", Duration::from_secs(15), async || {
        let jobs = jobs_of(&client, &uid).await;
        (jobs.len() == 1 && jobs[0].metadata.name.as_deref() != Some("replace-old")).then(|| jobs[0].clone())
    })
    .await;
    let minute = minute_floor(now()).as_second() / 60;
    let name = new.metadata.name.clone().unwrap();
    assert!(name == format!("replace-{minute}") || name == format!("replace-{}", minute - 1), "{name} is named for the due minute");
    assert!(Api::<Job>::namespaced(client.clone(), NS).get_opt("replace-old").await.unwrap().is_none_or(|j| j.metadata.deletion_timestamp.is_some()));
    wait_for("SuccessfulDelete", Duration::from_secs(10), async || events(&client, "replace", "SuccessfulDelete").await.into_iter().find(|e| e.message.as_deref() == Some("Deleted job replace-old"))).await;
    let st = Api::<CronJob>::namespaced(client.clone(), NS).get("replace").await.unwrap().status.unwrap();
    let active: Vec<_> = st.active.unwrap().into_iter().map(|r| r.name.unwrap()).collect();
    assert_eq!(active, [name], "only the new Job is active");
    ctl.stop().await;
}

#[tokio::test]
async fn history_limits_delete_the_oldest_finished_jobs() {
    let cluster = TestCluster::start().await.unwrap();
    let client = cluster.client.clone();
    let cj = create_cronjob(&client, "hist", serde_json::json!({"suspend": true, "successfulJobsHistoryLimit": 2, "failedJobsHistoryLimit": 1})).await;
    let t = |mins: i64| now().checked_add(SignedDuration::from_mins(-mins)).unwrap();
    for (name, cond, at) in [("hist-s1", "Complete", t(50)), ("hist-s2", "Complete", t(40)), ("hist-s3", "Complete", t(30)), ("hist-s4", "Complete", t(20)), ("hist-f1", "Failed", t(45)), ("hist-f2", "Failed", t(35))] {
        owned_job(&client, &cj, name, Some((cond, at))).await;
    }
    // Suspended, the controller still tidies up history.
    let ctl = start(&client);
    let uid = cj.metadata.uid.clone().unwrap();
    let left = wait_for("history trimmed to 2 + 1", Duration::from_secs(15), async || {
        let mut names: Vec<String> = jobs_of(&client, &uid).await.into_iter().map(|j| j.metadata.name.unwrap()).collect();
        names.sort();
        (names.len() == 3).then_some(names)
    })
    .await;
    assert_eq!(left, ["hist-f2", "hist-s3", "hist-s4"], "the newest of each kind are kept");
    let deleted = wait_for("3 SuccessfulDelete", Duration::from_secs(10), async || Some(events(&client, "hist", "SuccessfulDelete").await).filter(|e| e.len() == 3)).await;
    let mut msgs: Vec<String> = deleted.into_iter().map(|e| e.message.unwrap()).collect();
    msgs.sort();
    assert_eq!(msgs, ["Deleted job hist-f1", "Deleted job hist-s1", "Deleted job hist-s2"]);
    ctl.stop().await;
}
