//! Client-side apply against a real apiserver: created / configured /
//! unchanged, the last-applied annotation, and a field removed from the
//! file disappearing from the object (the three-way merge).

mod common;
use common::Kube;
use serde_json::Value;

const V1: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
  annotations: {team: a}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        env:
        - {name: MODE, value: fast}
        ports:
        - {containerPort: 80}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1", b: "2"}
"#;

/// The same objects with `tier`, `team`, `replicas`, `env` and data key `b` removed.
const V2: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
        ports:
        - {containerPort: 80}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
"#;

async fn json(k: &Kube, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(k.run(&a).await.ok()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_removes_fields_dropped_from_the_file() {
    let k = Kube::start().await;
    let f = k.file("app.yaml", V1);
    assert_eq!(k.run(&["apply", "-f", &f]).await.ok(), "deployment.apps/web created\nconfigmap/settings created\n");
    assert_eq!(k.run(&["apply", "-f", &f]).await.ok(), "deployment.apps/web unchanged\nconfigmap/settings unchanged\n");

    let d = json(&k, &["get", "deploy", "web"]).await;
    let last = d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str().unwrap();
    assert!(last.starts_with("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{\"team\":\"a\"},\"labels\":{\"app\":\"web\",\"tier\":\"frontend\"},\"name\":\"web\",\"namespace\":\"default\"},"), "{last}");
    assert!(last.ends_with("}\n"));
    // A server default the file never set.
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");

    let f2 = k.file("app.yaml", V2);
    assert_eq!(k.run(&["apply", "-f", &f2]).await.ok(), "deployment.apps/web configured\nconfigmap/settings configured\n");
    let d = json(&k, &["get", "deploy", "web"]).await;
    assert_eq!(d["metadata"]["labels"], serde_json::json!({"app": "web"}), "label removed from the file is gone");
    assert!(d["metadata"]["annotations"].get("team").is_none(), "annotation removed from the file is gone");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.26");
    assert!(c.get("env").is_none(), "env removed from the file is gone: {c}");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent", "server defaults stay");
    assert_eq!(c["ports"][0]["protocol"], "TCP", "server defaults inside list elements stay");
    assert_eq!(d["spec"]["replicas"], 1, "replicas removed from the file falls back to the server default");
    let cm = json(&k, &["get", "cm", "settings"]).await;
    assert_eq!(cm["data"], serde_json::json!({"a": "1"}));

    assert_eq!(k.run(&["apply", "-f", &f2]).await.ok(), "deployment.apps/web unchanged\nconfigmap/settings unchanged\n");
    assert_eq!(
        k.run(&["apply", "view-last-applied", "cm/settings"]).await.ok(),
        "apiVersion: v1\ndata:\n  a: \"1\"\nkind: ConfigMap\nmetadata:\n  annotations: {}\n  name: settings\n  namespace: default\n"
    );
    assert_eq!(
        k.run(&["apply", "view-last-applied", "configmap", "settings", "-o", "json"]).await.ok(),
        "{\n  \"apiVersion\": \"v1\",\n  \"data\": {\n    \"a\": \"1\"\n  },\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\n    \"annotations\": {},\n    \"name\": \"settings\",\n    \"namespace\": \"default\"\n  }\n}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_keeps_changes_made_by_others_and_warns_without_annotation() {
    let k = Kube::start().await;
    let f = k.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: \"1\"}\n");
    k.run(&["apply", "-f", &f]).await.ok();
    // Someone else adds a label; re-applying the file keeps it.
    k.run(&["label", "cm", "c", "owner=ops"]).await.ok();
    let f = k.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: \"2\"}\n");
    assert_eq!(k.run(&["apply", "-f", &f]).await.ok(), "configmap/c configured\n");
    let cm = json(&k, &["get", "cm", "c"]).await;
    assert_eq!((cm["data"]["a"].as_str(), cm["metadata"]["labels"]["owner"].as_str()), (Some("2"), Some("ops")));

    // Created without --save-config: apply warns and patches the annotation in.
    let g = k.file("g.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: g}\ndata: {x: \"1\"}\n");
    k.run(&["create", "-f", &g]).await.ok();
    let out = k.run(&["apply", "-f", &g]).await;
    assert_eq!(out.ok(), "configmap/g configured\n");
    assert_eq!(
        out.stderr,
        "Warning: resource configmaps/g is missing the kubectl.kubernetes.io/last-applied-configuration annotation which is required by kubectl apply. kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. The missing annotation will be patched automatically.\n"
    );
    assert_eq!(k.run(&["apply", "-f", &g]).await.ok(), "configmap/g unchanged\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_stdin_json_and_errors() {
    let k = Kube::start().await;
    let out = k.run_stdin(&["apply", "-f", "-"], r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}"#).await;
    assert_eq!(out.ok(), "namespace/team-a created\n");
    let out = k.run_stdin(&["apply", "-f", "-", "-o", "name"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: team-a}\n").await;
    assert_eq!(out.ok(), "configmap/x\n");
    let bad = k.file(
        "bad.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  replicas: -1\n  selector: {matchLabels: {app: bad}}\n  template:\n    metadata: {labels: {app: bad}}\n    spec: {containers: [{name: c, image: busybox}]}\n",
    );
    let out = k.run(&["apply", "-f", &bad]).await;
    assert_eq!(out.fails(), "The Deployment \"bad\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0\n");
    let unknown = k.file("u.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
    let out = k.run(&["apply", "-f", &unknown]).await;
    assert!(out.fails().starts_with("error: resource mapping not found for name: \"w\" namespace: \"\" from \""), "{}", out.stderr);
    let out = k.run(&["apply", "-f", "/nonexistent.yaml"]).await;
    assert_eq!(out.fails(), "error: the path \"/nonexistent.yaml\" does not exist\n");
}
