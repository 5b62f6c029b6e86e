//! PodDisruptionBudget status (upstream's pkg/controller/disruption): for
//! each budget, the pods its selector matches in its namespace give
//! expectedPods, desiredHealthy (minAvailable, or the controllers' scale
//! minus maxUnavailable; percentages of that scale, rounded up),
//! currentHealthy (ready pods neither being deleted nor recently evicted)
//! and disruptionsAllowed = max(0, currentHealthy - desiredHealthy). The
//! eviction subresource spends disruptionsAllowed and records the pod in
//! disruptedPods; an entry stays until the pod is deleted or 2 minutes
//! pass (then the pod counts again and a NotDeleted Event names it).
//!
//! A sync that cannot compute the numbers (no scalable controller for a
//! pod, bad selector) writes disruptionsAllowed 0 and DisruptionAllowed
//! False/SyncFailed (upstream's failSafe), so evictions stop rather than
//! trust stale numbers.
//!
//! The same controller resets a pod's DisruptionTarget condition to False
//! when the pod still exists 2 minutes after it was set (the eviction that
//! set it never led to a deletion), keyed `pod/<ns>/<name>` on its queue.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use api::condition::{find_status_condition, set_status_condition};
use api::owner::controller_of;
use api::Selector;
use client::controller::{Action, Controller};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{key_of, split_key, Store};
use client::{Api, Client, Patch, PostParams};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::{ControllerContext, Descriptor};
use crate::controller_utils::{is_pod_ready, now};
use crate::informers::NAMESPACE_INDEX;
use crate::Error;

pub const DISRUPTION: Descriptor = Descriptor {
    name: "disruption-controller",
    aliases: &["disruption"],
    disabled_by_default: false,
    concurrency: None,
    start,
};

/// How long an evicted pod may take to be deleted before it counts again
/// (upstream's DeletionTimeout), and how long a DisruptionTarget condition
/// may stand on a pod that is not being deleted (stalePodDisruptionTimeout).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
pub const SUFFICIENT_PODS: &str = "SufficientPods";
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
pub const SYNC_FAILED: &str = "SyncFailed";
const DISRUPTION_TARGET: &str = "DisruptionTarget";
/// Queue keys of pods whose DisruptionTarget may be stale.
const POD_KEY_PREFIX: &str = "pod/";

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let pdbs = ctx.informers.get::<PodDisruptionBudget>();
        let pods = ctx.informers.get::<Pod>();
        let replicasets = ctx.informers.get::<ReplicaSet>();
        let deployments = ctx.informers.get::<Deployment>();
        let rcs = ctx.informers.get::<ReplicationController>();
        let statefulsets = ctx.informers.get::<StatefulSet>();
        let state = Arc::new(Disruption {
            client: ctx.client.clone(),
            pdbs: pdbs.store(),
            pods: pods.store(),
            replicasets: replicasets.store(),
            deployments: deployments.store(),
            rcs: rcs.store(),
            statefulsets: statefulsets.store(),
            recorder: EventRecorder::new(ctx.client.clone(), "controllermanager", None),
        });
        let controller = Controller::new("disruption", &pdbs).workers(ctx.workers);
        let queue = controller.queue();
        let (on_pod, on_rs, on_dep, on_rc, on_sts) = (state.clone(), state.clone(), state.clone(), state.clone(), state.clone());
        let controller = controller
            .watches(&pods, move |ev| {
                let pod = ev.object();
                if let Some(after) = stale_disruption_check_in(pod, now()) {
                    // Checked again once the condition is old enough.
                    queue.add_after(format!("{POD_KEY_PREFIX}{}", key_of(pod.as_ref())), after);
                }
                on_pod.pod_event(ev)
            })
            .watches(&replicasets, move |ev| on_rs.scale_event(ev, |r: &ReplicaSet| r.spec.replicas))
            .watches(&deployments, move |ev| on_dep.scale_event(ev, |d: &Deployment| d.spec.replicas))
            .watches(&rcs, move |ev| on_rc.scale_event(ev, |r: &ReplicationController| r.spec.as_ref().and_then(|s| s.replicas)))
            .watches(&statefulsets, move |ev| on_sts.scale_event(ev, |s: &StatefulSet| s.spec.replicas));
        let controller = ctx.metrics.instrument("disruption", controller);
        controller.run(state.clone(), reconcile, ctx.shutdown.clone()).await;
        state.recorder.flush().await;
    })
}

/// The controller's caches, shared by its worker and its event handlers.
struct Disruption {
    client: Client,
    pdbs: Store<PodDisruptionBudget>,
    pods: Store<Pod>,
    replicasets: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    rcs: Store<ReplicationController>,
    statefulsets: Store<StatefulSet>,
    recorder: EventRecorder,
}

/// A budget's selector (policy/v1: an empty one selects every pod).
fn pdb_selector(pdb: &PodDisruptionBudget) -> Result<Selector, String> {
    Selector::from_label_selector(pdb.spec.as_ref().and_then(|s| s.selector.as_ref())).map_err(|e| e.to_string())
}

impl Disruption {
    /// Keys of the budgets in the pod's namespace that select it (GetPodPodDisruptionBudgets).
    fn pdbs_for(&self, pod: &Pod) -> Vec<String> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        self.pdbs
            .by_index(NAMESPACE_INDEX, ns)
            .into_iter()
            .filter(|b| pdb_selector(b).is_ok_and(|s| s.matches_opt(pod.metadata.labels.as_ref())))
            .map(|b| key_of(b.as_ref()))
            .collect()
    }

    /// addPod / updatePod / deletePod: the budgets that select the pod
    /// (before and after a label change).
    fn pod_event(&self, ev: &InformerEvent<Pod>) -> Vec<String> {
        match ev {
            InformerEvent::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return Vec::new();
                }
                let mut keys = self.pdbs_for(new);
                if old.metadata.labels != new.metadata.labels {
                    keys.extend(self.pdbs_for(old).into_iter().filter(|k| !keys.contains(k)).collect::<Vec<_>>());
                }
                keys
            }
            other => self.pdbs_for(other.object()),
        }
    }

    /// A controller appeared, went, or changed its scale: the budgets of its
    /// namespace may count it (percentages and maxUnavailable use its scale).
    fn scale_event<K: client::Resource>(&self, ev: &InformerEvent<K>, replicas: impl Fn(&K) -> Option<i32>) -> Vec<String> {
        if let InformerEvent::Updated { old, new } = ev {
            if replicas(old) == replicas(new) && old.metadata().uid == new.metadata().uid {
                return Vec::new();
            }
        }
        let ns = ev.object().metadata().namespace.clone().unwrap_or_default();
        self.pdbs.by_index(NAMESPACE_INDEX, &ns).iter().map(|b| key_of(b.as_ref())).collect()
    }

    /// The scale of the pod's controller (upstream's finders, in their
    /// order): (controller uid, replicas), None when no finder knows it.
    fn controller_scale(&self, r: &OwnerReference, ns: &str) -> Result<Option<(String, i32)>, String> {
        let group = group_of(&r.api_version)?;
        let apps = matches!(group, "apps" | "extensions");
        let same = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, uid: &str| m.uid.as_deref() == Some(uid);
        // getPodReplicaSet: a ReplicaSet that no Deployment controls.
        if r.kind == "ReplicaSet" && apps {
            if let Some(rs) = self.replicasets.get(ns, &r.name).filter(|rs| same(&rs.metadata, &r.uid)) {
                match controller_of(&rs.metadata) {
                    Some(d) if d.kind == "Deployment" => {
                        // getPodDeployment: the Deployment's scale.
                        if group_of(&d.api_version).is_ok_and(|g| matches!(g, "apps" | "extensions")) {
                            if let Some(dep) = self.deployments.get(ns, &d.name).filter(|dep| same(&dep.metadata, &d.uid)) {
                                return Ok(Some((d.uid.clone(), dep.spec.replicas.unwrap_or(1))));
                            }
                        }
                    }
                    _ => return Ok(Some((r.uid.clone(), rs.spec.replicas.unwrap_or(1)))),
                }
            }
        }
        if r.kind == "ReplicationController" && group.is_empty() {
            if let Some(rc) = self.rcs.get(ns, &r.name).filter(|rc| same(&rc.metadata, &r.uid)) {
                return Ok(Some((r.uid.clone(), rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1))));
            }
        }
        if r.kind == "StatefulSet" && group == "apps" {
            if let Some(s) = self.statefulsets.get(ns, &r.name).filter(|s| same(&s.metadata, &r.uid)) {
                return Ok(Some((r.uid.clone(), s.spec.replicas.unwrap_or(1))));
            }
        }
        // getScaleController: the scale subresource of whatever the reference names.
        let scale = |m: Option<(Option<&str>, Option<i32>)>| m.filter(|(uid, _)| *uid == Some(r.uid.as_str())).map(|(_, n)| (r.uid.clone(), n.unwrap_or(1)));
        match (group, r.kind.as_str()) {
            ("apps" | "extensions", "ReplicaSet") => Ok(scale(self.replicasets.get(ns, &r.name).as_deref().map(|o| (o.metadata.uid.as_deref(), o.spec.replicas)))),
            ("apps" | "extensions", "Deployment") => Ok(scale(self.deployments.get(ns, &r.name).as_deref().map(|o| (o.metadata.uid.as_deref(), o.spec.replicas)))),
            ("apps", "StatefulSet") => Ok(scale(self.statefulsets.get(ns, &r.name).as_deref().map(|o| (o.metadata.uid.as_deref(), o.spec.replicas)))),
            ("", "ReplicationController") => Ok(scale(self.rcs.get(ns, &r.name).as_deref().map(|o| (o.metadata.uid.as_deref(), o.spec.as_ref().and_then(|s| s.replicas))))),
            ("apps" | "extensions", "DaemonSet") => Err(format!("daemonsets.{group} does not implement the scale subresource")),
            ("batch", "Job") => Err("jobs.batch does not implement the scale subresource".to_string()),
            ("", "Node") => Err("nodes does not implement the scale subresource".to_string()),
            _ => Err(format!("no matches for kind {:?} in version {:?}", r.kind, r.api_version)),
        }
    }

    /// expectedCount: the sum of the scales of the pods' controllers
    /// (getExpectedScale), and the pods that have no controller.
    fn expected_scale(&self, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), String> {
        let mut scales: BTreeMap<String, i32> = BTreeMap::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let Some(r) = controller_of(&pod.metadata) else {
                unmanaged.push(name);
                continue;
            };
            if scales.contains_key(&r.uid) {
                continue;
            }
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            match self.controller_scale(r, ns)? {
                Some((uid, n)) => {
                    scales.insert(uid, n);
                }
                None => return Err(format!("found no controllers for pod {name:?}")),
            }
        }
        Ok((scales.values().sum(), unmanaged))
    }

    /// (expectedCount, desiredHealthy, unmanaged pods) (getExpectedPodCount).
    fn expected_pod_count(&self, pdb: &PodDisruptionBudget, pods: &[Arc<Pod>]) -> Result<(i32, i32, Vec<String>), String> {
        let spec = pdb.spec.clone().unwrap_or_default();
        if let Some(max_unavailable) = &spec.max_unavailable {
            let (expected, unmanaged) = self.expected_scale(pods)?;
            let n = api::intstr::scaled_value(max_unavailable, expected, true).map_err(|e| e.to_string())?;
            return Ok((expected, (expected - n).max(0), unmanaged));
        }
        match &spec.min_available {
            Some(v @ k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(_)) => {
                let (expected, unmanaged) = self.expected_scale(pods)?;
                let n = api::intstr::scaled_value(v, expected, true).map_err(|e| e.to_string())?;
                Ok((expected, n, unmanaged))
            }
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => Ok((pods.len() as i32, *n, Vec::new())),
            None => Ok((0, 0, Vec::new())),
        }
    }

    /// disruptedPods entries that still hold (buildDisruptedPodMap): the pod
    /// exists, is not being deleted, and was evicted under 2 minutes ago.
    /// Also the earliest time an entry expires, to look again then.
    fn disrupted_pods(&self, pdb: &PodDisruptionBudget, pods: &[Arc<Pod>], now: Timestamp) -> (BTreeMap<String, Time>, Option<Timestamp>) {
        let mut out = BTreeMap::new();
        let mut recheck: Option<Timestamp> = None;
        let Some(recorded) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else { return (out, None) };
        for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            let Some(at) = recorded.get(name) else { continue };
            let expected_deletion = at.0 + timeout();
            if expected_deletion < now {
                let (ns, pdb_name) = (pdb.metadata.namespace.as_deref().unwrap_or_default(), pdb.metadata.name.as_deref().unwrap_or_default());
                tracing::info!(pod = %key_of(pod.as_ref()), pdb = %key_of(pdb), "pod was expected to be deleted but it wasn't, updating PDB");
                self.recorder.publish(pod.as_ref(), EventType::Warning, "NotDeleted", format!("Pod was expected by PDB {ns}/{pdb_name} to be deleted but it wasn't"));
            } else {
                recheck = Some(recheck.map_or(expected_deletion, |r| r.min(expected_deletion)));
                out.insert(name.to_string(), at.clone());
            }
        }
        (out, recheck)
    }

    /// One sync of a budget (trySync): Ok(recheck time) or why it failed.
    async fn try_sync(&self, pdb: &PodDisruptionBudget) -> Result<Option<Timestamp>, SyncError> {
        let ns = pdb.metadata.namespace.as_deref().unwrap_or_default();
        let selector = match pdb_selector(pdb) {
            Ok(s) => s,
            Err(e) => {
                self.recorder.publish(pdb, EventType::Warning, "NoPods", format!("Failed to get pods: {e}"));
                return Err(SyncError::Compute(e));
            }
        };
        let pods: Vec<Arc<Pod>> = self.pods.by_index(NAMESPACE_INDEX, ns).into_iter().filter(|p| selector.matches_opt(p.metadata.labels.as_ref())).collect();
        if pods.is_empty() {
            self.recorder.publish(pdb, EventType::Normal, "NoPods", "No matching pods found");
        }
        let (expected, desired, unmanaged) = match self.expected_pod_count(pdb, &pods) {
            Ok(v) => v,
            Err(e) => {
                self.recorder.publish(pdb, EventType::Warning, "CalculateExpectedPodCountFailed", format!("Failed to calculate the number of expected pods: {e}"));
                return Err(SyncError::Compute(e));
            }
        };
        if !unmanaged.is_empty() {
            tracing::debug!(pdb = %key_of(pdb), pods = ?unmanaged, "found unmanaged pods associated with this PDB");
            let sel = api::selector::format_label_selector(pdb.spec.as_ref().and_then(|s| s.selector.as_ref()));
            self.recorder.publish(pdb, EventType::Warning, "UnmanagedPods", format!(
                "Pods selected by this PodDisruptionBudget (selector: {sel}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
            ));
        }
        let now = now();
        let (disrupted, recheck) = self.disrupted_pods(pdb, &pods, now);
        let healthy = count_healthy(&pods, &disrupted, now);
        let status = compute_status(pdb, healthy, desired, expected, disrupted, now);
        if let Some(status) = status {
            self.write_status(pdb, status).await.map_err(SyncError::Write)?;
        }
        Ok(recheck)
    }

    /// failSafe: disruptionsAllowed 0 and DisruptionAllowed False/SyncFailed.
    async fn fail_safe(&self, pdb: &PodDisruptionBudget, why: &str) -> Result<(), client::Error> {
        let mut status = pdb.status.clone().unwrap_or_default();
        status.disruptions_allowed = Some(0);
        let mut conds = status.conditions.take().unwrap_or_default();
        let c = condition("False", SYNC_FAILED, why, status.observed_generation, now());
        let changed = set_status_condition(&mut conds, c);
        status.conditions = Some(conds);
        if !changed && pdb.status.as_ref().is_some_and(|s| s.disruptions_allowed == Some(0)) {
            return Ok(());
        }
        self.write_status(pdb, status).await
    }

    async fn write_status(&self, pdb: &PodDisruptionBudget, status: PodDisruptionBudgetStatus) -> Result<(), client::Error> {
        let mut obj = pdb.clone();
        obj.status = Some(status);
        let ns = pdb.metadata.namespace.as_deref().unwrap_or_default();
        Api::<PodDisruptionBudget>::namespaced(self.client.clone(), ns).replace_status(&obj).await.map(|_| ())
    }

    /// syncStalePodDisruption: a pod still marked DisruptionTarget=True 2
    /// minutes on, and not being deleted, gets the condition set False.
    async fn sync_stale_disruption(&self, key: &str) -> Result<Action, Error> {
        let (ns, name) = split_key(key);
        let Some(pod) = self.pods.get(ns, name) else { return Ok(Action::Done) };
        let now = now();
        match stale_disruption_check_in(&pod, now) {
            None => return Ok(Action::Done),
            Some(d) if !d.is_zero() => return Ok(Action::RequeueAfter(d)),
            Some(_) => {}
        }
        let patch = serde_json::json!({"status": {"conditions": [{"type": DISRUPTION_TARGET, "status": "False", "lastTransitionTime": Time(now)}]}});
        Api::<Pod>::namespaced(self.client.clone(), ns).patch_status(name, &PostParams::default(), &Patch::Strategic(patch)).await?;
        tracing::debug!(pod = %key, "reset stale DisruptionTarget condition to False");
        Ok(Action::Done)
    }
}

/// How long until the pod's DisruptionTarget=True condition is stale (zero:
/// it is), or None when it has none or is being deleted (nonTerminatingPodHasStaleDisruptionCondition).
fn stale_disruption_check_in(pod: &Pod, now: Timestamp) -> Option<Duration> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let c = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == DISRUPTION_TARGET && c.status == "True")?;
    let set = c.last_transition_time.as_ref().map_or(now, |t| t.0);
    let stale_at = set + timeout();
    Some(if stale_at <= now { Duration::ZERO } else { stale_at.duration_since(now).unsigned_abs() })
}

fn timeout() -> SignedDuration {
    SignedDuration::try_from(DELETION_TIMEOUT).expect("small")
}

fn group_of(api_version: &str) -> Result<&str, String> {
    match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [_version] => Ok(""),
        [group, _version] => Ok(group),
        _ => Err(format!("unexpected GroupVersion string: {api_version}")),
    }
}

/// Ready pods that are neither being deleted nor evicted within the last
/// 2 minutes (countHealthyPods).
pub fn count_healthy(pods: &[Arc<Pod>], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| disrupted.get(p.metadata.name.as_deref().unwrap_or_default()).is_none_or(|t| t.0 + timeout() <= now))
        .filter(|p| is_pod_ready(p))
        .count() as i32
}

/// The status to write, or None when the stored one is already it
/// (updatePdbStatus with ConditionsAreUpToDate and UpdateDisruptionAllowedCondition).
pub fn compute_status(pdb: &PodDisruptionBudget, healthy: i32, desired: i32, expected: i32, disrupted: BTreeMap<String, Time>, now: Timestamp) -> Option<PodDisruptionBudgetStatus> {
    // A budget matching no pods yet stays safe until its first pods are counted.
    let allowed = if expected <= 0 { 0 } else { (healthy - desired).max(0) };
    let generation = pdb.metadata.generation;
    let cur = pdb.status.clone().unwrap_or_default();
    let cur_disrupted = cur.disrupted_pods.clone().unwrap_or_default();
    let (want_status, want_reason) = if allowed > 0 { ("True", SUFFICIENT_PODS) } else { ("False", INSUFFICIENT_PODS) };
    let cond_ok = find_status_condition(cur.conditions.as_deref().unwrap_or_default(), DISRUPTION_ALLOWED)
        .is_some_and(|c| c.observed_generation == generation && c.status == want_status && c.reason == want_reason);
    if cur.current_healthy == Some(healthy)
        && cur.desired_healthy == Some(desired)
        && cur.expected_pods == Some(expected)
        && cur.disruptions_allowed == Some(allowed)
        && cur_disrupted == disrupted
        && cur.observed_generation == generation
        && cond_ok
    {
        return None;
    }
    let mut conditions = cur.conditions.unwrap_or_default();
    set_status_condition(&mut conditions, condition(want_status, want_reason, "", generation, now));
    Some(PodDisruptionBudgetStatus {
        current_healthy: Some(healthy),
        desired_healthy: Some(desired),
        expected_pods: Some(expected),
        disruptions_allowed: Some(allowed),
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: generation,
        conditions: Some(conditions),
    })
}

/// A DisruptionAllowed condition (policy/v1 helpers' UpdateDisruptionAllowedCondition).
fn condition(status: &str, reason: &str, message: &str, observed_generation: Option<i64>, now: Timestamp) -> Condition {
    Condition {
        type_: DISRUPTION_ALLOWED.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation,
        last_transition_time: Time(now),
    }
}

enum SyncError {
    /// The numbers could not be computed: fail safe.
    Compute(String),
    /// The status write failed.
    Write(client::Error),
}

/// One key: a budget (sync) or `pod/<ns>/<name>` (a possibly stale DisruptionTarget).
async fn reconcile(ctx: Arc<Disruption>, key: String) -> Result<Action, Error> {
    if let Some(pod_key) = key.strip_prefix(POD_KEY_PREFIX) {
        return ctx.sync_stale_disruption(pod_key).await;
    }
    let (ns, name) = split_key(&key);
    let Some(pdb) = ctx.pdbs.get(ns, name) else { return Ok(Action::Done) };
    match ctx.try_sync(&pdb).await {
        Ok(None) => Ok(Action::Done),
        Ok(Some(at)) => Ok(Action::RequeueAfter(at.duration_since(now()).unsigned_abs() + Duration::from_millis(10))),
        // A conflict means a newer budget is on its way (the eviction subresource wrote it): retry.
        Err(SyncError::Write(e)) if e.reason() == Some(api::Reason::Conflict) => Err(e.into()),
        Err(SyncError::Write(e)) => {
            tracing::error!(pdb = %key, error = %e, "failed to sync pdb");
            ctx.fail_safe(&pdb, &e.to_string()).await?;
            Err(e.into())
        }
        Err(SyncError::Compute(why)) => {
            tracing::error!(pdb = %key, error = %why, "failed to sync pdb");
            ctx.fail_safe(&pdb, &why).await?;
            Ok(Action::Done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn pod(name: &str, ready: bool, deleting: bool) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                deletion_timestamp: deleting.then(|| Time(t(1))),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                conditions: Some(vec![PodCondition { type_: "Ready".into(), status: if ready { "True" } else { "False" }.into(), ..Default::default() }]),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn healthy_pods_are_ready_not_deleting_and_not_recently_evicted() {
        let pods = vec![pod("a", true, false), pod("b", true, true), pod("c", false, false), pod("d", true, false), pod("e", true, false)];
        let now = t(1000);
        let disrupted = BTreeMap::from([("d".to_string(), Time(t(990))), ("e".to_string(), Time(t(800)))]);
        // d was evicted 10 s ago: not healthy; e's eviction is over 2 minutes old: healthy again.
        assert_eq!(count_healthy(&pods, &disrupted, now), 2);
    }

    fn pdb(generation: i64) -> PodDisruptionBudget {
        PodDisruptionBudget { metadata: ObjectMeta { name: Some("b".into()), generation: Some(generation), ..Default::default() }, ..Default::default() }
    }

    #[test]
    fn status_allows_the_surplus_and_sets_the_condition_once() {
        let now = t(100);
        let s = compute_status(&pdb(1), 3, 2, 3, BTreeMap::new(), now).unwrap();
        assert_eq!((s.disruptions_allowed, s.current_healthy, s.desired_healthy, s.expected_pods, s.observed_generation), (Some(1), Some(3), Some(2), Some(3), Some(1)));
        let c = &s.conditions.as_ref().unwrap()[0];
        assert_eq!((c.type_.as_str(), c.status.as_str(), c.reason.as_str(), c.observed_generation), ("DisruptionAllowed", "True", "SufficientPods", Some(1)));
        let mut stored = pdb(1);
        stored.status = Some(s);
        assert!(compute_status(&stored, 3, 2, 3, BTreeMap::new(), t(200)).is_none(), "nothing changed: no write");
        let s = compute_status(&stored, 2, 2, 3, BTreeMap::new(), t(200)).unwrap();
        let c = &s.conditions.as_ref().unwrap()[0];
        assert_eq!((s.disruptions_allowed, c.status.as_str(), c.reason.as_str(), c.last_transition_time.0), (Some(0), "False", "InsufficientPods", t(200)));
        // No expected pods: nothing may be disrupted, whatever the counts.
        assert_eq!(compute_status(&pdb(1), 5, 0, 0, BTreeMap::new(), now).unwrap().disruptions_allowed, Some(0));
        // A new generation is a change.
        stored.metadata.generation = Some(2);
        assert_eq!(compute_status(&stored, 3, 2, 3, BTreeMap::new(), now).unwrap().observed_generation, Some(2));
    }

    #[test]
    fn stale_disruption_targets_wait_two_minutes() {
        let mut p = (*pod("a", true, false)).clone();
        assert_eq!(stale_disruption_check_in(&p, t(1000)), None);
        p.status.as_mut().unwrap().conditions.as_mut().unwrap().push(PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            last_transition_time: Some(Time(t(950))),
            ..Default::default()
        });
        assert_eq!(stale_disruption_check_in(&p, t(1000)), Some(Duration::from_secs(70)));
        assert_eq!(stale_disruption_check_in(&p, t(1070)), Some(Duration::ZERO));
        p.metadata.deletion_timestamp = Some(Time(t(1000)));
        assert_eq!(stale_disruption_check_in(&p, t(1070)), None, "a pod being deleted is not stale");
    }

    #[test]
    fn group_of_api_versions() {
        assert_eq!(group_of("v1"), Ok(""));
        assert_eq!(group_of("apps/v1"), Ok("apps"));
        assert!(group_of("a/b/c").is_err());
    }
}
