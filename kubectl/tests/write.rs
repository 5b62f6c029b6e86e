//! create/replace/delete, the create generators, run, expose, label,
//! annotate, patch, scale, set image and node commands against a real
//! apiserver: messages as upstream prints them.

mod common;
use common::Kube;
use serde_json::Value;

async fn json(k: &Kube, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(k.run(&a).await.ok()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_delete_from_files_dirs_and_stdin() {
    let k = Kube::start().await;
    let multi = k.file("dir/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n");
    k.file("dir/sub/c.json", r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"c"},"stringData":{"k":"v"}}]}"#);
    k.file("dir/notes.txt", "not a manifest");
    let dir = k.dir.path().join("dir").to_string_lossy().into_owned();

    assert_eq!(k.run(&["create", "-f", &dir]).await.ok(), "configmap/a created\nconfigmap/b created\n");
    let out = k.run(&["create", "-f", &dir, "-R"]).await;
    assert_eq!(out.stdout, "secret/c created\n");
    assert_eq!(
        out.fails(),
        format!(
            "Error from server (AlreadyExists): error when creating \"{multi}\": configmaps \"a\" already exists\nError from server (AlreadyExists): error when creating \"{multi}\": configmaps \"b\" already exists\n"
        )
    );
    let out = k.run_stdin(&["create", "-f", "-"], "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot}\n").await;
    assert_eq!(out.ok(), "serviceaccount/robot created\n");

    assert_eq!(k.run(&["delete", "-f", &multi]).await.ok(), "configmap \"a\" deleted\nconfigmap \"b\" deleted\n");
    let out = k.run(&["delete", "-f", &multi]).await;
    assert_eq!(
        out.fails(),
        format!("Error from server (NotFound): error when deleting \"{multi}\": configmaps \"a\" not found\nError from server (NotFound): error when deleting \"{multi}\": configmaps \"b\" not found\n")
    );
    assert_eq!(k.run(&["delete", "-f", &multi, "--ignore-not-found"]).await.ok(), "");
    assert_eq!(k.run(&["delete", "secret/c", "sa/robot"]).await.ok(), "secret \"c\" deleted\nserviceaccount \"robot\" deleted\n");
    let out = k.run(&["delete", "pod", "nope"]).await;
    assert_eq!(out.fails(), "Error from server (NotFound): pods \"nope\" not found\n");
    let out = k.run(&["delete", "pods"]).await;
    assert_eq!(out.fails(), "error: resource(s) were provided, but no name was specified\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_by_selector_all_and_options() {
    let k = Kube::start().await;
    for (n, app) in [("a", "x"), ("b", "x"), ("c", "y")] {
        k.run(&["create", "configmap", n, "--from-literal=k=v"]).await.ok();
        k.run(&["label", "cm", n, &format!("app={app}")]).await.ok();
    }
    assert_eq!(k.run(&["delete", "cm", "-l", "app=x"]).await.ok(), "configmap \"a\" deleted\nconfigmap \"b\" deleted\n");
    assert_eq!(k.run(&["delete", "cm", "-l", "app=none"]).await.ok(), "No resources found\n");
    assert_eq!(k.run(&["delete", "cm", "--all", "--cascade=foreground", "--wait=false", "-o", "name"]).await.ok(), "configmap/c\n");
    k.run(&["run", "p", "--image=busybox"]).await.ok();
    let out = k.run(&["delete", "pod", "p", "--grace-period=0", "--force"]).await;
    assert_eq!(out.ok(), "pod \"p\" force deleted\n");
    assert_eq!(out.stderr, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n");
    let out = k.run(&["delete", "cm", "x", "--cascade=sideways"]).await;
    assert!(out.fails().starts_with("error: invalid cascade value (sideways)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_generators_run_and_expose() {
    let k = Kube::start().await;
    assert_eq!(k.run(&["create", "namespace", "apps"]).await.ok(), "namespace/apps created\n");
    assert_eq!(k.run(&["create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80", "-n", "apps"]).await.ok(), "deployment.apps/web created\n");
    let d = json(&k, &["get", "deploy", "web", "-n", "apps"]).await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["name"], "nginx");
    assert_eq!(k.run(&["create", "cm", "cfg", "--from-literal=a=1", "--from-literal=b=2"]).await.ok(), "configmap/cfg created\n");
    assert_eq!(json(&k, &["get", "cm", "cfg"]).await["data"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(k.run(&["create", "secret", "generic", "s", "--from-literal=password=hunter2"]).await.ok(), "secret/s created\n");
    assert_eq!(json(&k, &["get", "secret", "s"]).await["data"]["password"], "aHVudGVyMg==");
    assert_eq!(
        k.run(&["create", "secret", "docker-registry", "reg", "--docker-server=r.example", "--docker-username=u", "--docker-password=p"]).await.ok(),
        "secret/reg created\n"
    );
    assert_eq!(k.run(&["create", "service", "clusterip", "svc", "--tcp=80:8080"]).await.ok(), "service/svc created\n");
    assert_eq!(k.run(&["create", "service", "nodeport", "np", "--tcp=80:8080"]).await.ok(), "service/np created\n");
    let np = json(&k, &["get", "svc", "np"]).await;
    assert_eq!(np["spec"]["type"], "NodePort");
    assert!(np["spec"]["ports"][0]["nodePort"].as_i64().unwrap() >= 30000);

    // --dry-run=client prints what upstream would send, without sending it.
    let out = k.run(&["create", "deployment", "web", "--image=nginx", "--dry-run=client", "-o", "yaml"]).await;
    assert_eq!(out.ok(), common::golden("create_deployment_dry_run.yaml"));
    assert_eq!(k.run(&["create", "ns", "x", "--dry-run=client"]).await.ok(), "namespace/x created (dry run)\n");
    assert_eq!(k.run(&["get", "ns", "x"]).await.code, 1);

    let out = k.run(&["run", "box", "--image=busybox", "--env=A=1", "--labels=app=box", "--restart=Never", "--port=8080", "--command", "--", "sleep", "3600"]).await;
    assert_eq!(out.ok(), "pod/box created\n");
    let p = json(&k, &["get", "pod", "box"]).await;
    assert_eq!(p["spec"]["containers"][0]["command"], serde_json::json!(["sleep", "3600"]));
    assert_eq!(p["spec"]["restartPolicy"], "Never");
    assert_eq!(p["metadata"]["labels"]["app"], "box");

    assert_eq!(k.run(&["expose", "deployment", "web", "--port=80", "--target-port=8080", "-n", "apps"]).await.ok(), "service/web exposed\n");
    let s = json(&k, &["get", "svc", "web", "-n", "apps"]).await;
    assert_eq!(s["spec"]["selector"], serde_json::json!({"app": "web"}));
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(k.run(&["expose", "pod", "box", "--name=box-svc"]).await.ok(), "service/box-svc exposed\n");
    assert_eq!(json(&k, &["get", "svc", "box-svc"]).await["spec"]["ports"][0]["port"], 8080);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_annotate_patch_scale_set_image_replace() {
    let k = Kube::start().await;
    k.run(&["create", "deployment", "web", "--image=nginx:1.25"]).await.ok();
    assert_eq!(k.run(&["label", "deploy", "web", "tier=fe"]).await.ok(), "deployment.apps/web labeled\n");
    let out = k.run(&["label", "deploy", "web", "tier=be"]).await;
    assert_eq!(out.fails(), "error: 'tier' already has a value (fe), and --overwrite is false\n");
    assert_eq!(k.run(&["label", "deploy", "web", "tier=be", "--overwrite"]).await.ok(), "deployment.apps/web labeled\n");
    assert_eq!(k.run(&["label", "deploy", "web", "tier-"]).await.ok(), "deployment.apps/web unlabeled\n");
    assert!(json(&k, &["get", "deploy", "web"]).await["metadata"]["labels"].get("tier").is_none());
    assert_eq!(k.run(&["annotate", "deploy/web", "note=hello"]).await.ok(), "deployment.apps/web annotated\n");
    let out = k.run(&["annotate", "deploy/web", "note=bye"]).await;
    assert_eq!(out.fails(), "error: --overwrite is false but found the following declared annotation(s): 'note' already has a value (hello)\n");

    assert_eq!(k.run(&["patch", "deploy", "web", "-p", "{\"spec\":{\"replicas\":3}}"]).await.ok(), "deployment.apps/web patched\n");
    assert_eq!(k.run(&["patch", "deploy", "web", "--type=merge", "-p", "spec:\n  replicas: 3\n"]).await.ok(), "deployment.apps/web patched (no change)\n");
    assert_eq!(
        k.run(&["patch", "deploy/web", "--type=json", "-p", "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":4}]"]).await.ok(),
        "deployment.apps/web patched\n"
    );
    assert_eq!(json(&k, &["get", "deploy", "web"]).await["spec"]["replicas"], 4);
    assert_eq!(k.run(&["scale", "deploy", "web", "--replicas=1"]).await.ok(), "deployment.apps/web scaled\n");
    let out = k.run(&["scale", "deploy", "web", "--replicas=5", "--current-replicas=3"]).await;
    assert_eq!(out.fails(), "error: Expected replicas to be 3, was 1\n");
    assert_eq!(k.run(&["set", "image", "deploy/web", "nginx=nginx:1.26"]).await.ok(), "deployment.apps/web image updated\n");
    let d = json(&k, &["get", "deploy", "web"]).await;
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26");
    assert_eq!(d["spec"]["replicas"], 1);
    let out = k.run(&["set", "image", "deploy/web", "nope=x"]).await;
    assert_eq!(out.fails(), "error: unable to find container named \"nope\"\n");

    let f = k.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: {a: \"1\"}\n");
    k.run(&["create", "-f", &f]).await.ok();
    let f = k.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: {b: \"2\"}\n");
    assert_eq!(k.run(&["replace", "-f", &f]).await.ok(), "configmap/r replaced\n");
    assert_eq!(json(&k, &["get", "cm", "r"]).await["data"], serde_json::json!({"b": "2"}));
    assert_eq!(k.run(&["replace", "--force", "-f", &f]).await.ok(), "configmap \"r\" deleted\nconfigmap/r replaced\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_taint_drain_nodes() {
    let k = Kube::start().await;
    let f = k.file("node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n  labels: {node-role.kubernetes.io/worker: \"\"}\n");
    k.run(&["create", "-f", &f]).await.ok();
    assert_eq!(k.run(&["cordon", "node-1"]).await.ok(), "node/node-1 cordoned\n");
    assert_eq!(k.run(&["cordon", "node-1"]).await.ok(), "node/node-1 already cordoned\n");
    let out = k.run(&["get", "nodes"]).await;
    assert_eq!(
        common::mask_ages(out.ok()),
        "NAME     STATUS                       ROLES    AGE   VERSION\nnode-1   Unknown,SchedulingDisabled   worker   AG    \n"
    );
    assert_eq!(k.run(&["uncordon", "node-1"]).await.ok(), "node/node-1 uncordoned\n");
    assert_eq!(k.run(&["taint", "nodes", "node-1", "dedicated=gpu:NoSchedule"]).await.ok(), "node/node-1 tainted\n");
    let n = json(&k, &["get", "node", "node-1"]).await;
    assert_eq!(n["spec"]["taints"], serde_json::json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]));
    let out = k.run(&["taint", "nodes", "node-1", "dedicated=cpu:NoSchedule"]).await;
    assert_eq!(out.fails(), "error: node node-1 already has dedicated taint(s) with same effect(s) and --overwrite is false\n");
    assert_eq!(k.run(&["taint", "nodes", "node-1", "dedicated=cpu:NoSchedule", "--overwrite"]).await.ok(), "node/node-1 modified\n");
    assert_eq!(k.run(&["taint", "nodes", "node-1", "dedicated:NoSchedule-"]).await.ok(), "node/node-1 untainted\n");
    let out = k.run(&["taint", "nodes", "node-1", "dedicated:NoSchedule-"]).await;
    assert_eq!(out.fails(), "error: taint \"dedicated:NoSchedule\" not found\n");

    // An unmanaged pod on the node blocks drain without --force.
    let p = k.file("p.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: bare}\nspec: {nodeName: node-1, containers: [{name: c, image: busybox}]}\n");
    k.run(&["create", "-f", &p]).await.ok();
    let out = k.run(&["drain", "node-1"]).await;
    assert_eq!(out.stdout, "node/node-1 cordoned\n");
    assert_eq!(
        out.fails(),
        "error: unable to drain node \"node-1\" due to error: cannot delete Pods that declare no controller (use --force to override): default/bare, continuing command...\n\
         There are pending nodes to be drained:\n node-1\n\
         error: cannot delete Pods that declare no controller (use --force to override): default/bare\n"
    );
    let out = k.run(&["drain", "node-1", "--force", "--grace-period=0"]).await;
    assert_eq!(out.ok(), "node/node-1 already cordoned\nevicting pod default/bare\npod/bare evicted\nnode/node-1 drained\n");
    assert_eq!(k.run(&["get", "pod", "bare"]).await.code, 1);
}
