//! pods/eviction (upstream's EvictionREST): deletes a pod unless that would
//! violate its PodDisruptionBudget. A pod that is not running (Pending,
//! Succeeded, Failed) or already being deleted is deleted at once; otherwise
//! the one matching budget must allow a disruption, which is taken from its
//! status (disruptionsAllowed - 1, the pod recorded in disruptedPods) by a
//! compare-and-swap before the pod is marked DisruptionTarget and deleted.

use std::collections::BTreeMap;

use api::status::StatusError;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{json, Value};

use super::errors::*;
use super::meta::*;
use super::{DeleteOptions, Store, Target};
use crate::storage::{key_for, prefix_for, StorageError};

/// Upstream's MaxDisruptedPodSize.
const MAX_DISRUPTED_POD_SIZE: usize = 2000;
/// Attempts at a budget or pod write that lost a race.
const RETRIES: usize = 20;

fn too_many_requests(why: String, retry_after: i32) -> StatusError {
    StatusError::new(api::Reason::TooManyRequests, "Cannot evict pod as it would violate the pod's disruption budget.").with_details(
        api::status::StatusDetails {
            causes: vec![api::status::StatusCause { reason: "DisruptionBudget".into(), message: why, field: String::new() }],
            retry_after_seconds: retry_after,
            ..Default::default()
        },
    )
}

fn pdb_forbidden(name: &str, why: &str) -> StatusError {
    StatusError::new(api::Reason::Forbidden, format!("poddisruptionbudgets.policy {name:?} is forbidden: {why}"))
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase").and_then(|p| p.as_str()).unwrap_or("")
}

fn being_deleted(pod: &Value) -> bool {
    meta(pod).contains_key("deletionTimestamp")
}

/// Terminal, pending or already terminating pods disrupt nothing more.
fn can_ignore_pdb(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending") || being_deleted(pod)
}

fn should_enforce_resource_version(pod: &Value) -> bool {
    !(matches!(phase(pod), "Succeeded" | "Failed") || being_deleted(pod))
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// DeleteOptions of the Eviction body (policy/v1 `deleteOptions`).
fn delete_options(eviction: &Value) -> DeleteOptions {
    let d = eviction.get("deleteOptions").cloned().unwrap_or(Value::Null);
    let s = |p: &str| d.pointer(p).and_then(|x| x.as_str()).map(str::to_string);
    DeleteOptions {
        grace_period_seconds: d.get("gracePeriodSeconds").and_then(|g| g.as_i64()),
        precondition_uid: s("/preconditions/uid"),
        precondition_resource_version: s("/preconditions/resourceVersion"),
        propagation_policy: s("/propagationPolicy").unwrap_or_default(),
        dry_run: d.get("dryRun").and_then(|x| x.as_array()).is_some_and(|a| !a.is_empty()),
    }
}

/// upstream meta.SetStatusCondition on a JSON conditions array.
pub(super) fn set_status_condition(conds: &mut Vec<Value>, ty: &str, status: &str, reason: &str, message: &str, generation: Option<i64>) {
    let now = now();
    match conds.iter_mut().find(|c| c["type"] == ty) {
        Some(c) => {
            if c["status"] != status {
                c["status"] = status.into();
                c["lastTransitionTime"] = now.into();
            }
            c["reason"] = reason.into();
            c["message"] = message.into();
            if let Some(g) = generation {
                c["observedGeneration"] = g.into();
            }
        }
        None => {
            let mut c = json!({"type": ty, "status": status, "reason": reason, "message": message, "lastTransitionTime": now});
            if let Some(g) = generation {
                c["observedGeneration"] = g.into();
            }
            conds.push(c);
        }
    }
}

impl Store {
    /// Creates an Eviction for the pod `t` names (`body` is a policy/v1 Eviction).
    pub async fn evict(&self, t: &Target, body: &[u8]) -> Result<(), StatusError> {
        let eviction: Value = serde_json::from_slice(body).map_err(|e| bad_request(format!("decoding Eviction: {e}")))?;
        if meta_str(&eviction, "name").unwrap_or_default() != t.name {
            return Err(bad_request("name in URL does not match name in Eviction object"));
        }
        let original = delete_options(&eviction);
        let pods = t.parent();
        let ns = t.namespace.clone().unwrap_or_default();

        let (pod, rv) = self.read_pod(&pods).await?;
        if can_ignore_pdb(&pod) {
            // Direct deletion; a pod that could become ready meanwhile is pinned to the version judged.
            for _ in 0..RETRIES {
                let (pod, rv) = self.read_pod(&pods).await?;
                let mut o = original.clone();
                if should_enforce_resource_version(&pod) && o.precondition_resource_version.is_none() {
                    o.precondition_resource_version = Some(rv.to_string());
                }
                match self.add_condition_and_delete(&pods, o).await {
                    Err(e) if e.reason() == api::Reason::Conflict && original.precondition_resource_version.is_none() => continue,
                    other => return other,
                }
            }
            return Err(conflict(t.info(), &t.name, MODIFIED));
        }

        let labels: BTreeMap<String, String> = serde_json::from_value(pod.pointer("/metadata/labels").cloned().unwrap_or(json!({}))).unwrap_or_default();
        // A consistent read, as upstream's: a budget created just before this
        // eviction must be seen, so the cache catches up with etcd first.
        let rev = self.storage.current_revision().await.map_err(storage)?;
        self.cache.wait_for(rev, std::time::Duration::from_secs(3)).await;
        let pdbs = self.matching_budgets(&ns, &labels);
        if pdbs.len() > 1 {
            return Err(StatusError::with_code(
                500,
                api::Reason::InternalError,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        let mut pin_version = false;
        if let Some((pdb_name, _)) = pdbs.first() {
            let budget = pdbs[0].1.clone();
            let status = budget.status.clone().unwrap_or_default();
            let always_allow = budget.spec.as_ref().and_then(|s| s.unhealthy_pod_eviction_policy.as_deref()) == Some("AlwaysAllow");
            if !is_ready(&pod) && (always_allow || (status.current_healthy.unwrap_or(0) >= status.desired_healthy.unwrap_or(0) && status.desired_healthy.unwrap_or(0) > 0)) {
                // An unready pod counts for nothing in the budget: delete it if it is still the pod judged.
                pin_version = true;
            } else {
                self.check_and_decrement(&ns, pdb_name, &t.name, original.dry_run).await?;
            }
        }

        let mut o = original.clone();
        if pin_version && o.precondition_resource_version.is_none() {
            o.precondition_resource_version = Some(rv.to_string());
        }
        match self.add_condition_and_delete(&pods, o).await {
            Err(e) if e.reason() == api::Reason::Conflict && pin_version && original.precondition_resource_version.is_none() => {
                Err(too_many_requests(format!("The disruption budget {} is still being processed by the server.", pdbs[0].0), 10))
            }
            other => other,
        }
    }

    async fn read_pod(&self, pods: &Target) -> Result<(Value, i64), StatusError> {
        let cur = self.read(pods).await?;
        Ok((serde_json::from_slice(&cur.value).map_err(internal)?, cur.mod_revision))
    }

    /// The namespace's budgets whose selector matches `labels` (an empty
    /// selector matches nothing), by name.
    fn matching_budgets(&self, ns: &str, labels: &BTreeMap<String, String>) -> Vec<(String, PodDisruptionBudget)> {
        let (objs, _) = self.cache.list(&prefix_for("poddisruptionbudgets", Some(ns)));
        let mut out: Vec<(String, PodDisruptionBudget)> = objs
            .iter()
            .filter_map(|o| serde_json::from_slice::<PodDisruptionBudget>(&o.raw).ok())
            .filter(|pdb| {
                let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
                let empty = sel.is_none_or(|s| s.match_labels.as_ref().is_none_or(|m| m.is_empty()) && s.match_expressions.as_ref().is_none_or(|e| e.is_empty()));
                !empty && api::selector::Selector::from_label_selector(sel).is_ok_and(|s| s.matches(labels))
            })
            .map(|pdb| (pdb.metadata.name.clone().unwrap_or_default(), pdb))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Takes one disruption from the budget (upstream's checkAndDecrement),
    /// re-reading it from etcd when a write loses a race.
    async fn check_and_decrement(&self, ns: &str, pdb_name: &str, pod_name: &str, dry_run: bool) -> Result<(), StatusError> {
        let key = key_for("poddisruptionbudgets", Some(ns), pdb_name);
        for _ in 0..RETRIES {
            let cur = match self.storage.get(&key).await {
                Ok(c) => c,
                Err(StorageError::NotFound) => return Ok(()),
                Err(e) => return Err(storage(e)),
            };
            let mut pdb: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
            let generation = meta(&pdb).get("generation").and_then(|g| g.as_i64()).unwrap_or(0);
            let st = |f: &str| pdb.pointer(&format!("/status/{f}")).and_then(|x| x.as_i64()).unwrap_or(0);
            if st("observedGeneration") < generation {
                return Err(too_many_requests(format!("The disruption budget {pdb_name} is still being processed by the server."), 10));
            }
            let allowed = st("disruptionsAllowed");
            if allowed < 0 {
                return Err(pdb_forbidden(pdb_name, "pdb disruptions allowed is negative"));
            }
            let disrupted = pdb.pointer("/status/disruptedPods").and_then(|d| d.as_object()).map_or(0, |d| d.len());
            if disrupted > MAX_DISRUPTED_POD_SIZE {
                return Err(pdb_forbidden(pdb_name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"));
            }
            if allowed == 0 {
                let why = format!(
                    "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                    st("desiredHealthy"),
                    st("currentHealthy")
                );
                return Err(too_many_requests(why, 0));
            }
            if dry_run {
                return Ok(());
            }
            let status = pdb["status"].as_object_mut().expect("status has numbers");
            status.insert("disruptionsAllowed".into(), (allowed - 1).into());
            if allowed - 1 == 0 {
                let mut conds = status.get("conditions").and_then(|c| c.as_array()).cloned().unwrap_or_default();
                set_status_condition(&mut conds, "DisruptionAllowed", "False", "InsufficientPods", "", None);
                status.insert("conditions".into(), conds.into());
            }
            let dp = status.entry("disruptedPods").or_insert_with(|| json!({}));
            if !dp.is_object() {
                *dp = json!({});
            }
            dp[pod_name] = now().into();
            match self.storage.update(&key, to_stored(&pdb), cur.mod_revision, &[]).await {
                Ok(_) => return Ok(()),
                Err(StorageError::Conflict) => continue,
                Err(StorageError::NotFound) => return Ok(()),
                Err(e) => return Err(storage(e)),
            }
        }
        Err(StatusError::new(api::Reason::Timeout, format!("couldn't update PodDisruptionBudget {pdb_name:?} due to conflicts"))
            .with_details(api::status::StatusDetails { retry_after_seconds: 10, ..Default::default() }))
    }

    /// Marks the pod DisruptionTarget (EvictionByEvictionAPI) and deletes it
    /// with `o`; the preconditions apply to both writes.
    async fn add_condition_and_delete(&self, pods: &Target, mut o: DeleteOptions) -> Result<(), StatusError> {
        let info = *pods.info();
        if !o.dry_run {
            let cur = self.read(pods).await?;
            let mut pod: Value = serde_json::from_slice(&cur.value).map_err(internal)?;
            if let Some(uid) = o.precondition_uid.as_deref().filter(|u| !u.is_empty()) {
                let have = meta_str(&pod, "uid").unwrap_or_default();
                if uid != have {
                    return Err(conflict(&info, &pods.name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}")));
                }
            }
            if let Some(rv) = o.precondition_resource_version.as_deref().filter(|r| !r.is_empty()) {
                if rv != cur.mod_revision.to_string() {
                    return Err(conflict(&info, &pods.name, &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in meta: {}",
                        cur.mod_revision
                    )));
                }
            }
            let mut conds = pod.pointer("/status/conditions").and_then(|c| c.as_array()).cloned().unwrap_or_default();
            let before = conds.clone();
            set_status_condition(&mut conds, "DisruptionTarget", "True", "EvictionByEvictionAPI", "Eviction API: evicting", None);
            // Pod conditions carry lastProbeTime; keep the shape the kubelet writes.
            for c in conds.iter_mut().filter(|c| c["type"] == "DisruptionTarget") {
                c.as_object_mut().map(|m| m.entry("lastProbeTime").or_insert(Value::Null));
            }
            if conds != before {
                pod["status"]["conditions"] = conds.into();
                match self.storage.update(&pods.key(), to_stored(&pod), cur.mod_revision, &[]).await {
                    Ok(rev) => {
                        if o.precondition_resource_version.is_some() {
                            // We made the newer version ourselves.
                            o.precondition_resource_version = Some(rev.to_string());
                        }
                    }
                    Err(StorageError::Conflict) => return Err(conflict(&info, &pods.name, MODIFIED)),
                    Err(StorageError::NotFound) => return Err(not_found(&info, &pods.name)),
                    Err(e) => return Err(storage(e)),
                }
            }
        }
        self.delete(pods, &o).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_pods_skip_the_budget() {
        let pod = |phase: &str, deleting: bool| {
            let mut p = json!({"metadata": {"name": "p"}, "status": {"phase": phase}});
            if deleting {
                p["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z".into();
            }
            p
        };
        assert!(can_ignore_pdb(&pod("Pending", false)));
        assert!(can_ignore_pdb(&pod("Succeeded", false)));
        assert!(can_ignore_pdb(&pod("Running", true)));
        assert!(!can_ignore_pdb(&pod("Running", false)));
        assert!(should_enforce_resource_version(&pod("Pending", false)));
        assert!(!should_enforce_resource_version(&pod("Failed", false)));
    }

    #[test]
    fn status_conditions_change_transition_time_only_on_a_new_status() {
        let mut conds = vec![json!({"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "", "lastTransitionTime": "t0"})];
        set_status_condition(&mut conds, "DisruptionAllowed", "True", "SufficientPods", "", None);
        assert_eq!(conds[0]["lastTransitionTime"], "t0");
        set_status_condition(&mut conds, "DisruptionAllowed", "False", "InsufficientPods", "", None);
        assert_ne!(conds[0]["lastTransitionTime"], "t0");
        assert_eq!((conds[0]["status"].as_str(), conds[0]["reason"].as_str()), (Some("False"), Some("InsufficientPods")));
    }

    #[test]
    fn eviction_delete_options() {
        let o = delete_options(&json!({"deleteOptions": {"gracePeriodSeconds": 5, "dryRun": ["All"], "preconditions": {"uid": "u"}}}));
        assert_eq!((o.grace_period_seconds, o.dry_run, o.precondition_uid.as_deref()), (Some(5), true, Some("u")));
    }
}
