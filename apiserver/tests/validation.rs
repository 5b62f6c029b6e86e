//! Every generic validation and admission error path, with upstream's
//! reasons and messages (kinds' own rules are unit-tested in the registry).

mod common;

use client::proto::v1::{CreateRequest, RawObject, ResourceRef};
use client::{Api, PostParams};
use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{json, Value};

/// Creates a raw body as `resource` in `ns`, returning the error's reason, message and causes.
async fn create_raw(c: &TestCluster, resource: &str, ns: &str, body: Value) -> Result<Value, (String, String, Vec<(String, String)>)> {
    let req = CreateRequest {
        target: Some(ResourceRef { resource: resource.into(), version: "v1".into(), namespace: ns.into(), ..Default::default() }),
        object: Some(RawObject { raw: serde_json::to_vec(&body).unwrap(), content_type: "application/json".into() }),
        ..Default::default()
    };
    match c.client.grpc().create(req).await {
        Ok(r) => Ok(serde_json::from_slice(&r.into_inner().raw).unwrap()),
        Err(st) => match client::Error::from(st) {
            client::Error::Api(e) => Err((
                e.0.reason.clone(),
                e.0.message.clone(),
                e.causes().iter().map(|c| (c.field.clone(), c.reason.clone())).collect(),
            )),
            other => panic!("not an API error: {other:?}"),
        },
    }
}

#[tokio::test]
async fn names_are_validated_with_upstream_messages() {
    let c = cluster().await;
    let (reason, msg, causes) = create_raw(&c, "configmaps", "default", json!({"metadata": {"name": "Bad_Name"}})).await.unwrap_err();
    assert_eq!(reason, "Invalid");
    assert!(msg.starts_with(r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#), "{msg}");
    assert_eq!(causes, [("metadata.name".to_string(), "FieldValueInvalid".to_string())]);

    let (reason, msg, _) = create_raw(&c, "configmaps", "default", json!({"metadata": {}})).await.unwrap_err();
    assert_eq!(reason, "Invalid");
    assert!(msg.ends_with("metadata.name: Required value: name or generateName is required"), "{msg}");

    let (reason, msg, _) = create_raw(&c, "namespaces", "", json!({"metadata": {"name": "a.b"}})).await.unwrap_err();
    assert_eq!(reason, "Invalid");
    assert!(msg.contains("a lowercase RFC 1123 label must consist of"), "{msg}");
}

#[tokio::test]
async fn labels_annotations_and_keys_are_validated() {
    let c = cluster().await;
    let (reason, msg, causes) = create_raw(
        &c,
        "configmaps",
        "default",
        json!({"metadata": {"name": "x", "labels": {"bad key": "v", "ok": "-bad"}}}),
    )
    .await
    .unwrap_err();
    assert_eq!(reason, "Invalid");
    assert!(msg.starts_with(r#"ConfigMap "x" is invalid: ["#), "several errors are bracketed: {msg}");
    let fields: Vec<&str> = causes.iter().map(|c| c.0.as_str()).collect();
    assert!(fields.contains(&"metadata.labels") && fields.contains(&"metadata.labels[ok]"), "{fields:?}");

    let (_, msg, _) = create_raw(&c, "configmaps", "default", json!({"metadata": {"name": "x"}, "data": {"bad/key": "v"}})).await.unwrap_err();
    assert!(msg.contains(r#"data[bad/key]: Invalid value: "bad/key": a valid config key must consist of"#), "{msg}");
}

#[tokio::test]
async fn unknown_fields_are_rejected_by_name() {
    let c = cluster().await;
    let (reason, msg, _) =
        create_raw(&c, "configmaps", "default", json!({"metadata": {"name": "x", "lables": {}}, "data": {}})).await.unwrap_err();
    assert_eq!(reason, "BadRequest");
    assert_eq!(msg, r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.lables""#);
}

#[tokio::test]
async fn kind_version_and_namespace_must_match_the_request() {
    let c = cluster().await;
    let (reason, msg, _) =
        create_raw(&c, "configmaps", "default", json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}})).await.unwrap_err();
    assert_eq!(reason, "BadRequest");
    assert_eq!(msg, "the API version in the data (apps/v1) does not match the expected API version (v1)");
    let (reason, msg, _) = create_raw(&c, "configmaps", "default", json!({"kind": "Secret", "metadata": {"name": "x"}})).await.unwrap_err();
    assert_eq!(reason, "BadRequest");
    assert!(msg.contains("kind"), "{msg}");
    let (reason, msg, _) =
        create_raw(&c, "configmaps", "default", json!({"metadata": {"name": "x", "namespace": "kube-system"}})).await.unwrap_err();
    assert_eq!(reason, "BadRequest");
    assert_eq!(msg, "the namespace of the provided object does not match the namespace sent on the request");
    let (reason, _, _) = create_raw(&c, "configmaps", "default", json!([1, 2])).await.unwrap_err();
    assert_eq!(reason, "BadRequest");
    let (reason, msg, _) = create_raw(&c, "widgets", "default", json!({"metadata": {"name": "x"}})).await.unwrap_err();
    assert_eq!((reason.as_str(), msg.as_str()), ("NotFound", "the server could not find the requested resource"));
}

#[tokio::test]
async fn oversized_bodies_are_too_large_and_nothing_is_stored() {
    let c = cluster().await;
    let big = "x".repeat(1_600_000);
    let (reason, msg, _) = create_raw(&c, "configmaps", "default", json!({"metadata": {"name": "big"}, "data": {"k": big}})).await.unwrap_err();
    assert_eq!(reason, "RequestEntityTooLarge");
    assert!(msg.starts_with("Request entity too large"), "{msg}");
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    assert!(api.get("big").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn metadata_owned_by_the_server_is_kept_on_update() {
    let c = cluster().await;
    let api = Api::<ConfigMap>::namespaced(c.client.clone(), "default");
    let orig = api.create(&PostParams::default(), &cm("keep")).await.unwrap();
    let mut o = orig.clone();
    o.metadata.uid = Some("forged".into());
    o.metadata.creation_timestamp = None;
    let upd = api.replace(&o).await.unwrap();
    assert_eq!(upd.metadata.uid, orig.metadata.uid);
    assert_eq!(upd.metadata.creation_timestamp, orig.metadata.creation_timestamp);
    // Renaming through an update is refused.
    let mut o = upd.clone();
    o.metadata.name = Some("other".into());
    let req = client::proto::v1::UpdateRequest {
        target: Some(ResourceRef { resource: "configmaps".into(), version: "v1".into(), namespace: "default".into(), name: "keep".into(), ..Default::default() }),
        object: Some(RawObject { raw: serde_json::to_vec(&o).unwrap(), content_type: "application/json".into() }),
        ..Default::default()
    };
    let e = client::Error::from(c.client.grpc().update(req).await.unwrap_err());
    assert_eq!(e.reason(), Some(client::Reason::BadRequest));
}
