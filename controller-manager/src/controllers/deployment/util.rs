//! upstream's pkg/controller/deployment/util (deployment_util.go): pure
//! functions over a Deployment and its ReplicaSets: revisions and their
//! annotations, fenceposts (maxSurge/maxUnavailable), proportions,
//! conditions, status and completeness.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use api::intstr::scaled_value;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

/// The label a Deployment adds to its ReplicaSets, their selectors and pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// Upstream keeps the revision-history annotation under this many characters.
pub const MAX_REV_HISTORY_LENGTH: usize = 2000;

/// Deployment annotations never copied onto its ReplicaSets (annotationsToSkip).
pub const ANNOTATIONS_TO_SKIP: &[&str] = &[LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO];

// Condition types and reasons, as upstream.
pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// spec.replicas of a Deployment (defaulted to 1 by the apiserver).
pub fn desired(d: &Deployment) -> i32 {
    d.spec.replicas.unwrap_or(1)
}

/// spec.replicas of a ReplicaSet.
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

fn rs_actual(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)
}

fn annotation<'a>(m: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> Option<&'a str> {
    m.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The revision annotation as a number (0 when absent; None when not a number).
pub fn revision(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<i64> {
    match annotation(m, REVISION) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// The highest revision among `rss` (MaxRevision).
pub fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter().filter_map(|rs| revision(&rs.metadata)).max().unwrap_or(0)
}

pub fn is_rolling_update(d: &Deployment) -> bool {
    d.spec.strategy.as_ref().and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate"
}

pub fn is_recreate(d: &Deployment) -> bool {
    d.spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

/// maxSurge and maxUnavailable as counts of `desired` (ResolveFenceposts):
/// surge rounds up, unavailable down; both zero resolves unavailable to 1.
pub fn resolve_fenceposts(max_surge: Option<&IntOrString>, max_unavailable: Option<&IntOrString>, desired: i32) -> (i32, i32) {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true).unwrap_or(0);
    let unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false).unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        // Rounding down made it zero; surge might not work (quota), so allow one.
        return (0, 1);
    }
    (surge, unavailable)
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d.spec.strategy.as_ref().and_then(|s| s.rolling_update.as_ref());
    resolve_fenceposts(ru.and_then(|r| r.max_surge.as_ref()), ru.and_then(|r| r.max_unavailable.as_ref()), desired(d))
}

/// MaxSurge: 0 unless rolling.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// MaxUnavailable: 0 unless rolling with replicas; never above replicas.
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || desired(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(desired(d))
}

/// The template without the pod-template-hash label.
fn without_hash(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut() {
        if let Some(l) = m.labels.as_mut() {
            l.remove(POD_TEMPLATE_HASH);
            if l.is_empty() {
                m.labels = None;
            }
        }
    }
    t
}

/// Templates equal apart from the pod-template-hash label (EqualIgnoreHash).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

/// Oldest first; ties by name (ReplicaSetsByCreationTimestamp).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let t = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    t(a).cmp(&t(b)).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// The oldest ReplicaSet whose template is the Deployment's (FindNewReplicaSet).
pub fn find_new(d: &Deployment, rss: &[ReplicaSet]) -> Option<usize> {
    let mut idx: Vec<usize> = (0..rss.len()).collect();
    idx.sort_by(|&a, &b| by_creation(&rss[a], &rss[b]));
    idx.into_iter().find(|&i| rss[i].spec.template.as_ref().is_some_and(|t| equal_ignore_hash(t, &d.spec.template)))
}

/// Copies the Deployment's annotations (but those skipped) onto the RS; whether any changed.
fn copy_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if ANNOTATIONS_TO_SKIP.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// SetNewReplicaSetAnnotations: copies the Deployment's annotations, moves
/// the revision up to `new_revision` (keeping the previous ones of a
/// rolled-back-to RS in revision-history), and on creation sets the
/// replicas annotations. Whether anything changed.
pub fn set_new_replica_set_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
    let mut changed = copy_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION).cloned();
    let old_int = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    if old_int < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            // Rolled back to this RS: remember the revisions it had.
            let history = annotations.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.into(), old);
            } else {
                let mut revisions: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REV_HISTORY_LENGTH && start < revisions.len() {
                    total -= revisions[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REV_HISTORY_LENGTH {
                    revisions = revisions.split_off(start);
                    revisions.push(&old);
                    annotations.insert(REVISION_HISTORY.into(), revisions.join(","));
                }
            }
        }
    }
    if !exists && set_replicas_annotations(rs, desired(d), desired(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

/// Sets desired-replicas and max-replicas; whether they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let (d, m) = (desired.to_string(), max.to_string());
    let mut changed = false;
    if a.get(DESIRED_REPLICAS) != Some(&d) {
        a.insert(DESIRED_REPLICAS.into(), d);
        changed = true;
    }
    if a.get(MAX_REPLICAS) != Some(&m) {
        a.insert(MAX_REPLICAS.into(), m);
        changed = true;
    }
    changed
}

pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS) != Some(desired.to_string().as_str()) || annotation(&rs.metadata, MAX_REPLICAS) != Some(max.to_string().as_str())
}

pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, DESIRED_REPLICAS)?.parse().ok()
}

fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, MAX_REPLICAS)?.parse().ok()
}

/// Sets the Deployment's revision annotation; whether it changed (SetDeploymentRevision).
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let a = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if a.get(REVISION).map(String::as_str) == Some(revision) {
        return false;
    }
    a.insert(REVISION.into(), revision.into());
    true
}

/// How many replicas the new RS may have now (NewRSNewReplicas).
pub fn new_rs_new_replicas(d: &Deployment, all_replicas: i32, new_rs_replicas: i32) -> i32 {
    if is_recreate(d) {
        return desired(d);
    }
    let max_total = desired(d) + max_surge(d);
    if all_replicas >= max_total {
        return new_rs_replicas;
    }
    let up = (max_total - all_replicas).min(desired(d) - new_rs_replicas);
    new_rs_replicas + up
}

/// The new RS has all replicas, all available, for the current size (IsSaturated).
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(desired_ann) = desired_replicas_annotation(rs) else { return false };
    rs_replicas(rs) == desired(d) && desired_ann == desired(d) && rs_available(rs) == desired(d)
}

/// How many replicas `rs` gains (or loses) of a proportional scale (GetProportion).
pub fn get_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// The change of `rs`'s size in proportion to the Deployment's new maximum
/// against the maximum it was sized for (getReplicaSetFraction).
fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if desired(d) == 0 {
        return -rs_replicas(rs);
    }
    let max_now = desired(d) + max_surge(d);
    let before = match max_replicas_annotation(rs) {
        Some(n) if n != 0 => n,
        // Not annotated (older or hand-edited RS): the Deployment's current size.
        _ => d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0),
    };
    if before == 0 {
        return 0;
    }
    let size = f64::from(rs_replicas(rs)) * f64::from(max_now) / f64::from(before);
    // Go's math.Round: half away from zero.
    size.round() as i32 - rs_replicas(rs)
}

/// Sums over ReplicaSets.
pub fn sum_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_replicas).sum()
}
pub fn sum_available<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_available).sum()
}

/// The Deployment's status from its ReplicaSets (calculateStatus).
pub fn calculate_status(all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>, d: &Deployment, now: Timestamp) -> DeploymentStatus {
    let available = sum_available(all.iter().copied());
    let total = sum_replicas(all.iter().copied());
    let unavailable = (total - available).max(0);
    let nz = |v: i32| (v != 0).then_some(v);
    let old = d.status.clone().unwrap_or_default();
    let mut s = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nz(all.iter().map(|r| rs_actual(r)).sum()),
        updated_replicas: nz(new_rs.map_or(0, rs_actual)),
        ready_replicas: nz(all.iter().map(|r| rs_ready(r)).sum()),
        available_replicas: nz(available),
        unavailable_replicas: nz(unavailable),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: None,
    };
    let cond = if available >= desired(d) - max_unavailable(d) {
        new_condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, "Deployment has minimum availability.", now)
    } else {
        new_condition(AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE, "Deployment does not have minimum availability.", now)
    };
    set_condition(&mut s, cond);
    s
}

pub fn new_condition(type_: &str, status: &str, reason: &str, message: impl Into<String>, now: Timestamp) -> DeploymentCondition {
    DeploymentCondition {
        type_: Some(type_.into()),
        status: Some(status.into()),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub fn get_condition<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.as_ref()?.iter().find(|c| c.type_.as_deref() == Some(type_))
}

/// SetDeploymentCondition: nothing when status and reason are unchanged;
/// the transition time kept when only the reason changes.
pub fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    let ty = c.type_.clone().unwrap_or_default();
    if let Some(cur) = get_condition(s, &ty) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove_condition(s, &ty);
    s.conditions.get_or_insert_with(Vec::new).push(c);
}

pub fn remove_condition(s: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = s.conditions.as_mut() {
        cs.retain(|c| c.type_.as_deref() != Some(type_));
        if cs.is_empty() {
            s.conditions = None;
        }
    }
}

pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec.progress_deadline_seconds.is_some_and(|s| s != i32::MAX)
}

fn st(s: Option<i32>) -> i32 {
    s.unwrap_or(0)
}

/// Every replica updated and available, and the spec observed (DeploymentComplete).
pub fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let n = desired(d);
    st(s.updated_replicas) == n && st(s.replicas) == n && st(s.available_replicas) == n && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Any sign of progress against the stored status (DeploymentProgressing).
pub fn deployment_progressing(d: &Deployment, s: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = st(old.replicas) - st(old.updated_replicas);
    let new_old = st(s.replicas) - st(s.updated_replicas);
    st(s.updated_replicas) > st(old.updated_replicas) || new_old < old_old || st(s.ready_replicas) > st(old.ready_replicas) || st(s.available_replicas) > st(old.available_replicas)
}

/// No progress for progressDeadlineSeconds since the Progressing condition's last update (DeploymentTimedOut).
pub fn deployment_timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = get_condition(s, PROGRESSING) else { return false };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => return false,
        Some(TIMED_OUT) => return true,
        _ => {}
    }
    let Some(from) = c.last_update_time.as_ref() else { return false };
    let deadline = from.0.as_second() + i64::from(d.spec.progress_deadline_seconds.unwrap_or(0));
    deadline < now.as_second() || (deadline == now.as_second() && from.0.subsec_nanosecond() < now.subsec_nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(replicas: i32, surge: serde_json::Value, unavailable: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }))
        .unwrap()
    }

    fn rs(name: &str, replicas: i32, max_ann: Option<i32>) -> ReplicaSet {
        let mut annotations = serde_json::Map::new();
        if let Some(m) = max_ann {
            annotations.insert(MAX_REPLICAS.into(), json!(m.to_string()));
        }
        serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations}, "spec": {"replicas": replicas, "selector": {}}})).unwrap()
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        assert_eq!(resolve_fenceposts(Some(&IntOrString::String("25%".into())), Some(&IntOrString::String("25%".into())), 3), (1, 0));
        assert_eq!(resolve_fenceposts(Some(&IntOrString::String("25%".into())), Some(&IntOrString::String("25%".into())), 10), (3, 2));
        assert_eq!(resolve_fenceposts(Some(&IntOrString::Int(0)), Some(&IntOrString::String("10%".into())), 5), (0, 1), "both zero: one unavailable");
        let d = deploy(3, json!(1), json!(5));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 3), "maxUnavailable is capped at replicas");
        let mut r = deploy(3, json!(1), json!(1));
        r.spec.strategy = Some(serde_json::from_value(json!({"type": "Recreate"})).unwrap());
        assert_eq!((max_surge(&r), max_unavailable(&r)), (0, 0));
        assert_eq!(new_rs_new_replicas(&r, 3, 0), 3);
    }

    #[test]
    fn the_new_replica_set_grows_within_the_surge() {
        let d = deploy(10, json!(3), json!(2));
        assert_eq!(new_rs_new_replicas(&d, 10, 0), 3);
        assert_eq!(new_rs_new_replicas(&d, 13, 3), 3, "at the ceiling");
        assert_eq!(new_rs_new_replicas(&d, 8, 8), 10, "never above replicas");
    }

    #[test]
    fn proportions_follow_the_max_replicas_annotation() {
        // 10 -> 15 replicas with maxSurge 3: max 13 -> 18; an RS of 8 sized for 13 gets round(8*18/13)-8 = 3.
        let d = deploy(15, json!(3), json!(2));
        assert_eq!(get_proportion(&rs("a", 8, Some(13)), &d, 5, 0), 3);
        assert_eq!(get_proportion(&rs("b", 5, Some(13)), &d, 5, 3), 2, "capped at what is left");
        assert_eq!(get_proportion(&rs("c", 0, Some(13)), &d, 5, 0), 0, "never scale up from zero");
        let down = deploy(5, json!(3), json!(2));
        // max 8, was 13: round(8*8/13)-8 = -3.
        assert_eq!(get_proportion(&rs("a", 8, Some(13)), &down, -5, 0), -3);
        let zero = deploy(0, json!(3), json!(2));
        assert_eq!(get_proportion(&rs("a", 8, Some(13)), &zero, -13, 0), -8);
    }

    #[test]
    fn revisions_move_up_and_keep_rolled_back_history() {
        let mut d = deploy(3, json!(1), json!(1));
        d.metadata.annotations = Some([(CHANGE_CAUSE.to_string(), "kubectl set image".to_string()), (LAST_APPLIED.to_string(), "{}".to_string())].into());
        let mut r = rs("a", 0, None);
        assert!(set_new_replica_set_annotations(&d, &mut r, 1, false));
        let a = r.metadata.annotations.clone().unwrap();
        assert_eq!(a[REVISION], "1");
        assert_eq!(a[CHANGE_CAUSE], "kubectl set image");
        assert_eq!((a[DESIRED_REPLICAS].as_str(), a[MAX_REPLICAS].as_str()), ("3", "4"));
        assert!(!a.contains_key(LAST_APPLIED));
        assert!(!set_new_replica_set_annotations(&d, &mut r, 1, true), "nothing new");
        assert!(set_new_replica_set_annotations(&d, &mut r, 3, true));
        assert!(set_new_replica_set_annotations(&d, &mut r, 5, true));
        let a = r.metadata.annotations.unwrap();
        assert_eq!((a[REVISION].as_str(), a[REVISION_HISTORY].as_str()), ("5", "1,3"));
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let d = deploy(1, json!(1), json!(0));
        let mut t = d.spec.template.clone();
        t.metadata.as_mut().unwrap().labels.as_mut().unwrap().insert(POD_TEMPLATE_HASH.into(), "abc".into());
        assert!(equal_ignore_hash(&t, &d.spec.template));
        t.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".into());
        assert!(!equal_ignore_hash(&t, &d.spec.template));
    }

    #[test]
    fn conditions_keep_transition_time_while_status_holds() {
        let t = |s| Timestamp::from_second(s).unwrap();
        let mut s = DeploymentStatus::default();
        set_condition(&mut s, new_condition(PROGRESSING, "True", NEW_REPLICA_SET_CREATED, "x", t(10)));
        set_condition(&mut s, new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, "y", t(20)));
        let c = get_condition(&s, PROGRESSING).unwrap();
        assert_eq!((c.reason.as_deref(), c.last_transition_time.as_ref().unwrap().0, c.last_update_time.as_ref().unwrap().0), (Some(REPLICA_SET_UPDATED), t(10), t(20)));
        let mut d = deploy(3, json!(1), json!(1));
        d.spec.progress_deadline_seconds = Some(5);
        assert!(!deployment_timed_out(&d, &s, t(25)));
        assert!(deployment_timed_out(&d, &s, t(26)));
        set_condition(&mut s, new_condition(PROGRESSING, "False", TIMED_OUT, "z", t(30)));
        assert_eq!(get_condition(&s, PROGRESSING).unwrap().last_transition_time.as_ref().unwrap().0, t(30));
        assert_eq!(s.conditions.as_ref().unwrap().len(), 1);
    }
}
