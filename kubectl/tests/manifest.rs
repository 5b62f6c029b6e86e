//! Manifests read as upstream's kubectl reads them, against a real
//! apiserver: YAML 1.1 scalars (the book's `defaultMode: 0660` is 432), the
//! last of duplicate keys winning, and unreadable files refused with exit 1.

mod common;
use common::Kube;
use serde_json::Value;

/// Kubernetes in Action, ch. 7: fortune-pod-configmap-volume-defaultMode.yaml.
const FORTUNE: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: fortune-configmap-volume
spec:
  containers:
  - image: luksa/fortune:env
    env:
    - name: INTERVAL
      valueFrom:
        configMapKeyRef:
          name: fortune-config
          key: sleep-interval
    name: html-generator
    volumeMounts:
    - name: html
      mountPath: /var/htdocs
  - image: nginx:alpine
    name: web-server
    volumeMounts:
    - name: html
      mountPath: /usr/share/nginx/html
      readOnly: true
    - name: config
      mountPath: /etc/nginx/conf.d
      readOnly: true
    ports:
    - containerPort: 80
      protocol: TCP
  volumes:
  - name: html
    emptyDir: {}
  - name: config
    configMap:
      name: fortune-config
      defaultMode: 0660
"#;

#[tokio::test]
async fn the_books_octal_default_mode_is_432() {
    let k = Kube::start().await;
    let f = k.file("fortune-pod-configmap-volume-defaultMode.yaml", FORTUNE);
    assert_eq!(k.run(&["create", "-f", &f]).await.ok(), "pod/fortune-configmap-volume created\n");
    let pod: Value = serde_json::from_str(k.run(&["get", "pod", "fortune-configmap-volume", "-o", "json"]).await.ok()).unwrap();
    let config = pod["spec"]["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "config").unwrap();
    assert_eq!(config["configMap"]["defaultMode"], 432);
    assert_eq!(pod["spec"]["containers"][1]["volumeMounts"][0]["readOnly"], true);
}

#[tokio::test]
async fn duplicate_keys_keep_the_last_and_bad_files_exit_1() {
    let k = Kube::start().await;
    // kubectl 1.27-1.33 accept a duplicate key in -f and send its last value.
    let dup = k.file("dup.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\ndata:\n  a: x\n  b: \"on\"\n  a: z\n");
    assert_eq!(k.run(&["apply", "-f", &dup]).await.ok(), "configmap/dup created\n");
    let cm: Value = serde_json::from_str(k.run(&["get", "configmap", "dup", "-o", "json"]).await.ok()).unwrap();
    assert_eq!(cm["data"], serde_json::json!({"a": "z", "b": "on"}));

    let inf = k.file("inf.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: inf\ndata:\n  a: .inf\n");
    let err = k.run(&["create", "-f", &inf]).await;
    assert_eq!(err.fails(), format!("error: error parsing {inf}: error converting YAML to JSON: json: unsupported value: +Inf\n"));

    let sep = k.file("sep.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\n--- kind: Pod\n");
    let err = k.run(&["create", "-f", &sep]).await;
    assert_eq!(err.fails(), format!("error: error parsing {sep}: invalid Yaml document separator: kind: Pod\n"));
    assert_eq!(k.run(&["get", "configmap", "s"]).await.code, 1, "nothing from a refused file is created");
}
