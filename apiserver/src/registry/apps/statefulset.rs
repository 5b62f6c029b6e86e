//! StatefulSet (apps/v1): OrderedReady, RollingUpdate partition 0 and
//! maxUnavailable 1, PVC retention Retain/Retain, replicas 1, history 10;
//! only a few spec fields may change after creation.

use k8s_openapi::api::apps::v1::{RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetUpdateStrategy};

use crate::registry::pod_template::default_template_spec;
use crate::registry::workload::{self as w, nonneg, spec, validate_selector_and_template_with_claims};
use crate::registry::{ErrorList, FieldError, NameRule, ResourceInfo, Strategy};

pub struct StatefulSetStrategy;

pub const UPDATE_FORBIDDEN: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

fn go_rolling(r: &RollingUpdateStatefulSetStrategy) -> String {
    let mu = match &r.max_unavailable {
        None => "(*intstr.IntOrString)(nil)".to_string(),
        Some(v) => format!("&{}", w::go_int_or_string(v)),
    };
    format!("apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{mu}}}", r.partition.unwrap_or(0))
}

fn validate_update_strategy(us: &StatefulSetUpdateStrategy, errs: &mut ErrorList) {
    let path = spec().child("updateStrategy");
    match us.type_.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&path, "")),
        "OnDelete" => {
            if let Some(r) = &us.rolling_update {
                errs.push(FieldError::invalid_raw(&path.child("rollingUpdate"), go_rolling(r), "only allowed for updateStrategy 'RollingUpdate'"));
            }
        }
        "RollingUpdate" => {
            if let Some(r) = &us.rolling_update {
                let p = path.child("rollingUpdate");
                if let Some(part) = r.partition {
                    errs.extend(crate::registry::validation::nonnegative(part.into(), &p.child("partition")));
                }
                if let Some(mu) = &r.max_unavailable {
                    w::validate_int_or_percent(mu, &p.child("maxUnavailable"), errs);
                    w::not_more_than_100_percent(mu, &p.child("maxUnavailable"), errs);
                    if w::iop(Some(mu)) == 0 {
                        errs.push(FieldError::invalid_raw(&p.child("maxUnavailable"), w::go_int_or_string(mu), "must be greater than 0"));
                    }
                }
            }
        }
        t => {
            let ru = if us.rolling_update.is_some() { "&apps.RollingUpdateStatefulSetStrategy{...}" } else { "(*apps.RollingUpdateStatefulSetStrategy)(nil)" };
            errs.push(FieldError::invalid_raw(&path, format!("apps.StatefulSetUpdateStrategy{{Type:{t:?}, RollingUpdate:{ru}}}"), "must be 'RollingUpdate' or 'OnDelete'"));
        }
    }
}

impl Strategy for StatefulSetStrategy {
    type Object = StatefulSet;

    const INFO: ResourceInfo = ResourceInfo {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        kind: "StatefulSet",
        namespaced: true,
        short_names: &["sts"],
        categories: &["all"],
        subresources: &["status", "scale"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        w::require_json(v, &[("/spec", "spec"), ("/spec/selector", "spec.selector"), ("/spec/template", "spec.template")])
    }

    fn default(&self, sts: &mut StatefulSet) {
        let spec = &mut sts.spec;
        if spec.pod_management_policy.as_deref().unwrap_or("").is_empty() {
            spec.pod_management_policy = Some("OrderedReady".into());
        }
        let us = spec.update_strategy.get_or_insert_with(Default::default);
        if us.type_.as_deref().unwrap_or("").is_empty() {
            us.type_ = Some("RollingUpdate".into());
            us.rolling_update.get_or_insert_with(Default::default);
        }
        if us.type_.as_deref() == Some("RollingUpdate") {
            if let Some(r) = us.rolling_update.as_mut() {
                r.partition.get_or_insert(0);
                // MaxUnavailableStatefulSet is beta (on by default) since 1.35.
                r.max_unavailable.get_or_insert(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1));
            }
        }
        let pol = spec.persistent_volume_claim_retention_policy.get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
        for f in [&mut pol.when_deleted, &mut pol.when_scaled] {
            if f.as_deref().unwrap_or("").is_empty() {
                *f = Some("Retain".into());
            }
        }
        spec.replicas.get_or_insert(1);
        spec.revision_history_limit.get_or_insert(10);
        default_template_spec(&mut spec.template);
        for pvc in spec.volume_claim_templates.iter_mut().flatten() {
            crate::registry::core::pvc::default_claim(pvc);
        }
    }

    fn prepare_for_create(&self, sts: &mut StatefulSet) {
        sts.status = Some(Default::default());
    }

    fn validate(&self, sts: &StatefulSet) -> ErrorList {
        let s = &sts.spec;
        let mut errs = Vec::new();
        match s.pod_management_policy.as_deref().unwrap_or("") {
            "" => errs.push(FieldError::required(&spec().child("podManagementPolicy"), "")),
            "OrderedReady" | "Parallel" => {}
            p => errs.push(FieldError::invalid(&spec().child("podManagementPolicy"), p, "must be 'OrderedReady' or 'Parallel'")),
        }
        if let Some(us) = &s.update_strategy {
            validate_update_strategy(us, &mut errs);
        }
        if let Some(pol) = &s.persistent_volume_claim_retention_policy {
            let p = spec().child("persistentVolumeClaimRetentionPolicy");
            for (name, v) in [("whenDeleted", &pol.when_deleted), ("whenScaled", &pol.when_scaled)] {
                let v = v.as_deref().unwrap_or("");
                if v != "Retain" && v != "Delete" {
                    errs.push(FieldError::not_supported(&p.child(name), v, &["Retain", "Delete"]));
                }
            }
        }
        nonneg(&mut errs, "replicas", s.replicas.map(Into::into));
        nonneg(&mut errs, "minReadySeconds", s.min_ready_seconds.map(Into::into));
        let claims: Vec<String> = s.volume_claim_templates.iter().flatten().filter_map(|c| c.metadata.name.clone()).collect();
        errs.extend(validate_selector_and_template_with_claims(Some(&s.selector), Some(&s.template), "statefulset", "StatefulSet", &claims));
        for (i, pvc) in s.volume_claim_templates.iter().flatten().enumerate() {
            if let Some(ps) = &pvc.spec {
                errs.extend(crate::registry::core::pvc::validate_claim_spec(ps, &spec().child("volumeClaimTemplates").index(i).child("spec")));
            }
        }
        errs
    }

    fn validate_update(&self, new: &StatefulSet, old: &StatefulSet) -> ErrorList {
        let mut errs = self.validate(new);
        {
            let (n, o) = (&new.spec, &old.spec);
            let mut munged = n.clone();
            munged.replicas = o.replicas;
            munged.ordinals = o.ordinals.clone();
            munged.template = o.template.clone();
            munged.update_strategy = o.update_strategy.clone();
            munged.revision_history_limit = o.revision_history_limit;
            munged.persistent_volume_claim_retention_policy = o.persistent_volume_claim_retention_policy.clone();
            munged.min_ready_seconds = o.min_ready_seconds;
            if munged != *o {
                errs.push(FieldError::forbidden(&spec(), UPDATE_FORBIDDEN));
            }
        }
        errs
    }

    fn validate_status_update(&self, new: &StatefulSet, _old: &StatefulSet) -> ErrorList {
        let mut errs = Vec::new();
        let s = new.status.clone().unwrap_or_default();
        w::nonneg_status(&mut errs, &[
            ("replicas", Some(s.replicas.into())),
            ("readyReplicas", s.ready_replicas.map(Into::into)),
            ("currentReplicas", s.current_replicas.map(Into::into)),
            ("updatedReplicas", s.updated_replicas.map(Into::into)),
            ("availableReplicas", s.available_replicas.map(Into::into)),
            ("observedGeneration", s.observed_generation),
            ("collisionCount", s.collision_count.map(Into::into)),
        ]);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn sts() -> serde_json::Value {
        json!({"metadata": {"name": "db", "namespace": "default"}, "spec": {"serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "db:1"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    }

    #[test]
    fn defaults_match_upstream() {
        let s = Typed(StatefulSetStrategy).admit_create(sts()).unwrap();
        let spec = &s["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "partition": 0}}));
        assert_eq!(spec["persistentVolumeClaimRetentionPolicy"], json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");
        assert_eq!(spec["volumeClaimTemplates"][0]["status"], json!({"phase": "Pending"}));
    }

    #[test]
    fn a_volume_mount_may_name_a_claim_template() {
        // The book's kubia-statefulset.yaml: the mount names a claim template, no `volumes`.
        let kind = Typed(StatefulSetStrategy);
        let mut book = sts();
        book["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/var/data"}]);
        kind.admit_create(book.clone()).unwrap();
        book["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "nosuch", "mountPath": "/var/data"}]);
        let e = kind.admit_create(book).unwrap_err();
        assert_eq!(e.message, r#"StatefulSet "db" is invalid: spec.template.spec.containers[0].volumeMounts[0].name: Not found: "nosuch""#);
    }

    #[test]
    fn validation_and_update_rules() {
        let kind = Typed(StatefulSetStrategy);
        let mut bad = sts();
        bad["spec"]["podManagementPolicy"] = json!("Random");
        bad["spec"]["updateStrategy"] = json!({"type": "OnDelete", "rollingUpdate": {"partition": 1}});
        let e = kind.admit_create(bad).unwrap_err();
        assert_eq!(
            e.message,
            r#"StatefulSet "db" is invalid: [spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel', spec.updateStrategy.rollingUpdate: Invalid value: apps.RollingUpdateStatefulSetStrategy{Partition:1, MaxUnavailable:(*intstr.IntOrString)(nil)}: only allowed for updateStrategy 'RollingUpdate']"#
        );
        let old = kind.admit_create(sts()).unwrap();
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(3);
        scaled["spec"]["template"]["spec"]["containers"][0]["image"] = json!("db:2");
        kind.admit_update(scaled, &old).unwrap();
        let mut renamed = old.clone();
        renamed["spec"]["serviceName"] = json!("other");
        let e = kind.admit_update(renamed, &old).unwrap_err();
        assert_eq!(e.message, format!(r#"StatefulSet "db" is invalid: spec: Forbidden: {UPDATE_FORBIDDEN}"#));
    }
}
