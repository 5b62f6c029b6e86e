//! Deployment (upstream's pkg/controller/deployment): one ReplicaSet per pod
//! template (named `<deployment>-<pod-template-hash>`), rolled from old to
//! new by the RollingUpdate or Recreate strategy, with revisions,
//! proportional scaling, pause, revision-history cleanup and the
//! Progressing/Available conditions.
//!
//! One sync of a key (syncDeployment): claim ReplicaSets (adopt matching
//! orphans, release those that stopped matching); a Deployment being
//! deleted only gets its status; a paused one or a scaling event is scaled
//! proportionally (`sync`); otherwise the strategy runs (rollout.rs). The
//! controller keeps no expectations of its own: every decision is from the
//! ReplicaSet cache plus the objects its own writes return, so a restart
//! never over-scales.
//!
//! Deviation: the revision annotation on the Deployment is written with a
//! metadata patch, because this apiserver's status subresource keeps
//! metadata as stored (upstream's lets annotations through UpdateStatus).

mod rollout;
pub mod util;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use api::owner::{controller_of, controller_ref_for};
use api::Selector;
use client::controller::{Action, Controller};
use client::events::{EventRecorder, EventType};
use client::informer::InformerEvent;
use client::store::{key_of, split_key, Store};
use client::{Api, Client, Patch, PostParams};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::{ConcurrencyFlag, ControllerContext, Descriptor};
use crate::informers::NAMESPACE_INDEX;
use crate::ref_manager::claim;
use crate::Error;
use util::*;

pub const DEPLOYMENT: Descriptor = Descriptor {
    name: "deployment-controller",
    aliases: &["deployment"],
    disabled_by_default: false,
    concurrency: Some(ConcurrencyFlag {
        flag: "concurrent-deployment-syncs",
        default: 5,
        help: "The number of deployment objects that are allowed to sync concurrently. Larger number = more responsive deployments, but more CPU (and network) load",
    }),
    start,
};

const COMPONENT: &str = "deployment-controller";

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let deployments = ctx.informers.get::<Deployment>();
        let replica_sets = ctx.informers.get::<ReplicaSet>();
        let pods = ctx.informers.get::<Pod>();
        let state = Arc::new(Ctx {
            client: ctx.client.clone(),
            deployments: deployments.store(),
            replica_sets: replica_sets.store(),
            pods: pods.store(),
            recorder: EventRecorder::new(ctx.client.clone(), COMPONENT, None),
        });
        let (on_rs, on_pod) = (state.clone(), state.clone());
        let controller = Controller::new("deployment", &deployments)
            .workers(ctx.workers)
            .watches(&replica_sets, move |ev| on_rs.rs_event(ev))
            .watches(&pods, move |ev| on_pod.pod_event(ev));
        let controller = ctx.metrics.instrument("deployment", controller);
        controller.run(state.clone(), sync, ctx.shutdown.clone()).await;
        state.recorder.flush().await;
    })
}

/// The controller's state, shared by its workers and event handlers.
pub(crate) struct Ctx {
    client: Client,
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    recorder: EventRecorder,
}

fn ns_of(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or_default()
}

fn name_of(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    m.name.as_deref().unwrap_or_default()
}

fn selector_of(d: &Deployment) -> Result<Selector, Error> {
    Selector::from_label_selector(Some(&d.spec.selector)).map_err(|e| Error::Other(e.to_string()))
}

impl Ctx {
    /// The Deployment a controller reference names, if cached with that uid.
    fn resolve(&self, ns: &str, r: &OwnerReference) -> Option<Arc<Deployment>> {
        if r.kind != "Deployment" {
            return None;
        }
        self.deployments.get(ns, &r.name).filter(|d| d.metadata.uid.as_deref() == Some(r.uid.as_str()))
    }

    /// Deployments whose (non-empty) selector matches an orphan RS (getDeploymentsForReplicaSet).
    fn selecting(&self, rs: &ReplicaSet) -> Vec<String> {
        self.deployments
            .by_index(NAMESPACE_INDEX, ns_of(&rs.metadata))
            .into_iter()
            .filter(|d| selector_of(d).is_ok_and(|s| !s.is_empty() && s.matches_opt(rs.metadata.labels.as_ref())))
            .map(|d| key_of(d.as_ref()))
            .collect()
    }

    fn owner_key(&self, rs: &ReplicaSet) -> Option<String> {
        controller_of(&rs.metadata).and_then(|r| self.resolve(ns_of(&rs.metadata), r)).map(|d| key_of(d.as_ref()))
    }

    /// addReplicaSet / updateReplicaSet / deleteReplicaSet.
    fn rs_event(&self, ev: &InformerEvent<ReplicaSet>) -> Vec<String> {
        match ev {
            InformerEvent::Added(rs) => {
                if controller_of(&rs.metadata).is_some() {
                    return self.owner_key(rs).into_iter().collect();
                }
                self.selecting(rs)
            }
            InformerEvent::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return Vec::new();
                }
                let (old_ref, cur_ref) = (controller_of(&old.metadata), controller_of(&new.metadata));
                let mut keys = Vec::new();
                if old_ref != cur_ref {
                    keys.extend(self.owner_key(old));
                }
                if cur_ref.is_some() {
                    keys.extend(self.owner_key(new));
                    return keys;
                }
                if old.metadata.labels != new.metadata.labels || old_ref != cur_ref {
                    keys.extend(self.selecting(new));
                }
                keys
            }
            InformerEvent::Deleted(rs) => self.owner_key(rs).into_iter().collect(),
        }
    }

    /// deletePod: a Recreate rollout waits for old pods to go.
    fn pod_event(&self, ev: &InformerEvent<Pod>) -> Vec<String> {
        let InformerEvent::Deleted(pod) = ev else { return Vec::new() };
        let ns = ns_of(&pod.metadata);
        let Some(r) = controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet") else { return Vec::new() };
        let Some(rs) = self.replica_sets.get(ns, &r.name).filter(|rs| rs.metadata.uid.as_deref() == Some(r.uid.as_str())) else { return Vec::new() };
        let Some(d) = controller_of(&rs.metadata).and_then(|r| self.resolve(ns, r)) else { return Vec::new() };
        if is_recreate(&d) {
            vec![key_of(d.as_ref())]
        } else {
            Vec::new()
        }
    }

    /// The Deployment's ReplicaSets, adopting and releasing (getReplicaSetsForDeployment).
    async fn replica_sets_for(&self, d: &Deployment) -> Result<Vec<ReplicaSet>, Error> {
        let selector = selector_of(d)?;
        let candidates = self.replica_sets.by_index(NAMESPACE_INDEX, ns_of(&d.metadata));
        let controller_ref = controller_ref_for(d);
        let recheck = || async {
            let fresh = Api::<Deployment>::namespaced(self.client.clone(), ns_of(&d.metadata)).get(name_of(&d.metadata)).await?;
            if fresh.metadata.uid != d.metadata.uid {
                return Err(Error::Other(format!("original Deployment {}/{} is gone", ns_of(&d.metadata), name_of(&d.metadata))));
            }
            if fresh.metadata.deletion_timestamp.is_some() {
                return Err(Error::Other(format!("{}/{} has just been deleted", ns_of(&d.metadata), name_of(&d.metadata))));
            }
            Ok(())
        };
        let (owned, err) = claim(&self.client, &d.metadata, &controller_ref, &selector, candidates, recheck).await;
        if let Some(e) = err {
            return Err(e);
        }
        Ok(owned.into_iter().map(|rs| (*rs).clone()).collect())
    }

    /// Pods of the Deployment by the uid of the ReplicaSet controlling them (getPodMapForDeployment).
    fn pod_map(&self, d: &Deployment, rss: &[ReplicaSet]) -> Result<HashMap<String, Vec<Arc<Pod>>>, Error> {
        let selector = selector_of(d)?;
        let mut map: HashMap<String, Vec<Arc<Pod>>> = rss.iter().filter_map(|rs| rs.metadata.uid.clone()).map(|u| (u, Vec::new())).collect();
        for pod in self.pods.by_index(NAMESPACE_INDEX, ns_of(&d.metadata)) {
            if !selector.matches_opt(pod.metadata.labels.as_ref()) {
                continue;
            }
            if let Some(list) = controller_of(&pod.metadata).and_then(|r| map.get_mut(&r.uid)) {
                list.push(pod);
            }
        }
        Ok(map)
    }

    fn event(&self, d: &Deployment, ty: EventType, reason: &str, message: String) {
        self.recorder.publish(d, ty, reason, message);
    }

    /// Writes the Deployment's status, then its revision annotation if that
    /// moved; `d` becomes what the apiserver returned.
    async fn write_status(&self, d: &mut Deployment) -> Result<(), Error> {
        let api = Api::<Deployment>::namespaced(self.client.clone(), ns_of(&d.metadata));
        let want_revision = d.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).cloned();
        let mut updated = api.replace_status(d).await?;
        let have = updated.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).cloned();
        if let Some(rev) = want_revision.filter(|w| Some(w) != have.as_ref()) {
            let patch = Patch::Merge(serde_json::json!({"metadata": {"annotations": {REVISION: rev}}}));
            updated = api.patch(name_of(&d.metadata), &PostParams::default(), &patch).await?;
        }
        *d = updated;
        Ok(())
    }
}

/// One sync of `key` (syncDeployment).
async fn sync(ctx: Arc<Ctx>, key: String) -> Result<Action, Error> {
    let (ns, name) = split_key(&key);
    let Some(cached) = ctx.deployments.get(ns, name) else { return Ok(Action::Done) };
    let mut d = (*cached).clone();
    let sel = &d.spec.selector;
    if sel.match_labels.as_ref().is_none_or(|m| m.is_empty()) && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty()) {
        ctx.event(&d, EventType::Warning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.".into());
        let st = d.status.get_or_insert_with(Default::default);
        if st.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
            st.observed_generation = d.metadata.generation;
            ctx.write_status(&mut d).await?;
        }
        return Ok(Action::Done);
    }
    let rss = ctx.replica_sets_for(&d).await?;
    if d.metadata.deletion_timestamp.is_some() {
        let (new_rs, old) = ctx.all_replica_sets_and_sync_revision(&mut d, rss, false).await?;
        ctx.sync_status(&mut d, &old, new_rs.as_ref()).await?;
        return Ok(Action::Done);
    }
    ctx.check_paused_conditions(&mut d).await?;
    if d.spec.paused == Some(true) {
        return ctx.sync_scale(&mut d, rss).await.map(|()| Action::Done);
    }
    if ctx.is_scaling_event(&mut d, rss.clone()).await? {
        return ctx.sync_scale(&mut d, rss).await.map(|()| Action::Done);
    }
    if is_recreate(&d) {
        let pods = ctx.pod_map(&d, &rss)?;
        return ctx.rollout_recreate(&mut d, rss, pods).await;
    }
    ctx.rollout_rolling(&mut d, rss).await
}
