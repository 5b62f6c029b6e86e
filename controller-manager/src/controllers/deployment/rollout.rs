//! The rollout itself (upstream's sync.go, rolling.go, recreate.go and
//! progress.go): the new ReplicaSet and revisions, scaling with Events,
//! proportional scaling, cleanup, status and the progress deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use client::controller::Action;
use client::events::EventType;
use client::{Api, DeleteParams, PostParams};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::util::*;
use super::{name_of, ns_of, Ctx};
use crate::controller_utils::{compute_hash, is_namespace_terminating, now};
use crate::Error;

fn active(rss: &[ReplicaSet]) -> Vec<&ReplicaSet> {
    rss.iter().filter(|rs| rs_replicas(rs) > 0).collect()
}

impl Ctx {
    fn rs_api(&self, ns: &str) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// The new ReplicaSet (created if `create`), with revisions synced, and
    /// all the old ones (getAllReplicaSetsAndSyncRevision).
    pub(super) async fn all_replica_sets_and_sync_revision(&self, d: &mut Deployment, mut rss: Vec<ReplicaSet>, create: bool) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let existing = find_new(d, &rss).map(|i| rss.remove(i));
        let new_rs = self.new_replica_set(d, existing, &rss, create).await?;
        Ok((new_rs, rss))
    }

    /// getNewReplicaSet.
    async fn new_replica_set(&self, d: &mut Deployment, existing: Option<ReplicaSet>, old: &[ReplicaSet], create: bool) -> Result<Option<ReplicaSet>, Error> {
        let new_revision = max_revision(old) + 1;
        let ns = ns_of(&d.metadata).to_string();
        if let Some(rs) = existing {
            let mut copy = rs.clone();
            let annotations_updated = set_new_replica_set_annotations(d, &mut copy, new_revision, true);
            let min_ready_changed = copy.spec.min_ready_seconds != d.spec.min_ready_seconds;
            if annotations_updated || min_ready_changed {
                copy.spec.min_ready_seconds = d.spec.min_ready_seconds;
                return Ok(Some(self.rs_api(&ns).replace(&copy).await?));
            }
            let rev = copy.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).cloned().unwrap_or_default();
            let mut needs_update = set_deployment_revision(d, &rev);
            let deadline = has_progress_deadline(d);
            let st = d.status.get_or_insert_with(Default::default);
            if deadline && get_condition(st, PROGRESSING).is_none() {
                let msg = format!("Found new replica set {:?}", name_of(&copy.metadata));
                set_condition(st, new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, msg, now()));
                needs_update = true;
            }
            if needs_update {
                self.write_status(d).await?;
            }
            return Ok(Some(copy));
        }
        if !create {
            return Ok(None);
        }
        let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&d.spec.template, collision_count);
        let mut template = d.spec.template.clone();
        let tm = template.metadata.get_or_insert_with(Default::default);
        tm.labels.get_or_insert_with(Default::default).insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector = d.spec.selector.clone();
        selector.match_labels.get_or_insert_with(Default::default).insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", name_of(&d.metadata))),
                namespace: Some(ns.clone()),
                owner_references: Some(vec![api::owner::controller_ref_for(d)]),
                labels: tm.labels.clone(),
                ..Default::default()
            },
            spec: ReplicaSetSpec { replicas: Some(0), min_ready_seconds: d.spec.min_ready_seconds, selector, template: Some(template) },
            status: None,
        };
        let all_replicas = sum_replicas(old.iter());
        let new_replicas = new_rs_new_replicas(d, all_replicas, 0);
        new_rs.spec.replicas = Some(new_replicas);
        set_new_replica_set_annotations(d, &mut new_rs, new_revision, false);
        let rs_name = name_of(&new_rs.metadata).to_string();
        let mut already_exists = false;
        let created = match self.rs_api(&ns).create(&PostParams::default(), &new_rs).await {
            Ok(rs) => rs,
            Err(e) if e.is_already_exists() => {
                already_exists = true;
                let rs = self.rs_api(&ns).get(&rs_name).await?;
                let ours = api::owner::is_controlled_by(&rs.metadata, d.metadata.uid.as_deref().unwrap_or_default());
                if ours && rs.spec.template.as_ref().is_some_and(|t| equal_ignore_hash(t, &d.spec.template)) {
                    rs
                } else {
                    // A hash collision: bump collisionCount so the next sync picks another name.
                    let st = d.status.get_or_insert_with(Default::default);
                    st.collision_count = Some(st.collision_count.unwrap_or(0) + 1);
                    if self.write_status(d).await.is_ok() {
                        tracing::info!(deployment = %name_of(&d.metadata), "found a hash collision for deployment - bumping collisionCount to resolve it");
                    }
                    return Err(e.into());
                }
            }
            Err(e) if is_namespace_terminating(&e) => return Err(e.into()),
            Err(e) => {
                let msg = format!("Failed to create new replica set {rs_name:?}: {e}");
                if has_progress_deadline(d) {
                    let st = d.status.get_or_insert_with(Default::default);
                    set_condition(st, new_condition(PROGRESSING, "False", FAILED_RS_CREATE, msg.clone(), now()));
                    let _ = self.write_status(d).await;
                }
                self.event(d, EventType::Warning, FAILED_RS_CREATE, msg);
                return Err(e.into());
            }
        };
        if !already_exists && new_replicas > 0 {
            self.event(d, EventType::Normal, "ScalingReplicaSet", format!("Scaled up replica set {rs_name} from 0 to {new_replicas}"));
        }
        let mut needs_update = set_deployment_revision(d, &new_revision.to_string());
        if !already_exists && has_progress_deadline(d) {
            let st = d.status.get_or_insert_with(Default::default);
            set_condition(st, new_condition(PROGRESSING, "True", NEW_REPLICA_SET_CREATED, format!("Created new replica set {rs_name:?}"), now()));
            needs_update = true;
        }
        if needs_update {
            self.write_status(d).await?;
        }
        Ok(Some(created))
    }

    /// Sets `rs`'s size (and the replicas annotations), with a
    /// ScalingReplicaSet Event when the size changed (scaleReplicaSet).
    async fn scale_replica_set(&self, rs: &ReplicaSet, new_scale: i32, d: &Deployment) -> Result<(bool, ReplicaSet), Error> {
        let (want, max) = (desired(d), desired(d) + max_surge(d));
        let size_changes = rs_replicas(rs) != new_scale;
        if !size_changes && !replicas_annotations_need_update(rs, want, max) {
            return Ok((false, rs.clone()));
        }
        let old_scale = rs_replicas(rs);
        let mut copy = rs.clone();
        copy.spec.replicas = Some(new_scale);
        set_replicas_annotations(&mut copy, want, max);
        let updated = self.rs_api(ns_of(&rs.metadata)).replace(&copy).await?;
        if size_changes {
            let op = if old_scale < new_scale { "up" } else { "down" };
            let msg = format!("Scaled {op} replica set {} from {old_scale} to {new_scale}", name_of(&rs.metadata));
            self.event(d, EventType::Normal, "ScalingReplicaSet", msg);
        }
        Ok((size_changes, updated))
    }

    /// scaleReplicaSetAndRecordEvent.
    async fn scale_and_record(&self, rs: &ReplicaSet, new_scale: i32, d: &Deployment) -> Result<(bool, ReplicaSet), Error> {
        if rs_replicas(rs) == new_scale {
            return Ok((false, rs.clone()));
        }
        self.scale_replica_set(rs, new_scale, d).await
    }

    /// checkPausedConditions: DeploymentPaused / DeploymentResumed, unless a timeout is reported.
    pub(super) async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<(), Error> {
        if !has_progress_deadline(d) {
            return Ok(());
        }
        let paused = d.spec.paused == Some(true);
        let st = d.status.get_or_insert_with(Default::default);
        let cond = get_condition(st, PROGRESSING);
        if cond.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
            return Ok(());
        }
        let paused_cond = cond.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
        if paused && !paused_cond {
            set_condition(st, new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now()));
        } else if !paused && paused_cond {
            set_condition(st, new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now()));
        } else {
            return Ok(());
        }
        self.write_status(d).await
    }

    /// Whether an active RS was sized for another replica count (isScalingEvent).
    pub(super) async fn is_scaling_event(&self, d: &mut Deployment, rss: Vec<ReplicaSet>) -> Result<bool, Error> {
        let (new_rs, old) = self.all_replica_sets_and_sync_revision(d, rss, false).await?;
        let all: Vec<ReplicaSet> = old.into_iter().chain(new_rs).collect();
        Ok(active(&all).iter().any(|rs| desired_replicas_annotation(rs).is_some_and(|n| n != desired(d))))
    }

    /// Scaling and paused deployments (sync): scale, clean up if paused, status.
    pub(super) async fn sync_scale(&self, d: &mut Deployment, rss: Vec<ReplicaSet>) -> Result<(), Error> {
        let (new_rs, mut old) = self.all_replica_sets_and_sync_revision(d, rss, false).await?;
        let new_rs = self.scale(d, new_rs, &mut old).await?;
        if d.spec.paused == Some(true) {
            self.cleanup(d, &old).await?;
        }
        self.sync_status(d, &old, new_rs.as_ref()).await
    }

    /// Scales to spec.replicas, proportionally across active RSs during a
    /// rollout (scale). Returns the new RS as updated.
    async fn scale(&self, d: &Deployment, mut new_rs: Option<ReplicaSet>, old: &mut [ReplicaSet]) -> Result<Option<ReplicaSet>, Error> {
        // One active RS (or none: the newest) takes the whole size (FindActiveOrLatest).
        let actives: Vec<usize> = (0..old.len()).filter(|&i| rs_replicas(&old[i]) > 0).collect();
        let new_active = new_rs.as_ref().is_some_and(|r| rs_replicas(r) > 0);
        let single = match (actives.len(), new_active) {
            (0, false) => {
                if new_rs.is_some() {
                    Some(None)
                } else {
                    (0..old.len()).max_by(|&a, &b| by_creation(&old[a], &old[b])).map(Some)
                }
            }
            (0, true) => Some(None),
            (1, false) => Some(Some(actives[0])),
            _ => None,
        };
        if let Some(which) = single {
            let rs = match which {
                None => new_rs.as_ref(),
                Some(i) => Some(&old[i]),
            };
            let Some(rs) = rs else { return Ok(new_rs) };
            if rs_replicas(rs) == desired(d) {
                return Ok(new_rs);
            }
            let (_, updated) = self.scale_and_record(rs, desired(d), d).await?;
            match which {
                None => new_rs = Some(updated),
                Some(i) => old[i] = updated,
            }
            return Ok(new_rs);
        }
        // A saturated new RS: the old ones go entirely.
        if is_saturated(d, new_rs.as_ref()) {
            for rs in old.iter_mut().filter(|r| rs_replicas(r) > 0) {
                *rs = self.scale_and_record(rs, 0, d).await?.1;
            }
            return Ok(new_rs);
        }
        if !is_rolling_update(d) {
            return Ok(new_rs);
        }
        // Proportional scaling of every active RS, new and old.
        let mut all: Vec<ReplicaSet> = old.iter().filter(|r| rs_replicas(r) > 0).cloned().chain(new_rs.clone().filter(|r| rs_replicas(r) > 0)).collect();
        let current = sum_replicas(all.iter());
        let allowed = if desired(d) > 0 { desired(d) + max_surge(d) } else { 0 };
        let to_add = allowed - current;
        // Larger first; ties: newer first when adding, older first when removing.
        all.sort_by(|a, b| {
            rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| if to_add > 0 { by_creation(b, a) } else { by_creation(a, b) })
        });
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = get_proportion(rs, d, to_add, added);
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        if to_add != 0 {
            // Leftovers go to the largest.
            sizes[0] = (sizes[0] + to_add - added).max(0);
        }
        for (rs, size) in all.iter().zip(sizes) {
            let (_, updated) = self.scale_replica_set(rs, size, d).await?;
            if new_rs.as_ref().is_some_and(|n| n.metadata.uid == updated.metadata.uid) {
                new_rs = Some(updated);
            } else if let Some(o) = old.iter_mut().find(|o| o.metadata.uid == updated.metadata.uid) {
                *o = updated;
            }
        }
        Ok(new_rs)
    }

    /// Deletes the oldest fully scaled-down RSs beyond revisionHistoryLimit (cleanupDeployment).
    async fn cleanup(&self, d: &Deployment, old: &[ReplicaSet]) -> Result<(), Error> {
        let Some(limit) = d.spec.revision_history_limit else { return Ok(()) };
        let mut cleanable: Vec<&ReplicaSet> = old.iter().filter(|rs| rs.metadata.deletion_timestamp.is_none()).collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| revision(&a.metadata).unwrap_or(0).cmp(&revision(&b.metadata).unwrap_or(0)).then_with(|| by_creation(a, b)));
        for rs in cleanable.into_iter().take(diff as usize) {
            let st = rs.status.clone().unwrap_or_default();
            if st.replicas != 0 || rs_replicas(rs) != 0 || rs.metadata.generation.unwrap_or(0) > st.observed_generation.unwrap_or(0) {
                continue;
            }
            tracing::debug!(replicaset = %name_of(&rs.metadata), "deleting old replica set beyond revisionHistoryLimit");
            match self.rs_api(ns_of(&rs.metadata)).delete(name_of(&rs.metadata), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// syncDeploymentStatus: counts and Available only.
    pub(super) async fn sync_status(&self, d: &mut Deployment, old: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Result<(), Error> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs).collect();
        let status = calculate_status(&all, new_rs, d, now());
        if d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        d.status = Some(status);
        self.write_status(d).await
    }

    /// rolloutRolling.
    pub(super) async fn rollout_rolling(&self, d: &mut Deployment, rss: Vec<ReplicaSet>) -> Result<Action, Error> {
        let (new_rs, mut old) = self.all_replica_sets_and_sync_revision(d, rss, true).await?;
        let Some(mut new_rs) = new_rs else { return Err(Error::Other("no new replica set".into())) };
        // Scale up the new RS within the surge.
        let (scaled_up, updated) = self.reconcile_new(d, &old, &new_rs).await?;
        new_rs = updated;
        if scaled_up {
            return self.sync_rollout_status(d, &old, Some(&new_rs)).await;
        }
        if self.reconcile_old(d, &mut old, &new_rs).await? {
            return self.sync_rollout_status(d, &old, Some(&new_rs)).await;
        }
        if deployment_complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &old, Some(&new_rs)).await
    }

    /// reconcileNewReplicaSet.
    async fn reconcile_new(&self, d: &Deployment, old: &[ReplicaSet], new_rs: &ReplicaSet) -> Result<(bool, ReplicaSet), Error> {
        let n = rs_replicas(new_rs);
        if n == desired(d) {
            return Ok((false, new_rs.clone()));
        }
        if n > desired(d) {
            return self.scale_and_record(new_rs, desired(d), d).await;
        }
        let all = sum_replicas(old.iter()) + n;
        let count = new_rs_new_replicas(d, all, n);
        self.scale_and_record(new_rs, count, d).await
    }

    /// reconcileOldReplicaSets: scale old RSs down as far as availability allows.
    async fn reconcile_old(&self, d: &Deployment, old: &mut [ReplicaSet], new_rs: &ReplicaSet) -> Result<bool, Error> {
        let old_pods = sum_replicas(old.iter());
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods = old_pods + rs_replicas(new_rs);
        let min_available = desired(d) - max_unavailable(d);
        let new_unavailable = rs_replicas(new_rs) - rs_available(new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // Unhealthy old replicas first: they cost no availability.
        let cleaned = self.cleanup_unhealthy(d, old, max_scaled_down).await?;
        let scaled = self.scale_down_old_for_rolling(d, old, new_rs).await?;
        Ok(cleaned + scaled > 0)
    }

    /// cleanupUnhealthyReplicas.
    async fn cleanup_unhealthy(&self, d: &Deployment, old: &mut [ReplicaSet], max_cleanup: i32) -> Result<i32, Error> {
        old.sort_by(by_creation);
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= max_cleanup {
                break;
            }
            let (n, avail) = (rs_replicas(rs), rs_available(rs));
            if n == 0 || n == avail {
                continue;
            }
            let down = (max_cleanup - total).min(n - avail);
            *rs = self.scale_and_record(rs, n - down, d).await?.1;
            total += down;
        }
        Ok(total)
    }

    /// scaleDownOldReplicaSetsForRollingUpdate: down to minAvailable, oldest first.
    async fn scale_down_old_for_rolling(&self, d: &Deployment, old: &mut [ReplicaSet], new_rs: &ReplicaSet) -> Result<i32, Error> {
        let min_available = desired(d) - max_unavailable(d);
        let available = sum_available(old.iter()) + rs_available(new_rs);
        if available <= min_available {
            return Ok(0);
        }
        old.sort_by(by_creation);
        let wanted = available - min_available;
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= wanted {
                break;
            }
            let n = rs_replicas(rs);
            if n == 0 {
                continue;
            }
            let down = n.min(wanted - total);
            *rs = self.scale_and_record(rs, n - down, d).await?.1;
            total += down;
        }
        Ok(total)
    }

    /// rolloutRecreate: old RSs to zero, wait for their pods to go, then the new RS to full size.
    pub(super) async fn rollout_recreate(&self, d: &mut Deployment, rss: Vec<ReplicaSet>, pods: HashMap<String, Vec<Arc<Pod>>>) -> Result<Action, Error> {
        let all_rss = rss.clone();
        let (mut new_rs, mut old) = self.all_replica_sets_and_sync_revision(d, rss, false).await?;
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|r| rs_replicas(r) > 0) {
            let (scaled, updated) = self.scale_and_record(rs, 0, d).await?;
            if scaled {
                *rs = updated;
                scaled_down = true;
            }
        }
        if scaled_down || old_pods_running(new_rs.as_ref(), &old, &pods) {
            return self.sync_rollout_status(d, &old, new_rs.as_ref()).await;
        }
        if new_rs.is_none() {
            let (n, o) = self.all_replica_sets_and_sync_revision(d, all_rss, true).await?;
            new_rs = n;
            old = o;
        }
        if let Some(rs) = new_rs.take() {
            new_rs = Some(self.scale_and_record(&rs, desired(d), d).await?.1);
        }
        if deployment_complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &old, new_rs.as_ref()).await
    }

    /// syncRolloutStatus: counts, Available, Progressing against the
    /// deadline, ReplicaFailure from the RSs; requeues a rollout that may
    /// time out (requeueStuckDeployment).
    async fn sync_rollout_status(&self, d: &mut Deployment, old: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Result<Action, Error> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs).collect();
        let now = now();
        let mut status = calculate_status(&all, new_rs, d, now);
        if !has_progress_deadline(d) {
            remove_condition(&mut status, PROGRESSING);
        }
        let empty = Default::default();
        let cur_status = d.status.as_ref().unwrap_or(&empty);
        let current = get_condition(cur_status, PROGRESSING).cloned();
        let complete_already = status.replicas == status.updated_replicas && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        if has_progress_deadline(d) && !complete_already {
            let rs_name = new_rs.map(|r| name_of(&r.metadata).to_string());
            let what = |verb: &str| match &rs_name {
                Some(n) => format!("ReplicaSet {n:?} {verb}"),
                None => format!("Deployment {:?} {verb}", name_of(&d.metadata)),
            };
            if deployment_complete(d, &status) {
                set_condition(&mut status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, what("has successfully progressed."), now));
            } else if deployment_progressing(d, &status) {
                let mut c = new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, what("is progressing."), now);
                if let Some(cur) = &current {
                    if cur.status.as_deref() == Some("True") {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut status, PROGRESSING);
                }
                set_condition(&mut status, c);
            } else if deployment_timed_out(d, &status, now) {
                set_condition(&mut status, new_condition(PROGRESSING, "False", TIMED_OUT, what("has timed out progressing."), now));
            }
        }
        // The first ReplicaFailure of the RSs (new first), as the Deployment's.
        let failure = new_rs.into_iter().chain(old.iter()).find_map(|rs| {
            rs.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_.as_deref() == Some(REPLICA_FAILURE)).cloned()
        });
        match failure {
            Some(c) => set_condition(
                &mut status,
                k8s_openapi::api::apps::v1::DeploymentCondition {
                    type_: Some(REPLICA_FAILURE.into()),
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                    last_update_time: c.last_transition_time.clone(),
                    last_transition_time: c.last_transition_time,
                },
            ),
            None => remove_condition(&mut status, REPLICA_FAILURE),
        }
        if d.status.as_ref() == Some(&status) {
            return Ok(self.requeue_stuck(d, &status));
        }
        d.status = Some(status);
        self.write_status(d).await?;
        Ok(Action::Done)
    }

    /// When to look again at a rollout that has not progressed (requeueStuckDeployment).
    fn requeue_stuck(&self, d: &Deployment, status: &k8s_openapi::api::apps::v1::DeploymentStatus) -> Action {
        let Some(cur) = d.status.as_ref().and_then(|s| get_condition(s, PROGRESSING)) else { return Action::Done };
        if !has_progress_deadline(d) || deployment_complete(d, status) || cur.reason.as_deref() == Some(TIMED_OUT) {
            return Action::Done;
        }
        let Some(updated) = cur.last_update_time.as_ref() else { return Action::Done };
        let deadline_ms = updated.0.as_millisecond() + i64::from(d.spec.progress_deadline_seconds.unwrap_or(0)) * 1000;
        let after_ms = deadline_ms - now().as_millisecond();
        if after_ms < 1000 {
            return Action::RequeueAfter(Duration::from_secs(1));
        }
        Action::RequeueAfter(Duration::from_millis(after_ms as u64) + Duration::from_secs(1))
    }
}

/// Old pods still exist that are not finished (oldPodsRunning).
fn old_pods_running(new_rs: Option<&ReplicaSet>, old: &[ReplicaSet], pods: &HashMap<String, Vec<Arc<Pod>>>) -> bool {
    if old.iter().map(|rs| rs.status.as_ref().map_or(0, |s| s.replicas)).sum::<i32>() > 0 {
        return true;
    }
    let new_uid = new_rs.and_then(|r| r.metadata.uid.as_deref());
    pods.iter().filter(|(uid, _)| Some(uid.as_str()) != new_uid).flat_map(|(_, p)| p).any(|p| {
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        !matches!(phase, Some("Failed") | Some("Succeeded"))
    })
}
