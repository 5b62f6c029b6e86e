//! `kubectl get` against a real apiserver on a real etcd: tables as
//! upstream prints them, short names, several kinds, selectors, output
//! formats, errors and exit codes.

mod common;
use common::{golden, mask_ages, Kube};

const PODS: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, labels: {app: web, tier: fe}}
  spec: {containers: [{name: nginx, image: nginx}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: db-1, labels: {app: db}}
  spec: {containers: [{name: pg, image: postgres}, {name: exporter, image: exp}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: other, namespace: kube-system, labels: {app: sys}}
  spec: {containers: [{name: c, image: busybox}]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_tables_like_upstream() {
    let k = Kube::start().await;
    let f = k.file("pods.yaml", PODS);
    assert_eq!(k.run(&["create", "-f", &f]).await.ok(), "pod/web-1 created\npod/db-1 created\npod/other created\n");

    let out = k.run(&["get", "pods"]).await;
    assert_eq!(mask_ages(out.ok()), golden("live_get_pods.txt"));
    for spelling in ["po", "pod", "Pod", "PODS"] {
        let again = k.run(&["get", spelling]).await;
        assert_eq!(mask_ages(again.ok()), golden("live_get_pods.txt"), "spelling {spelling}");
    }
    let out = k.run(&["get", "po", "-A", "--show-labels"]).await;
    assert_eq!(mask_ages(out.ok()), golden("live_get_pods_all_labels.txt"));
    let out = k.run(&["get", "po", "-L", "app", "--sort-by", "{.metadata.name}"]).await;
    assert_eq!(mask_ages(out.ok()), golden("live_get_pods_label_column.txt"));

    // Several kinds: one table each, names with kind prefixes, a blank line between.
    let out = k.run(&["get", "po,svc"]).await;
    assert_eq!(mask_ages(out.ok()), golden("live_get_pods_services.txt"));
    let out = k.run(&["get", "all"]).await;
    assert_eq!(mask_ages(out.ok()), golden("live_get_pods_services.txt"), "get all = pods + services here");
    let out = k.run(&["get", "pod/web-1", "svc/kubernetes"]).await;
    assert!(out.ok().starts_with("NAME        READY   STATUS    RESTARTS   AGE\npod/web-1   0/1     Pending   0  "), "{}", out.stdout);

    let out = k.run(&["get", "ns"]).await;
    assert_eq!(mask_ages(out.ok()), golden("live_get_ns.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_selectors_and_namespaces() {
    let k = Kube::start().await;
    let f = k.file("pods.yaml", PODS);
    k.run(&["create", "-f", &f]).await.ok();
    let names = |args: &'static [&'static str]| {
        let k = &k;
        async move {
            let mut a = vec!["get", "pods", "-o", "name"];
            a.extend_from_slice(args);
            k.run(&a).await.ok().to_string()
        }
    };
    assert_eq!(names(&["-l", "app=web"]).await, "pod/web-1\n");
    assert_eq!(names(&["-l", "app!=web"]).await, "pod/db-1\n");
    assert_eq!(names(&["-l", "app in (web,db)", "--sort-by", ".metadata.name"]).await, "pod/db-1\npod/web-1\n");
    assert_eq!(names(&["-l", "app notin (web)"]).await, "pod/db-1\n");
    assert_eq!(names(&["-l", "tier"]).await, "pod/web-1\n");
    assert_eq!(names(&["-l", "!tier"]).await, "pod/db-1\n");
    assert_eq!(names(&["--field-selector", "metadata.name=db-1"]).await, "pod/db-1\n");
    assert_eq!(names(&["-A", "-l", "app=sys"]).await, "pod/other\n");
    assert_eq!(names(&["-n", "kube-system"]).await, "pod/other\n");

    let out = k.run(&["get", "pods", "-l", "app=none"]).await;
    assert_eq!((out.ok(), out.stderr.as_str()), ("", "No resources found in default namespace.\n"));
    let out = k.run(&["get", "pods", "-n", "empty"]).await;
    assert_eq!(out.stderr, "No resources found in empty namespace.\n");
    let out = k.run(&["get", "pods", "-A", "-l", "app=none"]).await;
    assert_eq!(out.stderr, "No resources found\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_output_formats() {
    let k = Kube::start().await;
    let f = k.file("pods.yaml", PODS);
    k.run(&["create", "-f", &f]).await.ok();

    let y: serde_json::Value = serde_yaml::from_str(k.run(&["get", "pod", "web-1", "-o", "yaml"]).await.ok()).unwrap();
    assert_eq!((y["kind"].as_str(), y["metadata"]["name"].as_str()), (Some("Pod"), Some("web-1")));
    let text = k.run(&["get", "pod", "web-1", "-o", "yaml"]).await.stdout;
    assert!(text.starts_with("apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: \""), "keys sorted, timestamps quoted: {text}");

    let j: serde_json::Value = serde_json::from_str(k.run(&["get", "pods", "-o", "json"]).await.ok()).unwrap();
    assert_eq!(j["kind"], "List");
    assert_eq!(j["apiVersion"], "v1");
    assert_eq!(j["items"].as_array().unwrap().len(), 2);
    assert!(j["items"].as_array().unwrap().iter().all(|i| i["kind"] == "Pod"));
    let text = k.run(&["get", "pods", "-o", "json"]).await.stdout;
    assert!(text.starts_with("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n"), "{text}");

    let out = k.run(&["get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}:{.spec.containers[*].name}{\"\\n\"}{end}", "--sort-by", ".metadata.name"]).await;
    assert_eq!(out.ok(), "db-1:pg exporter\nweb-1:nginx\n");
    let out = k.run(&["get", "pod", "db-1", "-o", "jsonpath={.metadata.labels.app}"]).await;
    assert_eq!(out.ok(), "db");
    let out = k.run(&["get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGES:.spec.containers[*].image", "--sort-by", ".metadata.name"]).await;
    assert_eq!(out.ok(), "NAME    IMAGES\ndb-1    postgres,exp\nweb-1   nginx\n");
    let out = k.run(&["get", "pods", "-o", "bogus"]).await;
    assert!(out.fails().starts_with("error: unable to match a printer suitable for the output format \"bogus\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_errors_and_exit_codes() {
    let k = Kube::start().await;
    let out = k.run(&["get", "pods", "nope"]).await;
    assert_eq!(out.fails(), "Error from server (NotFound): pods \"nope\" not found\n");
    assert_eq!(out.stdout, "");
    let out = k.run(&["get", "deploy", "nope"]).await;
    assert_eq!(out.fails(), "Error from server (NotFound): deployments.apps \"nope\" not found\n");
    let out = k.run(&["get", "foo"]).await;
    assert_eq!(out.fails(), "error: the server doesn't have a resource type \"foo\"\n");
    let out = k.run(&["get", "pods", "nope", "--ignore-not-found"]).await;
    assert_eq!((out.ok(), out.stderr.as_str()), ("", ""));
    // Found objects print; the missing one is an error at the end.
    let out = k.run(&["get", "ns", "default", "nope"]).await;
    assert!(out.stdout.starts_with("NAME      STATUS   AGE\ndefault   Active "), "{}", out.stdout);
    assert_eq!(out.fails(), "Error from server (NotFound): namespaces \"nope\" not found\n");
    let out = k.run(&["get", "--bogus-flag"]).await;
    assert_eq!(out.fails(), "Error: unknown flag: --bogus-flag\nSee 'kubectl get --help' for usage.\n");
    let out = k.run(&["-s", "127.0.0.1:1", "get", "pods"]).await;
    assert_eq!(out.fails(), "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_and_version() {
    let k = Kube::start().await;
    let out = k.run(&["api-resources"]).await;
    let text = out.ok();
    assert!(text.starts_with("NAME "), "{text}");
    let header = text.lines().next().unwrap();
    assert_eq!(header.split_whitespace().collect::<Vec<_>>(), ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]);
    let row = |name: &str| text.lines().find(|l| l.split_whitespace().next() == Some(name)).map(|l| l.split_whitespace().collect::<Vec<_>>());
    assert_eq!(row("pods").unwrap(), ["pods", "po", "v1", "true", "Pod"]);
    assert_eq!(row("deployments").unwrap(), ["deployments", "deploy", "apps/v1", "true", "Deployment"]);
    assert_eq!(row("nodes").unwrap(), ["nodes", "no", "v1", "false", "Node"]);
    let out = k.run(&["explain", "deploy.spec.replicas"]).await;
    assert!(out.ok().starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nFIELD: replicas <integer>\n\n\nDESCRIPTION:\n    Number of desired pods."), "{}", out.stdout);
    let out = k.run(&["explain", "jobs.spec.template.spec"]).await;
    assert!(out.ok().contains("FIELDS:\n  activeDeadlineSeconds\t<integer>\n"), "{}", out.stdout);
    let out = k.run(&["explain", "pods.spec.nope"]).await;
    assert_eq!(out.fails(), "error: field \"nope\" does not exist\n");
    let out = k.run(&["version"]).await;
    assert!(out.ok().starts_with("Client Version: v1.33.0"));
    assert!(out.stdout.contains("\nServer Version: v1."), "{}", out.stdout);
}

const POLICY: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: scheduling.k8s.io/v1
  kind: PriorityClass
  metadata: {name: batch-low}
  value: 100
  preemptionPolicy: Never
  description: for batch jobs
- apiVersion: policy/v1
  kind: PodDisruptionBudget
  metadata: {name: web}
  spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
- apiVersion: policy/v1
  kind: PodDisruptionBudget
  metadata: {name: db}
  spec: {maxUnavailable: "50%", selector: {matchLabels: {app: db}}}
- apiVersion: v1
  kind: LimitRange
  metadata: {name: defaults}
  spec: {limits: [{type: Container, default: {cpu: 500m}, defaultRequest: {cpu: 0.25}}]}
"#;

/// Kinds with their own upstream columns beyond the workloads: PriorityClass
/// (PREEMPTIONPOLICY shown without -o wide, as the server's table is always
/// wide), PodDisruptionBudget (N/A for the unset bound), LimitRange (the
/// apiserver's default NAME / CREATED AT table), and their describers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_priorityclasses_and_disruption_budgets() {
    let k = Kube::start().await;
    let f = k.file("policy.yaml", POLICY);
    let out = k.run(&["create", "-f", &f]).await;
    assert_eq!(
        out.ok(),
        "priorityclass.scheduling.k8s.io/batch-low created\npoddisruptionbudget.policy/web created\npoddisruptionbudget.policy/db created\nlimitrange/defaults created\n"
    );

    let pc = "NAME                      VALUE        GLOBAL-DEFAULT   AGE   PREEMPTIONPOLICY\n\
              batch-low                 100          false            AG    Never\n\
              system-cluster-critical   2000000000   false            AG    PreemptLowerPriority\n\
              system-node-critical      2000001000   false            AG    PreemptLowerPriority\n";
    for args in [&["get", "priorityclasses"][..], &["get", "pc", "-o", "wide"]] {
        let out = k.run(args).await;
        assert_eq!(mask_ages(out.ok()), pc, "{args:?}");
    }

    let pdb = "NAME   MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\n\
               db     N/A             50%               0                     AG\n\
               web    1               N/A               0                     AG\n";
    for args in [&["get", "pdb"][..], &["get", "poddisruptionbudgets.policy", "-o", "wide"]] {
        let out = k.run(args).await;
        assert_eq!(mask_ages(out.ok()), pdb, "{args:?}");
    }
    let out = k.run(&["get", "pdb", "web", "-A"]).await;
    assert!(out.ok().starts_with("NAMESPACE   NAME   MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\ndefault     web    1               N/A               0  "), "{}", out.stdout);

    let out = k.run(&["get", "limits"]).await;
    let created = k.run(&["get", "limitrange", "defaults", "-o", "jsonpath={.metadata.creationTimestamp}"]).await;
    assert_eq!(out.ok(), format!("NAME       CREATED AT\ndefaults   {}\n", created.ok()));

    assert_eq!(
        k.run(&["describe", "pc", "batch-low"]).await.ok(),
        "Name:              batch-low\nValue:             100\nGlobalDefault:     false\nPreemptionPolicy:  Never\nDescription:       for batch jobs\nAnnotations:       <none>\nEvents:            <none>\n"
    );
    assert_eq!(
        k.run(&["describe", "pdb", "web"]).await.ok(),
        "Name:           web\nNamespace:      default\nMin available:  1\nSelector:       app=web\nStatus:\n    Allowed disruptions:  0\n    Current:              0\n    Desired:              0\n    Total:                0\nEvents:                   <none>\n"
    );
    assert_eq!(
        k.run(&["describe", "limits", "defaults"]).await.ok(),
        "Name:       defaults\nNamespace:  default\nType        Resource  Min  Max  Default Request  Default Limit  Max Limit/Request Ratio\n\
         ----        --------  ---  ---  ---------------  -------------  -----------------------\n\
         Container   cpu       -    -    250m             500m           -\n"
    );
}
