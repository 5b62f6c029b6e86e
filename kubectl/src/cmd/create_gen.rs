//! The objects `kubectl create <kind>`, `run` and `expose` generate, field for
//! field as upstream's generators (`--dry-run=client -o yaml` shows them).

use std::path::Path;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::error::{CmdError, CmdResult};

fn meta(name: &str) -> Value {
    json!({"creationTimestamp": null, "name": name})
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name), "spec": {}, "status": {}})
}

/// The container name upstream derives from an image: "nginx" from "docker.io/nginx:1.25".
pub fn container_name(image: &str) -> String {
    let mut name = image.rsplit('/').next().unwrap_or(image).to_string();
    if let Some((n, _)) = name.split_once(':') {
        name = n.to_string();
    }
    if let Some((n, _)) = name.split_once('@') {
        name = n.to_string();
    }
    if name.contains(['_', '.']) {
        name = name.replace(['_', '.'], "-");
        name = format!("{name}-{}", random_suffix(5));
    }
    name
}

fn random_suffix(n: usize) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(7) as u64;
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ALPHA[(seed % ALPHA.len() as u64) as usize] as char
        })
        .collect()
}

pub fn deployment(name: &str, images: &[String], replicas: i64, port: Option<i64>, command: &[String]) -> Value {
    let mut containers: Vec<Value> = images
        .iter()
        .map(|img| {
            let mut c = json!({"image": img, "name": container_name(img), "resources": {}});
            if !command.is_empty() {
                c["command"] = json!(command);
            }
            c
        })
        .collect();
    if let (Some(p), Some(c)) = (port, containers.first_mut()) {
        c["ports"] = json!([{"containerPort": p}]);
    }
    let labels = json!({"app": name});
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"creationTimestamp": null, "labels": labels, "name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {},
            "template": {"metadata": {"creationTimestamp": null, "labels": labels}, "spec": {"containers": containers}}
        },
        "status": {}
    })
}

/// Key/value sources of configmaps and secrets.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub literals: Vec<String>,
    pub files: Vec<String>,
    pub env_files: Vec<String>,
}

/// (key, bytes) pairs in the order given; duplicate keys are an error.
fn collect(src: &Sources) -> CmdResult<Vec<(String, Vec<u8>)>> {
    if !src.env_files.is_empty() && (!src.files.is_empty() || !src.literals.is_empty()) {
        return Err(CmdError::msg("from-env-file cannot be combined with from-file or from-literal"));
    }
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let add = |k: String, v: Vec<u8>, out: &mut Vec<(String, Vec<u8>)>| -> CmdResult {
        if out.iter().any(|(x, _)| *x == k) {
            return Err(CmdError::msg(format!("cannot add key {k}, another key by that name already exists in Data for {k}")));
        }
        out.push((k, v));
        Ok(())
    };
    for l in &src.literals {
        let Some((k, v)) = l.split_once('=') else {
            return Err(CmdError::msg(format!("invalid literal source {l}, expected key=value")));
        };
        add(k.to_string(), v.as_bytes().to_vec(), &mut out)?;
    }
    for f in &src.files {
        let (key, path) = match f.split_once('=') {
            Some((k, p)) => (k.to_string(), p.to_string()),
            None => (Path::new(f).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(), f.clone()),
        };
        let p = Path::new(&path);
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)?.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
            entries.sort();
            for e in entries {
                let k = e.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                add(k, std::fs::read(&e)?, &mut out)?;
            }
        } else {
            let data = std::fs::read(p).map_err(|e| CmdError::msg(format!("error reading {path}: {e}")))?;
            add(key, data, &mut out)?;
        }
    }
    for f in &src.env_files {
        let text = std::fs::read_to_string(f).map_err(|e| CmdError::msg(format!("error reading {f}: {e}")))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = match line.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (line.trim().to_string(), std::env::var(line.trim()).unwrap_or_default()),
            };
            // Later values of a key win in env files.
            out.retain(|(x, _)| *x != k);
            out.push((k, v.into_bytes()));
        }
    }
    Ok(out)
}

pub fn configmap(name: &str, src: &Sources) -> CmdResult<Value> {
    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, v) in collect(src)? {
        match String::from_utf8(v) {
            Ok(s) => data.insert(k, Value::String(s)),
            Err(e) => binary.insert(k, Value::String(b64(e.as_bytes()))),
        };
    }
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name)});
    if !data.is_empty() {
        cm["data"] = Value::Object(data);
    }
    if !binary.is_empty() {
        cm["binaryData"] = Value::Object(binary);
    }
    Ok(cm)
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn secret_generic(name: &str, src: &Sources, ty: Option<&str>) -> CmdResult<Value> {
    let mut data = Map::new();
    for (k, v) in collect(src)? {
        data.insert(k, Value::String(b64(&v)));
    }
    let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(name)});
    if !data.is_empty() {
        s["data"] = Value::Object(data);
    }
    if let Some(t) = ty.filter(|t| !t.is_empty()) {
        s["type"] = json!(t);
    }
    Ok(s)
}

pub fn secret_docker_registry(name: &str, server: &str, user: &str, password: &str, email: Option<&str>) -> Value {
    // Field order of upstream's DockerConfigEntry: username, password, email, auth.
    let mut entry = format!("{{\"username\":{},\"password\":{}", json!(user), json!(password));
    if let Some(e) = email.filter(|e| !e.is_empty()) {
        entry.push_str(&format!(",\"email\":{}", json!(e)));
    }
    entry.push_str(&format!(",\"auth\":{}}}", json!(b64(format!("{user}:{password}").as_bytes()))));
    let cfg = format!("{{\"auths\":{{{}:{entry}}}}}", json!(server));
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(name),
           "data": {".dockerconfigjson": b64(cfg.as_bytes())}, "type": "kubernetes.io/dockerconfigjson"})
}

/// `--tcp=80:8080` values to service ports.
pub fn service(name: &str, ty: &str, tcp: &[String], cluster_ip: Option<&str>, node_port: Option<i64>, external_name: Option<&str>) -> CmdResult<Value> {
    let mut ports = Vec::new();
    for t in tcp {
        let (port, target) = match t.split_once(':') {
            Some((p, tp)) => (p, tp),
            None => (t.as_str(), t.as_str()),
        };
        let port: i64 = port.parse().map_err(|_| CmdError::msg(format!("invalid port number {port}")))?;
        let target = match target.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(target),
        };
        let mut p = json!({"name": t.replace(':', "-"), "port": port, "protocol": "TCP", "targetPort": target});
        if let Some(np) = node_port.filter(|n| *n > 0) {
            p["nodePort"] = json!(np);
        }
        ports.push(p);
    }
    let labels = json!({"app": name});
    let mut spec = json!({"type": ty, "selector": labels.clone()});
    if !ports.is_empty() {
        spec["ports"] = json!(ports);
    }
    if let Some(ip) = cluster_ip.filter(|c| !c.is_empty()) {
        spec["clusterIP"] = json!(ip);
    }
    if let Some(en) = external_name {
        spec["externalName"] = json!(en);
    }
    Ok(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"creationTimestamp": null, "labels": labels, "name": name},
        "spec": spec, "status": {"loadBalancer": {}}}))
}

pub fn service_account(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name)})
}

/// The pod `kubectl run` creates.
pub struct RunSpec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub env: &'a [String],
    pub labels: Option<&'a str>,
    pub restart: &'a str,
    pub port: Option<i64>,
    pub command: bool,
    pub args: &'a [String],
    pub image_pull_policy: Option<&'a str>,
}

pub fn run_pod(s: &RunSpec) -> CmdResult<Value> {
    let mut labels = Map::new();
    match s.labels.filter(|l| !l.is_empty()) {
        Some(l) => {
            for kv in l.split(',') {
                let Some((k, v)) = kv.split_once('=') else {
                    return Err(CmdError::msg(format!("invalid label spec: {kv}")));
                };
                labels.insert(k.to_string(), json!(v));
            }
        }
        None => {
            labels.insert("run".into(), json!(s.name));
        }
    }
    let mut c = json!({"image": s.image, "name": s.name, "resources": {}});
    if !s.args.is_empty() {
        c[if s.command { "command" } else { "args" }] = json!(s.args);
    }
    if !s.env.is_empty() {
        let env: Vec<Value> = s
            .env
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => json!({"name": k, "value": v}),
                None => json!({"name": e}),
            })
            .collect();
        c["env"] = json!(env);
    }
    if let Some(p) = s.port {
        c["ports"] = json!([{"containerPort": p}]);
    }
    if let Some(p) = s.image_pull_policy {
        c["imagePullPolicy"] = json!(p);
    }
    Ok(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"creationTimestamp": null, "labels": labels, "name": s.name},
        "spec": {"containers": [c], "dnsPolicy": "ClusterFirst", "restartPolicy": s.restart},
        "status": {}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }
    fn y(v: &Value) -> String {
        crate::util::to_yaml(v)
    }

    #[test]
    fn generators_match_upstream_dry_run() {
        assert_eq!(y(&namespace("foo")), golden("gen_namespace.yaml"));
        assert_eq!(y(&deployment("web", &["nginx".into()], 1, None, &[])), golden("create_deployment_dry_run.yaml"));
        assert_eq!(
            y(&deployment("web", &["nginx".into(), "busybox".into()], 3, Some(80), &[])),
            golden("gen_deployment_multi.yaml")
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file.txt");
        std::fs::write(&file, "hello\n").unwrap();
        let f = file.to_string_lossy().to_string();
        let src = Sources { literals: vec!["a=b".into()], files: vec![f.clone(), format!("k2={f}")], env_files: vec![] };
        assert_eq!(y(&configmap("cm", &src).unwrap()), golden("gen_configmap.yaml"));
        let env = dir.path().join("env.txt");
        std::fs::write(&env, "A=1\n# c\nB=two\n").unwrap();
        let src = Sources { env_files: vec![env.to_string_lossy().into()], ..Default::default() };
        assert_eq!(y(&configmap("cm2", &src).unwrap()), golden("gen_configmap_env.yaml"));
        let bad = Sources { literals: vec!["a=b".into()], env_files: vec!["x".into()], ..Default::default() };
        assert!(configmap("x", &bad).is_err());
        let src = Sources { literals: vec!["user=admin".into()], files: vec![f], ..Default::default() };
        assert_eq!(y(&secret_generic("s", &src, None).unwrap()), golden("gen_secret.yaml"));
        assert_eq!(y(&secret_docker_registry("reg", "r.example.com", "u", "p", Some("e@x"))), golden("gen_secret_docker.yaml"));
    }

    #[test]
    fn services_and_run_match_upstream() {
        let tcp = vec!["80:8080".to_string(), "443".to_string()];
        assert_eq!(y(&service("svc", "ClusterIP", &tcp, None, None, None).unwrap()), golden("gen_service_clusterip.yaml"));
        let tcp = vec!["80:8080".to_string()];
        assert_eq!(y(&service("np", "NodePort", &tcp, None, Some(30080), None).unwrap()), golden("gen_service_nodeport.yaml"));
        assert_eq!(y(&service("headless", "ClusterIP", &[], Some("None"), None, None).unwrap()), golden("gen_service_headless.yaml"));
        let spec = RunSpec {
            name: "web",
            image: "nginx",
            env: &["A=1".into()],
            labels: Some("app=x,tier=t"),
            restart: "Never",
            port: Some(80),
            command: false,
            args: &["arg1".into(), "arg2".into()],
            image_pull_policy: None,
        };
        assert_eq!(y(&run_pod(&spec).unwrap()), golden("gen_run.yaml"));
    }

    #[test]
    fn container_names() {
        assert_eq!(container_name("docker.io/library/nginx:1.25"), "nginx");
        assert_eq!(container_name("busybox@sha256:abc"), "busybox");
        assert!(container_name("my_app").starts_with("my-app-"));
    }
}
