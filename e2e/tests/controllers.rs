//! The controllers on a cluster started by `ferrokube up`, with real
//! containers on its node, driven through ferrokube's `kubectl` as a user
//! types it. Needs root (the node's kubelet runs containers) and the
//! workspace's binaries built (`ferrokube`, the daemons, `kubectl`).
//!
//! One cluster serves every scenario: `up` builds the test images and starts
//! five daemons, which costs more than most scenarios.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::informer::{Informer, InformerConfig, InformerEvent};
use client::Api;
use e2e::{Cluster, text, is_root, kubectl, kubectl_json};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

const READY_TIMEOUT: Duration = Duration::from_secs(120);




/// Polls `check` (every 500 ms) until it returns Some, or fails with the last state it saw.
async fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if start.elapsed() > timeout => panic!("{what}: not reached in {timeout:?}; last seen:\n{last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The cells of `kubectl get <what> <name>`'s one row (after the header).
fn row(c: &Cluster, args: &[&str]) -> Result<Vec<String>, String> {
    let out = c.kubectl(args).map_err(|e| e.to_string())?;
    let t = text(&out);
    if !out.status.success() {
        return Err(t);
    }
    let line = String::from_utf8_lossy(&out.stdout).lines().nth(1).map(str::to_string).ok_or_else(|| t.clone())?;
    Ok(line.split_whitespace().map(str::to_string).collect())
}

/// `kubectl get deploy <name>` until READY shows `want`.
async fn deployment_ready(c: &Cluster, ns: &str, name: &str, want: &str) {
    eventually(&format!("deployment {ns}/{name} READY {want}"), READY_TIMEOUT, || {
        let r = row(c, &["get", "deploy", name, "-n", ns])?;
        // NAME READY UP-TO-DATE AVAILABLE AGE
        (r.get(1).map(String::as_str) == Some(want)).then_some(()).ok_or_else(|| r.join(" "))
    })
    .await
}

/// Pods of `selector` that are Running with all containers ready: name -> first container image.
fn running_pods(c: &Cluster, ns: &str, selector: &str) -> HashMap<String, String> {
    let list = kubectl_json(c, &["get", "pods", "-n", ns, "-l", selector]);
    let mut pods = HashMap::new();
    for p in list["items"].as_array().cloned().unwrap_or_default() {
        let ready = p["status"]["containerStatuses"].as_array().is_some_and(|cs| !cs.is_empty() && cs.iter().all(|s| s["ready"] == true));
        if p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running" && ready {
            pods.insert(p["metadata"]["name"].as_str().unwrap_or_default().to_string(), p["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string());
        }
    }
    pods
}

fn deployment_image(c: &Cluster, name: &str) -> String {
    kubectl_json(c, &["get", "deployment", name])["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string()
}

/// Watches the pods of `selector` and records the most that were ever
/// active at once (not terminating, not finished), as the ReplicaSets count them.
struct PodCounter {
    max: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl PodCounter {
    async fn start(c: &Cluster, ns: &str, selector: &str) -> PodCounter {
        let client = c.client().await.expect("client");
        let informer = Informer::new(Api::<Pod>::namespaced(client, ns), InformerConfig::default().labels(selector));
        let mut events = informer.subscribe();
        let runner = informer.clone();
        tokio::spawn(async move { runner.run().await });
        informer.wait_synced().await;
        let max = Arc::new(AtomicUsize::new(0));
        let m = max.clone();
        let task = tokio::spawn(async move {
            let mut active: HashMap<String, bool> = HashMap::new();
            while let Some(ev) = events.recv().await {
                let key = ev.key();
                match &ev {
                    InformerEvent::Deleted(_) => {
                        active.remove(&key);
                    }
                    InformerEvent::Added(p) | InformerEvent::Updated { new: p, .. } => {
                        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
                        let is_active = p.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded") | Some("Failed"));
                        active.insert(key, is_active);
                    }
                }
                m.fetch_max(active.values().filter(|a| **a).count(), Ordering::SeqCst);
            }
        });
        PodCounter { max, task }
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

impl Drop for PodCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The Jobs a CronJob created and the ones later deleted, as a watch saw
/// them (a poll could miss a Job that came and went between two looks).
struct CronJobJobs {
    created: Arc<Mutex<Vec<String>>>,
    deleted: Arc<Mutex<HashSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CronJobJobs {
    async fn start(c: &Cluster, ns: &str, cronjob: &str) -> CronJobJobs {
        let client = c.client().await.expect("client");
        let informer = Informer::new(Api::<Job>::namespaced(client, ns), InformerConfig::default());
        let mut events = informer.subscribe();
        let runner = informer.clone();
        tokio::spawn(async move { runner.run().await });
        informer.wait_synced().await;
        let (created, deleted) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(HashSet::new())));
        let (cr, de, owner) = (created.clone(), deleted.clone(), cronjob.to_string());
        let task = tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                let job = ev.object();
                let owned = job.metadata.owner_references.iter().flatten().any(|r| r.kind == "CronJob" && r.name == owner && r.controller == Some(true));
                if !owned {
                    continue;
                }
                let name = job.metadata.name.clone().unwrap_or_default();
                match &ev {
                    InformerEvent::Added(_) => cr.lock().unwrap().push(name),
                    InformerEvent::Deleted(_) => {
                        de.lock().unwrap().insert(name);
                    }
                    InformerEvent::Updated { .. } => {}
                }
            }
        });
        CronJobJobs { created, deleted, task }
    }

    fn created(&self) -> Vec<String> {
        self.created.lock().unwrap().clone()
    }

    fn deleted(&self) -> HashSet<String> {
        self.deleted.lock().unwrap().clone()
    }
}

impl Drop for CronJobJobs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Jobs `cronjob` controls now: name -> whether the Complete condition is True.
fn cronjob_jobs(c: &Cluster, cronjob: &str) -> HashMap<String, bool> {
    let list = kubectl_json(c, &["get", "jobs"]);
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|j| j["metadata"]["ownerReferences"].as_array().is_some_and(|o| o.iter().any(|r| r["kind"] == "CronJob" && r["name"] == cronjob)))
        .map(|j| {
            let complete = j["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Complete" && c["status"] == "True"));
            (j["metadata"]["name"].as_str().unwrap_or_default().to_string(), complete)
        })
        .collect()
}

/// The scheduled minute a CronJob's Job name carries (`<cronjob>-<minutes since the epoch>`).
fn scheduled_minute(job: &str) -> u64 {
    job.rsplit_once('-').and_then(|(_, m)| m.parse().ok()).unwrap_or_else(|| panic!("job name {job:?} does not end in the scheduled minute"))
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_jobs_namespaces_and_orphans_with_real_containers() {
    assert!(is_root(), "this test needs root: `ferrokube up` starts a node (kubelet) only as root, and these scenarios need running pods");
    let c = Cluster::up().expect("ferrokube up");

    // 0. A CronJob every minute keeping one successful Job: created first and
    // checked last (step 7), so its Jobs come at minute boundaries while the
    // other scenarios run.
    let cron = c.workdir.path().join("cronjob.yaml");
    std::fs::write(
        &cron,
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: hello\nspec:\n  schedule: \"*/1 * * * *\"\n  successfulJobsHistoryLimit: 1\n  failedJobsHistoryLimit: 1\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: hello\n            image: busybox\n            command: [\"sh\", \"-c\", \"date; echo Hello from the Kubernetes cluster\"]\n",
    )
    .unwrap();
    let cron_jobs = CronJobJobs::start(&c, "default", "hello").await;
    let out = kubectl(&c, &["create", "-f", cron.to_str().unwrap()]);
    assert_eq!(out.trim(), "cronjob.batch/hello created");

    // 1. A Deployment reaches 3/3 Ready.
    let out = kubectl(&c, &["create", "deployment", "kubia", "--image=luksa/kubia", "--replicas=3"]);
    assert_eq!(out.trim(), "deployment.apps/kubia created");
    deployment_ready(&c, "default", "kubia", "3/3").await;
    let pods = running_pods(&c, "default", "app=kubia");
    assert_eq!(pods.len(), 3, "{pods:?}");
    assert!(pods.values().all(|i| i == "luksa/kubia"), "{pods:?}");

    // 2. A deleted pod is replaced.
    let victim = pods.keys().next().cloned().expect("a pod");
    let out = kubectl(&c, &["delete", "pod", &victim, "--wait=false"]);
    assert!(out.trim().starts_with(&format!("pod \"{victim}\" deleted")), "{out}");
    let replaced = eventually("a replacement pod running", READY_TIMEOUT, || {
        let now = running_pods(&c, "default", "app=kubia");
        (now.len() == 3 && !now.contains_key(&victim)).then_some(now.clone()).ok_or_else(|| format!("{now:?}"))
    })
    .await;
    assert_eq!(replaced.keys().filter(|n| !pods.contains_key(*n)).count(), 1, "exactly one new pod: before {pods:?}, after {replaced:?}");
    deployment_ready(&c, "default", "kubia", "3/3").await;

    // 3. Rolling update and undo. busybox's own command (`sh`) exits at once, so
    // the template first gets a long-running command; that is itself a rollout.
    let out = kubectl(
        &c,
        &["patch", "deployment", "kubia", "-p", r#"{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":5,"containers":[{"name":"kubia","command":["sleep","3600"]}]}}}}"#],
    );
    assert_eq!(out.trim(), "deployment.apps/kubia patched");
    let out = kubectl(&c, &["rollout", "status", "deployment/kubia", "--timeout=120s"]);
    assert!(out.contains("deployment \"kubia\" successfully rolled out"), "{out}");

    let counter = PodCounter::start(&c, "default", "app=kubia").await;
    let out = kubectl(&c, &["set", "image", "deployment/kubia", "kubia=busybox"]);
    assert_eq!(out.trim(), "deployment.apps/kubia image updated");
    let out = kubectl(&c, &["rollout", "status", "deployment/kubia", "--timeout=120s"]);
    assert!(out.contains("deployment \"kubia\" successfully rolled out"), "{out}");
    assert_eq!(deployment_image(&c, "kubia"), "busybox");
    let pods = eventually("3 busybox pods running", READY_TIMEOUT, || {
        let p = running_pods(&c, "default", "app=kubia");
        (p.len() == 3 && p.values().all(|i| i == "busybox")).then_some(p.clone()).ok_or_else(|| format!("{p:?}"))
    })
    .await;
    // replicas 3 + maxSurge 25% of 3 rounded up = 4.
    assert!(counter.max() <= 4, "a watch saw {} active pods during the rollout (max 3 + maxSurge 1)", counter.max());
    assert!(counter.max() >= 3, "the watch saw the pods ({})", counter.max());
    drop(counter);
    let history = kubectl(&c, &["rollout", "history", "deployment/kubia"]);
    assert!(history.lines().filter(|l| l.trim_start().starts_with(|ch: char| ch.is_ascii_digit())).count() >= 3, "three revisions in:\n{history}");

    let out = kubectl(&c, &["rollout", "undo", "deployment/kubia"]);
    assert_eq!(out.trim(), "deployment.apps/kubia rolled back");
    let out = kubectl(&c, &["rollout", "status", "deployment/kubia", "--timeout=120s"]);
    assert!(out.contains("deployment \"kubia\" successfully rolled out"), "{out}");
    assert_eq!(deployment_image(&c, "kubia"), "luksa/kubia");
    let restored = eventually("3 luksa/kubia pods running", READY_TIMEOUT, || {
        let p = running_pods(&c, "default", "app=kubia");
        (p.len() == 3 && p.values().all(|i| i == "luksa/kubia")).then_some(p.clone()).ok_or_else(|| format!("{p:?}"))
    })
    .await;
    assert!(restored.keys().all(|n| !pods.contains_key(n)), "new pods after undo: {restored:?} vs {pods:?}");

    // 4. Deleting the Deployment with --cascade=orphan keeps its pods.
    let rs = kubectl_json(&c, &["get", "rs", "-l", "app=kubia"]);
    let active_rs: Vec<String> = rs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spec"]["replicas"].as_i64().unwrap_or(0) > 0)
        .map(|r| r["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(active_rs.len(), 1, "{rs}");
    let out = kubectl(&c, &["delete", "deployment", "kubia", "--cascade=orphan"]);
    assert!(out.trim().starts_with("deployment.apps \"kubia\" deleted"), "{out}");
    let gone = c.kubectl(&["get", "deployment", "kubia"]).unwrap();
    assert!(!gone.status.success() && text(&gone).contains("NotFound"), "{}", text(&gone));
    // The garbage collector orphans the ReplicaSet (drops its owner reference); pods stay.
    eventually("the ReplicaSet orphaned", Duration::from_secs(60), || {
        let r = kubectl_json(&c, &["get", "rs", &active_rs[0]]);
        r["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty()).then_some(()).ok_or_else(|| r["metadata"].to_string())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(running_pods(&c, "default", "app=kubia"), restored, "the orphaned pods keep running");
    let r = row(&c, &["get", "rs", &active_rs[0]]).unwrap();
    assert_eq!(&r[1..4], ["3", "3", "3"], "the orphaned ReplicaSet still holds 3 ready pods: {r:?}");

    // 5. A Job of 5 completions, 2 at a time.
    let job = c.workdir.path().join("job.yaml");
    std::fs::write(
        &job,
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: done\nspec:\n  completions: 5\n  parallelism: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: busybox\n        command: [\"sh\", \"-c\", \"echo done\"]\n",
    )
    .unwrap();
    let counter = PodCounter::start(&c, "default", "job-name=done").await;
    let out = kubectl(&c, &["create", "-f", job.to_str().unwrap()]);
    assert_eq!(out.trim(), "job.batch/done created");
    eventually("job done Complete 5/5", READY_TIMEOUT, || {
        // NAME STATUS COMPLETIONS DURATION AGE
        let r = row(&c, &["get", "job", "done"])?;
        (r.get(1).map(String::as_str) == Some("Complete") && r.get(2).map(String::as_str) == Some("5/5")).then_some(()).ok_or_else(|| r.join(" "))
    })
    .await;
    let j = kubectl_json(&c, &["get", "job", "done"]);
    assert_eq!(j["status"]["succeeded"], 5, "{}", j["status"]);
    assert!(j["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Complete" && c["status"] == "True"), "{}", j["status"]);
    let pods = kubectl_json(&c, &["get", "pods", "-l", "job-name=done"]);
    let succeeded = pods["items"].as_array().unwrap().iter().filter(|p| p["status"]["phase"] == "Succeeded").count();
    assert_eq!(succeeded, 5, "{}", pods);
    assert!(counter.max() <= 2, "a watch saw {} job pods active at once (parallelism 2)", counter.max());
    drop(counter);

    // 6. Deleting a namespace leaves nothing in it.
    assert_eq!(kubectl(&c, &["create", "namespace", "doomed"]).trim(), "namespace/doomed created");
    kubectl(&c, &["create", "deployment", "web", "--image=luksa/kubia", "--replicas=2", "-n", "doomed"]);
    kubectl(&c, &["create", "configmap", "settings", "--from-literal=a=b", "-n", "doomed"]);
    deployment_ready(&c, "doomed", "web", "2/2").await;
    let out = kubectl(&c, &["delete", "namespace", "doomed", "--wait=false"]);
    assert!(out.trim().starts_with("namespace \"doomed\" deleted"), "{out}");
    eventually("namespace doomed gone", Duration::from_secs(180), || {
        let out = c.kubectl(&["get", "namespace", "doomed"]).map_err(|e| e.to_string())?;
        (!out.status.success() && text(&out).contains("namespaces \"doomed\" not found")).then_some(()).ok_or_else(|| text(&out))
    })
    .await;
    for kind in ["all", "configmaps", "serviceaccounts", "replicasets", "events"] {
        let out = c.kubectl(&["get", kind, "-n", "doomed"]).unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(text(&out).trim(), "No resources found in doomed namespace.", "kubectl get {kind} -n doomed");
    }

    // 7. The CronJob: a Job each scheduled minute, and only the newest
    // successful one kept (successfulJobsHistoryLimit 1), older ones deleted
    // with their pods.
    let (created, kept) = eventually("cronjob hello: two Jobs created, the older deleted, one successful kept", Duration::from_secs(240), || {
        let created = cron_jobs.created();
        let deleted = cron_jobs.deleted();
        let now = cronjob_jobs(&c, "hello");
        let complete: Vec<&String> = now.iter().filter(|(_, done)| **done).map(|(n, _)| n).collect();
        let ok = created.len() >= 2 && deleted.contains(&created[0]) && complete.len() == 1;
        ok.then(|| (created.clone(), complete[0].clone())).ok_or_else(|| format!("created {created:?}, deleted {deleted:?}, now {now:?}"))
    })
    .await;
    let minutes: Vec<u64> = created.iter().map(|j| scheduled_minute(j)).collect();
    assert!(minutes.windows(2).all(|w| w[0] < w[1]), "one Job per scheduled minute, in order: {created:?}");
    assert!(!cron_jobs.deleted().contains(&kept), "the kept Job {kept} is not one deleted: {:?}", cron_jobs.deleted());
    // Deleted Jobs take their pods along (background propagation, by the garbage collector).
    let first = created[0].clone();
    eventually(&format!("the pods of deleted Job {first} gone"), Duration::from_secs(60), || {
        let pods = kubectl_json(&c, &["get", "pods", "-l", &format!("job-name={first}")]);
        pods["items"].as_array().is_none_or(|i| i.is_empty()).then_some(()).ok_or_else(|| pods.to_string())
    })
    .await;
    let kept_job = kubectl_json(&c, &["get", "job", &kept]);
    assert_eq!(kept_job["status"]["succeeded"], 1, "{}", kept_job["status"]);
    assert!(
        kept_job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].as_str().is_some_and(|t| t.ends_with(":00Z")),
        "a whole-minute scheduled timestamp on {kept}: {}",
        kept_job["metadata"]
    );
    let cj = kubectl_json(&c, &["get", "cronjob", "hello"]);
    assert_eq!(cj["spec"]["schedule"], "*/1 * * * *");
    assert!(cj["status"]["lastScheduleTime"].is_string() && cj["status"]["lastSuccessfulTime"].is_string(), "{}", cj["status"]);
    let out = kubectl(&c, &["delete", "cronjob", "hello"]);
    assert!(out.trim().starts_with("cronjob.batch \"hello\" deleted"), "{out}");
    eventually("cronjob hello's Jobs collected after it is deleted", Duration::from_secs(60), || {
        let now = cronjob_jobs(&c, "hello");
        now.is_empty().then_some(()).ok_or_else(|| format!("{now:?}"))
    })
    .await;
}
