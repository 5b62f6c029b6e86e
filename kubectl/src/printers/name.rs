//! `-o name`: "pod/x", "deployment.apps/web".

use client::proto::v1::ApiResource;
use serde_json::Value;

pub fn line(r: &ApiResource, obj: &Value) -> String {
    format!("{}/{}\n", crate::resources::kind_prefix(r), crate::util::name(obj))
}
