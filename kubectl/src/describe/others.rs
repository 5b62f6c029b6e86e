//! Nodes, namespaces, config maps, secrets, service accounts, storage
//! classes, PVs and PVCs.

use chrono::{DateTime, Utc};
use serde_json::Value;

use std::collections::BTreeMap;

use super::{annotations, events, header, labels, rfc1123z, Evs, W};
use api::quantity::{Quantity, ResourceList};
use crate::printers::kinds::{access_modes, node_roles};
use crate::util::{arr, format_labels, s};

/// Go's %v of a []string: "[a b]".
fn go_list(v: &Value, ptr: &str) -> String {
    let items: Vec<&str> = arr(v, ptr).iter().filter_map(Value::as_str).collect();
    format!("[{}]", items.join(" "))
}

/// `lease`: the node's Lease, or why it could not be read; `pods`: the
/// node's non-terminated pods.
pub fn node(n: &Value, lease: Result<Value, String>, pods: &[Value], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(n)));
    w.w(0, &format!("Roles:\t{}\n", node_roles(n)));
    labels(&mut w, "Labels", n.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", n.pointer("/metadata/annotations"));
    w.w(0, &format!("CreationTimestamp:\t{}\n", rfc1123z(s(n, "/metadata/creationTimestamp"))));
    let taints = arr(n, "/spec/taints");
    w.w(0, "Taints:\t");
    if taints.is_empty() {
        w.w(0, "<none>\n");
    }
    for (k, t) in taints.iter().enumerate() {
        if k != 0 {
            w.w(0, "\t");
        }
        let mut line = s(t, "/key").to_string();
        if !s(t, "/value").is_empty() {
            line.push_str(&format!("={}", s(t, "/value")));
        }
        line.push_str(&format!(":{}\n", s(t, "/effect")));
        w.w(0, &line);
    }
    let unsched = n.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
    w.w(0, &format!("Unschedulable:\t{unsched}\n"));
    match lease {
        Ok(l) => {
            w.w(0, "Lease:\n");
            let or_unset = |p: &str, time: bool| match s(&l, p) {
                "" => "<unset>".to_string(),
                x if time => rfc1123z(x),
                x => x.to_string(),
            };
            w.w(1, &format!("HolderIdentity:\t{}\n", or_unset("/spec/holderIdentity", false)));
            w.w(1, &format!("AcquireTime:\t{}\n", or_unset("/spec/acquireTime", true)));
            w.w(1, &format!("RenewTime:\t{}\n", or_unset("/spec/renewTime", true)));
        }
        Err(e) => w.w(0, &format!("Lease:\tFailed to get lease: {e}\n")),
    }
    let conds = arr(n, "/status/conditions");
    if !conds.is_empty() {
        w.w(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n");
        w.w(1, "----\t------\t-----------------\t------------------\t------\t-------\n");
        for c in conds {
            w.w(
                1,
                &format!(
                    "{} \t{} \t{} \t{} \t{} \t{}\n",
                    s(c, "/type"),
                    s(c, "/status"),
                    rfc1123z(s(c, "/lastHeartbeatTime")),
                    rfc1123z(s(c, "/lastTransitionTime")),
                    s(c, "/reason"),
                    s(c, "/message")
                ),
            );
        }
    }
    w.w(0, "Addresses:\n");
    for a in arr(n, "/status/addresses") {
        w.w(1, &format!("{}:\t{}\n", s(a, "/type"), s(a, "/address")));
    }
    for (title, ptr) in [("Capacity", "/status/capacity"), ("Allocatable", "/status/allocatable")] {
        if let Some(m) = n.pointer(ptr).and_then(Value::as_object).filter(|m| !m.is_empty()) {
            w.w(0, &format!("{title}:\n"));
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            for k in keys {
                let raw = crate::printers::jsonpath::text(&m[k]);
                let shown = Quantity::parse(&raw).map(|q| q.to_string()).unwrap_or(raw);
                w.w(0, &format!("  {k}:\t{shown}\n"));
            }
        }
    }
    {
        let empty = Value::Null;
        let info = n.pointer("/status/nodeInfo").unwrap_or(&empty);
        w.w(0, "System Info:\n");
        for (label, key) in [
            ("Machine ID", "machineID"),
            ("System UUID", "systemUUID"),
            ("Boot ID", "bootID"),
            ("Kernel Version", "kernelVersion"),
            ("OS Image", "osImage"),
            ("Operating System", "operatingSystem"),
            ("Architecture", "architecture"),
            ("Container Runtime Version", "containerRuntimeVersion"),
            ("Kubelet Version", "kubeletVersion"),
        ] {
            w.w(1, &format!("{label}:\t{}\n", s(info, &format!("/{key}"))));
        }
    }
    if !s(n, "/spec/podCIDR").is_empty() {
        w.w(0, &format!("PodCIDR:\t{}\n", s(n, "/spec/podCIDR")));
    }
    let cidrs: Vec<&str> = arr(n, "/spec/podCIDRs").iter().filter_map(Value::as_str).collect();
    if !cidrs.is_empty() {
        w.w(0, &format!("PodCIDRs:\t{}\n", cidrs.join(",")));
    }
    if !s(n, "/spec/providerID").is_empty() {
        w.w(0, &format!("ProviderID:\t{}\n", s(n, "/spec/providerID")));
    }
    node_resources(&mut w, n, pods, now);
    events(&mut w, evs, now);
    w.finish()
}

/// `quotas`/`limits`: None when the server does not serve them.
/// `quotas`, `limits`: the namespace's ResourceQuotas and LimitRanges, or
/// None when the server does not serve them (the section is left out).
pub fn namespace(ns: &Value, quotas: Option<&[Value]>, limits: Option<&[Value]>) -> String {
    let mut w = W::default();
    header(&mut w, ns, false);
    w.w(0, &format!("Status:\t{}\n", s(ns, "/status/phase")));
    let conds = arr(ns, "/status/conditions");
    if !conds.is_empty() {
        w.w(0, "Conditions:\n");
        w.w(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n");
        w.w(1, "----\t------\t------------------\t------\t-------\n");
        for c in conds {
            let t = rfc1123z(s(c, "/lastTransitionTime"));
            w.w(1, &format!("{}\t{}\t{t}\t{}\t{}\n", s(c, "/type"), s(c, "/status"), s(c, "/reason"), s(c, "/message")));
        }
    }
    if let Some(q) = quotas {
        w.w(0, "\n");
        super::policy::resource_quotas_section(&mut w, q);
    }
    if let Some(l) = limits {
        w.w(0, "\n");
        super::policy::limit_ranges_section(&mut w, l);
    }
    w.finish()
}

pub fn configmap(cm: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    header(&mut w, cm, true);
    w.w(0, "\nData\n====\n");
    let mut data: Vec<(&String, &Value)> = cm.get("data").and_then(Value::as_object).map(|m| m.iter().collect()).unwrap_or_default();
    data.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in data {
        w.w(0, &format!("{k}:\n----\n"));
        w.w(0, &format!("{}\n", v.as_str().unwrap_or_default()));
        w.w(0, "\n");
    }
    w.w(0, "\nBinaryData\n====\n");
    let mut bin: Vec<(&String, &Value)> = cm.get("binaryData").and_then(Value::as_object).map(|m| m.iter().collect()).unwrap_or_default();
    bin.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in bin {
        let len = base64_len(v.as_str().unwrap_or_default());
        w.w(0, &format!("{k}: {len} bytes\n"));
    }
    w.w(0, "\n");
    events(&mut w, evs, now);
    w.finish()
}

fn base64_len(b64: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(b64).map(|b| b.len()).unwrap_or(0)
}

/// Secret values are hidden: only their sizes are shown.
pub fn secret(sec: &Value) -> String {
    let mut w = W::default();
    header(&mut w, sec, true);
    w.w(0, &format!("\nType:\t{}\n", s(sec, "/type")));
    w.w(0, "\nData\n====\n");
    let mut data: Vec<(&String, &Value)> = sec.get("data").and_then(Value::as_object).map(|m| m.iter().collect()).unwrap_or_default();
    data.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in data {
        let raw = v.as_str().unwrap_or_default();
        if k == "token" && s(sec, "/type") == "kubernetes.io/service-account-token" {
            use base64::Engine;
            let t = base64::engine::general_purpose::STANDARD.decode(raw).unwrap_or_default();
            w.w(0, &format!("{k}:\t{}\n", String::from_utf8_lossy(&t)));
        } else {
            w.w(0, &format!("{k}:\t{} bytes\n", base64_len(raw)));
        }
    }
    w.finish()
}

/// Upstream's describeServiceAccount (v1.33/v1.34: pull secrets, mountable
/// secrets and token secrets). `secrets`: the namespace's Secrets, None if
/// they could not be listed (then nothing is marked "(not found)").
pub fn serviceaccount(sa: &Value, secrets: Option<&[Value]>, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    header(&mut w, sa, true);
    let names = |ptr: &str| arr(sa, ptr).iter().map(|r| s(r, "/name").to_string()).collect::<Vec<_>>();
    let (pull, mount) = (names("/imagePullSecrets"), names("/secrets"));
    let mut tokens = Vec::new();
    let mut missing = std::collections::BTreeSet::new();
    if let Some(secrets) = secrets {
        for sec in secrets {
            let ann = |k: &str| sec.pointer("/metadata/annotations").and_then(|a| a.get(k)).and_then(Value::as_str).unwrap_or("");
            if s(sec, "/type") == "kubernetes.io/service-account-token"
                && ann("kubernetes.io/service-account.name") == crate::util::name(sa)
                && ann("kubernetes.io/service-account.uid") == s(sa, "/metadata/uid")
            {
                tokens.push(crate::util::name(sec).to_string());
            }
        }
        let existing: std::collections::BTreeSet<&str> = secrets.iter().map(crate::util::name).collect();
        missing.extend(pull.iter().chain(&mount).filter(|n| !existing.contains(n.as_str())).cloned());
    }
    // Upstream sorts these headers; their padding is part of the text.
    for (title, list) in [("Image pull secrets:", &pull), ("Mountable secrets: ", &mount), ("Tokens:            ", &tokens)] {
        if list.is_empty() {
            w.w(0, &format!("{title}\t<none>\n"));
        }
        let mut prefix = title;
        for n in list {
            let note = if missing.contains(n) { " (not found)" } else { "" };
            w.w(0, &format!("{prefix}\t{n}{note}\n"));
            prefix = "                   ";
        }
    }
    events(&mut w, evs, now);
    w.finish()
}

/// Upstream's describeStorageClass.
pub fn storageclass(sc: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(sc)));
    let ann = |k: &str| sc.pointer("/metadata/annotations").and_then(|a| a.get(k)).and_then(Value::as_str) == Some("true");
    let default = ann("storageclass.kubernetes.io/is-default-class") || ann("storageclass.beta.kubernetes.io/is-default-class");
    w.w(0, &format!("IsDefaultClass:\t{}\n", if default { "Yes" } else { "No" }));
    w.w(0, &format!("Annotations:\t{}\n", format_labels(sc.pointer("/metadata/annotations"))));
    w.w(0, &format!("Provisioner:\t{}\n", s(sc, "/provisioner")));
    w.w(0, &format!("Parameters:\t{}\n", format_labels(sc.pointer("/parameters"))));
    let expand = match sc.get("allowVolumeExpansion").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    w.w(0, &format!("AllowVolumeExpansion:\t{expand}\n"));
    let opts = arr(sc, "/mountOptions");
    if opts.is_empty() {
        w.w(0, "MountOptions:\t<none>\n");
    } else {
        w.w(0, "MountOptions:\n");
        for o in opts {
            w.w(1, &format!("{}\n", o.as_str().unwrap_or_default()));
        }
    }
    for (title, ptr) in [("ReclaimPolicy", "/reclaimPolicy"), ("VolumeBindingMode", "/volumeBindingMode")] {
        if let Some(v) = sc.pointer(ptr).and_then(Value::as_str) {
            w.w(0, &format!("{title}:\t{v}\n"));
        }
    }
    if let Some(terms) = sc.get("allowedTopologies").and_then(Value::as_array) {
        w.w(0, "AllowedTopologies:\t");
        w.w(0, if terms.is_empty() { "<none>\n" } else { "\n" });
        for (n, term) in terms.iter().enumerate() {
            w.w(1, &format!("Term {n}:\t"));
            let reqs = arr(term, "/matchLabelExpressions");
            if reqs.is_empty() {
                w.w(0, "<none>\n");
            }
            for (k, r) in reqs.iter().enumerate() {
                if k != 0 {
                    w.w(1, "\t");
                }
                let vals: Vec<&str> = arr(r, "/values").iter().filter_map(Value::as_str).collect();
                let mut expr = format!("{} in", s(r, "/key"));
                if !vals.is_empty() {
                    expr.push_str(&format!(" [{}]", vals.join(", ")));
                }
                w.w(0, &format!("{expr}\n"));
            }
        }
    }
    events(&mut w, evs, now);
    w.finish()
}

fn storage_class(v: &Value) -> String {
    match s(v, "/metadata/annotations/volume.beta.kubernetes.io~1storage-class") {
        "" => s(v, "/spec/storageClassName").to_string(),
        x => x.to_string(),
    }
}

fn status_or_terminating(v: &Value, now: DateTime<Utc>) -> String {
    match s(v, "/metadata/deletionTimestamp") {
        "" => s(v, "/status/phase").to_string(),
        t => format!("Terminating (lasts {})", crate::printers::age::age_at(Some(t), now)),
    }
}

pub fn pv(pv: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    header(&mut w, pv, false);
    w.w(0, &format!("Finalizers:\t{}\n", go_list(pv, "/metadata/finalizers")));
    w.w(0, &format!("StorageClass:\t{}\n", storage_class(pv)));
    w.w(0, &format!("Status:\t{}\n", status_or_terminating(pv, now)));
    let claim = match pv.pointer("/spec/claimRef").filter(|c| !c.is_null()) {
        Some(c) => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        None => String::new(),
    };
    w.w(0, &format!("Claim:\t{claim}\n"));
    w.w(0, &format!("Reclaim Policy:\t{}\n", s(pv, "/spec/persistentVolumeReclaimPolicy")));
    w.w(0, &format!("Access Modes:\t{}\n", access_modes(pv, "/spec/accessModes")));
    if !s(pv, "/spec/volumeMode").is_empty() {
        w.w(0, &format!("VolumeMode:\t{}\n", s(pv, "/spec/volumeMode")));
    }
    w.w(0, &format!("Capacity:\t{}\n", s(pv, "/spec/capacity/storage")));
    w.w(0, "Node Affinity:\t<none>\n");
    w.w(0, &format!("Message:\t{}\n", s(pv, "/status/message")));
    w.w(0, "Source:\n");
    if let Some(h) = pv.pointer("/spec/hostPath") {
        w.w(0, "    Type:\tHostPath (bare host directory volume)\n");
        w.w(0, &format!("    Path:\t{}\n", s(h, "/path")));
        w.w(0, &format!("    HostPathType:\t{}\n", s(h, "/type")));
    } else if let Some(l) = pv.pointer("/spec/local") {
        w.w(0, "    Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n");
        w.w(0, &format!("    Path:\t{}\n", s(l, "/path")));
    }
    events(&mut w, evs, now);
    w.finish()
}

/// `used_by`: names of pods that mount the claim.
pub fn pvc(pvc: &Value, used_by: &[String], evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(pvc)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(pvc)));
    w.w(0, &format!("StorageClass:\t{}\n", storage_class(pvc)));
    w.w(0, &format!("Status:\t{}\n", status_or_terminating(pvc, now)));
    w.w(0, &format!("Volume:\t{}\n", s(pvc, "/spec/volumeName")));
    labels(&mut w, "Labels", pvc.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", pvc.pointer("/metadata/annotations"));
    w.w(0, &format!("Finalizers:\t{}\n", go_list(pvc, "/metadata/finalizers")));
    let (cap, modes) = if s(pvc, "/spec/volumeName").is_empty() {
        (String::new(), String::new())
    } else {
        (s(pvc, "/status/capacity/storage").to_string(), access_modes(pvc, "/status/accessModes"))
    };
    w.w(0, &format!("Capacity:\t{cap}\n"));
    w.w(0, &format!("Access Modes:\t{modes}\n"));
    if !s(pvc, "/spec/volumeMode").is_empty() {
        w.w(0, &format!("VolumeMode:\t{}\n", s(pvc, "/spec/volumeMode")));
    }
    w.w(0, "Used By:\t");
    if used_by.is_empty() {
        w.w(0, "<none>\n");
    }
    for (k, p) in used_by.iter().enumerate() {
        if k != 0 {
            w.w(0, "\t");
        }
        w.w(0, &format!("{p}\n"));
    }
    events(&mut w, evs, now);
    w.finish()
}

/// A pod's requests and limits: upstream's PodRequestsAndLimits (init
/// containers, sidecars, pod-level resources, overhead).
fn pod_requests_limits(p: &Value) -> (ResourceList, ResourceList) {
    let Ok(pod) = serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(p.clone()) else { return Default::default() };
    let opts = api::resources::PodResourcesOptions::default();
    (api::resources::pod_requests(&pod, &opts), api::resources::pod_limits(&pod, &opts))
}

fn percent(part: &Quantity, whole: Option<&Quantity>, milli: bool) -> i64 {
    let Some(whole) = whole else { return 0 };
    let (a, b) = if milli { (part.milli_value() as f64, whole.milli_value() as f64) } else { (part.value() as f64, whole.value() as f64) };
    if b == 0.0 {
        return 0;
    }
    (a / b * 100.0) as i64
}

/// The "Non-terminated Pods" and "Allocated resources" sections.
fn node_resources(w: &mut W, n: &Value, pods: &[Value], now: DateTime<Utc>) {
    let alloc_ptr = if n.pointer("/status/allocatable").and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
        "/status/allocatable"
    } else {
        "/status/capacity"
    };
    let allocatable: BTreeMap<String, Quantity> = n
        .pointer(alloc_ptr)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().and_then(|v| Quantity::parse(v).ok()).map(|q| (k.clone(), q)))
        .collect();
    let zero = Quantity::default();
    let cell = |m: &BTreeMap<String, Quantity>, r: &str, milli: bool| {
        let q = m.get(r).copied().unwrap_or(zero);
        format!("{q} ({}%)", percent(&q, allocatable.get(r), milli))
    };
    w.w(0, &format!("Non-terminated Pods:\t({} in total)\n", pods.len()));
    w.w(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n");
    w.w(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n");
    let mut reqs: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<String, Quantity> = BTreeMap::new();
    for p in pods {
        let (r, l) = pod_requests_limits(p);
        w.w(
            1,
            &format!(
                "{}\t{}\t\t{}\t{}\t{}\t{}\t{}\n",
                crate::util::namespace(p),
                crate::util::name(p),
                cell(&r, "cpu", true),
                cell(&l, "cpu", true),
                cell(&r, "memory", false),
                cell(&l, "memory", false),
                crate::printers::age::age_at(Some(s(p, "/metadata/creationTimestamp")).filter(|x| !x.is_empty()), now)
            ),
        );
        for (k, q) in r {
            reqs.entry(k).or_default().add(&q);
        }
        for (k, q) in l {
            limits.entry(k).or_default().add(&q);
        }
    }
    w.w(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n");
    w.w(1, "Resource\tRequests\tLimits\n");
    w.w(1, "--------\t--------\t------\n");
    for (r, milli) in [("cpu", true), ("memory", false), ("ephemeral-storage", false)] {
        w.w(1, &format!("{r}\t{}\t{}\n", cell(&reqs, r, milli), cell(&limits, r, milli)));
    }
    let standard = ["cpu", "memory", "ephemeral-storage", "pods", "storage"];
    let huge: Vec<&String> = allocatable.keys().filter(|k| k.starts_with("hugepages-")).collect();
    let ext: Vec<&String> = allocatable.keys().filter(|k| !k.starts_with("hugepages-") && !standard.contains(&k.as_str())).collect();
    for r in huge.into_iter().chain(ext) {
        w.w(1, &format!("{r}\t{}\t{}\n", cell(&reqs, r, false), cell(&limits, r, false)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serviceaccount_like_upstream() {
        let now = chrono::Utc::now();
        let sa = json!({"metadata": {"name": "build", "namespace": "ci", "uid": "u1"}, "imagePullSecrets": [{"name": "regcred"}, {"name": "gone"}],
            "secrets": [{"name": "mounted"}]});
        let token = json!({"metadata": {"name": "build-token", "annotations": {"kubernetes.io/service-account.name": "build", "kubernetes.io/service-account.uid": "u1"}},
            "type": "kubernetes.io/service-account-token"});
        let other = json!({"metadata": {"name": "other-token", "annotations": {"kubernetes.io/service-account.name": "build", "kubernetes.io/service-account.uid": "u0"}},
            "type": "kubernetes.io/service-account-token"});
        let secrets = [json!({"metadata": {"name": "regcred"}}), json!({"metadata": {"name": "mounted"}}), token, other];
        assert_eq!(
            serviceaccount(&sa, Some(&secrets), Some(&mut []), now),
            "Name:                build\nNamespace:           ci\nLabels:              <none>\nAnnotations:         <none>\n\
             Image pull secrets:  regcred\n                     gone (not found)\nMountable secrets:   mounted\nTokens:              build-token\n\
             Events:              <none>\n"
        );
        let bare = json!({"metadata": {"name": "default", "namespace": "ci"}});
        assert_eq!(
            serviceaccount(&bare, None, Some(&mut []), now),
            "Name:                default\nNamespace:           ci\nLabels:              <none>\nAnnotations:         <none>\n\
             Image pull secrets:  <none>\nMountable secrets:   <none>\nTokens:              <none>\nEvents:              <none>\n"
        );
    }

    #[test]
    fn storageclass_like_upstream() {
        let sc = json!({"metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "example.com/ssd",
            "parameters": {"type": "ssd"}, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer", "mountOptions": ["noatime"],
            "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["a", "b"]}, {"key": "rack", "values": ["r1"]}]}]});
        assert_eq!(
            storageclass(&sc, Some(&mut []), chrono::Utc::now()),
            "Name:                  fast\nIsDefaultClass:        Yes\nAnnotations:           storageclass.kubernetes.io/is-default-class=true\n\
             Provisioner:           example.com/ssd\nParameters:            type=ssd\nAllowVolumeExpansion:  <unset>\nMountOptions:\n  noatime\n\
             ReclaimPolicy:      Delete\nVolumeBindingMode:  WaitForFirstConsumer\nAllowedTopologies:  \n\
             \x20 Term 0:           zone in [a, b]\n                    rack in [r1]\nEvents:             <none>\n"
        );
    }
}
