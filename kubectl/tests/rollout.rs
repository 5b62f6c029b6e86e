//! `kubectl rollout` and `scale --current-replicas` against a real
//! apiserver with the Deployment and ReplicaSet controllers running, hollow
//! nodes reporting pods Running and Ready, and a small binder standing in
//! for the scheduler.

mod common;

use std::time::Duration;

use client::informer::{Informer, InformerConfig, InformerEvent};
use client::{Api, Client, PostParams};
use common::Kube;
use controller_manager::controllers::{self, deployment::DEPLOYMENT, replicaset::REPLICASET};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use testing::hollow::{HollowConfig, HollowNodes};

struct Cluster {
    kube: Kube,
    shutdown: client::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    nodes: HollowNodes,
}

/// Binds every pending pod of the default namespace to node n1, except
/// those labelled `unschedulable: "true"`.
async fn binder(client: Client) {
    let api = Api::<Pod>::namespaced(client.clone(), "default");
    let informer = Informer::new(api.clone(), InformerConfig::default());
    let mut events = informer.subscribe();
    let _task = informer.spawn();
    while let Some(ev) = events.recv().await {
        let (InformerEvent::Added(p) | InformerEvent::Updated { new: p, .. }) = ev else { continue };
        let unschedulable = p.metadata.labels.as_ref().is_some_and(|l| l.get("unschedulable").map(String::as_str) == Some("true"));
        let bound = p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some();
        if !bound && !unschedulable && p.metadata.deletion_timestamp.is_none() {
            let _ = api.bind(p.metadata.name.as_deref().unwrap(), "n1").await;
        }
    }
}

impl Cluster {
    async fn start() -> Cluster {
        let kube = Kube::start().await;
        let client = kube.cluster.client.clone();
        let registry = daemon::metrics::Registry::new();
        let metrics = controller_manager::metrics::ControllerMetrics::new(&registry);
        let shutdown = client::CancellationToken::new();
        let controllers = tokio::spawn(controllers::run(client.clone(), vec![(REPLICASET, 2), (DEPLOYMENT, 2)], metrics, shutdown.clone()));
        let nodes = HollowNodes::start(client.clone(), vec!["n1".into()], HollowConfig::default()).await.unwrap();
        let binder = tokio::spawn(binder(client));
        Cluster { kube, shutdown, tasks: vec![controllers, binder], nodes }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
        self.nodes.stop().await;
    }

    async fn kubectl(&self, args: &[&str]) -> common::Out {
        self.kube.run(args).await
    }
}

fn deployment_yaml(name: &str, image: &str, cause: &str, extra_labels: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  annotations:\n    kubernetes.io/change-cause: {cause}\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n{extra_labels}    spec:\n      containers:\n      - name: c\n        image: {image}\n"
    )
}

/// `rollout status` waits, printing upstream's progress lines, and ends with success.
fn assert_rolled_out(out: &common::Out, name: &str) {
    let text = out.ok();
    let last = text.lines().last().unwrap_or_default();
    assert_eq!(last, format!("deployment \"{name}\" successfully rolled out"), "{text}");
    for line in text.lines() {
        let waiting = line.starts_with(&format!("Waiting for deployment \"{name}\" rollout to finish: "))
            && (line.ends_with(" new replicas have been updated...") || line.ends_with(" old replicas are pending termination...") || line.ends_with(" updated replicas are available..."));
        assert!(waiting || line == "Waiting for deployment spec update to be observed..." || line == last, "unexpected status line {line:?}");
    }
}

fn image(d: &Deployment) -> String {
    d.spec.template.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

#[tokio::test]
async fn rollout_of_a_deployment_status_history_undo_pause_resume_restart() {
    let c = Cluster::start().await;
    let client = c.kube.cluster.client.clone();
    let deployments = Api::<Deployment>::namespaced(client.clone(), "default");
    let f = c.kube.file("web.yaml", &deployment_yaml("web", "busybox:1", "v1", ""));
    assert_eq!(c.kubectl(&["create", "-f", &f]).await.ok(), "deployment.apps/web created\n");
    assert_rolled_out(&c.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]).await, "web");

    // A second revision, with its own change-cause.
    assert_eq!(c.kubectl(&["set", "image", "deployment/web", "c=busybox:2"]).await.ok(), "deployment.apps/web image updated\n");
    c.kubectl(&["annotate", "deployment", "web", "kubernetes.io/change-cause=v2", "--overwrite"]).await.ok();
    assert_rolled_out(&c.kubectl(&["rollout", "status", "deployments", "web", "--timeout=60s"]).await, "web");
    // The change-cause reaches the new RS on its next sync.
    let mut history = String::new();
    for _ in 0..50 {
        history = c.kubectl(&["rollout", "history", "deployment/web"]).await.ok().to_string();
        if history.contains("2         v2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(history, "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         v1\n2         v2\n\n");
    let one = c.kubectl(&["rollout", "history", "deployment/web", "--revision=1"]).await;
    let one = one.ok();
    assert!(one.starts_with("deployment.apps/web with revision #1\nPod Template:\n  Labels:"), "{one}");
    assert!(one.contains("pod-template-hash=") && one.contains("Image:") && one.contains("busybox:1"), "{one}");
    assert_eq!(c.kubectl(&["rollout", "history", "deployment/web", "--revision=7"]).await.fails(), "error: unable to find the specified revision\n");

    // Undo: back to revision 1's template, which becomes revision 3.
    assert_eq!(c.kubectl(&["rollout", "undo", "deployment/web"]).await.ok(), "deployment.apps/web rolled back\n");
    assert_rolled_out(&c.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]).await, "web");
    let d = deployments.get("web").await.unwrap();
    assert_eq!(image(&d), "busybox:1");
    assert_eq!(d.metadata.annotations.as_ref().unwrap()["kubernetes.io/change-cause"], "v1", "the RS's change-cause comes back");
    assert_eq!(c.kubectl(&["rollout", "history", "deployment/web"]).await.ok(), "deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         v2\n3         v1\n\n");
    assert_eq!(
        c.kubectl(&["rollout", "undo", "deployment/web", "--to-revision=3"]).await.ok(),
        "deployment.apps/web skipped rollback (current template already matches revision 3)\n"
    );
    assert_eq!(c.kubectl(&["rollout", "undo", "deployment/web", "--to-revision=9"]).await.fails(), "error: unable to find specified revision 9 in history\n");
    assert_eq!(c.kubectl(&["rollout", "undo", "deployment/web", "--to-revision=2"]).await.ok(), "deployment.apps/web rolled back\n");
    assert_rolled_out(&c.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]).await, "web");
    assert_eq!(image(&deployments.get("web").await.unwrap()), "busybox:2");

    // Pause and resume.
    assert_eq!(c.kubectl(&["rollout", "pause", "deployment/web"]).await.ok(), "deployment.apps/web paused\n");
    assert_eq!(c.kubectl(&["rollout", "pause", "deployment/web"]).await.fails(), "error: deployments.apps \"web\" is already paused\n");
    assert_eq!(
        c.kubectl(&["rollout", "restart", "deployment/web"]).await.fails(),
        "error: deployments.apps \"web\" can't restart paused deployment (run rollout resume first)\n"
    );
    assert_eq!(
        c.kubectl(&["rollout", "undo", "deployment/web"]).await.fails(),
        "error: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again\n"
    );
    assert_eq!(deployments.get("web").await.unwrap().spec.paused, Some(true));
    assert_eq!(c.kubectl(&["rollout", "resume", "deployment/web"]).await.ok(), "deployment.apps/web resumed\n");
    assert_eq!(c.kubectl(&["rollout", "resume", "deployment/web"]).await.fails(), "error: deployments.apps \"web\" is not paused\n");

    // Restart: a template annotation, so a new revision with the same image.
    assert_eq!(c.kubectl(&["rollout", "restart", "deployment/web"]).await.ok(), "deployment.apps/web restarted\n");
    let d = deployments.get("web").await.unwrap();
    let restarted = d.spec.template.metadata.as_ref().unwrap().annotations.as_ref().unwrap()["kubectl.kubernetes.io/restartedAt"].clone();
    assert!(chrono::DateTime::parse_from_rfc3339(&restarted).is_ok(), "{restarted}");
    assert_rolled_out(&c.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]).await, "web");
    let history = c.kubectl(&["rollout", "history", "deployment/web"]).await.ok().to_string();
    assert!(history.contains("\n5         "), "{history}");
    assert_eq!(c.kubectl(&["rollout", "status", "deployment/web", "--watch=false"]).await.ok(), "deployment \"web\" successfully rolled out\n");
    assert_eq!(
        c.kubectl(&["rollout", "status", "deployment/web", "--revision=2"]).await.fails(),
        "error: desired revision (2) is different from the running revision (5)\n"
    );

    // scale --current-replicas is a precondition.
    assert_eq!(c.kubectl(&["scale", "deployment", "web", "--current-replicas=2", "--replicas=5"]).await.fails(), "error: Expected replicas to be 2, was 3\n");
    assert_eq!(c.kubectl(&["scale", "deployment", "web", "--current-replicas=3", "--replicas=4"]).await.ok(), "deployment.apps/web scaled\n");
    assert_rolled_out(&c.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]).await, "web");

    // describe shows what the controller filled in.
    let rs_name = {
        let rss = Api::<k8s_openapi::api::apps::v1::ReplicaSet>::namespaced(client.clone(), "default").list(&Default::default()).await.unwrap().items;
        let newest = rss.into_iter().find(|r| r.spec.replicas == Some(4)).unwrap();
        newest.metadata.name.unwrap()
    };
    let desc = c.kubectl(&["describe", "deployment", "web"]).await.ok().to_string();
    let line = |prefix: &str| desc.lines().find(|l| l.starts_with(prefix)).map(|l| l[prefix.len()..].trim().to_string()).unwrap_or_default();
    assert_eq!(line("Replicas:"), "4 desired | 4 updated | 4 total | 4 available | 0 unavailable", "{desc}");
    assert_eq!(line("NewReplicaSet:"), format!("{rs_name} (4/4 replicas created)"), "{desc}");
    assert_eq!(line("OldReplicaSets:"), "<none>", "{desc}");
    // The Events the controller recorded (upstream's spam filter, 25 per object, may drop the latest).
    assert!(desc.contains("Normal  ScalingReplicaSet") && desc.contains("deployment-controller  Scaled up replica set web-"), "{desc}");
    let has_row = |cells: &[&str]| desc.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == cells);
    assert!(has_row(&["Available", "True", "MinimumReplicasAvailable"]), "{desc}");
    assert!(has_row(&["Progressing", "True", "NewReplicaSetAvailable"]), "{desc}");
    c.stop().await;
}

#[tokio::test]
async fn rollout_status_reports_a_deadline_and_times_out() {
    let c = Cluster::start().await;
    // Unschedulable pods never become available.
    let stuck = deployment_yaml("stuck", "busybox:1", "v1", "        unschedulable: \"true\"\n").replace("spec:\n  replicas: 3", "spec:\n  replicas: 1\n  progressDeadlineSeconds: 2");
    let f = c.kube.file("stuck.yaml", &stuck);
    c.kubectl(&["create", "-f", &f]).await.ok();
    let out = c.kubectl(&["rollout", "status", "deployment/stuck", "--timeout=20s"]).await;
    assert_eq!(out.fails(), "error: deployment \"stuck\" exceeded its progress deadline\n");
    assert!(out.stdout.lines().all(|l| l.starts_with("Waiting for deployment")), "{:?}", out.stdout);

    let slow = deployment_yaml("slow", "busybox:1", "v1", "        unschedulable: \"true\"\n").replace("spec:\n  replicas: 3", "spec:\n  replicas: 1");
    let f = c.kube.file("slow.yaml", &slow);
    c.kubectl(&["create", "-f", &f]).await.ok();
    let out = c.kubectl(&["rollout", "status", "deployment/slow", "--timeout=2s"]).await;
    assert_eq!(out.fails(), "error: timed out waiting for the condition\n");
    assert_eq!(out.stdout.lines().last(), Some("Waiting for deployment \"slow\" rollout to finish: 0 of 1 updated replicas are available..."), "{:?}", out.stdout);
    c.stop().await;
}

#[tokio::test]
async fn rollout_of_a_daemon_set_uses_its_controller_revisions() {
    let c = Cluster::start().await;
    let client = c.kube.cluster.client.clone();
    let template = |image: &str| json!({"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": image}]}});
    let ds_api = Api::<DaemonSet>::namespaced(client.clone(), "default");
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template("busybox:1")}
    }))
    .unwrap();
    let mut ds = ds_api.create(&PostParams::default(), &ds).await.unwrap();
    // The revisions a DaemonSet controller keeps: the stored template as a replace patch, owned by the DS.
    let owner = api::owner::controller_ref_for(&ds);
    for (n, image, cause) in [(1, "busybox:1", "first"), (2, "busybox:2", "second")] {
        if n == 2 {
            ds.spec.template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
            ds = ds_api.replace(&ds).await.unwrap();
        }
        let mut t = serde_json::to_value(&ds.spec.template).unwrap();
        t["$patch"] = json!("replace");
        let cr: ControllerRevision = serde_json::from_value(json!({
            "metadata": {"name": format!("agent-{n}"), "namespace": "default", "labels": {"app": "agent"},
                "annotations": {"kubernetes.io/change-cause": cause}, "ownerReferences": [owner]},
            "data": {"spec": {"template": t}},
            "revision": n
        }))
        .unwrap();
        Api::<ControllerRevision>::namespaced(client.clone(), "default").create(&PostParams::default(), &cr).await.unwrap();
    }
    assert_eq!(c.kubectl(&["rollout", "history", "daemonset/agent"]).await.ok(), "daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         first\n2         second\n\n");
    let two = c.kubectl(&["rollout", "history", "ds/agent", "--revision=2"]).await;
    assert!(two.ok().starts_with("daemonset.apps/agent with revision #2\nPod Template:\n") && two.ok().contains("busybox:2"), "{}", two.ok());

    // Status from updatedNumberScheduled / numberAvailable.
    let mut cur = Api::<DaemonSet>::namespaced(client.clone(), "default").get("agent").await.unwrap();
    cur.status = Some(serde_json::from_value(json!({"observedGeneration": cur.metadata.generation, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1})).unwrap());
    Api::<DaemonSet>::namespaced(client.clone(), "default").replace_status(&cur).await.unwrap();
    assert_eq!(
        c.kubectl(&["rollout", "status", "daemonset/agent", "--watch=false"]).await.ok(),
        "Waiting for daemon set \"agent\" rollout to finish: 1 out of 2 new pods have been updated...\n"
    );

    // Undo goes to the previous revision's template; then the latest is current again.
    assert_eq!(c.kubectl(&["rollout", "undo", "daemonset/agent"]).await.ok(), "daemonset.apps/agent rolled back\n");
    let ds = Api::<DaemonSet>::namespaced(client.clone(), "default").get("agent").await.unwrap();
    assert_eq!(ds.spec.template.spec.as_ref().unwrap().containers[0].image.as_deref(), Some("busybox:1"));
    assert_eq!(
        c.kubectl(&["rollout", "undo", "daemonset/agent", "--to-revision=1"]).await.ok(),
        "daemonset.apps/agent skipped rollback (current template already matches revision 1)\n"
    );
    assert_eq!(c.kubectl(&["rollout", "pause", "daemonset/agent"]).await.fails(), "error: daemonsets.apps \"agent\" pausing is not supported\n");
    assert_eq!(c.kubectl(&["rollout", "restart", "daemonset/agent"]).await.ok(), "daemonset.apps/agent restarted\n");
    c.stop().await;
}
