//! PodSpec defaulting and validation, shared by Pod and every workload kind
//! that carries a pod template (upstream's SetDefaults_PodSpec/Container/...
//! and ValidatePodSpec). The caller gives the root path: `spec` for a Pod,
//! `spec.template.spec` for a Deployment.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KQuantity;

use api::quantity::{self, Quantity};
use super::validation::{self as v, dns1123_label, dns1123_subdomain, label_value, qualified_name};
use super::{ErrorList, FieldError, Path};

pub const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
pub const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn set_if_none<T>(o: &mut Option<T>, v: T) {
    if o.is_none() {
        *o = Some(v);
    }
}

fn set_if_empty(o: &mut Option<String>, v: &str) {
    if o.as_deref().unwrap_or("").is_empty() {
        *o = Some(v.to_string());
    }
}

/// The image's tag as upstream's parsers.ParseImageName sees it: "latest" when
/// neither tag nor digest is given.
pub fn image_tag(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => tag.to_string(),
        None if digest.is_some() => String::new(),
        None => "latest".to_string(),
    }
}

/// Rounds every quantity up to milli and stores its canonical form (SetDefaults_ResourceList).
pub fn default_resource_list(list: &mut Option<BTreeMap<String, KQuantity>>) {
    for q in list.iter_mut().flat_map(|l| l.values_mut()) {
        if let Some(c) = quantity::canonical(&q.0) {
            q.0 = c;
        }
    }
}

fn default_resources(r: &mut Option<ResourceRequirements>) {
    if let Some(r) = r {
        default_resource_list(&mut r.limits);
        default_resource_list(&mut r.requests);
    }
}

fn default_probe(p: &mut Option<Probe>) {
    let Some(p) = p else { return };
    set_if_none(&mut p.timeout_seconds, 1);
    set_if_none(&mut p.period_seconds, 10);
    set_if_none(&mut p.success_threshold, 1);
    set_if_none(&mut p.failure_threshold, 3);
    if let Some(h) = &mut p.http_get {
        set_if_empty(&mut h.path, "/");
        set_if_empty(&mut h.scheme, "HTTP");
    }
}

/// SetDefaults_Container and the defaults of everything a container holds.
pub fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().unwrap_or("").is_empty() {
        let tag = image_tag(c.image.as_deref().unwrap_or(""));
        c.image_pull_policy = Some(if tag == "latest" { "Always" } else { "IfNotPresent" }.into());
    }
    set_if_empty(&mut c.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut c.termination_message_policy, "File");
    for p in c.ports.iter_mut().flatten() {
        set_if_empty(&mut p.protocol, "TCP");
    }
    default_probe(&mut c.liveness_probe);
    default_probe(&mut c.readiness_probe);
    default_probe(&mut c.startup_probe);
    if let Some(l) = &mut c.lifecycle {
        for h in [&mut l.post_start, &mut l.pre_stop].into_iter().flatten() {
            if let Some(g) = &mut h.http_get {
                set_if_empty(&mut g.path, "/");
                set_if_empty(&mut g.scheme, "HTTP");
            }
        }
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(f) = e.value_from.as_mut().and_then(|s| s.field_ref.as_mut()) {
            set_if_empty(&mut f.api_version, "v1");
        }
    }
    default_resources(&mut c.resources);
}

/// SetDefaults_Volume and its sources' default modes.
fn default_volume(vol: &mut Volume) {
    let mut probe = serde_json::to_value(&*vol).unwrap_or_default();
    if let Some(o) = probe.as_object_mut() {
        o.remove("name");
        if o.is_empty() {
            vol.empty_dir = Some(Default::default());
        }
    }
    const MODE: i32 = 0o644;
    if let Some(s) = &mut vol.secret {
        set_if_none(&mut s.default_mode, MODE);
    }
    if let Some(s) = &mut vol.config_map {
        set_if_none(&mut s.default_mode, MODE);
    }
    if let Some(s) = &mut vol.downward_api {
        set_if_none(&mut s.default_mode, MODE);
        for i in s.items.iter_mut().flatten() {
            if let Some(f) = &mut i.field_ref {
                set_if_empty(&mut f.api_version, "v1");
            }
        }
    }
    if let Some(s) = &mut vol.projected {
        set_if_none(&mut s.default_mode, MODE);
        for src in s.sources.iter_mut().flatten() {
            if let Some(t) = &mut src.service_account_token {
                set_if_none(&mut t.expiration_seconds, 3600);
            }
            for i in src.downward_api.iter_mut().flat_map(|d| d.items.iter_mut().flatten()) {
                if let Some(f) = &mut i.field_ref {
                    set_if_empty(&mut f.api_version, "v1");
                }
            }
        }
    }
    if let Some(h) = &mut vol.host_path {
        set_if_none(&mut h.type_, String::new());
    }
}

/// SetDefaults_PodSpec plus nested defaults (templates and pods alike).
pub fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    set_if_none(&mut spec.security_context, PodSecurityContext::default());
    set_if_none(&mut spec.termination_grace_period_seconds, 30);
    set_if_empty(&mut spec.scheduler_name, "default-scheduler");
    // v1's deprecated serviceAccount mirrors serviceAccountName (conversion).
    if spec.service_account_name.as_deref().unwrap_or("").is_empty() {
        if let Some(sa) = spec.service_account.clone().filter(|s| !s.is_empty()) {
            spec.service_account_name = Some(sa);
        }
    }
    if let Some(sa) = spec.service_account_name.clone().filter(|s| !s.is_empty()) {
        spec.service_account = Some(sa);
    }
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        default_container(c);
    }
    for vol in spec.volumes.iter_mut().flatten() {
        default_volume(vol);
    }
    default_resources(&mut spec.resources);
    default_resource_list(&mut spec.overhead);
}

pub fn default_template(t: &mut Option<PodTemplateSpec>) {
    if let Some(t) = t.as_mut() {
        default_template_spec(t);
    }
}

pub fn default_template_spec(t: &mut PodTemplateSpec) {
    if let Some(spec) = t.spec.as_mut() {
        default_pod_spec(spec);
    }
}

// ---- validation ----

fn push_all(errs: &mut ErrorList, path: &Path, value: &str, msgs: Vec<String>) {
    for m in msgs {
        errs.push(FieldError::invalid(path, value, &m));
    }
}

fn validate_volumes(vols: &[Volume], path: &Path) -> (ErrorList, BTreeSet<String>) {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, vol) in vols.iter().enumerate() {
        let p = path.index(i);
        let mut src = serde_json::to_value(vol).unwrap_or_default();
        let kinds: Vec<String> = src.as_object_mut().map(|o| {
            o.remove("name");
            o.keys().cloned().collect()
        }).unwrap_or_default();
        match kinds.len() {
            0 => errs.push(FieldError::required(&p, "must specify a volume type")),
            1 => {}
            _ => errs.push(FieldError::forbidden(&p.child(&kinds[1]), "may not specify more than 1 volume type")),
        }
        if let Some(h) = &vol.host_path {
            if h.path.is_empty() {
                errs.push(FieldError::required(&p.child("hostPath").child("path"), ""));
            }
        }
        if let Some(c) = &vol.persistent_volume_claim {
            if c.claim_name.is_empty() {
                errs.push(FieldError::required(&p.child("persistentVolumeClaim").child("claimName"), ""));
            }
        }
        if let Some(s) = &vol.secret {
            if s.secret_name.as_deref().unwrap_or("").is_empty() {
                errs.push(FieldError::required(&p.child("secret").child("secretName"), ""));
            }
        }
        if let Some(c) = &vol.config_map {
            if c.name.is_empty() {
                errs.push(FieldError::required(&p.child("configMap").child("name"), ""));
            }
        }
        if vol.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            push_all(&mut errs, &p.child("name"), &vol.name, dns1123_label(&vol.name));
        }
        if !names.insert(vol.name.clone()) {
            errs.push(FieldError::duplicate(&p.child("name"), &vol.name));
        }
    }
    (errs, names)
}

fn validate_resource_name(name: &str, path: &Path) -> ErrorList {
    if name.contains('/') {
        return qualified_name(name).into_iter().map(|e| FieldError::invalid(path, name, &e)).collect();
    }
    let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
    if standard { vec![] } else { vec![FieldError::invalid(path, name, "must be a standard resource for containers")] }
}

/// Native (no domain or kubernetes.io) and not hugepages: requests may be below limits.
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

fn parse_list(list: Option<&BTreeMap<String, KQuantity>>, path: &Path, errs: &mut ErrorList) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    for (k, q) in list.into_iter().flatten() {
        let p = path.key(k);
        errs.extend(validate_resource_name(k, &p));
        match Quantity::parse(&q.0) {
            Err(e) => errs.push(FieldError::invalid(&p, &q.0, &e.to_string())),
            Ok(parsed) => {
                if parsed.is_negative() {
                    errs.push(FieldError::invalid(&p, parsed, v::NEGATIVE));
                } else if !overcommit_allowed(k) && parsed.nanos % 1_000_000_000 != 0 {
                    errs.push(FieldError::invalid(&p, parsed, "must be an integer"));
                }
                out.insert(k.clone(), parsed);
            }
        }
    }
    out
}

/// Upstream's ValidateResourceRequirements.
pub fn validate_resources(r: &ResourceRequirements, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let limits = parse_list(r.limits.as_ref(), &lim_path, &mut errs);
    let requests = parse_list(r.requests.as_ref(), &req_path, &mut errs);
    for (k, req) in &requests {
        match limits.get(k) {
            Some(lim) if req != lim && !overcommit_allowed(k) => {
                errs.push(FieldError::invalid(&req_path, req, &format!("must be equal to {k} limit of {lim}")))
            }
            Some(lim) if req > lim => {
                errs.push(FieldError::invalid(&req_path, req, &format!("must be less than or equal to {k} limit of {lim}")))
            }
            Some(_) => {}
            None if !overcommit_allowed(k) => {
                errs.push(FieldError::required(&lim_path, "Limit must be set for non overcommitable resources"))
            }
            None => {}
        }
    }
    errs
}

/// Upstream's ValidatePortNumOrName.
pub fn validate_port_num_or_name(port: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString, path: &Path) -> ErrorList {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match port {
        IntOrString::Int(n) => v::port_num(*n as i64).into_iter().map(|m| FieldError::invalid_raw(path, n, &m)).collect(),
        IntOrString::String(s) => v::port_name(s).into_iter().map(|m| FieldError::invalid(path, s, &m)).collect(),
    }
}

/// Downward API fields an env var may reference (labels/annotations by key too).
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
];

fn validate_probe(p: Option<&Probe>, path: &Path, readiness_or_startup_success: bool) -> ErrorList {
    let Some(p) = p else { return vec![] };
    let mut errs = Vec::new();
    let handlers = [p.exec.is_some(), p.http_get.is_some(), p.tcp_socket.is_some(), p.grpc.is_some()];
    match handlers.iter().filter(|h| **h).count() {
        0 => errs.push(FieldError::required(path, "must specify a handler type")),
        1 => {}
        _ => errs.push(FieldError::forbidden(path, "may not specify more than 1 handler type")),
    }
    for (name, val) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        errs.extend(v::nonnegative(val.unwrap_or(0) as i64, &path.child(name)));
    }
    let port_checks = [
        p.http_get.as_ref().map(|h| (&h.port, path.child("httpGet").child("port"))),
        p.tcp_socket.as_ref().map(|t| (&t.port, path.child("tcpSocket").child("port"))),
    ];
    for (port, pp) in port_checks.into_iter().flatten() {
        errs.extend(validate_port_num_or_name(port, &pp));
    }
    if let Some(g) = &p.grpc {
        for m in v::port_num(g.port as i64) {
            errs.push(FieldError::invalid_raw(&path.child("grpc").child("port"), g.port, &m));
        }
    }
    if !readiness_or_startup_success && p.success_threshold.is_some_and(|s| s != 1) {
        errs.push(FieldError::invalid_raw(&path.child("successThreshold"), p.success_threshold.unwrap(), "must be 1"));
    }
    errs
}

fn validate_env(c: &Container, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, e) in c.env.iter().flatten().enumerate() {
        let p = path.index(i);
        if e.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if e.name.chars().any(|ch| !(ch.is_ascii_graphic() || ch == ' ') || ch == '=') {
            errs.push(FieldError::invalid(
                &p.child("name"),
                &e.name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        if let Some(from) = &e.value_from {
            let vp = p.child("valueFrom");
            let n = [from.field_ref.is_some(), from.resource_field_ref.is_some(), from.config_map_key_ref.is_some(), from.secret_key_ref.is_some(), from.file_key_ref.is_some()]
                .iter()
                .filter(|x| **x)
                .count();
            if let Some(f) = &from.field_ref {
                let fp = f.field_path.as_str();
                let subscripted = ["metadata.labels[", "metadata.annotations["].iter().any(|p| fp.starts_with(p) && fp.ends_with(']'));
                let bare_map = fp == "metadata.labels" || fp == "metadata.annotations";
                if fp.is_empty() {
                    errs.push(FieldError::required(&vp.child("fieldRef").child("fieldPath"), ""));
                } else if !subscripted && (bare_map || !ENV_FIELD_PATHS.contains(&fp)) {
                    let supported: Vec<&str> = ENV_FIELD_PATHS.iter().copied().filter(|p| *p != "metadata.annotations" && *p != "metadata.labels").collect();
                    errs.push(FieldError::not_supported(&vp.child("fieldRef").child("fieldPath"), fp, &supported));
                }
            }
            if e.value.as_deref().is_some_and(|v| !v.is_empty()) {
                errs.push(FieldError::invalid(&vp, "", "may not be specified when `value` is not empty"));
            }
            if n == 0 {
                errs.push(FieldError::invalid(&vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
            } else if n > 1 {
                errs.push(FieldError::invalid(&vp, "", "may not have more than one field specified at a time"));
            }
        }
    }
    errs
}

fn validate_ports(c: &Container, path: &Path, host_network: bool) -> ErrorList {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = v::port_name(name);
            if !msgs.is_empty() {
                push_all(&mut errs, &p.child("name"), name, msgs);
            } else if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for m in v::port_num(port.container_port as i64) {
                errs.push(FieldError::invalid_raw(&p.child("containerPort"), port.container_port, &m));
            }
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            for m in v::port_num(host_port as i64) {
                errs.push(FieldError::invalid_raw(&p.child("hostPort"), host_port, &m));
            }
        }
        if host_network && host_port != 0 && host_port != port.container_port {
            errs.push(FieldError::invalid_raw(&p.child("containerPort"), port.container_port, "must match `hostPort` when `hostNetwork` is true"));
        }
        match port.protocol.as_deref().unwrap_or("") {
            "" => errs.push(FieldError::required(&p.child("protocol"), "")),
            pr if !PROTOCOLS.contains(&pr) => errs.push(FieldError::not_supported(&p.child("protocol"), pr, PROTOCOLS)),
            _ => {}
        }
    }
    errs
}

/// Checks shared by init and app containers (upstream's validateContainerCommon).
fn validate_container(c: &Container, p: &Path, volumes: &BTreeSet<String>, spec: &PodSpec, init: bool) -> ErrorList {
    let mut errs = Vec::new();
    if c.name.is_empty() {
        errs.push(FieldError::required(&p.child("name"), ""));
    } else {
        push_all(&mut errs, &p.child("name"), &c.name, dns1123_label(&c.name));
    }
    match c.image.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&p.child("image"), "")),
        img if img.trim() != img => errs.push(FieldError::invalid(&p.child("image"), img, "must not have leading or trailing whitespace")),
        _ => {}
    }
    match c.image_pull_policy.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&p.child("imagePullPolicy"), "")),
        pp if !PULL_POLICIES.contains(&pp) => errs.push(FieldError::not_supported(&p.child("imagePullPolicy"), pp, PULL_POLICIES)),
        _ => {}
    }
    match c.termination_message_policy.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&p.child("terminationMessagePolicy"), "")),
        "File" | "FallbackToLogsOnError" => {}
        tp => errs.push(FieldError::invalid(&p.child("terminationMessagePolicy"), tp, "must be 'File' or 'FallbackToLogsOnError'")),
    }
    errs.extend(validate_ports(c, &p.child("ports"), spec.host_network == Some(true)));
    errs.extend(validate_env(c, &p.child("env")));
    let mut mount_paths = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let mp = p.child("volumeMounts").index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&mp.child("name"), ""));
        } else if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(&mp.child("name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&mp.child("mountPath"), ""));
        } else if !mount_paths.insert(m.mount_path.clone()) {
            errs.push(FieldError::invalid(&mp.child("mountPath"), &m.mount_path, "must be unique"));
        }
    }
    if let Some(r) = &c.resources {
        errs.extend(validate_resources(r, &p.child("resources")));
    }
    let sidecar = c.restart_policy.as_deref() == Some("Always");
    if init {
        if let Some(rp) = c.restart_policy.as_deref() {
            if rp != "Always" {
                errs.push(FieldError::not_supported(&p.child("restartPolicy"), rp, &["Always"]));
            }
        }
        if !sidecar {
            for (name, probe) in [("lifecycle", c.lifecycle.is_some()), ("livenessProbe", c.liveness_probe.is_some()), ("readinessProbe", c.readiness_probe.is_some()), ("startupProbe", c.startup_probe.is_some())] {
                if probe {
                    errs.push(FieldError::forbidden(&p.child(name), "may not be set for init containers without restartPolicy=Always"));
                }
            }
            return errs;
        }
    }
    errs.extend(validate_probe(c.liveness_probe.as_ref(), &p.child("livenessProbe"), false));
    errs.extend(validate_probe(c.readiness_probe.as_ref(), &p.child("readinessProbe"), true));
    errs.extend(validate_probe(c.startup_probe.as_ref(), &p.child("startupProbe"), false));
    errs
}

/// Upstream's ValidateTolerations.
pub fn validate_tolerations(tols: &[k8s_openapi::api::core::v1::Toleration], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, t) in tols.iter().enumerate() {
        let p = path.index(i);
        let key = t.key.as_deref().unwrap_or("");
        let op = t.operator.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        if !key.is_empty() {
            push_all(&mut errs, &p.child("key"), key, qualified_name(key));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(&p.child("operator"), op, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(&p.child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
        match op {
            "" | "Equal" => {
                let msgs = label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(&p.child("operator"), value, &msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(&p.child("operator"), value, "value must be empty when `operator` is 'Exists'"));
                }
            }
            _ => errs.push(FieldError::not_supported(&p.child("operator"), op, &["Equal", "Exists"])),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(&p.child("effect"), effect, TAINT_EFFECTS));
        }
    }
    errs
}

/// Upstream's ValidatePodSpec, rooted at `path`.
pub fn validate_pod_spec(spec: &PodSpec, path: &Path) -> ErrorList {
    validate_pod_spec_with_claims(spec, path, &[])
}

/// [`validate_pod_spec`] where `claim_volumes` also count as volumes for
/// volumeMounts: a StatefulSet's volumeClaimTemplates, which its controller
/// adds to each pod as persistentVolumeClaim volumes.
pub fn validate_pod_spec_with_claims(spec: &PodSpec, path: &Path, claim_volumes: &[String]) -> ErrorList {
    let (mut errs, mut volumes) = validate_volumes(spec.volumes.as_deref().unwrap_or(&[]), &path.child("volumes"));
    volumes.extend(claim_volumes.iter().cloned());
    if spec.containers.is_empty() {
        errs.push(FieldError::required(&path.child("containers"), ""));
    }
    let mut names = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let p = path.child("containers").index(i);
        errs.extend(validate_container(c, &p, &volumes, spec, false));
        if !c.name.is_empty() && !names.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(&p.child("name"), &c.name));
        }
    }
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let p = path.child("initContainers").index(i);
        errs.extend(validate_container(c, &p, &volumes, spec, true));
        if !c.name.is_empty() && !names.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(&p.child("name"), &c.name));
        }
    }
    // host ports must be unique per protocol and IP across all containers
    let mut host_ports = BTreeSet::new();
    for (list, field) in [(&spec.containers, "containers"), (spec.init_containers.as_ref().unwrap_or(&Vec::new()), "initContainers")] {
        for (i, c) in list.iter().enumerate() {
            for (j, port) in c.ports.iter().flatten().enumerate() {
                let hp = port.host_port.unwrap_or(0);
                if hp == 0 {
                    continue;
                }
                let key = format!("{}/{}/{}", port.host_ip.as_deref().unwrap_or(""), port.protocol.as_deref().unwrap_or(""), hp);
                if !host_ports.insert(key.clone()) {
                    errs.push(FieldError::duplicate(&path.child(field).index(i).child("ports").index(j).child("hostPort"), key));
                }
            }
        }
    }
    match spec.restart_policy.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&path.child("restartPolicy"), "")),
        rp if !RESTART_POLICIES.contains(&rp) => errs.push(FieldError::not_supported(&path.child("restartPolicy"), rp, RESTART_POLICIES)),
        _ => {}
    }
    match spec.dns_policy.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&path.child("dnsPolicy"), "")),
        dp if !DNS_POLICIES.contains(&dp) => errs.push(FieldError::not_supported(&path.child("dnsPolicy"), dp, DNS_POLICIES)),
        "None" if spec.dns_config.is_none() => {
            errs.push(FieldError::required(&path.child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
        }
        _ => {}
    }
    if let Some(ns) = &spec.node_selector {
        errs.extend(v::validate_labels(ns, &path.child("nodeSelector")));
    }
    for (field, val, check) in [
        ("serviceAccountName", &spec.service_account_name, dns1123_subdomain as fn(&str) -> Vec<String>),
        ("nodeName", &spec.node_name, dns1123_subdomain),
        ("priorityClassName", &spec.priority_class_name, dns1123_subdomain),
        ("hostname", &spec.hostname, dns1123_label),
        ("subdomain", &spec.subdomain, dns1123_label),
    ] {
        if let Some(s) = val.as_deref().filter(|s| !s.is_empty()) {
            push_all(&mut errs, &path.child(field), s, check(s));
        }
    }
    if let Some(ads) = spec.active_deadline_seconds {
        if !(1..=i32::MAX as i64).contains(&ads) {
            errs.push(FieldError::invalid_raw(&path.child("activeDeadlineSeconds"), ads, "must be between 1 and 2147483647, inclusive"));
        }
    }
    if let Some(t) = &spec.tolerations {
        errs.extend(validate_tolerations(t, &path.child("tolerations")));
    }
    if let Some(r) = &spec.resources {
        errs.extend(validate_resources(r, &path.child("resources")));
    }
    errs
}

/// A workload's pod template: present, labels valid, spec valid; `allowed`
/// restricts the restart policy (["Always"] for ReplicaSets and friends).
pub fn validate_template(t: Option<&PodTemplateSpec>, path: &Path, allowed_restart: &[&str]) -> ErrorList {
    validate_template_with_claims(t, path, allowed_restart, &[])
}

/// [`validate_template`] with [`validate_pod_spec_with_claims`]'s extra volume names.
pub fn validate_template_with_claims(t: Option<&PodTemplateSpec>, path: &Path, allowed_restart: &[&str], claim_volumes: &[String]) -> ErrorList {
    let Some(t) = t else { return vec![FieldError::required(path, "")] };
    let mut errs = Vec::new();
    if let Some(m) = &t.metadata {
        if let Some(l) = &m.labels {
            errs.extend(v::validate_labels(l, &path.child("metadata").child("labels")));
        }
    }
    let spec_path = path.child("spec");
    match &t.spec {
        None => errs.push(FieldError::required(&spec_path.child("containers"), "")),
        Some(spec) => {
            errs.extend(validate_pod_spec_with_claims(spec, &spec_path, claim_volumes));
            let rp = spec.restart_policy.as_deref().unwrap_or("");
            if RESTART_POLICIES.contains(&rp) && !allowed_restart.contains(&rp) {
                errs.push(FieldError::not_supported(&spec_path.child("restartPolicy"), rp, allowed_restart));
            }
        }
    }
    errs
}

/// Template labels (for selector checks).
pub fn template_labels(t: Option<&PodTemplateSpec>) -> Option<&BTreeMap<String, String>> {
    t.and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        let mut s: PodSpec = serde_json::from_value(v).unwrap();
        default_pod_spec(&mut s);
        s
    }

    fn msgs(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_match_upstream() {
        let s = spec(json!({"containers": [
            {"name": "a", "image": "busybox", "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "0.5"}},
             "livenessProbe": {"httpGet": {"port": 80}}},
            {"name": "b", "image": "busybox:1.36"},
            {"name": "c", "image": "busybox@sha256:abcd"},
            {"name": "d", "image": "reg:5000/x"}
        ], "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}], "serviceAccount": "robot"}));
        assert_eq!(s.restart_policy.as_deref(), Some("Always"));
        assert_eq!(s.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(s.termination_grace_period_seconds, Some(30));
        assert_eq!(s.scheduler_name.as_deref(), Some("default-scheduler"));
        assert!(s.security_context.is_some());
        assert_eq!(s.service_account_name.as_deref(), Some("robot"));
        let pulls: Vec<_> = s.containers.iter().map(|c| c.image_pull_policy.clone().unwrap()).collect();
        assert_eq!(pulls, ["Always", "IfNotPresent", "IfNotPresent", "Always"]);
        let a = &s.containers[0];
        assert_eq!(a.termination_message_path.as_deref(), Some("/dev/termination-log"));
        assert_eq!(a.termination_message_policy.as_deref(), Some("File"));
        assert_eq!(a.ports.as_ref().unwrap()[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(a.resources.as_ref().unwrap().limits.as_ref().unwrap()["cpu"].0, "500m");
        let probe = a.liveness_probe.as_ref().unwrap();
        assert_eq!((probe.timeout_seconds, probe.period_seconds, probe.success_threshold, probe.failure_threshold), (Some(1), Some(10), Some(1), Some(3)));
        assert_eq!(probe.http_get.as_ref().unwrap().path.as_deref(), Some("/"));
        let vols = s.volumes.as_ref().unwrap();
        assert!(vols[0].empty_dir.is_some());
        assert_eq!(vols[1].secret.as_ref().unwrap().default_mode, Some(420));
        assert!(validate_pod_spec(&s, &Path::new("spec")).is_empty());
    }

    #[test]
    fn container_errors() {
        let s = spec(json!({"containers": [
            {"name": "a", "image": ""},
            {"name": "a", "image": "x", "ports": [{"containerPort": 70000, "protocol": "ICMP"}]},
            {"name": "Bad_Name", "image": "x", "env": [{"name": ""}, {"name": "A=B"}]}
        ]}));
        let m = msgs(validate_pod_spec(&s, &Path::new("spec").child("template").child("spec")));
        assert!(m.contains(&"spec.template.spec.containers[0].image: Required value".to_string()), "{m:?}");
        assert!(m.contains(&r#"spec.template.spec.containers[1].name: Duplicate value: "a""#.to_string()));
        assert!(m.contains(&"spec.template.spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".to_string()));
        assert!(m.contains(&r#"spec.template.spec.containers[1].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#.to_string()));
        assert!(m.iter().any(|e| e.starts_with(r#"spec.template.spec.containers[2].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label"#)));
        assert!(m.contains(&"spec.template.spec.containers[2].env[0].name: Required value".to_string()));
        assert!(m.contains(&r#"spec.template.spec.containers[2].env[1].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='"#.to_string()));
    }

    #[test]
    fn probe_ports_and_env_field_refs() {
        let s = spec(json!({"containers": [{"name": "a", "image": "x",
            "readinessProbe": {"httpGet": {"port": 0}},
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "BAD", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}]}]}));
        let m = msgs(validate_pod_spec(&s, &Path::new("spec")));
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0], "spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.nope\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"");
        assert_eq!(m[1], "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive");
    }

    #[test]
    fn init_container_names_clash_with_app_containers() {
        let s = spec(json!({"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "a", "image": "x"}]}));
        assert_eq!(msgs(validate_pod_spec(&s, &Path::new("spec"))), [r#"spec.initContainers[0].name: Duplicate value: "a""#]);
    }

    #[test]
    fn policy_and_volume_errors() {
        let s = spec(json!({"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "missing", "mountPath": "/m"}]}],
            "restartPolicy": "Sometimes", "dnsPolicy": "Weird", "volumes": [{"name": "v"}, {"name": "v"}], "activeDeadlineSeconds": 0}));
        let m = msgs(validate_pod_spec(&s, &Path::new("spec")));
        assert!(m.contains(&r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#.to_string()), "{m:?}");
        assert!(m.contains(&r#"spec.dnsPolicy: Unsupported value: "Weird": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None""#.to_string()));
        assert!(m.contains(&r#"spec.volumes[1].name: Duplicate value: "v""#.to_string()));
        assert!(m.contains(&r#"spec.containers[0].volumeMounts[0].name: Not found: "missing""#.to_string()));
        assert!(m.contains(&"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive".to_string()));
        assert_eq!(m.len(), 4 + 1);
    }

    #[test]
    fn resource_errors() {
        let s = spec(json!({"containers": [{"name": "a", "image": "x", "resources": {
            "limits": {"cpu": "1", "memory": "-1", "foo": "1", "example.com/gpu": "1"},
            "requests": {"cpu": "2", "example.com/dev": "1"}}}]}));
        let m = msgs(validate_pod_spec(&s, &Path::new("spec")));
        assert!(m.contains(&r#"spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1"#.to_string()), "{m:?}");
        assert!(m.contains(&r#"spec.containers[0].resources.limits[memory]: Invalid value: "-1": must be greater than or equal to 0"#.to_string()));
        assert!(m.contains(&r#"spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard resource for containers"#.to_string()));
        assert!(m.contains(&"spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources".to_string()));
        let bad = spec(json!({"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "lots"}}}]}));
        assert_eq!(msgs(validate_pod_spec(&bad, &Path::new("spec"))), [format!(r#"spec.containers[0].resources.limits[cpu]: Invalid value: "lots": {}"#, quantity::SYNTAX_ERROR)]);
    }

    #[test]
    fn toleration_errors() {
        let s = spec(json!({"containers": [{"name": "a", "image": "x"}], "tolerations": [
            {"operator": "Equal", "value": "x"},
            {"key": "k", "operator": "Exists", "value": "v"},
            {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5},
            {"key": "k", "operator": "Maybe"}
        ]}));
        let m = msgs(validate_pod_spec(&s, &Path::new("spec")));
        assert!(m.contains(&r#"spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys""#.to_string()), "{m:?}");
        assert!(m.contains(&r#"spec.tolerations[1].operator: Invalid value: "v": value must be empty when `operator` is 'Exists'"#.to_string()));
        assert!(m.contains(&r#"spec.tolerations[2].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when `tolerationSeconds` is set"#.to_string()));
        assert!(m.contains(&r#"spec.tolerations[3].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists""#.to_string()));
    }

    #[test]
    fn template_restart_policy_restricted() {
        let t: PodTemplateSpec = serde_json::from_value(json!({"metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "a", "image": "x"}], "restartPolicy": "Never"}})).unwrap();
        let mut t = Some(t);
        default_template(&mut t);
        let p = Path::new("spec").child("template");
        assert_eq!(msgs(validate_template(t.as_ref(), &p, &["Always"])), [r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#]);
        assert_eq!(msgs(validate_template(None, &p, &["Always"])), ["spec.template: Required value"]);
    }
}
