//! LimitRanger (upstream plugin/pkg/admission/limitranger): the namespace's
//! LimitRanges default a new Pod's container requests and limits (items of
//! type Container: `defaultRequest`, `default`) and refuse Pods and
//! PersistentVolumeClaims outside their min / max / maxLimitRequestRatio,
//! with upstream's messages, e.g.
//! `pods "too-big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`.
//! Pod updates are not checked (their containers' resources are immutable).

use std::collections::BTreeMap;

use api::quantity::{resource_list, Quantity, ResourceList};
use api::resources::{pod_limits, pod_requests, PodResourcesOptions};
use api::status::StatusError;
use k8s_openapi::api::core::v1::{Container, LimitRange, LimitRangeItem, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KQuantity;
use serde_json::Value;

use crate::registry::pod_template::validate_pod_spec;
use crate::registry::{Path, ResourceInfo};
use crate::storage::{prefix_for, Storage};
use crate::store::errors;
use crate::watch_cache::WatchCache;

/// The annotation naming what the plugin set (upstream's limitRangerAnnotation).
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// resource.MaxMilliValue: above it, compare whole units (milli would overflow).
const MAX_MILLI_VALUE: i64 = i64::MAX / 1000;

/// The LimitRanges of `namespace`, read from etcd so that one created just
/// before the pod counts (upstream falls back to a live lookup for the same reason).
pub async fn limit_ranges(storage: &Storage, namespace: &str) -> Result<Vec<LimitRange>, StatusError> {
    let list = storage.list(&prefix_for("limitranges", Some(namespace)), None, 0, 0).await.map_err(errors::storage)?;
    Ok(list.items.iter().filter_map(|kv| serde_json::from_slice(&kv.value).ok()).collect())
}

/// Whether the watch cache holds a LimitRange in `namespace`: the pods' raw
/// create path (which has no I/O) then defers to the general one. A
/// LimitRange applies to pods created once the cache has seen it.
pub fn any_cached(cache: &WatchCache, namespace: &str) -> bool {
    !cache.list(&prefix_for("limitranges", Some(namespace))).0.is_empty()
}

/// Admits a new Pod: defaults from every LimitRange, validates the pod
/// again (upstream validates after mutating admission, so a default limit
/// below a request is `Invalid`), then checks each LimitRange's bounds.
pub fn admit_pod(info: &ResourceInfo, ranges: &[LimitRange], obj: &mut Value) -> Result<(), StatusError> {
    if ranges.is_empty() {
        return Ok(());
    }
    let mut pod: Pod = serde_json::from_value(obj.clone()).map_err(errors::internal)?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    for lr in ranges {
        default_pod(lr, &mut pod);
    }
    if let Some(spec) = &pod.spec {
        let invalid = validate_pod_spec(spec, &Path::new("spec"));
        if !invalid.is_empty() {
            return Err(crate::registry::invalid(info, &name, invalid));
        }
    }
    let errs: Vec<String> = ranges.iter().flat_map(|lr| validate_pod(lr, &pod)).collect();
    if !errs.is_empty() {
        return Err(errors::forbidden(info, pod.metadata.name.as_deref().unwrap_or_default(), &aggregate(errs)));
    }
    *obj = serde_json::to_value(&pod).map_err(errors::internal)?;
    Ok(())
}

/// Admits a new PersistentVolumeClaim against the PersistentVolumeClaim items.
pub fn admit_claim(info: &ResourceInfo, ranges: &[LimitRange], obj: &Value) -> Result<(), StatusError> {
    if ranges.is_empty() {
        return Ok(());
    }
    let pvc: PersistentVolumeClaim = serde_json::from_value(obj.clone()).map_err(errors::internal)?;
    let errs: Vec<String> = ranges.iter().flat_map(|lr| validate_claim(lr, &pvc)).collect();
    if !errs.is_empty() {
        return Err(errors::forbidden(info, pvc.metadata.name.as_deref().unwrap_or_default(), &aggregate(errs)));
    }
    Ok(())
}

/// utilerrors.NewAggregate's message: one error as is, several as `[a, b]` (duplicates once).
fn aggregate(mut errs: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    errs.retain(|e| seen.insert(e.clone()));
    if errs.len() == 1 {
        errs.remove(0)
    } else {
        format!("[{}]", errs.join(", "))
    }
}

fn items<'a>(lr: &'a LimitRange, ty: &'a str) -> impl Iterator<Item = &'a LimitRangeItem> + 'a {
    lr.spec.iter().flat_map(|s| s.limits.iter()).filter(move |i| i.type_ == ty)
}

fn list(l: &Option<BTreeMap<String, KQuantity>>) -> ResourceList {
    resource_list(l.as_ref())
}

/// defaultContainerResourceRequirements: the Container items' defaults (later items win).
fn container_defaults(lr: &LimitRange) -> (BTreeMap<String, KQuantity>, BTreeMap<String, KQuantity>) {
    let (mut requests, mut limits) = (BTreeMap::new(), BTreeMap::new());
    for item in items(lr, "Container") {
        requests.extend(item.default_request.clone().unwrap_or_default());
        limits.extend(item.default.clone().unwrap_or_default());
    }
    (requests, limits)
}

/// mergePodResourceRequirements: fills what each container leaves unset and
/// records it in the `kubernetes.io/limit-ranger` annotation.
fn default_pod(lr: &LimitRange, pod: &mut Pod) {
    let (requests, limits) = container_defaults(lr);
    if requests.is_empty() && limits.is_empty() {
        return;
    }
    let Some(spec) = pod.spec.as_mut() else { return };
    let mut notes = Vec::new();
    for c in spec.containers.iter_mut() {
        merge(c, &requests, &limits, "container", &mut notes);
    }
    for c in spec.init_containers.iter_mut().flatten() {
        merge(c, &requests, &limits, "init container", &mut notes);
    }
    if !notes.is_empty() {
        pod.metadata.annotations.get_or_insert_with(Default::default).insert(ANNOTATION.to_string(), format!("LimitRanger plugin set: {}", notes.join("; ")));
    }
}

fn merge(c: &mut Container, requests: &BTreeMap<String, KQuantity>, limits: &BTreeMap<String, KQuantity>, prefix: &str, notes: &mut Vec<String>) {
    let res = c.resources.get_or_insert_with(Default::default);
    let (mut set_requests, mut set_limits) = (Vec::new(), Vec::new());
    for (k, v) in limits {
        let l = res.limits.get_or_insert_with(Default::default);
        if !l.contains_key(k) {
            l.insert(k.clone(), v.clone());
            set_limits.push(k.clone());
        }
    }
    for (k, v) in requests {
        let r = res.requests.get_or_insert_with(Default::default);
        if !r.contains_key(k) {
            r.insert(k.clone(), v.clone());
            set_requests.push(k.clone());
        }
    }
    if !set_requests.is_empty() {
        notes.push(format!("{} request for {prefix} {}", set_requests.join(", "), c.name));
    }
    if !set_limits.is_empty() {
        notes.push(format!("{} limit for {prefix} {}", set_limits.join(", "), c.name));
    }
}

/// requestLimitEnforcedValues: milli units unless that would overflow.
fn values(req: Option<&Quantity>, lim: Option<&Quantity>, enforced: &Quantity) -> (i64, i64, i64) {
    let (r, l) = (req.copied().unwrap_or_default(), lim.copied().unwrap_or_default());
    if r.value() <= MAX_MILLI_VALUE && l.value() <= MAX_MILLI_VALUE && enforced.value() <= MAX_MILLI_VALUE {
        (r.milli_value(), l.milli_value(), enforced.milli_value())
    } else {
        (r.value(), l.value(), enforced.value())
    }
}

fn min_constraint(ty: &str, name: &str, enforced: &Quantity, requests: &ResourceList, limits: &ResourceList) -> Option<String> {
    let (req, lim) = (requests.get(name), limits.get(name));
    let (r, l, e) = values(req, lim, enforced);
    let Some(req) = req else { return Some(format!("minimum {name} usage per {ty} is {enforced}.  No request is specified")) };
    if r < e {
        return Some(format!("minimum {name} usage per {ty} is {enforced}, but request is {req}"));
    }
    match lim {
        Some(lim) if l < e => Some(format!("minimum {name} usage per {ty} is {enforced}, but limit is {lim}")),
        _ => None,
    }
}

fn max_constraint(ty: &str, name: &str, enforced: &Quantity, requests: &ResourceList, limits: &ResourceList) -> Option<String> {
    let (req, lim) = (requests.get(name), limits.get(name));
    let (r, l, e) = values(req, lim, enforced);
    let Some(lim) = lim else { return Some(format!("maximum {name} usage per {ty} is {enforced}.  No limit is specified")) };
    if l > e {
        return Some(format!("maximum {name} usage per {ty} is {enforced}, but limit is {lim}"));
    }
    match req {
        Some(req) if r > e => Some(format!("maximum {name} usage per {ty} is {enforced}, but request is {req}")),
        _ => None,
    }
}

/// maxRequestConstraint (claims: only the request is user input).
fn max_request_constraint(ty: &str, name: &str, enforced: &Quantity, requests: &ResourceList) -> Option<String> {
    let req = requests.get(name);
    let (r, _, e) = values(req, None, enforced);
    let Some(req) = req else { return Some(format!("maximum {name} usage per {ty} is {enforced}.  No request is specified")) };
    (r > e).then(|| format!("maximum {name} usage per {ty} is {enforced}, but request is {req}"))
}

fn ratio_constraint(ty: &str, name: &str, enforced: &Quantity, requests: &ResourceList, limits: &ResourceList) -> Option<String> {
    let (req, lim) = (requests.get(name), limits.get(name));
    let (r, l, _) = values(req, lim, enforced);
    if req.is_none() || r == 0 {
        return Some(format!("{name} max limit to request ratio per {ty} is {enforced}, but no request is specified or request is 0"));
    }
    if lim.is_none() || l == 0 {
        return Some(format!("{name} max limit to request ratio per {ty} is {enforced}, but no limit is specified or limit is 0"));
    }
    let shown = l as f64 / r as f64;
    let (observed, max) = if enforced.value() <= MAX_MILLI_VALUE { (shown * 1000.0, enforced.milli_value() as f64) } else { (shown, enforced.value() as f64) };
    // Go's %f: six decimals.
    (observed > max).then(|| format!("{name} max limit to request ratio per {ty} is {enforced}, but provided ratio is {shown:.6}"))
}

/// min, max and maxLimitRequestRatio of one item against requests and limits.
fn check_item(item: &LimitRangeItem, ty: &str, requests: &ResourceList, limits: &ResourceList, errs: &mut Vec<String>) {
    for (k, v) in list(&item.min) {
        errs.extend(min_constraint(ty, &k, &v, requests, limits));
    }
    for (k, v) in list(&item.max) {
        errs.extend(max_constraint(ty, &k, &v, requests, limits));
    }
    for (k, v) in list(&item.max_limit_request_ratio) {
        errs.extend(ratio_constraint(ty, &k, &v, requests, limits));
    }
}

/// PodValidateLimitFunc: Container items per container (and init container), Pod items on the pod's totals.
fn validate_pod(lr: &LimitRange, pod: &Pod) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(spec) = pod.spec.as_ref() else { return errs };
    for item in lr.spec.iter().flat_map(|s| s.limits.iter()) {
        match item.type_.as_str() {
            "Container" => {
                for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
                    let res = c.resources.clone().unwrap_or_default();
                    check_item(item, "Container", &list(&res.requests), &list(&res.limits), &mut errs);
                }
            }
            "Pod" => {
                let opts = PodResourcesOptions::default();
                check_item(item, "Pod", &pod_requests(pod, &opts), &pod_limits(pod, &opts), &mut errs);
            }
            _ => {}
        }
    }
    errs
}

/// PersistentVolumeClaimValidateLimitFunc: min on the request (limits are not user input), max on the request.
fn validate_claim(lr: &LimitRange, pvc: &PersistentVolumeClaim) -> Vec<String> {
    let mut errs = Vec::new();
    let requests = pvc.spec.as_ref().and_then(|s| s.resources.as_ref()).map(|r| list(&r.requests)).unwrap_or_default();
    for item in items(lr, "PersistentVolumeClaim") {
        for (k, v) in list(&item.min) {
            errs.extend(min_constraint("PersistentVolumeClaim", &k, &v, &requests, &ResourceList::new()));
        }
        for (k, v) in list(&item.max) {
            errs.extend(max_request_constraint("PersistentVolumeClaim", &k, &v, &requests));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The book's LimitRange (Kubernetes in Action, ch. 14, limits.yaml), as the registry defaults it.
    fn book_limits() -> LimitRange {
        serde_json::from_value(json!({"metadata": {"name": "example", "namespace": "default"}, "spec": {"limits": [
            {"type": "Pod", "min": {"cpu": "50m", "memory": "5Mi"}, "max": {"cpu": "1", "memory": "1Gi"}},
            {"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "10Mi"}, "default": {"cpu": "200m", "memory": "100Mi"},
             "min": {"cpu": "50m", "memory": "5Mi"}, "max": {"cpu": "1", "memory": "1Gi"}, "maxLimitRequestRatio": {"cpu": "4", "memory": "10"}},
            {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}
        ]}}))
        .unwrap()
    }

    fn info(plural: &'static str) -> ResourceInfo {
        use crate::registry::Strategy;
        match plural {
            "pods" => crate::registry::core::pod::PodStrategy::INFO,
            _ => crate::registry::core::pvc::PersistentVolumeClaimStrategy::INFO,
        }
    }

    /// A pod as admission sees it: defaulted by its strategy.
    fn pod(name: &str, resources: Value) -> Value {
        use crate::registry::Strategy;
        let mut p: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
               "spec": {"containers": [{"name": "main", "image": "busybox", "resources": resources}]}}))
        .unwrap();
        crate::registry::core::pod::PodStrategy.default(&mut p);
        serde_json::to_value(&p).unwrap()
    }

    #[test]
    fn defaults_fill_what_containers_leave_unset_and_are_annotated() {
        let mut p = pod("kubia-manual", json!({}));
        admit_pod(&info("pods"), &[book_limits()], &mut p).unwrap();
        let r = &p["spec"]["containers"][0]["resources"];
        assert_eq!(r, &json!({"requests": {"cpu": "100m", "memory": "10Mi"}, "limits": {"cpu": "200m", "memory": "100Mi"}}));
        assert_eq!(p["metadata"]["annotations"][ANNOTATION], "LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main");

        // What is set stays; only the rest is filled.
        let mut p = pod("partial", json!({"requests": {"cpu": "300m"}, "limits": {"cpu": "400m"}}));
        admit_pod(&info("pods"), &[book_limits()], &mut p).unwrap();
        let r = &p["spec"]["containers"][0]["resources"];
        assert_eq!(r, &json!({"requests": {"cpu": "300m", "memory": "10Mi"}, "limits": {"cpu": "400m", "memory": "100Mi"}}));
        assert_eq!(p["metadata"]["annotations"][ANNOTATION], "LimitRanger plugin set: memory request for container main; memory limit for container main");
    }

    #[test]
    fn the_books_pod_that_asks_for_too_much_is_refused() {
        // limits-pod-too-big.yaml asks for cpu 2 and sets no limit. With the
        // default limit (200m) filled in, upstream's validation refuses it
        // first (it validates after mutating admission).
        let mut p = pod("too-big", json!({"requests": {"cpu": "2"}}));
        let err = admit_pod(&info("pods"), &[book_limits()], &mut p).unwrap_err();
        assert_eq!(err.message, r#"Pod "too-big" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 200m"#);
        // With its own limit, the LimitRange's bounds refuse it, per Pod and per Container.
        let mut p = pod("too-big", json!({"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}));
        let err = admit_pod(&info("pods"), &[book_limits()], &mut p).unwrap_err();
        assert_eq!(
            err.message,
            "pods \"too-big\" is forbidden: [maximum cpu usage per Pod is 1, but limit is 2, maximum cpu usage per Container is 1, but limit is 2]"
        );
    }

    #[test]
    fn one_violation_is_reported_without_brackets() {
        let lr: LimitRange = serde_json::from_value(json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}})).unwrap();
        let mut p = pod("big", json!({"limits": {"cpu": "2"}}));
        let err = admit_pod(&info("pods"), &[lr.clone()], &mut p).unwrap_err();
        assert_eq!(err.message, "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2");
        let mut p = pod("unlimited", json!({}));
        let err = admit_pod(&info("pods"), &[lr], &mut p).unwrap_err();
        assert_eq!(err.message, "pods \"unlimited\" is forbidden: maximum cpu usage per Container is 1.  No limit is specified");
    }

    #[test]
    fn min_and_ratio() {
        let lr: LimitRange = serde_json::from_value(json!({"spec": {"limits": [{"type": "Container", "min": {"memory": "64Mi"}, "maxLimitRequestRatio": {"memory": "2"}}]}})).unwrap();
        let mut p = pod("small", json!({"requests": {"memory": "32Mi"}, "limits": {"memory": "256Mi"}}));
        let err = admit_pod(&info("pods"), &[lr.clone()], &mut p).unwrap_err();
        assert_eq!(
            err.message,
            "pods \"small\" is forbidden: [minimum memory usage per Container is 64Mi, but request is 32Mi, memory max limit to request ratio per Container is 2, but provided ratio is 8.000000]"
        );
        // (A limit alone is not a case: pod defaulting copies it to the request.)
        let mut p = pod("nolimit", json!({"requests": {"memory": "128Mi"}}));
        let err = admit_pod(&info("pods"), &[lr], &mut p).unwrap_err();
        assert_eq!(err.message, "pods \"nolimit\" is forbidden: memory max limit to request ratio per Container is 2, but no limit is specified or limit is 0");
    }

    #[test]
    fn claims_between_min_and_max_storage() {
        let claim = |name: &str, size: &str| json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
        admit_claim(&info("persistentvolumeclaims"), &[book_limits()], &claim("ok", "5Gi")).unwrap();
        let err = admit_claim(&info("persistentvolumeclaims"), &[book_limits()], &claim("huge", "20Gi")).unwrap_err();
        assert_eq!(err.message, "persistentvolumeclaims \"huge\" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi");
        let err = admit_claim(&info("persistentvolumeclaims"), &[book_limits()], &claim("tiny", "100Mi")).unwrap_err();
        assert_eq!(err.message, "persistentvolumeclaims \"tiny\" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 100Mi");
    }
}
