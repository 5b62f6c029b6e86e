//! The downward API: pod fields and container resources as strings, shared by
//! `env[].valueFrom` and downwardAPI volumes (upstream's fieldpath package,
//! podFieldSelectorRuntimeValue and resource.ExtractContainerResourceValue).

use api::resources::{container_limits, container_requests};
use api::Quantity;
use k8s_openapi::api::core::v1::{Container, ObjectFieldSelector, Pod, ResourceFieldSelector};
use std::collections::BTreeMap;

/// What the node knows about a pod beyond its spec.
#[derive(Debug, Clone, Default)]
pub struct PodIps {
    pub host_ips: Vec<String>,
    pub pod_ips: Vec<String>,
}

/// Upstream's FormatMap: `k="v"` lines in key order (Go's %q quoting).
pub fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    let lines: Vec<String> = m.into_iter().flatten().map(|(k, v)| format!("{k}={}", go_quote(v))).collect();
    lines.join("\n")
}

/// Go's strconv.Quote for the characters labels and annotations hold.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `metadata.labels['key']` -> ("metadata.labels", "key").
fn subscript(path: &str) -> Option<(&str, &str)> {
    let (base, rest) = path.split_once("['")?;
    Some((base, rest.strip_suffix("']")?))
}

/// The value of a fieldRef (env and volumes); volumes also accept the whole
/// label and annotation maps.
pub fn pod_field(pod: &Pod, ips: &PodIps, f: &ObjectFieldSelector) -> Result<String, String> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let path = f.field_path.as_str();
    if let Some((base, key)) = subscript(path) {
        let map = match base {
            "metadata.labels" => &m.labels,
            "metadata.annotations" => &m.annotations,
            _ => return Err(format!("unsupported fieldPath: {path}")),
        };
        return Ok(map.as_ref().and_then(|l| l.get(key)).cloned().unwrap_or_default());
    }
    Ok(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(m.labels.as_ref()),
        "metadata.annotations" => format_map(m.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()).unwrap_or_default(),
        "status.hostIP" => ips.host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => ips.host_ips.join(","),
        "status.podIP" => ips.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => ips.pod_ips.join(","),
        _ => return Err(format!("unsupported fieldPath: {path}")),
    })
}

/// A container's request or limit in the quantity's natural unit (millicores for
/// cpu, bytes otherwise). Limits that are not set are the node's allocatable, as
/// upstream's defaultPodLimitsForDownwardAPI does.
fn amount(c: &Container, which: &str, res: &str, allocatable: &BTreeMap<String, String>) -> Option<i64> {
    let natural = |q: &Quantity| if res == "cpu" { q.milli_value() } else { q.value() };
    match which {
        "limits" => container_limits(c).get(res).map(natural).or_else(|| allocatable.get(res).and_then(|a| Quantity::parse(a).ok()).map(|q| natural(&q))),
        // Requests default to limits (api::resources), else zero.
        _ => Some(container_requests(c).get(res).map(natural).unwrap_or(0)),
    }
}

/// The value of a resourceFieldRef for container `c`: ceil(value / divisor).
pub fn resource_field(c: &Container, f: &ResourceFieldSelector, allocatable: &BTreeMap<String, String>) -> Result<String, String> {
    let (which, res) = f.resource.split_once('.').ok_or_else(|| format!("unsupported container resource : {}", f.resource))?;
    let known = matches!(res, "cpu" | "memory" | "ephemeral-storage") || res.starts_with("hugepages-");
    if !matches!(which, "limits" | "requests") || !known {
        return Err(format!("unsupported container resource : {}", f.resource));
    }
    let divisor = f.divisor.as_ref().map(|d| d.0.as_str()).filter(|d| !d.is_empty()).unwrap_or("1");
    let (v, d) = if res == "cpu" {
        (amount(c, which, res, allocatable).unwrap_or(0), Quantity::parse(divisor).ok().map(|q| q.milli_value()).unwrap_or(1000))
    } else {
        (amount(c, which, res, allocatable).unwrap_or(0), Quantity::parse(divisor).ok().map(|q| q.value()).unwrap_or(1))
    };
    let d = d.max(1);
    Ok(((v + d - 1).div_euclid(d)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"b": "2", "a": "x\"y"}, "annotations": {"k": "v"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "sa", "containers": [{"name": "c",
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}]}
        }))
        .unwrap()
    }

    fn field(p: &str) -> ObjectFieldSelector {
        ObjectFieldSelector { field_path: p.into(), api_version: None }
    }

    #[test]
    fn pod_fields() {
        let ips = PodIps { host_ips: vec!["10.0.0.1".into(), "fd00::1".into()], pod_ips: vec![] };
        let p = pod();
        let get = |f: &str| pod_field(&p, &ips, &field(f));
        assert_eq!(get("metadata.name").unwrap(), "p");
        assert_eq!(get("metadata.namespace").unwrap(), "ns");
        assert_eq!(get("metadata.uid").unwrap(), "u-1");
        assert_eq!(get("metadata.labels['a']").unwrap(), "x\"y");
        assert_eq!(get("metadata.labels['none']").unwrap(), "");
        assert_eq!(get("metadata.annotations['k']").unwrap(), "v");
        assert_eq!(get("metadata.labels").unwrap(), "a=\"x\\\"y\"\nb=\"2\"");
        assert_eq!(get("spec.nodeName").unwrap(), "n1");
        assert_eq!(get("spec.serviceAccountName").unwrap(), "sa");
        assert_eq!(get("status.hostIP").unwrap(), "10.0.0.1");
        assert_eq!(get("status.hostIPs").unwrap(), "10.0.0.1,fd00::1");
        assert_eq!(get("status.podIP").unwrap(), "");
        assert_eq!(get("spec.bogus").unwrap_err(), "unsupported fieldPath: spec.bogus");
    }

    #[test]
    fn resources_with_divisors_and_node_defaults() {
        let p = pod();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let alloc: BTreeMap<String, String> = [("cpu".to_string(), "2".to_string()), ("memory".to_string(), "1Gi".to_string())].into();
        let r = |res: &str, div: Option<&str>| {
            let f = ResourceFieldSelector {
                resource: res.into(),
                divisor: div.map(|d| k8s_openapi::apimachinery::pkg::api::resource::Quantity(d.into())),
                container_name: None,
            };
            resource_field(c, &f, &alloc).unwrap()
        };
        assert_eq!(r("requests.cpu", None), "1", "250m rounds up to one core");
        assert_eq!(r("requests.cpu", Some("1m")), "250");
        assert_eq!(r("limits.cpu", None), "2", "no limit: node allocatable");
        assert_eq!(r("requests.memory", Some("1Mi")), "64");
        assert_eq!(r("limits.memory", None), (128 << 20).to_string());
        assert_eq!(r("limits.memory", Some("1Gi")), "1");
    }
}
