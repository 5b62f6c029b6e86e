//! `-o json` and `-o yaml` bodies: one object, or a `List` of several.

use serde_json::{json, Value};

/// Wraps several objects the way kubectl does for `get` of a list.
pub fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
}

pub fn to_json(v: &Value) -> String {
    let mut s = crate::util::to_json(v);
    s.push('\n');
    s
}

/// Field order of the typed objects kubectl's generators print (Go struct
/// order of the k8s.io/api types involved; no two of these types order the
/// same pair of keys differently).
const TYPED_ORDER: &[&str] = &[
    "kind", "apiVersion", "metadata", "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "spec", "image", "command", "args", "workingDir", "ports", "hostPort", "containerPort", "protocol", "appProtocol", "port",
    "targetPort", "nodePort", "envFrom", "env", "value", "valueFrom", "resources", "volumeMounts", "imagePullPolicy", "replicas",
    "selector", "matchLabels", "matchExpressions", "template", "volumes", "initContainers", "containers", "restartPolicy",
    "terminationGracePeriodSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName", "strategy", "clusterIP", "clusterIPs", "data",
    "binaryData", "stringData", "type", "externalIPs", "externalName", "status", "loadBalancer",
];

/// `-o json` of an object kubectl built from a typed struct (create
/// generators, run, expose): keys in Go struct order, 4-space indent.
pub fn to_typed_json(v: &Value) -> String {
    let mut out = String::new();
    write_ranked(v, 0, &mut out);
    out.push('\n');
    out
}

fn write_ranked(v: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| "    ".repeat(n);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            let rank = |k: &str| TYPED_ORDER.iter().position(|x| *x == k).unwrap_or(usize::MAX);
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&format!("{}{}: ", pad(indent + 1), crate::util::to_json_compact(&Value::String((*k).clone()))));
                write_ranked(&m[k.as_str()], indent + 1, out);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}}}", pad(indent)));
        }
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                write_ranked(x, indent + 1, out);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}]", pad(indent)));
        }
        other => out.push_str(&crate::util::to_json_compact(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_json_like_upstream() {
        // `kubectl create deployment web --image=nginx --port=80 --dry-run=client -o json -- sleep 1`
        let v = crate::cmd::create_gen::deployment("web", &["nginx".into()], 1, Some(80), &["sleep".into(), "1".into()]);
        let compact: String = to_typed_json(&v).chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(
            compact,
            r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","creationTimestamp":null,"labels":{"app":"web"}},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx","command":["sleep","1"],"ports":[{"containerPort":80}],"resources":{}}]}},"strategy":{}},"status":{}}"#
        );
        let s = crate::cmd::create_gen::service("np", "NodePort", &["80:8080".into()], None, Some(30001), None).unwrap();
        let compact: String = to_typed_json(&s).chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(
            compact,
            r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"np","creationTimestamp":null,"labels":{"app":"np"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30001}],"selector":{"app":"np"},"type":"NodePort"},"status":{"loadBalancer":{}}}"#
        );
    }
}
