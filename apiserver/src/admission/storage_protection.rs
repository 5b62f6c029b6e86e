//! StorageObjectInUseProtection (upstream plugin/pkg/admission/storage/storageobjectinuseprotection):
//! new claims get the `kubernetes.io/pvc-protection` finalizer and new
//! volumes `kubernetes.io/pv-protection`, so neither disappears while in use
//! (the controller-manager's protection controllers remove them).

use serde_json::Value;

/// Adds `finalizer` to a new object's metadata.finalizers once.
pub fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let Some(meta) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) else { return };
    let list = meta.entry("finalizers").or_insert_with(|| Value::Array(Vec::new()));
    if list.is_null() {
        *list = Value::Array(Vec::new());
    }
    if let Some(l) = list.as_array_mut() {
        if !l.iter().any(|f| f.as_str() == Some(finalizer)) {
            l.push(finalizer.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adds_the_finalizer_once() {
        let mut v = json!({"metadata": {"name": "c"}});
        add_finalizer(&mut v, "kubernetes.io/pvc-protection");
        add_finalizer(&mut v, "kubernetes.io/pvc-protection");
        assert_eq!(v["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
        let mut v = json!({"metadata": {"name": "c", "finalizers": ["x"]}});
        add_finalizer(&mut v, "kubernetes.io/pv-protection");
        assert_eq!(v["metadata"]["finalizers"], json!(["x", "kubernetes.io/pv-protection"]));
    }
}
