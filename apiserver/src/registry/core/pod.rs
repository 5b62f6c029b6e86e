//! Pod: pod-only defaults (SetDefaults_Pod plus the DefaultTolerationSeconds
//! and ServiceAccount admission defaults), status Pending + qosClass on
//! create, the narrow set of mutable spec fields on update, status updates.

use k8s_openapi::api::core::v1::{Container, Pod, PodCondition, PodIP, HostIP, PodSpec, Toleration};
use serde_json::Value;

use crate::registry::pod_template::{default_pod_spec, validate_pod_spec};
use crate::registry::{ErrorList, FieldError, Fields, NameRule, Path, ResourceInfo, Strategy};

pub struct PodStrategy;

/// Upstream's list of what a pod update may change.
pub const UPDATABLE_FIELDS: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Requests default to limits for resources that only have a limit.
fn requests_from_limits(c: &mut Container) {
    let Some(r) = c.resources.as_mut() else { return };
    let Some(limits) = r.limits.clone() else { return };
    let req = r.requests.get_or_insert_with(Default::default);
    for (k, v) in limits {
        req.entry(k).or_insert(v);
    }
}

/// SetDefaults_Pod: what applies to Pods but not to pod templates.
fn default_pod(spec: &mut PodSpec) {
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        requests_from_limits(c);
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    if spec.host_network == Some(true) {
        for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
            for p in c.ports.iter_mut().flatten() {
                if p.host_port.unwrap_or(0) == 0 {
                    p.host_port = Some(p.container_port);
                }
            }
        }
    }
}

/// The DefaultTolerationSeconds admission plugin: tolerate not-ready and
/// unreachable nodes for 300s unless the pod already tolerates them.
fn default_tolerations(spec: &mut PodSpec) {
    let tols = spec.tolerations.get_or_insert_with(Vec::new);
    for key in [NOT_READY, UNREACHABLE] {
        let tolerated = tols.iter().any(|t| {
            let k = t.key.as_deref().unwrap_or("");
            let e = t.effect.as_deref().unwrap_or("");
            (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
        });
        if !tolerated {
            tols.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(300),
                value: None,
            });
        }
    }
}

/// Priority admission sets priority and preemptionPolicy on create; an update
/// that omits them keeps the old values (they are immutable), as upstream.
fn keep_priority(new: &mut PodSpec, old: &PodSpec) {
    if new.priority.is_none() {
        new.priority = old.priority;
    }
    if new.preemption_policy.is_none() {
        new.preemption_policy = old.preemption_policy.clone();
    }
}

/// v1 carries podIP/podIPs (and hostIP/hostIPs) in sync, as conversion does.
fn sync_ips(pod: &mut Pod) {
    let Some(st) = pod.status.as_mut() else { return };
    if let Some(ip) = st.pod_ip.clone().filter(|s| !s.is_empty()) {
        if st.pod_ips.as_ref().is_none_or(|v| v.is_empty()) {
            st.pod_ips = Some(vec![PodIP { ip }]);
        }
    } else if let Some(first) = st.pod_ips.as_ref().and_then(|v| v.first()) {
        st.pod_ip = Some(first.ip.clone());
    }
    if let Some(ip) = st.host_ip.clone().filter(|s| !s.is_empty()) {
        if st.host_ips.as_ref().is_none_or(|v| v.is_empty()) {
            st.host_ips = Some(vec![HostIP { ip }]);
        }
    } else if let Some(first) = st.host_ips.as_ref().and_then(|v| v.first()) {
        st.host_ip = Some(first.ip.clone());
    }
}

/// A short description of what differs between two specs (upstream prints a
/// full cmp.Diff; the fields are what matter).
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let (o, n) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    let mut out = Vec::new();
    if let (Some(o), Some(n)) = (o.as_object(), n.as_object()) {
        let keys: std::collections::BTreeSet<_> = o.keys().chain(n.keys()).collect();
        for k in keys {
            if o.get(k) != n.get(k) {
                out.push(format!("- {k}: {}\n+ {k}: {}", o.get(k).map_or("<nil>".into(), |v| v.to_string()), n.get(k).map_or("<nil>".into(), |v| v.to_string())));
            }
        }
    }
    out.join("\n")
}

fn validate_pod_update(new: &PodSpec, old: &PodSpec) -> ErrorList {
    let mut errs = Vec::new();
    let spec = Path::new("spec");
    // Munge what may change to the old values, then the rest must be equal.
    let mut munged = new.clone();
    if munged.containers.len() == old.containers.len() {
        for (c, o) in munged.containers.iter_mut().zip(&old.containers) {
            c.image = o.image.clone();
        }
    }
    if let (Some(n), Some(o)) = (munged.init_containers.as_mut(), old.init_containers.as_ref()) {
        if n.len() == o.len() {
            for (c, o) in n.iter_mut().zip(o) {
                c.image = o.image.clone();
            }
        }
    }
    match (old.active_deadline_seconds, new.active_deadline_seconds) {
        (Some(_), None) => errs.push(FieldError::invalid_raw(&spec.child("activeDeadlineSeconds"), "nil", "must not update from a positive integer to nil value")),
        (Some(o), Some(n)) if n > o => errs.push(FieldError::invalid_raw(&spec.child("activeDeadlineSeconds"), n, "must be less than or equal to previous value")),
        _ => {}
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    // Tolerations: existing ones stay (NoExecute seconds may shrink), new ones may be added.
    let new_tols = new.tolerations.clone().unwrap_or_default();
    for o in old.tolerations.iter().flatten() {
        let kept = new_tols.iter().any(|n| {
            let same = n.key == o.key && n.operator == o.operator && n.value == o.value && n.effect == o.effect;
            same && (n.toleration_seconds == o.toleration_seconds
                || (o.effect.as_deref() == Some("NoExecute") && matches!((o.toleration_seconds, n.toleration_seconds), (Some(a), Some(b)) if b <= a)))
        });
        if !kept {
            errs.push(FieldError::forbidden(&spec.child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"));
            break;
        }
    }
    munged.tolerations = old.tolerations.clone();
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0) && new.termination_grace_period_seconds == Some(1) {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    // Scheduling gates may only be removed.
    let old_gates = old.scheduling_gates.clone().unwrap_or_default();
    if new.scheduling_gates.iter().flatten().all(|g| old_gates.contains(g)) {
        munged.scheduling_gates = old.scheduling_gates.clone();
    }
    if munged != *old {
        errs.push(FieldError::forbidden(&spec, &format!("{UPDATABLE_FIELDS}\n{}", spec_diff(old, &munged))));
    }
    errs
}

impl Strategy for PodStrategy {
    type Object = Pod;

    const INFO: ResourceInfo = ResourceInfo {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        subresources: &["status", "binding", "eviction"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };

    /// A bound pod that is not terminal gets its grace period (the request's,
    /// else spec.terminationGracePeriodSeconds, default 30) for the kubelet
    /// to stop it and confirm with grace 0; anything else goes now.
    fn graceful_delete(&self, obj: &Value, requested: Option<i64>) -> i64 {
        let bound = obj.pointer("/spec/nodeName").and_then(|n| n.as_str()).is_some_and(|n| !n.is_empty());
        let phase = obj.pointer("/status/phase").and_then(|p| p.as_str()).unwrap_or("");
        if !bound || phase == "Succeeded" || phase == "Failed" {
            return 0;
        }
        let spec_grace = obj.pointer("/spec/terminationGracePeriodSeconds").and_then(|g| g.as_i64()).unwrap_or(30);
        requested.unwrap_or(spec_grace).max(0)
    }
    const RAW_CREATE: bool = true;

    fn default(&self, pod: &mut Pod) {
        if let Some(spec) = pod.spec.as_mut() {
            default_pod_spec(spec);
            default_pod(spec);
        }
        sync_ips(pod);
    }

    fn prepare_for_create(&self, pod: &mut Pod) {
        if let Some(spec) = pod.spec.as_mut() {
            default_tolerations(spec);
            // The ServiceAccount admission plugin.
            if spec.service_account_name.as_deref().unwrap_or("").is_empty() {
                spec.service_account_name = Some("default".into());
                spec.service_account = Some("default".into());
            }
        }
        let gated = pod.spec.as_ref().and_then(|s| s.scheduling_gates.as_ref()).is_some_and(|g| !g.is_empty());
        let mut status = k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Pending".into()),
            qos_class: Some(api::qos::compute_pod_qos(pod).as_str().into()),
            ..Default::default()
        };
        if gated {
            status.conditions = Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("SchedulingGated".into()),
                message: Some("Scheduling is blocked due to non-empty scheduling gates".into()),
                ..Default::default()
            }]);
        }
        pod.status = Some(status);
    }

    fn prepare_for_update(&self, new: &mut Pod, old: &Pod) {
        if let (Some(n), Some(o)) = (new.spec.as_mut(), old.spec.as_ref()) {
            keep_priority(n, o);
        }
    }

    fn admit_cached(&self, pod: &mut Pod, cache: &crate::watch_cache::WatchCache) -> bool {
        if crate::admission::limitranger::any_cached(cache, pod.metadata.namespace.as_deref().unwrap_or_default()) {
            return false;
        }
        pod.spec.as_mut().is_none_or(|spec| crate::admission::priority::admit_pod_cached(cache, spec))
    }

    fn validate(&self, pod: &Pod) -> ErrorList {
        match &pod.spec {
            None => vec![FieldError::required(&Path::new("spec").child("containers"), "")],
            Some(spec) => validate_pod_spec(spec, &Path::new("spec")),
        }
    }

    fn validate_update(&self, new: &Pod, old: &Pod) -> ErrorList {
        let mut errs = self.validate(new);
        if let (Some(n), Some(o)) = (&new.spec, &old.spec) {
            errs.extend(validate_pod_update(n, o));
        }
        errs
    }

    fn prepare_for_status_update(&self, new: &mut Pod, old: &Pod) {
        let old_status = old.status.clone().unwrap_or_default();
        let st = new.status.get_or_insert_with(Default::default);
        // qosClass is set once at creation; old kubelets drop it.
        if st.qos_class.as_deref().unwrap_or("").is_empty() {
            st.qos_class = old_status.qos_class.clone();
        }
        if st.observed_generation.unwrap_or(0) == 0 {
            st.observed_generation = old_status.observed_generation;
        }
        sync_ips(new);
    }

    fn validate_status_update(&self, new: &Pod, old: &Pod) -> ErrorList {
        let mut errs = Vec::new();
        let path = Path::new("status");
        let (st, old_st) = (new.status.clone().unwrap_or_default(), old.status.clone().unwrap_or_default());
        if old_st.qos_class.is_some() && st.qos_class != old_st.qos_class {
            errs.push(FieldError::invalid(&path.child("qosClass"), st.qos_class.unwrap_or_default(), "field is immutable"));
        }
        if let Some(n) = st.nominated_node_name.as_deref().filter(|n| !n.is_empty()) {
            for e in crate::registry::validation::dns1123_subdomain(n) {
                errs.push(FieldError::invalid(&path.child("nominatedNodeName"), n, &e));
            }
        }
        for (field, ips) in [("podIPs", st.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect::<Vec<_>>()), ("hostIPs", st.host_ips.iter().flatten().map(|p| p.ip.clone()).collect())] {
            for (i, ip) in ips.iter().enumerate() {
                for e in crate::registry::validation::ip(ip) {
                    errs.push(FieldError::invalid(&path.child(field).index(i).child("ip"), ip, &e));
                }
            }
            if ips.len() > 1 && ips[0].contains(':') == ips[1].contains(':') {
                errs.push(FieldError::invalid_raw(&path.child(field), format!("{ips:?}").replace('"', ""), "may specify no more than one IP for each IP family"));
            }
        }
        // With restartPolicy Never, a terminated container stays terminated.
        let never = old.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) == Some("Never");
        if never {
            for (i, c) in st.container_statuses.iter().flatten().enumerate() {
                let was_terminated = old_st.container_statuses.iter().flatten().any(|o| o.name == c.name && o.state.as_ref().is_some_and(|s| s.terminated.is_some()));
                if was_terminated && !c.state.as_ref().is_some_and(|s| s.terminated.is_some()) {
                    errs.push(FieldError::forbidden(&path.child("containerStatuses").index(i).child("state"), "may not be transitioned to non-terminated state"));
                }
            }
        }
        errs
    }

    fn fields(&self, pod: &serde_json::Value, out: &mut Fields) {
        use crate::registry::{bool_at, str_at};
        out.insert("spec.nodeName".into(), str_at(pod, "/spec/nodeName"));
        out.insert("spec.restartPolicy".into(), str_at(pod, "/spec/restartPolicy"));
        out.insert("spec.schedulerName".into(), str_at(pod, "/spec/schedulerName"));
        out.insert("spec.serviceAccountName".into(), str_at(pod, "/spec/serviceAccountName"));
        out.insert("spec.hostNetwork".into(), bool_at(pod, "/spec/hostNetwork"));
        out.insert("status.phase".into(), str_at(pod, "/status/phase"));
        let ip = match str_at(pod, "/status/podIPs/0/ip") {
            ip if ip.is_empty() => str_at(pod, "/status/podIP"),
            ip => ip,
        };
        out.insert("status.podIP".into(), ip);
        out.insert("status.nominatedNodeName".into(), str_at(pod, "/status/nominatedNodeName"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    #[test]
    fn graceful_delete_only_for_bound_running_pods() {
        let s = PodStrategy;
        let pod = |node: &str, phase: &str| json!({"spec": {"nodeName": node, "terminationGracePeriodSeconds": 45}, "status": {"phase": phase}});
        assert_eq!(s.graceful_delete(&pod("", "Pending"), None), 0, "unbound: nothing to stop");
        assert_eq!(s.graceful_delete(&pod("n1", "Running"), None), 45, "the spec's grace period");
        assert_eq!(s.graceful_delete(&pod("n1", "Running"), Some(5)), 5, "the request's wins");
        assert_eq!(s.graceful_delete(&pod("n1", "Running"), Some(-3)), 0);
        assert_eq!(s.graceful_delete(&pod("n1", "Succeeded"), None), 0, "terminal");
        assert_eq!(s.graceful_delete(&json!({"spec": {"nodeName": "n1"}}), None), 30, "upstream's default");
    }

    fn create(v: serde_json::Value) -> Result<serde_json::Value, api::status::StatusError> {
        Typed(PodStrategy).admit_create(v)
    }

    fn base() -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}})
    }

    #[test]
    fn create_defaults_status_and_admission_defaults() {
        let p = create(base()).unwrap();
        assert_eq!(p["status"], json!({"phase": "Pending", "qosClass": "Guaranteed"}));
        let spec = &p["spec"];
        assert_eq!(spec["containers"][0]["resources"]["requests"], json!({"cpu": "1", "memory": "1Gi"}));
        assert_eq!(spec["enableServiceLinks"], json!(true));
        // priority is the Priority admission's (crate::admission::priority).
        assert_eq!(spec.get("priority"), None);
        assert_eq!(spec["serviceAccountName"], json!("default"));
        assert_eq!(spec["restartPolicy"], json!("Always"));
        assert_eq!(
            spec["tolerations"],
            json!([
                {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ])
        );
    }

    #[test]
    fn existing_toleration_suppresses_default() {
        let mut v = base();
        v["spec"]["tolerations"] = json!([{"operator": "Exists"}]);
        let p = create(v).unwrap();
        assert_eq!(p["spec"]["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn missing_containers_is_required() {
        let v = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}});
        let e = create(v).unwrap_err();
        assert_eq!(e.message, r#"Pod "p" is invalid: spec.containers: Required value"#);
        assert_eq!(e.reason(), api::Reason::Invalid);
    }

    #[test]
    fn update_may_change_image_only() {
        let kind = Typed(PodStrategy);
        let old = create(base()).unwrap();
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("busybox:1.36");
        new["spec"]["tolerations"].as_array_mut().unwrap().push(json!({"key": "x", "operator": "Exists"}));
        kind.admit_update(new.clone(), &old).unwrap();
        new["spec"]["restartPolicy"] = json!("Never");
        let e = kind.admit_update(new, &old).unwrap_err();
        assert!(e.message.starts_with(&format!(r#"Pod "p" is invalid: spec: Forbidden: {UPDATABLE_FIELDS}"#)), "{}", e.message);
        assert!(e.message.contains("restartPolicy"));
        let mut removed = old.clone();
        removed["spec"]["tolerations"] = json!([]);
        let e = kind.admit_update(removed, &old).unwrap_err();
        assert!(e.message.contains("spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"), "{}", e.message);
    }

    #[test]
    fn status_update_keeps_qos_and_syncs_ips() {
        let kind = Typed(PodStrategy);
        let old = create(base()).unwrap();
        let mut new = old.clone();
        new["status"] = json!({"phase": "Running", "podIP": "10.0.0.5"});
        let got = kind.admit_status_update(new, &old).unwrap();
        assert_eq!(got["status"]["qosClass"], json!("Guaranteed"));
        assert_eq!(got["status"]["podIPs"], json!([{"ip": "10.0.0.5"}]));
        let mut bad = old.clone();
        bad["status"] = json!({"qosClass": "BestEffort", "podIPs": [{"ip": "nope"}]});
        let e = kind.admit_status_update(bad, &old).unwrap_err();
        assert_eq!(
            e.message,
            r#"Pod "p" is invalid: [status.qosClass: Invalid value: "BestEffort": field is immutable, status.podIPs[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)]"#
        );
    }

    #[test]
    fn selectable_fields() {
        let mut f = Fields::new();
        PodStrategy.fields(&create(base()).unwrap(), &mut f);
        assert_eq!(f["spec.nodeName"], "");
        assert_eq!(f["status.phase"], "Pending");
        assert_eq!(f["spec.hostNetwork"], "false");
        assert_eq!(f["spec.schedulerName"], "default-scheduler");
        assert_eq!(f.len(), 8);
    }

    /// The raw create path admits what the general path admits (apart from
    /// the server-set uid, timestamp and generated name), and leaves every
    /// body that fails or needs a lookup to the general path.
    #[test]
    fn raw_create_matches_general_path() {
        use crate::registry::{Kind, Kinds, Typed};
        let kind = Typed(PodStrategy);
        let class = json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"});
        let cache = crate::watch_cache::WatchCache::from_objects(Kinds::new(), &[("/registry/priorityclasses/system-node-critical", class)]);
        let bodies = [
            (json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-", "labels": {"a": "b"}, "resourceVersion": "5"},
                "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}), 0),
            (json!({"metadata": {"name": "p", "namespace": "team"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}], "priorityClassName": "system-node-critical"}}), 2000001000),
        ];
        let scrub = |mut v: serde_json::Value| {
            let m = v["metadata"].as_object_mut().unwrap();
            for f in ["uid", "creationTimestamp", "name"] {
                m.remove(f);
            }
            let spec = v["spec"].as_object_mut().unwrap();
            spec.remove("priority");
            spec.remove("preemptionPolicy");
            v
        };
        for (body, priority) in bodies {
            let raw = serde_json::to_vec(&body).unwrap();
            let fast = kind.admit_create_raw(&raw, Some("team"), &cache).expect("raw path taken");
            let general = crate::store::testing_parse(&raw, &PodStrategy::INFO, Some("team")).unwrap();
            let general = kind.admit_create(general).unwrap();
            let fast_v: serde_json::Value = serde_json::from_slice(&fast.bytes).unwrap();
            assert_eq!(fast.namespace, "team");
            assert_eq!(fast.name, fast_v["metadata"]["name"].as_str().unwrap());
            assert_eq!(fast_v["spec"]["priority"], json!(priority));
            assert_eq!(fast_v["spec"]["preemptionPolicy"], json!("PreemptLowerPriority"));
            assert!(fast_v["metadata"].get("resourceVersion").is_none());
            assert_eq!(scrub(fast_v), scrub(general));
        }
        for raw in [
            &br#"{"metadata": {"name": "p"}, "spec": {"containerz": []}}"#[..],
            b"{not json",
            br#"{"kind": "Service", "metadata": {"name": "p"}}"#,
            br#"{"metadata": {"name": "p", "namespace": "a"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}"#,
            br#"{"metadata": {"name": "P"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}"#,
            br#"{"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}], "priorityClassName": "high"}}"#,
            br#"{"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}], "priority": 7}}"#,
        ] {
            assert!(kind.admit_create_raw(raw, Some("b"), &cache).is_none(), "{}", String::from_utf8_lossy(raw));
        }
    }
}
