//! DaemonSet (upstream's pkg/controller/daemon): one pod per eligible node.
//! A node is eligible when it matches the template's nodeName, nodeSelector
//! and required node affinity and has no NoSchedule/NoExecute taint the pod
//! does not tolerate, counting the tolerations every daemon pod gets
//! (not-ready, unreachable, the pressures, unschedulable,
//! network-unavailable for hostNetwork). A pod keeps running on a node
//! whose new taint is only NoSchedule. Pods are pinned to their node by
//! required node affinity `metadata.name In [node]` and bound by the
//! scheduler, as upstream.
//!
//! One sync: claim pods, find or make the ControllerRevision of the
//! template (its hash labels the pods), create and delete pods per node
//! (manage), then roll old pods (RollingUpdate: maxUnavailable deletes
//! first, or maxSurge creates first), prune history, write status.
//! Expectations keep a lagging pod cache from doubling creates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::owner::{controller_of, controller_ref_for};
use api::taints::{find_untolerated, NO_EXECUTE, NO_SCHEDULE};
use api::Selector;
use client::controller::{Action, Controller, UidTrackingExpectations};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{key_of, split_key, Store};
use client::{Api, Client, DeleteParams, PostParams};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::controller_utils::{compute_hash, is_pod_available, is_pod_ready, now, pod_from_template, pod_key, slow_start_batch, SLOW_START_INITIAL_BATCH_SIZE};
use crate::history::{self, sort_revisions};
use crate::informers::NAMESPACE_INDEX;
use crate::ref_manager::{claim, claim_pods};
use crate::Error;

pub const DAEMONSET: Descriptor = Descriptor {
    name: "daemonset-controller",
    aliases: &["daemonset"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-daemonset-syncs",
        default: 2,
        help: "The number of daemonset objects that are allowed to sync concurrently. Larger number = more responsive daemonsets, but more CPU (and network) load",
    }),
    start,
};

/// Upstream's BurstReplicas for DaemonSets.
const BURST_REPLICAS: usize = 250;
/// apps.DefaultDaemonSetUniqueLabelKey.
pub const HASH_LABEL: &str = "controller-revision-hash";
/// The deprecated template-generation label upstream still sets.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
const COMPONENT: &str = "daemonset-controller";

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let sets = ctx.informers.get::<DaemonSet>();
        let pods = ctx.informers.get::<Pod>();
        let nodes = ctx.informers.get::<Node>();
        let revisions = ctx.informers.get::<ControllerRevision>();
        let expectations = UidTrackingExpectations::new();
        let state = Arc::new(Sync_ {
            client: ctx.client.clone(),
            sets: sets.store(),
            pods: pods.store(),
            nodes: nodes.store(),
            revisions: revisions.store(),
            expectations: expectations.clone(),
            recorder: EventRecorder::new(ctx.client.clone(), COMPONENT, None),
        });
        let on_pod = state.clone();
        let all_sets = sets.store();
        let controller = Controller::new("daemonset", &sets)
            .workers(ctx.workers)
            .watches(&pods, move |ev| on_pod.pod_event(ev))
            // Any node change may change where daemons belong: look at every set.
            .watches(&nodes, move |ev| {
                if let InformerEvent::Updated { old, new } = ev {
                    if old.metadata.labels == new.metadata.labels && old.spec == new.spec && old.metadata.name == new.metadata.name {
                        return Vec::new();
                    }
                }
                all_sets.list().iter().map(|s| key_of(s.as_ref())).collect()
            })
            .owns(&revisions)
            .watches(&sets, move |ev| {
                if let InformerEvent::Deleted(o) = ev {
                    expectations.delete(&key_of(o.as_ref()));
                }
                Vec::new()
            });
        let controller = ctx.metrics.instrument("daemonset", controller);
        controller.run(state.clone(), sync, ctx.shutdown.clone()).await;
        state.recorder.flush().await;
    })
}

struct Sync_ {
    client: Client,
    sets: Store<DaemonSet>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    expectations: UidTrackingExpectations,
    recorder: EventRecorder,
}

fn selector(ds: &DaemonSet) -> Result<Selector, String> {
    Selector::from_label_selector(Some(&ds.spec.selector)).map_err(|e| e.to_string())
}

fn name_of(ds: &DaemonSet) -> &str {
    ds.metadata.name.as_deref().unwrap_or_default()
}

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration { key: Some(key.into()), operator: Some("Exists".into()), effect: Some(effect.into()), ..Default::default() }
}

/// Adds the tolerations every daemon pod has (AddOrUpdateDaemonPodTolerations).
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        toleration("node.kubernetes.io/not-ready", NO_EXECUTE),
        toleration("node.kubernetes.io/unreachable", NO_EXECUTE),
        toleration("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
        toleration("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
        toleration("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
        toleration("node.kubernetes.io/unschedulable", NO_SCHEDULE),
    ];
    if spec.host_network == Some(true) {
        wanted.push(toleration("node.kubernetes.io/network-unavailable", NO_SCHEDULE));
    }
    let tols = spec.tolerations.get_or_insert_with(Vec::new);
    for t in wanted {
        // AddOrUpdateTolerationInPodSpec: an identical one stays, else appended.
        if !tols.iter().any(|x| x.key == t.key && x.effect == t.effect && x.operator == t.operator && x.value == t.value) {
            tols.push(t);
        }
    }
}

/// Whether the daemon should run on `node` and whether a pod already
/// there may keep running (NodeShouldRunDaemonPod).
pub fn node_should_run(node: &Node, ds: &DaemonSet) -> (bool, bool) {
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let mut spec = ds.spec.template.spec.clone().unwrap_or_default();
    if spec.node_name.as_deref().is_some_and(|n| !n.is_empty() && n != node_name) {
        return (false, false);
    }
    spec.node_name = Some(node_name.to_string());
    add_daemon_tolerations(&mut spec);
    let pod = Pod { metadata: ds.spec.template.metadata.clone().unwrap_or_default(), spec: Some(spec), status: None };
    if !api::affinity::pod_matches_node_selector_and_affinity(&pod, node) {
        return (false, false);
    }
    let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let tols = pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
    if find_untolerated(&taints, &tols, api::taints::does_not_schedule).is_none() {
        return (true, true);
    }
    (false, find_untolerated(&taints, &tols, |t| t.effect == NO_EXECUTE).is_none())
}

/// Pins a pod to `node` by required node affinity (ReplaceDaemonSetPodNodeNameNodeAffinity):
/// the required terms become one term `metadata.name In [node]`.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement { key: "metadata.name".into(), operator: "In".into(), values: Some(vec![node.into()]) }]),
        ..Default::default()
    };
    let mut a = affinity.unwrap_or_default();
    let na = a.node_affinity.get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(NodeSelector { node_selector_terms: vec![term] });
    a
}

/// The node a daemon pod is for: spec.nodeName, else the pinned affinity (GetTargetNodeName).
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec.affinity.as_ref()?.node_affinity.as_ref()?.required_during_scheduling_ignored_during_execution.as_ref()?.node_selector_terms;
    terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find_map(|r| {
        let v = r.values.as_ref()?;
        (r.key == "metadata.name" && r.operator == "In" && v.len() == 1).then(|| v[0].clone())
    })
}

fn pod_hash(pod: &Pod) -> &str {
    pod.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).map(String::as_str).unwrap_or_default()
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

/// Oldest first; with equal times, Running before others (podByCreationTimestampAndPhase).
fn by_age(pods: &mut [Arc<Pod>]) {
    pods.sort_by(|a, b| {
        let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        t(a).cmp(&t(b)).then_with(|| (phase(b) == "Running").cmp(&(phase(a) == "Running"))).then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// (maxSurge, maxUnavailable) for `desired` nodes (updatedDesiredNodeCounts).
fn surge_and_unavailable(ds: &DaemonSet, desired: i32) -> (usize, usize) {
    let ru = ds.spec.update_strategy.as_ref().and_then(|s| s.rolling_update.as_ref());
    let surge = ru.and_then(|r| r.max_surge.clone()).unwrap_or(IntOrString::Int(0));
    let unavail = ru.and_then(|r| r.max_unavailable.clone()).unwrap_or(IntOrString::Int(1));
    let surge = api::intstr::scaled_value(&surge, desired, true).unwrap_or(0).max(0) as usize;
    let mut unavail = api::intstr::scaled_value(&unavail, desired, false).unwrap_or(1).max(0) as usize;
    if desired > 0 && surge == 0 && unavail == 0 {
        unavail = 1;
    }
    (surge, unavail)
}

impl Sync_ {
    fn resolve(&self, ns: &str, r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference) -> Option<Arc<DaemonSet>> {
        if r.kind != "DaemonSet" {
            return None;
        }
        self.sets.get(ns, &r.name).filter(|s| s.metadata.uid.as_deref() == Some(r.uid.as_str()))
    }

    fn pod_event(&self, ev: &InformerEvent<Pod>) -> Vec<String> {
        let pod = ev.object();
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let mut keys = Vec::new();
        if let InformerEvent::Updated { old, .. } = ev {
            if let Some(o) = controller_of(&old.metadata).and_then(|r| self.resolve(ns, r)) {
                keys.push(key_of(o.as_ref()));
            }
        }
        match controller_of(&pod.metadata) {
            Some(r) => {
                if let Some(o) = self.resolve(ns, r) {
                    let key = key_of(o.as_ref());
                    match ev {
                        InformerEvent::Added(p) if p.metadata.deletion_timestamp.is_none() => self.expectations.creation_observed(&key),
                        InformerEvent::Deleted(p) => self.expectations.deletion_observed(&key, &pod_key(p)),
                        InformerEvent::Updated { new, .. } if new.metadata.deletion_timestamp.is_some() => self.expectations.deletion_observed(&key, &pod_key(new)),
                        _ => {}
                    }
                    keys.push(key);
                }
            }
            None if !matches!(ev, InformerEvent::Deleted(_)) => {
                for s in self.sets.by_index(NAMESPACE_INDEX, ns) {
                    if selector(&s).is_ok_and(|sel| !sel.is_empty() && sel.matches_opt(pod.metadata.labels.as_ref())) {
                        keys.push(key_of(s.as_ref()));
                    }
                }
            }
            None => {}
        }
        keys.dedup();
        keys
    }

    /// constructHistory: the revision matching the template (made if
    /// missing, renumbered to be the newest) and the old ones.
    async fn history(&self, ds: &DaemonSet, mut all: Vec<Arc<ControllerRevision>>) -> Result<(ControllerRevision, Vec<Arc<ControllerRevision>>), Error> {
        sort_revisions(&mut all);
        let data = history::template_patch(&ds.spec.template);
        let (cur, old): (Vec<_>, Vec<_>) = all.into_iter().partition(|r| r.data.0 == data);
        let next = old.iter().filter_map(|r| r.revision).max().unwrap_or(0) + 1;
        let cur = match cur.last() {
            Some(c) => {
                // Keep the newest; duplicates go (dedupCurHistories).
                for dup in &cur[..cur.len() - 1] {
                    let ns = ds.metadata.namespace.as_deref().unwrap_or_default();
                    let _ = Api::<ControllerRevision>::namespaced(self.client.clone(), ns).delete(dup.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await;
                }
                if c.revision.unwrap_or(0) < next {
                    history::update_revision_number(&self.client, c, next).await?
                } else {
                    (**c).clone()
                }
            }
            None => self.snapshot(ds, next).await?,
        };
        Ok((cur, old))
    }

    /// A new revision named `<ds>-<ComputeHash(template, collisionCount)>`;
    /// a name taken by other data bumps status.collisionCount (snapshot).
    async fn snapshot(&self, ds: &DaemonSet, revision: i64) -> Result<ControllerRevision, Error> {
        let ns = ds.metadata.namespace.as_deref().unwrap_or_default();
        let collision = ds.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&ds.spec.template, collision);
        let mut rev = history::new_revision(&ds.metadata, controller_ref_for(ds), &ds.spec.template, revision, None);
        rev.metadata.name = Some(history::revision_name(name_of(ds), &hash));
        let labels = rev.metadata.labels.get_or_insert_with(BTreeMap::new);
        labels.remove(history::CONTROLLER_REVISION_HASH_LABEL);
        labels.insert(HASH_LABEL.into(), hash);
        let api = Api::<ControllerRevision>::namespaced(self.client.clone(), ns);
        match api.create(&PostParams::default(), &rev).await {
            Ok(r) => Ok(r),
            Err(e) if e.is_already_exists() => {
                let existing = api.get(rev.metadata.name.as_deref().unwrap_or_default()).await?;
                if existing.data == rev.data {
                    return Ok(existing);
                }
                let dapi = Api::<DaemonSet>::namespaced(self.client.clone(), ns);
                let mut fresh = dapi.get(name_of(ds)).await?;
                let fresh_count = fresh.status.as_ref().and_then(|s| s.collision_count);
                if fresh_count != collision {
                    return Err(Error::Other(format!("found a stale collision count ({collision:?}, expected {fresh_count:?}) of DaemonSet {:?} while processing; will retry until it is updated", name_of(ds))));
                }
                let st = fresh.status.get_or_insert_with(Default::default);
                st.collision_count = Some(st.collision_count.unwrap_or(0) + 1);
                dapi.replace_status(&fresh).await?;
                tracing::info!(daemonset = %key_of(ds), "found a hash collision for DaemonSet - bumping collisionCount to resolve it");
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// syncNodes: deletes `to_delete` and creates a pod for each of `nodes`.
    async fn sync_nodes(&self, ds: &DaemonSet, key: &str, to_delete: Vec<Arc<Pod>>, nodes: Vec<String>, hash: &str) -> Result<(), Error> {
        let nodes: Vec<String> = nodes.into_iter().take(BURST_REPLICAS).collect();
        let to_delete: Vec<Arc<Pod>> = to_delete.into_iter().take(BURST_REPLICAS).collect();
        self.expectations.expect_creations(key, nodes.len());
        self.expectations.expect_deletions(key, to_delete.iter().map(|p| pod_key(p)).collect());
        let mut template: PodTemplateSpec = ds.spec.template.clone();
        add_daemon_tolerations(template.spec.get_or_insert_with(Default::default));
        let labels = template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
        if let Some(g) = ds.metadata.generation {
            labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
        }
        labels.insert(HASH_LABEL.into(), hash.into());
        let ns = ds.metadata.namespace.as_deref().unwrap_or_default();
        let api = Api::<Pod>::namespaced(self.client.clone(), ns);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (created, err) = slow_start_batch(nodes.len(), SLOW_START_INITIAL_BATCH_SIZE, || {
            let node = &nodes[next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)];
            let mut pod = pod_from_template(&template, &ds.metadata, controller_ref_for(ds));
            let spec = pod.spec.get_or_insert_with(Default::default);
            spec.affinity = Some(pin_to_node(spec.affinity.take(), node));
            let api = api.clone();
            async move {
                match api.create(&PostParams::default(), &pod).await {
                    Ok(p) => {
                        self.recorder.publish(ds, EventType::Normal, "SuccessfulCreate", format!("Created pod: {}", p.metadata.name.unwrap_or_default()));
                        Ok(())
                    }
                    Err(e) => {
                        self.recorder.publish(ds, EventType::Warning, "FailedCreate", format!("Error creating: {e}"));
                        Err(Error::from(e))
                    }
                }
            }
        })
        .await;
        for _ in created..nodes.len() {
            self.expectations.creation_observed(key);
        }
        let results = futures::future::join_all(to_delete.iter().map(|p| async {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {
                    self.recorder.publish(ds, EventType::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                    Ok(())
                }
                Err(e) => {
                    self.expectations.deletion_observed(key, &pod_key(p));
                    if e.is_not_found() {
                        return Ok(());
                    }
                    self.recorder.publish(ds, EventType::Warning, "FailedDelete", format!("Error deleting: {e}"));
                    Err(Error::from(e))
                }
            }
        }))
        .await;
        if let Some(e) = err {
            return Err(e);
        }
        results.into_iter().collect::<Result<Vec<()>, Error>>().map(|_| ())
    }

    /// manage: what each node needs (podsShouldBeOnNode).
    fn plan_manage(&self, ds: &DaemonSet, nodes: &[Arc<Node>], by_node: &HashMap<String, Vec<Arc<Pod>>>, hash: &str) -> (Vec<String>, Vec<Arc<Pod>>) {
        let surge = surge_and_unavailable(ds, 1).0 > 0 || ds.spec.update_strategy.as_ref().and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.max_surge.as_ref()).is_some_and(|s| *s != IntOrString::Int(0));
        let (mut create, mut delete) = (Vec::new(), Vec::new());
        let min_ready = ds.spec.min_ready_seconds.unwrap_or(0);
        for node in nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            let (should_run, should_continue) = node_should_run(node, ds);
            let pods: Vec<Arc<Pod>> = by_node.get(&name).cloned().unwrap_or_default();
            if should_run && pods.is_empty() {
                create.push(name);
            } else if should_continue {
                let mut running = Vec::new();
                for p in pods.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                    match phase(&p) {
                        "Failed" => {
                            self.recorder.publish(ds, EventType::Warning, "FailedDaemonPod", format!("Found failed daemon pod {}/{} on node {name}, will try to kill it", p.metadata.namespace.as_deref().unwrap_or_default(), p.metadata.name.as_deref().unwrap_or_default()));
                            delete.push(p);
                        }
                        "Succeeded" => delete.push(p),
                        _ => running.push(p),
                    }
                }
                if running.len() <= 1 {
                    continue;
                }
                by_age(&mut running);
                if !surge {
                    delete.extend(running.into_iter().skip(1));
                    continue;
                }
                let (mut oldest_new, mut oldest_old) = (None, None);
                for p in running {
                    if pod_hash(&p) == hash {
                        if oldest_new.is_none() {
                            oldest_new = Some(p);
                            continue;
                        }
                    } else if oldest_old.is_none() {
                        oldest_old = Some(p);
                        continue;
                    }
                    delete.push(p);
                }
                if let (Some(n), Some(o)) = (oldest_new, oldest_old) {
                    if !is_pod_ready(&o) || is_pod_available(&n, min_ready, now()) {
                        delete.push(o);
                    }
                }
            } else {
                delete.extend(pods.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()));
            }
        }
        (create, delete)
    }

    /// rollingUpdate: which old pods to delete (or nodes to surge onto).
    fn plan_rolling_update(&self, ds: &DaemonSet, nodes: &[Arc<Node>], by_node: &HashMap<String, Vec<Arc<Pod>>>, hash: &str) -> (Vec<String>, Vec<Arc<Pod>>) {
        let desired = nodes.iter().filter(|n| node_should_run(n, ds).0).count() as i32;
        let (max_surge, max_unavailable) = surge_and_unavailable(ds, desired);
        let min_ready = ds.spec.min_ready_seconds.unwrap_or(0);
        let now = now();
        let node_objs: HashMap<String, &Arc<Node>> = nodes.iter().map(|n| (n.metadata.name.clone().unwrap_or_default(), n)).collect();
        // (new pod, old pod) per node, None when a node has two of a kind.
        let split = |pods: &[Arc<Pod>]| -> Option<(Option<Arc<Pod>>, Option<Arc<Pod>>)> {
            let (mut new, mut old) = (None, None);
            for p in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                let slot = if pod_hash(p) == hash { &mut new } else { &mut old };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(p.clone());
            }
            Some((new, old))
        };
        let mut names: Vec<&String> = by_node.keys().collect();
        names.sort();
        if max_surge == 0 {
            let (mut unavailable, mut replace, mut candidates) = (0usize, Vec::new(), Vec::new());
            for n in names {
                let Some((new, old)) = split(&by_node[n]) else {
                    unavailable += 1;
                    continue;
                };
                match (new, old) {
                    (None, None) | (Some(_), Some(_)) => unavailable += 1,
                    (Some(new), None) => {
                        if !is_pod_available(&new, min_ready, now) {
                            unavailable += 1;
                        }
                    }
                    (None, Some(old)) => {
                        if !is_pod_available(&old, min_ready, now) {
                            replace.push(old);
                            unavailable += 1;
                        } else if unavailable < max_unavailable {
                            candidates.push(old);
                        }
                    }
                }
            }
            let remaining = max_unavailable.saturating_sub(unavailable).min(candidates.len());
            replace.extend(candidates.into_iter().take(remaining));
            return (Vec::new(), replace);
        }
        let (mut surged, mut allowed, mut candidates, mut delete) = (0usize, Vec::new(), Vec::new(), Vec::new());
        for n in names {
            let Some((new, old)) = split(&by_node[n]) else {
                surged += 1;
                continue;
            };
            if let Some(o) = &old {
                if node_objs.get(n).is_none_or(|node| !node_should_run(node, ds).0) {
                    delete.push(o.clone());
                    continue;
                }
            }
            match (new, old) {
                (_, None) => {}
                (None, Some(old)) => {
                    if !is_pod_available(&old, min_ready, now) {
                        allowed.push(n.clone());
                    } else if surged < max_surge {
                        candidates.push(n.clone());
                    }
                }
                (Some(new), Some(old)) => {
                    if !is_pod_available(&new, min_ready, now) {
                        surged += 1;
                    } else {
                        delete.push(old);
                    }
                }
            }
        }
        let remaining = max_surge.saturating_sub(surged).min(candidates.len());
        allowed.extend(candidates.into_iter().take(remaining));
        (allowed, delete)
    }

    /// cleanupHistory: old revisions no pod uses, oldest first, beyond revisionHistoryLimit.
    async fn cleanup_history(&self, ds: &DaemonSet, pods: &[Arc<Pod>], old: &[Arc<ControllerRevision>]) -> Result<(), Error> {
        let limit = ds.spec.revision_history_limit.unwrap_or(10).max(0) as usize;
        let live: HashSet<&str> = pods.iter().map(|p| pod_hash(p)).collect();
        let dead: Vec<&Arc<ControllerRevision>> = old
            .iter()
            .filter(|r| !live.contains(r.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).map(String::as_str).unwrap_or_default()))
            .collect();
        if dead.len() <= limit {
            return Ok(());
        }
        let ns = ds.metadata.namespace.as_deref().unwrap_or_default();
        let api = Api::<ControllerRevision>::namespaced(self.client.clone(), ns);
        for r in &dead[..dead.len() - limit] {
            match api.delete(r.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Pods by the node they are for (getNodesToDaemonPods). Finished pods
/// being deleted only if asked; a running pod being deleted still holds its
/// node (the rolling update counts that node unavailable).
fn pods_by_node(pods: &[Arc<Pod>], include_deleted_terminal: bool) -> HashMap<String, Vec<Arc<Pod>>> {
    let mut m: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
    for p in pods {
        let terminal = matches!(phase(p), "Succeeded" | "Failed");
        if !include_deleted_terminal && terminal && p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(n) = target_node(p) {
            m.entry(n).or_default().push(p.clone());
        }
    }
    m
}

/// The status the nodes and pods give (updateDaemonSetStatus).
pub fn compute_status(ds: &DaemonSet, nodes: &[Arc<Node>], pods: &[Arc<Pod>], hash: &str, observe: bool) -> DaemonSetStatus {
    let by_node = pods_by_node(pods, false);
    let min_ready = ds.spec.min_ready_seconds.unwrap_or(0);
    let now = now();
    let mut s = ds.status.clone().unwrap_or_default();
    let (mut desired, mut current, mut mis, mut ready, mut available, mut updated) = (0, 0, 0, 0, 0, 0);
    for node in nodes {
        let (should_run, _) = node_should_run(node, ds);
        let mut on = by_node.get(node.metadata.name.as_deref().unwrap_or_default()).cloned().unwrap_or_default();
        if should_run {
            desired += 1;
            if on.is_empty() {
                continue;
            }
            current += 1;
            by_age(&mut on);
            let p = &on[0];
            if is_pod_ready(p) {
                ready += 1;
                if is_pod_available(p, min_ready, now) {
                    available += 1;
                }
            }
            if pod_hash(p) == hash {
                updated += 1;
            }
        } else if !on.is_empty() {
            mis += 1;
        }
    }
    s.desired_number_scheduled = desired;
    s.current_number_scheduled = current;
    s.number_misscheduled = mis;
    s.number_ready = ready;
    s.number_available = Some(available);
    s.updated_number_scheduled = Some(updated);
    s.number_unavailable = Some(desired - available);
    if observe {
        s.observed_generation = ds.metadata.generation;
    }
    s
}

async fn sync(ctx: Arc<Sync_>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let Some(ds) = ctx.sets.get(ns, name) else {
        ctx.expectations.delete(&key);
        return Ok(Action::Done);
    };
    let Ok(sel) = selector(&ds).map_err(|e| tracing::error!(%key, error = %e, "invalid selector")) else { return Ok(Action::Done) };
    if sel.is_empty() {
        ctx.recorder.publish(ds.as_ref(), EventType::Warning, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.".to_string());
        return Ok(Action::Done);
    }
    // Read before the pods: a cache that satisfied them has seen our own writes.
    let satisfied = ctx.expectations.satisfied(&key);
    let cref = controller_ref_for(ds.as_ref());
    let recheck = || recheck_ds(&ctx.client, ds.as_ref());
    let (pods, err) = claim_pods(&ctx.client, &ds.metadata, &cref, &sel, ctx.pods.by_index(NAMESPACE_INDEX, ns), recheck).await;
    if let Some(e) = err {
        return Err(e);
    }
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(Action::Done);
    }
    let recheck = || recheck_ds(&ctx.client, ds.as_ref());
    let (revisions, err) = claim(&ctx.client, &ds.metadata, &cref, &sel, ctx.revisions.by_index(NAMESPACE_INDEX, ns), recheck).await;
    if let Some(e) = err {
        return Err(e);
    }
    let (cur, old) = ctx.history(&ds, revisions).await?;
    let hash = cur.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).cloned().unwrap_or_else(|| cur.metadata.name.clone().unwrap_or_default());
    let nodes = ctx.nodes.list();
    if !satisfied {
        // Only status; observedGeneration waits for a sync that acts.
        update_status(&ctx.client, &ds, compute_status(&ds, &nodes, &pods, &hash, false)).await?;
        return Ok(Action::Done);
    }
    let by_node = pods_by_node(&pods, true);
    let (create, mut delete) = ctx.plan_manage(&ds, &nodes, &by_node, &hash);
    // Pods for nodes that no longer exist (getUnscheduledPodsWithoutNode).
    let known: HashSet<String> = nodes.iter().filter_map(|n| n.metadata.name.clone()).collect();
    for (n, ps) in &by_node {
        if !known.contains(n) {
            delete.extend(ps.iter().filter(|p| p.metadata.deletion_timestamp.is_none() && p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty)).cloned());
        }
    }
    let managed = !delete.is_empty() || !create.is_empty();
    let mut result = ctx.sync_nodes(&ds, &key, delete, create, &hash).await;
    let rolling = ds.spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate";
    // After creates or deletes this snapshot is stale: their events bring the next sync.
    if result.is_ok() && rolling && !managed {
        let (surge_nodes, old_pods) = ctx.plan_rolling_update(&ds, &nodes, &pods_by_node(&pods, false), &hash);
        if !surge_nodes.is_empty() || !old_pods.is_empty() {
            result = ctx.sync_nodes(&ds, &key, old_pods, surge_nodes, &hash).await;
        }
    }
    if result.is_ok() {
        result = ctx.cleanup_history(&ds, &pods, &old).await;
    }
    let status = compute_status(&ds, &nodes, &pods, &hash, true);
    update_status(&ctx.client, &ds, status.clone()).await?;
    result?;
    let min_ready = ds.spec.min_ready_seconds.unwrap_or(0);
    if min_ready > 0 && status.number_ready != status.number_available.unwrap_or(0) {
        return Ok(Action::RequeueAfter(Duration::from_secs(min_ready as u64)));
    }
    Ok(Action::Done)
}

async fn recheck_ds(client: &Client, ds: &DaemonSet) -> Result<(), Error> {
    let ns = ds.metadata.namespace.as_deref().unwrap_or_default();
    let fresh = Api::<DaemonSet>::namespaced(client.clone(), ns).get(name_of(ds)).await?;
    if fresh.metadata.uid != ds.metadata.uid {
        return Err(Error::Other(format!("original DaemonSet {ns}/{} is gone", name_of(ds))));
    }
    if fresh.metadata.deletion_timestamp.is_some() {
        return Err(Error::Other(format!("{ns}/{} has just been deleted", name_of(ds))));
    }
    Ok(())
}

async fn update_status(client: &Client, ds: &DaemonSet, status: DaemonSetStatus) -> Result<(), Error> {
    if ds.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api = Api::<DaemonSet>::namespaced(client.clone(), ds.metadata.namespace.as_deref().unwrap_or_default());
    let mut obj = ds.clone();
    for attempt in 0..2 {
        let collision = obj.status.as_ref().and_then(|s| s.collision_count);
        obj.status = Some(DaemonSetStatus { collision_count: collision, ..status.clone() });
        match api.replace_status(&obj).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(_) if attempt == 0 => obj = api.get(name_of(ds)).await?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(extra: serde_json::Value) -> DaemonSet {
        let mut spec = serde_json::json!({"containers": [{"name": "c", "image": "busybox"}]});
        spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        serde_json::from_value(serde_json::json!({"metadata": {"name": "ssd", "namespace": "ns", "uid": "u"},
            "spec": {"selector": {"matchLabels": {"app": "ssd"}}, "template": {"metadata": {"labels": {"app": "ssd"}}, "spec": spec}}}))
        .unwrap()
    }

    fn node(name: &str, labels: serde_json::Value, taints: serde_json::Value) -> Node {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}})).unwrap()
    }

    #[test]
    fn eligibility_follows_selector_affinity_and_taints_with_default_tolerations() {
        let plain = ds(serde_json::json!({}));
        assert_eq!(node_should_run(&node("n1", serde_json::json!({}), serde_json::json!([])), &plain), (true, true));
        let tainted = node("n2", serde_json::json!({}), serde_json::json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]));
        assert_eq!(node_should_run(&tainted, &plain), (false, true), "a NoSchedule taint keeps a running pod");
        let evicting = node("n3", serde_json::json!({}), serde_json::json!([{"key": "dedicated", "effect": "NoExecute"}]));
        assert_eq!(node_should_run(&evicting, &plain), (false, false));
        let not_ready = node("n4", serde_json::json!({}), serde_json::json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]));
        assert_eq!(node_should_run(&not_ready, &plain), (true, true), "default tolerations");
        let net = node("n5", serde_json::json!({}), serde_json::json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]));
        assert_eq!(node_should_run(&net, &plain).0, false);
        assert_eq!(node_should_run(&net, &ds(serde_json::json!({"hostNetwork": true}))).0, true);
        let ssd = ds(serde_json::json!({"nodeSelector": {"disk": "ssd"}}));
        assert_eq!(node_should_run(&node("n6", serde_json::json!({"disk": "hdd"}), serde_json::json!([])), &ssd), (false, false));
        assert_eq!(node_should_run(&node("n7", serde_json::json!({"disk": "ssd"}), serde_json::json!([])), &ssd), (true, true));
    }

    #[test]
    fn pods_are_pinned_by_node_affinity() {
        let a = pin_to_node(None, "n1");
        let pod = Pod { spec: Some(PodSpec { affinity: Some(a.clone()), ..Default::default() }), ..Default::default() };
        assert_eq!(target_node(&pod).as_deref(), Some("n1"));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"],
            serde_json::json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]));
        let mut spec = PodSpec::default();
        add_daemon_tolerations(&mut spec);
        add_daemon_tolerations(&mut spec);
        assert_eq!(spec.tolerations.unwrap().len(), 6, "idempotent");
    }
}
