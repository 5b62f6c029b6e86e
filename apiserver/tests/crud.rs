//! Create, read, update, delete and their errors, against a real etcd.

mod common;

use client::{Api, DeleteParams, ListParams, Patch, PostParams};
use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use serde_json::json;

#[tokio::test]
async fn configmap_lifecycle_and_server_fields() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let created = api.create(&PostParams::default(), &cm("one")).await.unwrap();
    let m = &created.metadata;
    assert_eq!(m.namespace.as_deref(), Some("default"));
    assert!(m.uid.as_ref().is_some_and(|u| u.len() == 36), "uid assigned: {:?}", m.uid);
    assert!(m.creation_timestamp.is_some());
    assert!(rv(&created).parse::<i64>().unwrap() > 0);

    let got = api.get("one").await.unwrap();
    assert_eq!(got.data, created.data);
    assert_eq!(rv(&got), rv(&created));

    let e = api.create(&PostParams::default(), &cm("one")).await.unwrap_err();
    assert!(e.is_already_exists());
    assert_eq!(e.to_string(), r#"configmaps "one" already exists"#);

    let mut upd = got.clone();
    upd.data = Some([("k".to_string(), "v2".to_string())].into());
    let updated = api.replace(&upd).await.unwrap();
    assert_eq!(updated.data.as_ref().unwrap()["k"], "v2");
    assert_ne!(rv(&updated), rv(&got));
    assert_eq!(updated.metadata.uid, created.metadata.uid, "uid kept on update");

    // A stale resourceVersion is a Conflict.
    let e = api.replace(&upd).await.unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert_eq!(
        e.to_string(),
        r#"Operation cannot be fulfilled on configmaps "one": the object has been modified; please apply your changes to the latest version and try again"#
    );

    let (_, gone) = api.delete("one", &DeleteParams::default()).await.unwrap();
    assert!(gone);
    let e = api.get("one").await.unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(e.to_string(), r#"configmaps "one" not found"#);
    assert!(api.delete("one", &DeleteParams::default()).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn generate_name_and_labels_list() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let mut obj = cm("");
    obj.metadata.name = None;
    obj.metadata.generate_name = Some("gen-".into());
    let a = api.create(&PostParams::default(), &obj).await.unwrap();
    let name = a.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    for (n, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        let mut o = cm(n);
        o.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
        api.create(&PostParams::default(), &o).await.unwrap();
    }
    let names = |l: client::ObjectList<ConfigMap>| l.items.into_iter().map(|o| o.metadata.name.unwrap()).collect::<Vec<_>>();
    assert_eq!(names(api.list(&ListParams::default().labels("tier=front")).await.unwrap()), ["a", "c"]);
    // notin also selects objects without the label, as upstream.
    assert_eq!(names(api.list(&ListParams::default().labels("tier notin (front)")).await.unwrap()), ["b".to_string(), name.clone()]);
    assert_eq!(names(api.list(&ListParams::default().labels("tier,tier!=front")).await.unwrap()), ["b"]);
    assert_eq!(names(api.list(&ListParams::default().fields("metadata.name=b")).await.unwrap()), ["b"]);
    let e = api.list(&ListParams::default().fields("spec.bogus=1")).await.unwrap_err();
    assert_eq!(e.reason(), Some(client::Reason::BadRequest));
}

#[tokio::test]
async fn pagination_with_limit_and_continue() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    for i in 0..25 {
        api.create(&PostParams::default(), &cm(&format!("p{i:02}"))).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(10);
    let mut pages = 0;
    let mut first_rv = None;
    loop {
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        first_rv.get_or_insert(page.resource_version.clone());
        assert_eq!(Some(&page.resource_version), first_rv.as_ref(), "every page read at one revision");
        seen.extend(page.items.into_iter().map(|o| o.metadata.name.unwrap()));
        match page.continue_token {
            Some(t) => lp.continue_token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.first().map(String::as_str), Some("p00"));
}

#[tokio::test]
async fn patches_merge_json_and_strategic() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    api.create(&PostParams::default(), &cm("p")).await.unwrap();
    let pp = PostParams::default();
    let o = api.patch("p", &pp, &Patch::Merge(json!({"data": {"x": "1", "k": null}}))).await.unwrap();
    assert_eq!(o.data.unwrap(), [("x".to_string(), "1".to_string())].into());
    let o = api.patch("p", &pp, &Patch::Json(json!([{"op": "add", "path": "/data/y", "value": "2"}]))).await.unwrap();
    assert_eq!(o.data.unwrap().len(), 2);
    let o = api.patch("p", &pp, &Patch::Strategic(json!({"metadata": {"labels": {"a": "b"}}}))).await.unwrap();
    assert_eq!(o.metadata.labels.unwrap()["a"], "b");
    let e = api.patch("p", &pp, &Patch::Json(json!([{"op": "test", "path": "/data/y", "value": "no"}]))).await.unwrap_err();
    assert!(e.reason().is_some(), "{e:?}");
    let e = api.patch("missing", &pp, &Patch::Merge(json!({}))).await.unwrap_err();
    assert!(e.is_not_found());
}

#[tokio::test]
async fn system_namespaces_exist_and_missing_namespace_is_refused() {
    let c = cluster().await;
    let ns = Api::<Namespace>::all(c.client.clone());
    let names: Vec<String> = ns.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|n| n.metadata.name).collect();
    for want in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "nowhere");
    let e = api.create(&PostParams::default(), &cm("x")).await.unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(e.to_string(), r#"namespaces "nowhere" not found"#);
}

#[tokio::test]
async fn terminating_namespace_refuses_new_content() {
    let c = cluster().await;
    let ns = Api::<Namespace>::all(c.client.clone());
    let n: Namespace = serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap();
    ns.create(&PostParams::default(), &n).await.unwrap();
    let (n, gone) = ns.delete("doomed", &DeleteParams::default()).await.unwrap();
    assert!(!gone, "a namespace with spec.finalizers stays until finalized");
    assert_eq!(n.status.unwrap().phase.as_deref(), Some("Terminating"));
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "doomed");
    let e = api.create(&PostParams::default(), &cm("x")).await.unwrap_err();
    assert_eq!(e.reason(), Some(client::Reason::Forbidden));
    assert_eq!(
        e.to_string(),
        r#"configmaps "x" is forbidden: unable to create new content in namespace doomed because it is being terminated"#
    );
    let e = ns.delete("kube-system", &DeleteParams::default()).await.unwrap_err();
    assert_eq!(e.reason(), Some(client::Reason::Forbidden));
}

#[tokio::test]
async fn health_and_metrics_endpoints() {
    let c = cluster().await;
    let get = |path: &str| {
        let addr = c.addr;
        let path = path.to_string();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
    assert!(get("/readyz").await.starts_with("HTTP/1.1 200"));
    Api::<ConfigMap>::namespaced(c.client.clone(), "default").get("nope").await.unwrap_err();
    let m = get("/metrics").await;
    assert!(m.contains(r#"apiserver_request_total{verb="get",resource="configmaps",code="404"} 1"#), "{m}");
    assert!(m.contains("apiserver_request_duration_seconds_bucket"), "{m}");
}
