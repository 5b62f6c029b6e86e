//! Helpers every workload controller shares (upstream's
//! pkg/controller/controller_utils.go): which pods count, pods from a
//! template, slow-start batches, and the order in which pods are deleted.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

/// Upstream's SlowStartInitialBatchSize.
pub const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// The annotation that ranks pods for scale-down (PodDeletionCost, on by default).
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The wall clock as k8s-openapi's timestamp (its jiff has no clock of its own).
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::new(since_epoch.as_secs() as i64, since_epoch.subsec_nanos() as i32).expect("the clock is within jiff's range")
}

/// Not finished and not being deleted (upstream's IsPodActive).
pub fn is_pod_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    phase != Some("Succeeded") && phase != Some("Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// The Ready condition's status is True (podutil.IsPodReady).
pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")
}

/// Ready for at least `min_ready_seconds` at `now` (podutil.IsPodAvailable).
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    let Some(since) = ready_condition(pod).and_then(|c| c.last_transition_time.as_ref()) else { return false };
    since.0.as_second() + i64::from(min_ready_seconds) < now.as_second()
}

/// The store key of a pod ("ns/name"), as the expectations track it (PodKey).
pub fn pod_key(pod: &Pod) -> String {
    client::store::key_of(pod)
}

/// The pod a controller creates from `template` (GetPodFromTemplate): the
/// template's labels, annotations, finalizers and spec, `generateName`
/// `<owner name>-`, and the controller reference.
pub fn pod_from_template(template: &PodTemplateSpec, owner: &ObjectMeta, controller_ref: OwnerReference) -> Pod {
    let tm = template.metadata.clone().unwrap_or_default();
    let owner_name = owner.name.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{owner_name}-")),
            namespace: owner.namespace.clone(),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![controller_ref]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Runs `count` calls of `f` in batches of 1, 2, 4, ... (upstream's
/// slowStartBatch), so a template that cannot be created fails once, not
/// `count` times. Stops after the first batch with a failure. Returns the
/// successes and the first error.
pub async fn slow_start_batch<F, Fut, E>(count: usize, initial: usize, f: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(initial);
    while batch > 0 {
        let results = futures::future::join_all((0..batch).map(|_| f())).await;
        let mut errors = results.into_iter().filter_map(Result::err);
        let first = errors.next();
        let failed = usize::from(first.is_some()) + errors.count();
        successes += batch - failed;
        if first.is_some() {
            return (successes, first);
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, None)
}

/// For each pod, how many active related pods share its node
/// (getPodsRankedByRelatedPodsOnSameNode).
pub fn ranks_by_related_pods_on_same_node(pods: &[Arc<Pod>], related: &[Arc<Pod>]) -> Vec<usize> {
    let node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let mut on_node: HashMap<String, usize> = HashMap::new();
    for p in related.iter().filter(|p| is_pod_active(p)) {
        *on_node.entry(node(p)).or_default() += 1;
    }
    pods.iter().map(|p| on_node.get(&node(p)).copied().unwrap_or(0)).collect()
}

/// The `diff` pods to delete first when scaling down (getPodsToDelete):
/// pods sorted by [`deletion_order`], ranked by related pods on their node.
pub fn pods_to_delete(pods: &[Arc<Pod>], related: &[Arc<Pod>], diff: usize, now: Timestamp) -> Vec<Arc<Pod>> {
    if diff >= pods.len() {
        return pods.to_vec();
    }
    let ranks = ranks_by_related_pods_on_same_node(pods, related);
    let mut ranked: Vec<(Arc<Pod>, usize)> = pods.iter().cloned().zip(ranks).collect();
    ranked.sort_by(|(a, ra), (b, rb)| deletion_order(a, *ra, b, *rb, now));
    ranked.into_iter().take(diff).map(|(p, _)| p).collect()
}

/// Upstream's ActivePodsWithRanks.Less as an ordering: pods that sort first
/// are deleted first.
/// 1. unassigned before assigned; 2. Pending before Unknown before Running;
/// 3. not ready before ready; 4. lower pod-deletion-cost first;
/// 5. more related pods on the same node first; 6. ready for less time first
/// (logarithmic buckets); 7. more container restarts first;
/// 8. newer first (logarithmic buckets); ties by uid.
pub fn deletion_order(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> Ordering {
    let node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default().is_empty();
    // 1. Unassigned < assigned.
    if node(a) != node(b) {
        return if node(a) { Ordering::Less } else { Ordering::Greater };
    }
    // 2. Pending < Unknown < Running.
    let phase = |p: &Pod| match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    };
    if phase(a) != phase(b) {
        return phase(a).cmp(&phase(b));
    }
    // 3. Not ready < ready.
    if is_pod_ready(a) != is_pod_ready(b) {
        return if is_pod_ready(a) { Ordering::Greater } else { Ordering::Less };
    }
    // 4. Lower deletion cost first (invalid or missing = 0).
    let cost = |p: &Pod| {
        p.metadata.annotations.as_ref().and_then(|a| a.get(POD_DELETION_COST)).and_then(|v| v.parse::<i32>().ok()).unwrap_or(0)
    };
    if cost(a) != cost(b) {
        return cost(a).cmp(&cost(b));
    }
    // 5. Doubled up: more related pods on the node first.
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
    // 6. Both ready: ready for less time first. Upstream breaks a same-bucket
    // tie by uid here only when the times differ, and goes on when they are
    // equal; that is not a total order (Rust's sort panics on it), so a
    // same-bucket tie always goes on to restarts, age and then uid.
    if is_pod_ready(a) && is_pod_ready(b) {
        let ready_time = |p: &Pod| ready_condition(p).and_then(|c| c.last_transition_time.clone());
        if let Some(o) = newer_first(ready_time(a).as_ref(), ready_time(b).as_ref(), now).filter(|o| o.is_ne()) {
            return o;
        }
    }
    // 7. More restarts first (regular containers, then restartable init containers).
    let (ra, sa) = max_container_restarts(a);
    let (rb, sb) = max_container_restarts(b);
    if ra != rb {
        return rb.cmp(&ra);
    }
    if sa != sb {
        return sb.cmp(&sa);
    }
    // 8. Empty creation time < newer < older; then uid (equal times too, for a total order).
    let (ca, cb) = (a.metadata.creation_timestamp.as_ref(), b.metadata.creation_timestamp.as_ref());
    newer_first(ca, cb, now).unwrap_or(Ordering::Equal).then_with(|| uid(a).cmp(&uid(b)))
}

/// Zero before set, later before earlier, compared in log2 buckets of the
/// age at `now` (LogarithmicScaleDown, on by default); equal buckets tie
/// (the caller breaks it by uid). None when the times are equal.
fn newer_first(a: Option<&Time>, b: Option<&Time>, now: Timestamp) -> Option<Ordering> {
    match (a, b) {
        (None, None) => None,
        (None, Some(_)) => Some(Ordering::Less),
        (Some(_), None) => Some(Ordering::Greater),
        (Some(a), Some(b)) if a == b => None,
        (Some(a), Some(b)) => {
            let rank = |t: &Time| {
                let age = now.as_nanosecond() - t.0.as_nanosecond();
                if age > 0 {
                    (age as f64).log2() as i64
                } else {
                    -1
                }
            };
            // A smaller age bucket (newer) sorts first; same bucket: tie.
            Some(rank(a).cmp(&rank(b)))
        }
    }
}

/// (max restarts of regular containers, max of restartable init containers).
fn max_container_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = pod.status.as_ref() else { return (0, 0) };
    let regular = status.container_statuses.iter().flatten().map(|c| c.restart_count).max().unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// The apiserver refused a create because the namespace is being deleted
/// (upstream's NamespaceTerminatingCause): nothing to retry, the namespace
/// controller cleans up.
pub fn is_namespace_terminating(e: &client::Error) -> bool {
    e.reason() == Some(api::Reason::Forbidden) && e.to_string().contains("because it is being terminated")
}

/// The characters upstream's rand.SafeEncodeString maps bytes onto: no
/// vowels (no words) and no look-alikes (0/o, 1/l, 3/e).
const SAFE_ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// upstream's rand.SafeEncodeString: each byte becomes one safe character.
pub fn safe_encode_string(s: &str) -> String {
    s.bytes().map(|b| SAFE_ALPHANUMS[b as usize % SAFE_ALPHANUMS.len()] as char).collect()
}

/// upstream's ComputeHash: [`hash_bytes`] of a deterministic dump of the
/// template (its JSON: struct fields in declaration order, maps sorted).
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    hash_bytes(&serde_json::to_vec(template).expect("API objects serialize"), collision_count)
}

/// fnv-1a (32 bit) over `dump` then the collision count's little-endian
/// bytes, encoded with [`safe_encode_string`] from its decimal form (e.g.
/// "5d8f7c9b6"): upstream's ComputeHash and HashControllerRevision.
pub fn hash_bytes(dump: &[u8], collision_count: Option<i32>) -> String {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let extra = collision_count.map(|c| (c as u32).to_le_bytes());
    let h = dump.iter().chain(extra.iter().flatten()).fold(OFFSET, |h, b| (h ^ u32::from(*b)).wrapping_mul(PRIME));
    safe_encode_string(&h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodSpec, PodStatus};

    fn ts(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn pod(name: &str, node: Option<&str>, phase: &str, ready_since: Option<i64>, created: i64) -> Arc<Pod> {
        let conditions = ready_since.map(|t| vec![PodCondition { type_: "Ready".into(), status: "True".into(), last_transition_time: Some(ts(t)), ..Default::default() }]);
        Arc::new(Pod {
            metadata: ObjectMeta { name: Some(name.into()), uid: Some(format!("uid-{name}")), creation_timestamp: Some(ts(created)), ..Default::default() },
            spec: Some(PodSpec { node_name: node.map(str::to_string), ..Default::default() }),
            status: Some(PodStatus { phase: Some(phase.into()), conditions, ..Default::default() }),
        })
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter().map(|p| p.metadata.name.clone().unwrap()).collect()
    }

    const NOW: i64 = 1_000_000;

    #[test]
    fn scale_down_deletes_unscheduled_then_pending_then_not_ready_then_newer() {
        let now = Timestamp::from_second(NOW).unwrap();
        let pods = vec![
            pod("ready-old", Some("n1"), "Running", Some(NOW - 10_000), NOW - 20_000),
            pod("ready-new", Some("n2"), "Running", Some(NOW - 10), NOW - 20),
            pod("running-not-ready", Some("n3"), "Running", None, NOW - 20_000),
            pod("pending", Some("n4"), "Pending", None, NOW - 20_000),
            pod("unscheduled", None, "Pending", None, NOW - 20_000),
        ];
        let all = pods_to_delete(&pods, &pods, 5, now);
        assert_eq!(all.len(), 5);
        assert_eq!(names(&pods_to_delete(&pods, &pods, 4, now)), ["unscheduled", "pending", "running-not-ready", "ready-new"]);
        assert_eq!(names(&pods_to_delete(&pods, &pods, 1, now)), ["unscheduled"]);
    }

    #[test]
    fn cost_doubling_up_restarts_and_age_break_ties() {
        let now = Timestamp::from_second(NOW).unwrap();
        let mut cheap = (*pod("cheap", Some("n1"), "Running", Some(NOW - 5000), NOW - 5000)).clone();
        cheap.metadata.annotations = Some([(POD_DELETION_COST.to_string(), "-10".to_string())].into());
        let cheap = Arc::new(cheap);
        let crowded_a = pod("crowded-a", Some("n2"), "Running", Some(NOW - 5000), NOW - 5000);
        let crowded_b = pod("crowded-b", Some("n2"), "Running", Some(NOW - 5000), NOW - 5000);
        let mut restarts = (*pod("restarts", Some("n3"), "Running", Some(NOW - 5000), NOW - 5000)).clone();
        restarts.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus { name: "c".into(), restart_count: 4, ..Default::default() }]);
        let restarts = Arc::new(restarts);
        let newer = pod("newer", Some("n4"), "Running", Some(NOW - 5000), NOW - 3);
        let older = pod("older", Some("n5"), "Running", Some(NOW - 5000), NOW - 100_000);
        let pods = vec![older.clone(), newer.clone(), restarts.clone(), crowded_b.clone(), crowded_a.clone(), cheap.clone()];
        let order = names(&pods_to_delete(&pods, &pods, 5, now));
        assert_eq!(order[0], "cheap", "lowest deletion cost first");
        let mut crowded = order[1..3].to_vec();
        crowded.sort();
        assert_eq!(crowded, ["crowded-a", "crowded-b"], "two pods on one node before lone pods");
        assert_eq!(order[3..], ["restarts", "newer"]);
    }

    #[test]
    fn ready_time_in_the_same_log_bucket_ties_by_uid() {
        let now = Timestamp::from_second(NOW).unwrap();
        // Ready 1000 s and 1050 s ago: the same power of two of nanoseconds (2^39).
        let b = pod("b", Some("n1"), "Running", Some(NOW - 1000), NOW - 9000);
        let a = pod("a", Some("n2"), "Running", Some(NOW - 1050), NOW - 9000);
        assert_eq!(deletion_order(&b, 0, &a, 0, now), Ordering::Greater, "tie broken by uid");
        let fresh = pod("z", Some("n3"), "Running", Some(NOW - 1), NOW - 9000);
        assert_eq!(deletion_order(&fresh, 0, &a, 0, now), Ordering::Less, "ready for less time goes first");
    }

    #[test]
    fn deletion_order_is_a_total_order_with_equal_and_same_bucket_times() {
        // Ready and created at equal or same-bucket times, as pods started in
        // one burst are: sorting 200 of them once panicked (intransitive order).
        let now = Timestamp::from_second(NOW).unwrap();
        let pods: Vec<Arc<Pod>> =
            (0..200).map(|i| pod(&format!("p{i:03}"), Some("n1"), "Running", Some(NOW - 1000 - (i % 3) * 10), NOW - 9000 - (i % 5) * 7)).collect();
        let order = |a: &Arc<Pod>, b: &Arc<Pod>| deletion_order(a, 0, b, 0, now);
        for a in pods.iter().take(20) {
            for b in pods.iter().take(20) {
                assert_eq!(order(a, b), order(b, a).reverse());
                for c in pods.iter().take(20) {
                    if order(a, b).is_le() && order(b, c).is_le() {
                        assert!(order(a, c).is_le(), "transitive");
                    }
                }
            }
        }
        assert_eq!(pods_to_delete(&pods, &pods, 150, now).len(), 150);
    }

    #[tokio::test]
    async fn slow_start_doubles_batches_and_stops_at_the_first_failing_one() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, 1, || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<(), String>(())
        })
        .await;
        assert_eq!((ok, err), (10, None));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 10);

        // Batches 1, 2, 4: the 4th call fails, so the batch of 4 is the last.
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, 1, || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { if n == 3 { Err(format!("call {n} failed")) } else { Ok(()) } }
        })
        .await;
        assert_eq!((ok, err.as_deref()), (6, Some("call 3 failed")));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 7);
    }

    #[test]
    fn hashes_are_fnv32a_safe_encoded_and_move_with_the_collision_count() {
        // fnv-1a 32 of "" is 2166136261: each digit byte maps onto the safe alphabet.
        assert_eq!(hash_bytes(b"null", None), safe_encode_string(&fnv_of(b"null").to_string()));
        assert_eq!(safe_encode_string("2166136261"), "65bb57b6b5");
        let t: PodTemplateSpec = serde_json::from_value(serde_json::json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}})).unwrap();
        let h = compute_hash(&t, None);
        assert!(h.len() >= 8 && h.len() <= 10 && h.bytes().all(|b| SAFE_ALPHANUMS.contains(&b)), "{h}");
        assert_eq!(h, compute_hash(&t.clone(), None), "deterministic");
        assert_ne!(h, compute_hash(&t, Some(1)));
    }

    fn fnv_of(b: &[u8]) -> u32 {
        b.iter().fold(0x811c_9dc5u32, |h, x| (h ^ u32::from(*x)).wrapping_mul(0x0100_0193))
    }

    #[test]
    fn pods_from_template_carry_labels_and_the_controller_ref() {
        let template: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap();
        let owner = ObjectMeta { name: Some("web".into()), namespace: Some("ns".into()), uid: Some("u1".into()), ..Default::default() };
        let r = api::owner::new_controller_ref(&owner, "apps/v1", "ReplicaSet");
        let p = pod_from_template(&template, &owner, r.clone());
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(p.metadata.labels.unwrap()["app"], "web");
        assert_eq!(p.metadata.owner_references.unwrap(), [r]);
        assert_eq!(p.spec.unwrap().containers[0].image.as_deref(), Some("busybox"));
        assert!(!is_pod_active(&Pod { status: Some(PodStatus { phase: Some("Failed".into()), ..Default::default() }), ..Default::default() }));
    }
}
