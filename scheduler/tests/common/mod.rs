//! A real etcd + apiserver and a scheduler on it, with helpers to create
//! Node objects (no kubelets) and pods and to wait for the outcome.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use testing::TestCluster;
use client::{Api, CancellationToken, ListParams, PostParams};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use scheduler::metrics::Metrics;
use scheduler::{Scheduler, SchedulerConfig};
use serde_json::{json, Value};

pub struct Env {
    pub cluster: TestCluster,
    pub stop: CancellationToken,
    pub metrics: Arc<Metrics>,
    pub task: Option<tokio::task::JoinHandle<()>>,
}

impl Env {
    /// Cluster with `nodes` created, and a scheduler (no leader election) running.
    pub async fn start(nodes: Vec<Value>) -> Env {
        Self::start_with(nodes, SchedulerConfig::default()).await
    }

    pub async fn start_with(nodes: Vec<Value>, config: SchedulerConfig) -> Env {
        Self::start_seeded(nodes, config, |_| async {}).await
    }

    /// Like `start_with`, with `seed` creating objects before the scheduler
    /// starts (so that its informers have them from their first list).
    pub async fn start_seeded<F, Fut>(nodes: Vec<Value>, config: SchedulerConfig, seed: F) -> Env
    where
        F: FnOnce(client::Client) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let cluster = TestCluster::start().await.expect("test cluster");
        seed(cluster.client.clone()).await;
        let env = Env { cluster, stop: CancellationToken::new(), metrics: Arc::new(Metrics::default()), task: None };
        for n in nodes {
            env.create_node(n).await;
        }
        let sched = Scheduler::new(env.cluster.client.clone(), config, env.metrics.clone());
        let stop = env.stop.clone();
        Env { task: Some(tokio::spawn(sched.run(stop))), ..env }
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.cluster.client.clone())
    }
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.cluster.client.clone(), "default")
    }

    pub async fn create_node(&self, n: Value) -> Node {
        let node: Node = serde_json::from_value(n).unwrap();
        self.nodes().create(&PostParams::default(), &node).await.expect("create node")
    }

    pub async fn create_pod(&self, p: Value) -> Pod {
        let pod: Pod = serde_json::from_value(p).unwrap();
        self.pods().create(&PostParams::default(), &pod).await.expect("create pod")
    }

    /// Waits (up to 30 s) for the pod to be bound; returns its node.
    pub async fn wait_bound(&self, name: &str) -> String {
        for _ in 0..300 {
            let p = self.pods().get(name).await.unwrap();
            if let Some(n) = p.spec.and_then(|s| s.node_name) {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("pod {name} was not bound");
    }

    /// Creates the pod and returns the node it was bound to.
    pub async fn schedule(&self, p: Value) -> String {
        let pod = self.create_pod(p).await;
        self.wait_bound(pod.metadata.name.as_deref().unwrap()).await
    }

    /// Waits for PodScheduled=False/Unschedulable and returns its message; the pod must stay unbound.
    pub async fn wait_unschedulable(&self, name: &str) -> String {
        for _ in 0..300 {
            let p = self.pods().get(name).await.unwrap();
            assert!(p.spec.as_ref().unwrap().node_name.is_none(), "pod {name} was bound");
            let cond = p.status.and_then(|s| s.conditions).unwrap_or_default().into_iter().find(|c| c.type_ == "PodScheduled");
            if let Some(c) = cond {
                assert_eq!((c.status.as_str(), c.reason.as_deref()), ("False", Some("Unschedulable")));
                return c.message.unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("pod {name} never became Unschedulable");
    }

    pub async fn events_for(&self, name: &str) -> Vec<Event> {
        let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
        Api::<Event>::namespaced(self.cluster.client.clone(), "default").list(&lp).await.unwrap().items
    }

    /// Waits for an event with `reason` about pod `name`; returns its message.
    pub async fn wait_event(&self, name: &str, reason: &str) -> String {
        for _ in 0..300 {
            if let Some(e) = self.events_for(name).await.into_iter().find(|e| e.reason.as_deref() == Some(reason)) {
                return e.message.unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {reason} event for {name}");
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// A Node object: `cpu`, `memory`, 110 pods, hostname label, plus `extra` merged into it.
pub fn node(name: &str, cpu: &str, mem: &str, extra: Value) -> Value {
    let mut n = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "capacity": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "100Gi"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    });
    merge(&mut n, extra);
    n
}

/// A pod with one container requesting cpu/memory ("" = none), plus `extra` merged into it.
pub fn pod(name: &str, cpu: &str, mem: &str, extra: Value) -> Value {
    let mut req = serde_json::Map::new();
    if !cpu.is_empty() {
        req.insert("cpu".into(), json!(cpu));
    }
    if !mem.is_empty() {
        req.insert("memory".into(), json!(mem));
    }
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": req}}]}
    });
    merge(&mut p, extra);
    p
}

/// JSON merge (objects merged recursively, everything else replaced).
pub fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}
