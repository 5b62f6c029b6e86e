//! kubeconfig handling: `config view|get-contexts|use-context|set-context`
//! with files in upstream's format, and contexts selecting server and
//! namespace for other commands.

mod common;
use common::Kube;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_select_server_and_namespace() {
    let k = Kube::start().await;
    let out = k.run(&["config", "get-contexts"]).await;
    assert_eq!(out.ok(), "CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE\n*         test   test      admin      default\n");
    let view = k.run(&["config", "view"]).await;
    assert_eq!(
        view.ok(),
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    server: http://{}\n  name: test\ncontexts:\n- context:\n    cluster: test\n    namespace: default\n    user: admin\n  name: test\ncurrent-context: test\nkind: Config\npreferences: {{}}\nusers:\n- name: admin\n  user:\n    token: REDACTED\n",
            k.cluster.addr
        )
    );
    assert!(k.run(&["config", "view", "--raw"]).await.ok().contains("    token: secret\n"));
    assert_eq!(k.run(&["config", "current-context"]).await.ok(), "test\n");

    k.run(&["create", "ns", "team"]).await.ok();
    k.run(&["create", "cm", "here", "-n", "team"]).await.ok();
    assert_eq!(k.run(&["config", "set-context", "--current", "--namespace=team"]).await.ok(), "Context \"test\" modified.\n");
    assert_eq!(k.run(&["get", "cm", "-o", "name"]).await.ok(), "configmap/here\n");
    assert_eq!(k.run(&["get", "cm", "here", "-n", "default"]).await.code, 1);

    // A second context pointing nowhere; -s and --context override.
    assert_eq!(k.run(&["config", "set-cluster", "dead", "--server=http://127.0.0.1:1"]).await.ok(), "Cluster \"dead\" set.\n");
    assert_eq!(k.run(&["config", "set-context", "broken", "--cluster=dead", "--user=admin"]).await.ok(), "Context \"broken\" created.\n");
    assert_eq!(k.run(&["config", "use-context", "broken"]).await.ok(), "Switched to context \"broken\".\n");
    let out = k.run(&["get", "ns"]).await;
    assert_eq!(out.fails(), "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n");
    assert_eq!(k.run(&["--context", "test", "get", "cm", "-o", "name"]).await.ok(), "configmap/here\n");
    let addr = k.cluster.addr.to_string();
    assert!(k.run(&["-s", &addr, "get", "ns", "default", "-o", "name"]).await.ok() == "namespace/default\n");
    let out = k.run(&["config", "use-context", "nope"]).await;
    assert_eq!(out.fails(), "error: no context exists with the name: \"nope\"\n");
    let out = k.run(&["--context", "nope", "get", "pods"]).await;
    assert_eq!(out.fails(), "Error in configuration: context was not found for specified context: nope\n");

    // The file stays in upstream's format (sorted keys, entries by name).
    let text = std::fs::read_to_string(&k.kubeconfig).unwrap();
    assert!(text.starts_with("apiVersion: v1\nclusters:\n- cluster:\n    server: http://127.0.0.1:1\n  name: dead\n- cluster:\n"), "{text}");
    assert!(text.contains("current-context: broken\n"));
    assert!(text.contains("- context:\n    cluster: test\n    namespace: team\n    user: admin\n  name: test\n"));
}
