//! Strict decoding: upstream rejects unknown fields
//! (`strict decoding error: unknown field "spec.containers[0].images"`),
//! while serde (and k8s-openapi) silently drop them.

use api::status::StatusError;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decodes `v` as `T` (of `kind` in `version`), failing with BadRequest on
/// unknown fields, worded as upstream:
/// `Pod in version "v1" cannot be handled as a Pod: strict decoding error: ...`.
pub fn decode<T: DeserializeOwned>(v: Value, kind: &str, version: &str) -> Result<T, StatusError> {
    let prefix = format!("{kind} in version {version:?} cannot be handled as a {kind}");
    let mut unknown = Vec::new();
    let obj: T = serde_ignored::deserialize(v, |path| unknown.push(render(&path)))
        .map_err(|e| StatusError::new(api::Reason::BadRequest, format!("{prefix}: {e}")))?;
    if unknown.is_empty() {
        return Ok(obj);
    }
    let fields: Vec<String> = unknown.iter().map(|p| format!("unknown field {p:?}")).collect();
    Err(StatusError::new(api::Reason::BadRequest, format!("{prefix}: strict decoding error: {}", fields.join(", "))))
}

/// Decodes request bytes straight into `T` when they are well-formed and
/// carry no unknown field; None otherwise (the caller then takes the general
/// path, which reports the error).
pub fn decode_slice<T: DeserializeOwned>(raw: &[u8]) -> Option<T> {
    let mut unknown = false;
    let mut de = serde_json::Deserializer::from_slice(raw);
    let obj: T = serde_ignored::deserialize(&mut de, |_| unknown = true).ok()?;
    de.end().ok()?;
    (!unknown).then_some(obj)
}

/// `spec.?.containers.?.0.images` (serde_ignored's path) -> `spec.containers[0].images`.
fn render(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{}]", render(parent), index),
        P::Map { parent, key } => {
            let p = render(parent);
            if p.is_empty() {
                key.to_string()
            } else {
                format!("{p}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => render(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let v = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "images": "busybox"}]}
        });
        let err = decode::<Pod>(v, "Pod", "v1").unwrap_err();
        assert_eq!(err.reason(), api::Reason::BadRequest);
        assert_eq!(
            err.message,
            r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].images""#
        );
    }

    #[test]
    fn known_fields_decode() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let p: Pod = decode(v, "Pod", "v1").unwrap();
        assert_eq!(p.spec.unwrap().containers[0].image.as_deref(), Some("busybox"));
    }
}
