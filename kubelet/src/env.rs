//! A container's environment from its spec, as upstream's makeEnvironmentVariables:
//! `envFrom` (ConfigMaps and Secrets, with prefix; invalid names skipped with an
//! event) first, then `env` in order: plain values `$(VAR)`-expanded against the
//! variables defined so far, `valueFrom` read from ConfigMaps, Secrets, pod fields
//! and container resources. A missing required object or key is an error whose
//! text becomes the CreateContainerConfigError message.

use crate::downward::{self, PodIps};
use crate::expansion::{expand, mapping_for};
use crate::objects::{ObjectError, Objects};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The ConfigMaps and Secrets a container's environment refers to, as read.
#[derive(Default)]
pub struct Fetched {
    pub config_maps: HashMap<String, Result<Arc<ConfigMap>, ObjectError>>,
    pub secrets: HashMap<String, Result<Arc<Secret>, ObjectError>>,
}

/// Names of the ConfigMaps and Secrets `c`'s environment refers to.
pub fn references(c: &Container) -> (Vec<String>, Vec<String>) {
    let (mut cms, mut secrets) = (Vec::new(), Vec::new());
    for ef in c.env_from.iter().flatten() {
        cms.extend(ef.config_map_ref.as_ref().map(|r| r.name.clone()));
        secrets.extend(ef.secret_ref.as_ref().map(|r| r.name.clone()));
    }
    for e in c.env.iter().flatten() {
        let Some(vf) = &e.value_from else { continue };
        cms.extend(vf.config_map_key_ref.as_ref().map(|r| r.name.clone()));
        secrets.extend(vf.secret_key_ref.as_ref().map(|r| r.name.clone()));
    }
    (cms, secrets)
}

/// Read what `c` refers to (through the watch-based managers).
pub async fn fetch(objects: &Objects, ns: &str, c: &Container) -> Fetched {
    let (cms, secrets) = references(c);
    let wait = Duration::from_secs(10);
    let mut f = Fetched::default();
    for n in cms {
        if let Entry::Vacant(e) = f.config_maps.entry(n) {
            let v = objects.config_maps.get(ns, e.key(), wait).await;
            e.insert(v);
        }
    }
    for n in secrets {
        if let Entry::Vacant(e) = f.secrets.entry(n) {
            let v = objects.secrets.get(ns, e.key(), wait).await;
            e.insert(v);
        }
    }
    f
}

/// The resolved variables, in order, and the InvalidEnvironmentVariableNames
/// event messages to record.
#[derive(Debug, Default)]
pub struct Resolved {
    pub vars: Vec<(String, String)>,
    pub invalid: Vec<String>,
}

/// upstream's validation.IsEnvVarName: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(k: &str) -> bool {
    let ok = |c: char, first: bool| c == '-' || c == '.' || c == '_' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit());
    let mut cs = k.chars();
    cs.next().is_some_and(|c| ok(c, true)) && cs.all(|c| ok(c, false))
}

fn set(vars: &mut Vec<(String, String)>, k: String, v: String) {
    vars.retain(|(ek, _)| *ek != k);
    vars.push((k, v));
}

fn secret_data(s: &Secret) -> BTreeMap<String, String> {
    s.data.iter().flatten().map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned())).collect()
}

/// Everything the environment needs from outside the container spec.
pub struct EnvInput<'a> {
    pub pod: &'a Pod,
    pub ips: &'a PodIps,
    pub allocatable: &'a BTreeMap<String, String>,
    pub fetched: &'a Fetched,
    pub service_env: &'a HashMap<String, String>,
}

/// upstream's makeEnvironmentVariables for container `c`.
pub fn make(c: &Container, i: &EnvInput) -> Result<Resolved, String> {
    let ns = i.pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut out = Resolved::default();
    let get_cm = |name: &str, optional: bool| -> Result<Option<&Arc<ConfigMap>>, String> {
        match i.fetched.config_maps.get(name) {
            Some(Ok(cm)) => Ok(Some(cm)),
            Some(Err(e)) if e.is_not_found() && optional => Ok(None),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("configmap {name:?} not found")),
        }
    };
    let get_secret = |name: &str, optional: bool| -> Result<Option<&Arc<Secret>>, String> {
        match i.fetched.secrets.get(name) {
            Some(Ok(s)) => Ok(Some(s)),
            Some(Err(e)) if e.is_not_found() && optional => Ok(None),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("secret {name:?} not found")),
        }
    };
    for ef in c.env_from.iter().flatten() {
        let prefix = ef.prefix.clone().unwrap_or_default();
        let (data, what, name) = if let Some(r) = &ef.config_map_ref {
            let Some(cm) = get_cm(&r.name, r.optional == Some(true))? else { continue };
            (cm.data.clone().unwrap_or_default(), "configMap", r.name.clone())
        } else if let Some(r) = &ef.secret_ref {
            let Some(s) = get_secret(&r.name, r.optional == Some(true))? else { continue };
            (secret_data(s), "secret", r.name.clone())
        } else {
            continue;
        };
        let mut invalid = Vec::new();
        for (k, v) in data {
            let k = format!("{prefix}{k}");
            if !is_env_var_name(&k) {
                invalid.push(k);
                continue;
            }
            set(&mut out.vars, k, v);
        }
        if !invalid.is_empty() {
            invalid.sort();
            out.invalid.push(format!(
                "Keys [{}] from the EnvFrom {what} {ns}/{name} were skipped since they are considered invalid environment variable names.",
                invalid.join(", ")
            ));
        }
    }
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) if !v.is_empty() => {
                let defined: HashMap<String, String> = out.vars.iter().cloned().collect();
                let ctx = [&defined, i.service_env];
                expand(v, mapping_for(&ctx))
            }
            (_, Some(vf)) => {
                if let Some(f) = &vf.field_ref {
                    downward::pod_field(i.pod, i.ips, f)?
                } else if let Some(f) = &vf.resource_field_ref {
                    downward::resource_field(c, f, i.allocatable)?
                } else if let Some(r) = &vf.config_map_key_ref {
                    let optional = r.optional == Some(true);
                    let Some(cm) = get_cm(&r.name, optional)? else { continue };
                    match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => v.clone(),
                        None if optional => continue,
                        None => return Err(format!("couldn't find key {} in ConfigMap {ns}/{}", r.key, r.name)),
                    }
                } else if let Some(r) = &vf.secret_key_ref {
                    let optional = r.optional == Some(true);
                    let Some(s) = get_secret(&r.name, optional)? else { continue };
                    match s.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => String::from_utf8_lossy(&v.0).into_owned(),
                        None if optional => continue,
                        None => return Err(format!("couldn't find key {} in Secret {ns}/{}", r.key, r.name)),
                    }
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        };
        set(&mut out.vars, e.name.clone(), value);
    }
    // Service variables last, where the spec does not define the name (upstream's order).
    let mut svc: Vec<(&String, &String)> = i.service_env.iter().filter(|(k, _)| !out.vars.iter().any(|(n, _)| n == *k)).collect();
    svc.sort();
    out.vars.extend(svc.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(out)
}

/// The namespace and names of the master Services whose variables every pod gets.
const MASTER_SERVICE_NAMESPACE: &str = "default";
const MASTER_SERVICES: &[&str] = &["kubernetes"];

/// upstream's getServiceEnvVarMap: the variables of the Services of `ns` (when
/// `enable_service_links`) plus the `kubernetes` Service of `default`, for
/// Services with a ClusterIP (not headless, not ExternalName).
pub fn service_env(services: &[Arc<Service>], ns: &str, enable_service_links: bool) -> HashMap<String, String> {
    let mut chosen: BTreeMap<String, &Service> = BTreeMap::new();
    for s in services {
        if !is_service_ip_set(s) {
            continue;
        }
        let name = s.metadata.name.clone().unwrap_or_default();
        let sns = s.metadata.namespace.as_deref().unwrap_or_default();
        if sns == MASTER_SERVICE_NAMESPACE && MASTER_SERVICES.contains(&name.as_str()) {
            chosen.entry(name).or_insert(s);
        } else if sns == ns && enable_service_links {
            chosen.insert(name, s);
        }
    }
    chosen.values().flat_map(|s| from_service(s)).collect()
}

fn is_service_ip_set(s: &Service) -> bool {
    let ip = s.spec.as_ref().and_then(|sp| sp.cluster_ip.as_deref()).unwrap_or("");
    !ip.is_empty() && ip != "None"
}

/// upstream's makeEnvVariableName: upper case, dashes as underscores.
fn env_name(s: &str) -> String {
    s.to_ascii_uppercase().replace('-', "_")
}

/// upstream's envvars.FromServices for one Service: `<SVC>_SERVICE_HOST`,
/// `_SERVICE_PORT`, `_SERVICE_PORT_<NAME>` and the Docker link variables.
fn from_service(s: &Service) -> Vec<(String, String)> {
    let spec = s.spec.as_ref().expect("is_service_ip_set checked the spec");
    let ip = spec.cluster_ip.clone().unwrap_or_default();
    let prefix = env_name(s.metadata.name.as_deref().unwrap_or_default());
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    let mut out = vec![(format!("{prefix}_SERVICE_HOST"), ip.clone())];
    let Some(first) = ports.first() else { return out };
    out.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
    for p in ports {
        if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
            out.push((format!("{prefix}_SERVICE_PORT_{}", env_name(n)), p.port.to_string()));
        }
    }
    let host = if ip.contains(':') { format!("[{ip}]") } else { ip.clone() };
    for (i, p) in ports.iter().enumerate() {
        let proto = p.protocol.as_deref().filter(|p| !p.is_empty()).unwrap_or("TCP");
        let url = format!("{}://{host}:{}", proto.to_ascii_lowercase(), p.port);
        // Docker special-cases the first port.
        if i == 0 {
            out.push((format!("{prefix}_PORT"), url.clone()));
        }
        let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_ascii_uppercase());
        out.push((format!("{pp}_PROTO"), proto.to_ascii_lowercase()));
        out.push((format!("{pp}_PORT"), p.port.to_string()));
        out.push((format!("{pp}_ADDR"), ip.clone()));
        out.push((pp, url));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(c: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [c]}
        }))
        .unwrap()
    }

    fn cm(data: serde_json::Value) -> Result<Arc<ConfigMap>, ObjectError> {
        Ok(Arc::new(serde_json::from_value(json!({"metadata": {"name": "x"}, "data": data})).unwrap()))
    }

    fn resolve(p: &Pod, f: &Fetched) -> Result<Resolved, String> {
        let ips = PodIps { host_ips: vec!["10.1.1.1".into()], pod_ips: vec!["10.2.0.5".into()] };
        let alloc = BTreeMap::new();
        let svc: HashMap<String, String> = HashMap::new();
        let input = EnvInput { pod: p, ips: &ips, allocatable: &alloc, fetched: f, service_env: &svc };
        make(&p.spec.as_ref().unwrap().containers[0], &input)
    }

    #[test]
    fn every_source_in_upstream_order() {
        let p = pod(json!({"name": "c",
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "sec"}},
                        {"configMapRef": {"name": "absent", "optional": true}}],
            "env": [
                {"name": "LATER_REF", "value": "[$(B)]"},
                {"name": "A", "value": "a"},
                {"name": "B", "value": "$(A)-b-$(CFG_mode)"},
                {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "KEY", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
                {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope", "optional": true}}},
                {"name": "EMPTY"},
            ]}));
        let mut f = Fetched::default();
        f.config_maps.insert("cfg".into(), cm(json!({"mode": "fast", "bad key": "x"})));
        f.config_maps.insert("absent".into(), Err(ObjectError::NotFound { kind: "configmap", name: "absent".into() }));
        let s: Secret = serde_json::from_value(json!({"metadata": {"name": "sec"}, "data": {"password": "czNjcjN0", "1st": "eA=="}})).unwrap();
        f.secrets.insert("sec".into(), Ok(Arc::new(s)));
        let r = resolve(&p, &f).unwrap();
        let get = |k: &str| r.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CFG_mode"), Some("fast"));
        assert_eq!(get("password"), Some("s3cr3t"));
        assert_eq!(get("LATER_REF"), Some("[$(B)]"), "only variables defined earlier count");
        assert_eq!(get("B"), Some("a-b-fast"), "envFrom variables are visible to expansion");
        assert_eq!(get("NAME"), Some("p"));
        assert_eq!(get("APP"), Some("web"));
        assert_eq!(get("NODE"), Some("n1"));
        assert_eq!(get("POD_IP"), Some("10.2.0.5"));
        assert_eq!(get("KEY"), Some("fast"));
        assert_eq!(get("PW"), Some("s3cr3t"));
        assert_eq!(get("OPT"), None);
        assert_eq!(get("EMPTY"), Some(""));
        assert_eq!(
            r.invalid,
            [
                "Keys [CFG_bad key] from the EnvFrom configMap ns/cfg were skipped since they are considered invalid environment variable names.",
                "Keys [1st] from the EnvFrom secret ns/sec were skipped since they are considered invalid environment variable names.",
            ]
        );
    }

    #[test]
    fn missing_objects_and_keys_word_upstream_errors() {
        let p = pod(json!({"name": "c", "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}));
        let mut f = Fetched::default();
        f.config_maps.insert("cfg".into(), Err(ObjectError::NotFound { kind: "configmap", name: "cfg".into() }));
        assert_eq!(resolve(&p, &f).unwrap_err(), "configmap \"cfg\" not found");
        f.config_maps.insert("cfg".into(), cm(json!({"other": "1"})));
        assert_eq!(resolve(&p, &f).unwrap_err(), "couldn't find key k in ConfigMap ns/cfg");
        let p = pod(json!({"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}));
        let mut f = Fetched::default();
        f.secrets.insert("s".into(), Err(ObjectError::NotFound { kind: "secret", name: "s".into() }));
        assert_eq!(resolve(&p, &f).unwrap_err(), "secret \"s\" not found");
    }

    #[test]
    fn service_variables_as_upstream() {
        let svc = |ns: &str, name: &str, spec: serde_json::Value| Arc::new(serde_json::from_value::<Service>(json!({"metadata": {"name": name, "namespace": ns}, "spec": spec})).unwrap());
        let all = vec![
            svc("default", "kubernetes", json!({"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]})),
            svc("ns", "my-web", json!({"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]})),
            svc("ns", "headless", json!({"clusterIP": "None", "ports": [{"port": 80}]})),
            svc("ns", "ext", json!({"type": "ExternalName", "externalName": "example.com"})),
            svc("other", "elsewhere", json!({"clusterIP": "10.96.0.30", "ports": [{"port": 80}]})),
        ];
        let env = service_env(&all, "ns", true);
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("MY_WEB_SERVICE_HOST"), Some("10.96.0.20"));
        assert_eq!(get("MY_WEB_SERVICE_PORT"), Some("80"));
        assert_eq!(get("MY_WEB_SERVICE_PORT_HTTP"), Some("80"));
        assert_eq!(get("MY_WEB_SERVICE_PORT_DNS"), Some("53"));
        assert_eq!(get("MY_WEB_PORT"), Some("tcp://10.96.0.20:80"));
        assert_eq!(get("MY_WEB_PORT_80_TCP"), Some("tcp://10.96.0.20:80"));
        assert_eq!(get("MY_WEB_PORT_80_TCP_PROTO"), Some("tcp"));
        assert_eq!(get("MY_WEB_PORT_80_TCP_PORT"), Some("80"));
        assert_eq!(get("MY_WEB_PORT_80_TCP_ADDR"), Some("10.96.0.20"));
        assert_eq!(get("MY_WEB_PORT_53_UDP"), Some("udp://10.96.0.20:53"));
        assert_eq!(get("KUBERNETES_SERVICE_HOST"), Some("10.96.0.1"));
        assert_eq!(get("KUBERNETES_PORT_443_TCP_PORT"), Some("443"));
        assert!(env.keys().all(|k| !k.starts_with("HEADLESS") && !k.starts_with("EXT") && !k.starts_with("ELSEWHERE")), "{env:?}");
        // enableServiceLinks: false keeps only the master service's.
        let env = service_env(&all, "ns", false);
        assert!(env.keys().all(|k| k.starts_with("KUBERNETES_")), "{env:?}");

        // Explicit env wins; $(VAR) sees service variables.
        let p = pod(json!({"name": "c", "env": [{"name": "MY_WEB_SERVICE_HOST", "value": "mine"}, {"name": "URL", "value": "http://$(MY_WEB_SERVICE_HOST):$(MY_WEB_SERVICE_PORT)"}]}));
        let ips = PodIps { host_ips: vec![], pod_ips: vec![] };
        let alloc = BTreeMap::new();
        let f = Fetched::default();
        let senv = service_env(&all, "ns", true);
        let input = EnvInput { pod: &p, ips: &ips, allocatable: &alloc, fetched: &f, service_env: &senv };
        let r = make(&p.spec.as_ref().unwrap().containers[0], &input).unwrap();
        let get = |k: &str| r.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MY_WEB_SERVICE_HOST"), Some("mine"));
        assert_eq!(get("URL"), Some("http://mine:80"));
        assert_eq!(get("MY_WEB_PORT"), Some("tcp://10.96.0.20:80"));
        assert_eq!(r.vars.iter().filter(|(n, _)| n == "MY_WEB_SERVICE_HOST").count(), 1);
    }

    #[test]
    fn env_var_names() {
        assert!(is_env_var_name("A_b-1.x"));
        assert!(is_env_var_name(".a"));
        assert!(!is_env_var_name("1a"));
        assert!(!is_env_var_name("a b"));
        assert!(!is_env_var_name(""));
    }
}
