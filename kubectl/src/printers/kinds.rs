//! Table columns per kind, as upstream's server-side printers
//! (pkg/printers/internalversion/printers.go). Kinds without a printer get
//! NAME and AGE, as upstream does for custom resources.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::printers::age::{age_at, parse_time};
use api::duration::human_duration;
use crate::util::{arr, format_labels, i, s};

/// Headers (without wide), wide-only headers, and the row function; the
/// row function returns every cell after NAME.
pub struct KindColumns {
    pub headers: &'static [&'static str],
    pub wide: &'static [&'static str],
    pub cells: fn(&Value, bool, DateTime<Utc>) -> Vec<String>,
    /// Whether NAME is the first column (events put it elsewhere).
    pub name_first: bool,
}

const fn k(
    headers: &'static [&'static str],
    wide: &'static [&'static str],
    cells: fn(&Value, bool, DateTime<Utc>) -> Vec<String>,
) -> KindColumns {
    KindColumns { headers, wide, cells, name_first: true }
}

pub fn columns_for(group: &str, kind: &str) -> KindColumns {
    const CIS: &[&str] = &["CONTAINERS", "IMAGES", "SELECTOR"];
    match (group, kind) {
        ("", "Pod") => k(super::pod::HEADERS, super::pod::WIDE, super::pod::cells),
        ("", "ReplicationController") => k(&["NAME", "DESIRED", "CURRENT", "READY", "AGE"], CIS, rc),
        ("apps", "ReplicaSet") => k(&["NAME", "DESIRED", "CURRENT", "READY", "AGE"], CIS, rs),
        ("apps", "Deployment") => k(&["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], CIS, deployment),
        ("apps", "StatefulSet") => k(&["NAME", "READY", "AGE"], &["CONTAINERS", "IMAGES"], statefulset),
        ("apps", "DaemonSet") => k(
            &["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
            CIS,
            daemonset,
        ),
        ("batch", "Job") => k(&["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], CIS, job),
        ("batch", "CronJob") => {
            k(&["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"], CIS, cronjob)
        }
        ("", "Service") => k(&["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], &["SELECTOR"], service),
        ("", "Endpoints") => k(&["NAME", "ENDPOINTS", "AGE"], &[], endpoints),
        ("", "Node") => k(
            &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
            &["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
            node,
        ),
        ("", "Namespace") => k(&["NAME", "STATUS", "AGE"], &[], |v, _, now| vec![s(v, "/status/phase").into(), age(v, now)]),
        ("", "ConfigMap") => k(&["NAME", "DATA", "AGE"], &[], |v, _, now| {
            let n = count(v, "/data") + count(v, "/binaryData");
            vec![n.to_string(), age(v, now)]
        }),
        ("", "Secret") => k(&["NAME", "TYPE", "DATA", "AGE"], &[], |v, _, now| {
            vec![s(v, "/type").into(), count(v, "/data").to_string(), age(v, now)]
        }),
        ("", "ServiceAccount") => {
            k(&["NAME", "SECRETS", "AGE"], &[], |v, _, now| vec![arr(v, "/secrets").len().to_string(), age(v, now)])
        }
        ("", "PersistentVolume") => k(
            &["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"],
            &["VOLUMEMODE"],
            pv,
        ),
        ("", "PersistentVolumeClaim") => k(
            &["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"],
            &["VOLUMEMODE"],
            pvc,
        ),
        ("storage.k8s.io", "StorageClass") => k(
            &["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"],
            &[],
            storageclass,
        ),
        ("coordination.k8s.io", "Lease") => {
            k(&["NAME", "HOLDER", "AGE"], &[], |v, _, now| vec![s(v, "/spec/holderIdentity").into(), age(v, now)])
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            k(&["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"], &[], priorityclass)
        }
        ("policy", "PodDisruptionBudget") => {
            k(&["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"], &[], pdb)
        }
        ("discovery.k8s.io", "EndpointSlice") => k(&["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], &[], endpointslice),
        // AGE moved last in v1.33 (kubernetes#129419).
        ("", "ResourceQuota") => k(&["NAME", "REQUEST", "LIMIT", "AGE"], &[], resourcequota),
        // No printer upstream: the apiserver's default table (RFC 3339 creation time).
        ("", "LimitRange") => k(&["NAME", "CREATED AT"], &[], |v, _, _| vec![created_at(v)]),
        ("apps", "ControllerRevision") => k(&["NAME", "CONTROLLER", "REVISION", "AGE"], &[], controllerrevision),
        ("", "PodTemplate") => k(&["NAME", "CONTAINERS", "IMAGES", "POD LABELS"], &[], |v, _, _| {
            let (n, im) = containers(v, "/template/spec/containers");
            vec![n, im, format_labels(v.pointer("/template/metadata/labels"))]
        }),
        ("", "Event") => KindColumns {
            headers: &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            wide: &[],
            cells: event,
            name_first: false,
        },
        _ => k(&["NAME", "AGE"], &[], |v, _, now| vec![age(v, now)]),
    }
}

/// Event columns differ between normal and wide, and NAME is not first.
pub const EVENT_WIDE: &[&str] =
    &["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"];

fn priorityclass(v: &Value, _wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let global = v.get("globalDefault").and_then(Value::as_bool).unwrap_or(false);
    vec![i(v, "/value").to_string(), global.to_string(), age(v, now), s(v, "/preemptionPolicy").into()]
}

/// An IntOrString as upstream's intstr String(); "N/A" when unset.
fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(x)) => x.clone(),
        _ => "N/A".into(),
    }
}

fn pdb(v: &Value, _wide: bool, now: DateTime<Utc>) -> Vec<String> {
    vec![
        int_or_string(v.pointer("/spec/minAvailable")),
        int_or_string(v.pointer("/spec/maxUnavailable")),
        i(v, "/status/disruptionsAllowed").to_string(),
        age(v, now),
    ]
}

/// Upstream's listWithMoreString: up to three items joined with ",", then
/// " + N more..."; "<unset>" when that leaves nothing.
fn first_three(items: Vec<String>) -> String {
    let more = items.len().saturating_sub(3);
    let head = items.into_iter().take(3).collect::<Vec<_>>().join(",");
    if more > 0 {
        format!("{head} + {more} more...")
    } else if head.is_empty() {
        "<unset>".into()
    } else {
        head
    }
}

fn endpointslice(v: &Value, _wide: bool, now: DateTime<Utc>) -> Vec<String> {
    // formatDiscoveryPorts: the port number, else its name, else "*".
    let ports = arr(v, "/ports")
        .iter()
        .map(|p| match (p.get("port").and_then(Value::as_i64), p.get("name").and_then(Value::as_str)) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addrs = arr(v, "/endpoints").iter().flat_map(|e| arr(e, "/addresses")).filter_map(|a| a.as_str().map(str::to_string)).collect();
    vec![s(v, "/addressType").into(), first_three(ports), first_three(addrs), age(v, now)]
}

/// Go's time.RFC3339 of the UTC creation time; the zero time when unset.
fn created_at(v: &Value) -> String {
    match parse_time(s(v, "/metadata/creationTimestamp")) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

/// A quantity string in Go's canonical form ("1000m" -> "1"); as is if unparsable.
pub fn canonical_quantity(q: &str) -> String {
    api::quantity::Quantity::parse(q).map(|q| q.to_string()).unwrap_or_else(|_| q.to_string())
}

/// "name: used/hard" per status.hard resource, sorted; "limits.*" go to LIMIT.
fn resourcequota(v: &Value, _wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let (mut req, mut lim) = (Vec::new(), Vec::new());
    let hard = v.pointer("/status/hard").and_then(Value::as_object);
    let mut names: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
    names.sort();
    for name in names {
        let used = v.pointer("/status/used").and_then(|u| u.get(name.as_str())).and_then(Value::as_str).map_or("0".into(), canonical_quantity);
        let hard = canonical_quantity(hard.and_then(|h| h[name.as_str()].as_str()).unwrap_or("0"));
        let cell = format!("{name}: {used}/{hard}");
        match name.split_once('.') {
            Some(("limits", _)) => lim.push(cell),
            _ => req.push(cell),
        }
    }
    vec![req.join(", "), lim.join(", "), age(v, now)]
}

fn controllerrevision(v: &Value, _wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let owner = arr(v, "/metadata/ownerReferences").iter().find(|o| o.get("controller").and_then(Value::as_bool) == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(o) => {
            let group = s(o, "/apiVersion").rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            let kind = s(o, "/kind").to_lowercase();
            let kind = if group.is_empty() { kind } else { format!("{kind}.{group}") };
            format!("{kind}/{}", s(o, "/name"))
        }
    };
    vec![controller, i(v, "/revision").to_string(), age(v, now)]
}

fn age(v: &Value, now: DateTime<Utc>) -> String {
    age_at(v.pointer("/metadata/creationTimestamp").and_then(Value::as_str), now)
}

fn count(v: &Value, ptr: &str) -> usize {
    v.pointer(ptr).and_then(Value::as_object).map(|m| m.len()).unwrap_or(0)
}

/// Names and images of the template's containers, comma-joined.
fn containers(v: &Value, ptr: &str) -> (String, String) {
    let cs = arr(v, ptr);
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// metav1.FormatLabelSelector: requirements sorted by key; "<none>" when unset or empty.
pub fn selector_string(sel: Option<&Value>) -> String {
    let sel = sel.filter(|s| !s.is_null()).map(|s| serde_json::from_value(s.clone()));
    match sel {
        None => "<none>".into(),
        Some(Ok(s)) => api::selector::format_label_selector(Some(&s)),
        Some(Err(_)) => "<error>".into(),
    }
}

fn workload_wide(v: &Value, cells: &mut Vec<String>, selector: bool) {
    let (n, im) = containers(v, "/spec/template/spec/containers");
    cells.push(n);
    cells.push(im);
    if selector {
        cells.push(selector_string(v.pointer("/spec/selector")));
    }
}

fn rc(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let mut c = vec![i(v, "/spec/replicas").to_string(), i(v, "/status/replicas").to_string(), i(v, "/status/readyReplicas").to_string(), age(v, now)];
    if wide {
        let (n, im) = containers(v, "/spec/template/spec/containers");
        c.extend([n, im, format_labels(v.pointer("/spec/selector"))]);
    }
    c
}

fn rs(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let mut c = vec![i(v, "/spec/replicas").to_string(), i(v, "/status/replicas").to_string(), i(v, "/status/readyReplicas").to_string(), age(v, now)];
    if wide {
        workload_wide(v, &mut c, true);
    }
    c
}

fn deployment(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let mut c = vec![
        format!("{}/{}", i(v, "/status/readyReplicas"), i(v, "/spec/replicas")),
        i(v, "/status/updatedReplicas").to_string(),
        i(v, "/status/availableReplicas").to_string(),
        age(v, now),
    ];
    if wide {
        workload_wide(v, &mut c, true);
    }
    c
}

fn statefulset(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let mut c = vec![format!("{}/{}", i(v, "/status/readyReplicas"), i(v, "/spec/replicas")), age(v, now)];
    if wide {
        workload_wide(v, &mut c, false);
    }
    c
}

fn daemonset(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let st = |f: &str| i(v, &format!("/status/{f}")).to_string();
    let mut c = vec![
        st("desiredNumberScheduled"),
        st("currentNumberScheduled"),
        st("numberReady"),
        st("updatedNumberScheduled"),
        st("numberAvailable"),
        format_labels(v.pointer("/spec/template/spec/nodeSelector")),
        age(v, now),
    ];
    if wide {
        workload_wide(v, &mut c, true);
    }
    c
}

fn has_condition(v: &Value, ty: &str) -> bool {
    arr(v, "/status/conditions").iter().any(|c| s(c, "/type") == ty && s(c, "/status") == "True")
}

fn job(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let succeeded = i(v, "/status/succeeded");
    let completions = match v.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(n) => format!("{succeeded}/{n}"),
        None => {
            let par = i(v, "/spec/parallelism");
            if par > 1 {
                format!("{succeeded}/1 of {par}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = parse_time(s(v, "/status/startTime"));
    let end = parse_time(s(v, "/status/completionTime"));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(a), None) => human_duration((now - a).num_seconds()),
        (Some(a), Some(b)) => human_duration((b - a).num_seconds()),
    };
    let status = if has_condition(v, "Complete") {
        "Complete"
    } else if has_condition(v, "Failed") {
        "Failed"
    } else if v.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if has_condition(v, "Suspended") {
        "Suspended"
    } else if has_condition(v, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(v, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let mut c = vec![status.to_string(), completions, duration, age(v, now)];
    if wide {
        workload_wide(v, &mut c, true);
    }
    c
}

fn cronjob(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let tz = match s(v, "/spec/timeZone") {
        "" => "<none>".to_string(),
        t => t.to_string(),
    };
    let suspend = match v.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last = match s(v, "/status/lastScheduleTime") {
        "" => "<none>".to_string(),
        t => age_at(Some(t), now),
    };
    let mut c = vec![
        s(v, "/spec/schedule").to_string(),
        tz,
        suspend.to_string(),
        arr(v, "/status/active").len().to_string(),
        last,
        age(v, now),
    ];
    if wide {
        let (n, im) = containers(v, "/spec/jobTemplate/spec/template/spec/containers");
        c.extend([n, im, selector_string(v.pointer("/spec/jobTemplate/spec/selector"))]);
    }
    c
}

fn join_strs(v: &Value, ptr: &str) -> Vec<String> {
    arr(v, ptr).iter().filter_map(Value::as_str).map(str::to_string).collect()
}

fn service(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let ty = s(v, "/spec/type");
    let cluster_ip = arr(v, "/spec/clusterIPs").first().and_then(Value::as_str).map(str::to_string);
    let cluster_ip = cluster_ip.or_else(|| Some(s(v, "/spec/clusterIP").to_string()).filter(|s| !s.is_empty()));
    let external = join_strs(v, "/spec/externalIPs");
    let lb: Vec<String> = arr(v, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| if !s(i, "/ip").is_empty() { s(i, "/ip").to_string() } else { s(i, "/hostname").to_string() })
        .filter(|s| !s.is_empty())
        .collect();
    let external_ip = match ty {
        "ClusterIP" | "NodePort" | "" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut all = lb.clone();
            all.extend(external);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                let s = all.join(",");
                if !wide && s.len() > 16 {
                    format!("{}...", &s[..13])
                } else {
                    s
                }
            }
        }
        "ExternalName" => s(v, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = arr(v, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            match i(p, "/nodePort") {
                0 => format!("{}/{proto}", i(p, "/port")),
                np => format!("{}:{np}/{proto}", i(p, "/port")),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
    let mut c = vec![ty.to_string(), cluster_ip.unwrap_or_else(|| "<none>".into()), external_ip, ports, age(v, now)];
    if wide {
        c.push(format_labels(v.pointer("/spec/selector")));
    }
    c
}

/// Upstream's formatEndpoints: at most three "ip:port", then "+ N more...".
pub fn format_endpoints(v: &Value) -> String {
    let subsets = arr(v, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let (max, mut list, mut more, mut count) = (3usize, Vec::<String>::new(), false, 0usize);
    for ss in subsets {
        let addrs = arr(ss, "/addresses");
        let ports = arr(ss, "/ports");
        if ports.is_empty() {
            count += addrs.len();
            for a in addrs {
                if list.len() == max {
                    more = true;
                    break;
                }
                list.push(s(a, "/ip").to_string());
            }
            continue;
        }
        for p in ports {
            count += addrs.len();
            for a in addrs {
                if list.len() == max {
                    more = true;
                    break;
                }
                let ip = s(a, "/ip");
                let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
                list.push(format!("{host}:{}", i(p, "/port")));
            }
        }
    }
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count - max);
    }
    if ret.is_empty() {
        "<none>".into()
    } else {
        ret
    }
}

fn endpoints(v: &Value, _wide: bool, now: DateTime<Utc>) -> Vec<String> {
    vec![format_endpoints(v), age(v, now)]
}

/// "Ready", "NotReady,SchedulingDisabled", "Unknown".
pub fn node_status(v: &Value) -> String {
    let mut status = Vec::new();
    if let Some(c) = arr(v, "/status/conditions").iter().find(|c| s(c, "/type") == "Ready") {
        status.push(if s(c, "/status") == "True" { "Ready" } else { "NotReady" });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if v.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

pub fn node_roles(v: &Value) -> String {
    let mut roles = std::collections::BTreeSet::new();
    if let Some(labels) = v.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, val) in labels {
            if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
                if !r.is_empty() {
                    roles.insert(r.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(r) = val.as_str().filter(|r| !r.is_empty()) {
                    roles.insert(r.to_string());
                }
            }
        }
    }
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn node(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let mut c = vec![node_status(v), node_roles(v), age(v, now), s(v, "/status/nodeInfo/kubeletVersion").to_string()];
    if wide {
        let addr = |ty: &str| {
            arr(v, "/status/addresses")
                .iter()
                .find(|a| s(a, "/type") == ty)
                .map(|a| s(a, "/address").to_string())
                .unwrap_or_else(|| "<none>".into())
        };
        let unknown = |p: &str| match s(v, p) {
            "" => "<unknown>".to_string(),
            x => x.to_string(),
        };
        c.extend([
            addr("InternalIP"),
            addr("ExternalIP"),
            unknown("/status/nodeInfo/osImage"),
            unknown("/status/nodeInfo/kernelVersion"),
            unknown("/status/nodeInfo/containerRuntimeVersion"),
        ]);
    }
    c
}

/// RWO,ROX,RWX,RWOP in upstream's fixed order.
pub fn access_modes(v: &Value, ptr: &str) -> String {
    let modes: Vec<&str> = arr(v, ptr).iter().filter_map(Value::as_str).collect();
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(m, _)| modes.contains(m))
        .map(|(_, a)| *a)
        .collect::<Vec<_>>()
        .join(",")
}

fn unset(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr).and_then(Value::as_str) {
        Some(x) if !x.is_empty() => x.to_string(),
        _ => "<unset>".into(),
    }
}

fn storage_class_of(v: &Value) -> String {
    let ann = s(v, "/metadata/annotations/volume.beta.kubernetes.io~1storage-class");
    if !ann.is_empty() {
        return ann.to_string();
    }
    s(v, "/spec/storageClassName").to_string()
}

fn pv(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let claim = match v.pointer("/spec/claimRef") {
        Some(c) if !c.is_null() => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        _ => String::new(),
    };
    let phase = if v.pointer("/metadata/deletionTimestamp").is_some() { "Terminating" } else { s(v, "/status/phase") };
    let mut c = vec![
        s(v, "/spec/capacity/storage").to_string(),
        access_modes(v, "/spec/accessModes"),
        s(v, "/spec/persistentVolumeReclaimPolicy").to_string(),
        phase.to_string(),
        claim,
        storage_class_of(v),
        unset(v, "/spec/volumeAttributesClassName"),
        s(v, "/status/reason").to_string(),
        age(v, now),
    ];
    if wide {
        c.push(unset(v, "/spec/volumeMode"));
    }
    c
}

fn pvc(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let phase = if v.pointer("/metadata/deletionTimestamp").is_some() { "Terminating" } else { s(v, "/status/phase") };
    let bound = !s(v, "/spec/volumeName").is_empty();
    let (capacity, modes) = if bound {
        (s(v, "/status/capacity/storage").to_string(), access_modes(v, "/status/accessModes"))
    } else {
        (String::new(), String::new())
    };
    let mut c = vec![
        phase.to_string(),
        s(v, "/spec/volumeName").to_string(),
        capacity,
        modes,
        storage_class_of(v),
        unset(v, "/spec/volumeAttributesClassName"),
        age(v, now),
    ];
    if wide {
        c.push(unset(v, "/spec/volumeMode"));
    }
    c
}

fn storageclass(v: &Value, _wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let reclaim = match s(v, "/reclaimPolicy") {
        "" => "Delete",
        x => x,
    };
    let binding = match s(v, "/volumeBindingMode") {
        "" => "Immediate",
        x => x,
    };
    let expand = v.pointer("/allowVolumeExpansion").and_then(Value::as_bool).unwrap_or(false);
    vec![s(v, "/provisioner").into(), reclaim.into(), binding.into(), expand.to_string(), age(v, now)]
}

/// StorageClass names carry " (default)" in the NAME column.
pub fn display_name(group: &str, kind: &str, v: &Value) -> String {
    let name = s(v, "/metadata/name").to_string();
    if group == "storage.k8s.io" && kind == "StorageClass" {
        let a = |k: &str| v.pointer("/metadata/annotations").and_then(|m| m.get(k)).and_then(Value::as_str) == Some("true");
        if a("storageclass.kubernetes.io/is-default-class") || a("storageclass.beta.kubernetes.io/is-default-class") {
            return format!("{name} (default)");
        }
    }
    name
}

/// Event cells: all columns (NAME is among them in wide output).
fn event(v: &Value, wide: bool, now: DateTime<Utc>) -> Vec<String> {
    let ts = |p: &str| Some(s(v, p)).filter(|t| !t.is_empty());
    let first = match ts("/firstTimestamp").or(ts("/eventTime")) {
        Some(t) => age_at(Some(t), now),
        None => "<unknown>".into(),
    };
    let mut last = match ts("/lastTimestamp") {
        Some(t) => age_at(Some(t), now),
        None => first.clone(),
    };
    let mut count = i(v, "/count");
    if let Some(series) = v.pointer("/series").filter(|x| !x.is_null()) {
        last = age_at(Some(s(series, "/lastObservedTime")), now);
        count = i(series, "/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = s(v, "/involvedObject/kind").to_lowercase();
    let target = match s(v, "/involvedObject/name") {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let msg = s(v, "/message").trim().to_string();
    if wide {
        let src = {
            let comp = match s(v, "/source/component") {
                "" => s(v, "/reportingComponent"),
                c => c,
            };
            let host = match s(v, "/source/host") {
                "" => s(v, "/reportingInstance"),
                h => h,
            };
            if host.is_empty() {
                comp.to_string()
            } else {
                format!("{comp}, {host}")
            }
        };
        vec![
            last,
            s(v, "/type").into(),
            s(v, "/reason").into(),
            target,
            s(v, "/involvedObject/fieldPath").into(),
            src,
            msg,
            first,
            count.to_string(),
            s(v, "/metadata/name").into(),
        ]
    } else {
        vec![last, s(v, "/type").into(), s(v, "/reason").into(), target, msg]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-01-02T00:00:00Z").unwrap()
    }
    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"})
    }
    fn row(group: &str, kind: &str, v: Value, wide: bool) -> Vec<String> {
        (columns_for(group, kind).cells)(&v, wide, now())
    }

    #[test]
    fn workload_rows() {
        let tmpl = json!({"spec": {"containers": [{"name": "a", "image": "ia"}, {"name": "b", "image": "ib"}]}});
        let d = json!({"metadata": meta("d"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}, "template": tmpl},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        assert_eq!(row("apps", "Deployment", d.clone(), false), ["2/3", "3", "2", "24h"]);
        assert_eq!(row("apps", "Deployment", d, true)[4..], ["24h", "a,b", "ia,ib", "app=d,env in (dev,prod)"][1..]);
        let rs = json!({"metadata": meta("r"), "spec": {"replicas": 2, "template": tmpl}, "status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(row("apps", "ReplicaSet", rs, false), ["2", "2", "1", "24h"]);
        let sts = json!({"metadata": meta("s"), "spec": {"replicas": 2, "template": tmpl}, "status": {"readyReplicas": 2}});
        assert_eq!(row("apps", "StatefulSet", sts, true), ["2/2", "24h", "a,b", "ia,ib"]);
        let ds = json!({"metadata": meta("ds"), "spec": {"template": {"spec": {"nodeSelector": {"os": "linux"}, "containers": []}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}});
        assert_eq!(row("apps", "DaemonSet", ds, false), ["3", "3", "2", "3", "2", "os=linux", "24h"]);
        let job = json!({"metadata": meta("j"), "spec": {"completions": 3}, "status": {"succeeded": 3, "startTime": "2024-01-01T00:00:00Z",
            "completionTime": "2024-01-01T00:01:05Z", "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(row("batch", "Job", job, false), ["Complete", "3/3", "65s", "24h"]);
        let running = json!({"metadata": meta("j"), "spec": {"parallelism": 2}, "status": {"startTime": "2024-01-01T23:59:00Z"}});
        assert_eq!(row("batch", "Job", running, false), ["Running", "0/1 of 2", "60s", "24h"]);
        let cj = json!({"metadata": meta("c"), "spec": {"schedule": "*/5 * * * *", "suspend": false}, "status": {"lastScheduleTime": "2024-01-01T23:55:00Z", "active": [{}]}});
        assert_eq!(row("batch", "CronJob", cj, false), ["*/5 * * * *", "<none>", "False", "1", "5m", "24h"]);
    }

    #[test]
    fn service_and_network_rows() {
        let svc = json!({"metadata": meta("s"), "spec": {"type": "NodePort", "clusterIPs": ["10.0.0.1"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "x"}}});
        assert_eq!(row("", "Service", svc, true), ["NodePort", "10.0.0.1", "<none>", "80:30080/TCP,53/UDP", "24h", "app=x"]);
        let lb = json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.2"], "ports": [{"port": 443, "protocol": "TCP"}]}});
        assert_eq!(row("", "Service", lb, false)[2], "<pending>");
        let headless = json!({"metadata": meta("h"), "spec": {"type": "ClusterIP", "clusterIPs": ["None"]}});
        assert_eq!(row("", "Service", headless, false), ["ClusterIP", "None", "<none>", "<none>", "24h"]);
        let ep = json!({"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "1.1.1.1"}, {"ip": "1.1.1.2"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(row("", "Endpoints", ep, false), ["1.1.1.1:80,1.1.1.2:80,1.1.1.1:443 + 1 more...", "24h"]);
        let node = json!({"metadata": {"name": "n", "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge"}},
            "spec": {"unschedulable": true}, "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0"},
            "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}]}});
        assert_eq!(row("", "Node", node.clone(), false), ["Ready,SchedulingDisabled", "control-plane,edge", "24h", "v1.33.0"]);
        assert_eq!(row("", "Node", node, true)[4..], ["192.168.0.2", "<none>", "<unknown>", "<unknown>", "<unknown>"]);
    }

    #[test]
    fn config_storage_and_event_rows() {
        assert_eq!(row("", "ConfigMap", json!({"metadata": meta("c"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}}), false), ["2", "24h"]);
        assert_eq!(row("", "Secret", json!({"metadata": meta("s"), "type": "Opaque", "data": {"a": "MQ=="}}), false), ["Opaque", "1", "24h"]);
        assert_eq!(row("", "ServiceAccount", json!({"metadata": meta("sa")}), false), ["0", "24h"]);
        assert_eq!(row("", "Namespace", json!({"metadata": meta("n"), "status": {"phase": "Active"}}), false), ["Active", "24h"]);
        let pv = json!({"metadata": meta("pv"), "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "c"}, "storageClassName": "manual"}, "status": {"phase": "Bound"}});
        assert_eq!(row("", "PersistentVolume", pv, false), ["1Gi", "RWO,RWX", "Retain", "Bound", "default/c", "manual", "<unset>", "", "24h"]);
        let pvc = json!({"metadata": meta("c"), "spec": {"volumeName": "pv", "storageClassName": "manual"}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}});
        assert_eq!(row("", "PersistentVolumeClaim", pvc, true), ["Bound", "pv", "1Gi", "RWO", "manual", "<unset>", "24h", "<unset>"]);
        let sc = json!({"metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"});
        assert_eq!(display_name("storage.k8s.io", "StorageClass", &sc), "fast (default)");
        assert_eq!(row("storage.k8s.io", "StorageClass", sc, false)[..4], ["p", "Delete", "Immediate", "false"]);
        assert_eq!(row("coordination.k8s.io", "Lease", json!({"metadata": meta("l"), "spec": {"holderIdentity": "me"}}), false), ["me", "24h"]);
        let ev = json!({"metadata": {"name": "e1"}, "type": "Warning", "reason": "BackOff", "message": " Back-off restarting ", "count": 3,
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"}, "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T23:50:00Z"});
        assert_eq!(row("", "Event", ev.clone(), false), ["10m", "Warning", "BackOff", "pod/p", "Back-off restarting"]);
        assert_eq!(
            row("", "Event", ev, true),
            ["10m", "Warning", "BackOff", "pod/p", "spec.containers{c}", "kubelet, n1", "Back-off restarting", "24h", "3", "e1"]
        );
        assert_eq!(row("example.com", "Widget", json!({"metadata": meta("w")}), false), ["24h"]);
    }

    #[test]
    fn scheduling_policy_and_discovery_rows() {
        let pc = json!({"metadata": meta("high"), "value": 1000000, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(row("scheduling.k8s.io", "PriorityClass", pc, false), ["1000000", "false", "24h", "PreemptLowerPriority"]);
        // The server prints PREEMPTIONPOLICY in normal output too (its table is always wide).
        assert_eq!(columns_for("scheduling.k8s.io", "PriorityClass").wide, [] as [&str; 0]);
        let dflt = json!({"metadata": meta("d"), "value": -5, "globalDefault": true});
        assert_eq!(row("scheduling.k8s.io", "PriorityClass", dflt, false), ["-5", "true", "24h", ""]);
        let pdb = json!({"metadata": meta("p"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(row("policy", "PodDisruptionBudget", pdb, false), ["50%", "N/A", "1", "24h"]);
        let pdb = json!({"metadata": meta("p"), "spec": {"maxUnavailable": 1}});
        assert_eq!(row("policy", "PodDisruptionBudget", pdb, false), ["N/A", "1", "0", "24h"]);
        let es = json!({"metadata": meta("web-abc"), "addressType": "IPv4", "ports": [{"port": 80}, {"port": 443}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}, {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]});
        assert_eq!(row("discovery.k8s.io", "EndpointSlice", es, false), ["IPv4", "80,443", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "24h"]);
        let empty = json!({"metadata": meta("e"), "addressType": "IPv4"});
        assert_eq!(row("discovery.k8s.io", "EndpointSlice", empty, false), ["IPv4", "<unset>", "<unset>", "24h"]);
        let named = json!({"metadata": meta("e"), "addressType": "FQDN", "ports": [{"name": "http"}, {}, {"port": 1}, {"port": 2}],
            "endpoints": [{"addresses": ["a.example", "b.example"]}]});
        assert_eq!(row("discovery.k8s.io", "EndpointSlice", named, false), ["FQDN", "http,*,1 + 1 more...", "a.example,b.example", "24h"]);
        let rq = json!({"metadata": meta("q"), "spec": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}},
            "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}, "used": {"pods": "3", "requests.cpu": "300m"}}});
        assert_eq!(row("", "ResourceQuota", rq, false), ["pods: 3/10, requests.cpu: 300m/1", "limits.cpu: 0/2", "24h"]);
        assert_eq!(columns_for("", "ResourceQuota").headers, ["NAME", "REQUEST", "LIMIT", "AGE"]);
        // Only status.hard counts (the quota controller fills it); quantities print canonically.
        let fresh = json!({"metadata": meta("q"), "spec": {"hard": {"pods": "10"}}});
        assert_eq!(row("", "ResourceQuota", fresh, false), ["", "", "24h"]);
        let mem = json!({"metadata": meta("q"), "status": {"hard": {"requests.memory": "1024Mi", "limits.memory": "2000M"}, "used": {"requests.memory": "536870912"}}});
        assert_eq!(row("", "ResourceQuota", mem, false), ["requests.memory: 536870912/1Gi", "limits.memory: 0/2G", "24h"]);
        let lr = json!({"metadata": {"name": "l", "creationTimestamp": "2024-01-01T10:20:30+02:00"}});
        assert_eq!(row("", "LimitRange", lr, false), ["2024-01-01T08:20:30Z"]);
        assert_eq!(row("", "LimitRange", json!({"metadata": {"name": "l"}}), false), ["0001-01-01T00:00:00Z"]);
        let cr = json!({"metadata": {"name": "web-6d4", "creationTimestamp": "2024-01-01T00:00:00Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 2});
        assert_eq!(row("apps", "ControllerRevision", cr, false), ["statefulset.apps/web", "2", "24h"]);
        let pt = json!({"metadata": meta("t"), "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}});
        assert_eq!(row("", "PodTemplate", pt, false), ["c", "busybox", "app=x"]);
        let bare = json!({"metadata": meta("t"), "template": {"spec": {"containers": [{"name": "a", "image": "ia"}, {"name": "b", "image": "ib"}]}}});
        assert_eq!(row("", "PodTemplate", bare, false), ["a,b", "ia,ib", "<none>"]);
        assert_eq!(row("apps", "ControllerRevision", json!({"metadata": meta("r"), "revision": 1}), false), ["<none>", "1", "24h"]);
        let core = json!({"metadata": {"name": "r", "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}, "revision": 3});
        assert_eq!(row("apps", "ControllerRevision", core, false), ["pod/p", "3", "<unknown>"]);
    }
}
