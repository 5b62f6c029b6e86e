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
