//! ServiceAccount's image pull secrets (upstream plugin/pkg/admission/
//! serviceaccount, the part that copies `imagePullSecrets`): a new Pod that
//! names none gets those of its ServiceAccount (`spec.serviceAccountName`,
//! default `default`). Only the image pull secrets: defaulting the account
//! name and refusing pods whose account does not exist wait for the token
//! machinery.

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;

use crate::storage::{key_for, prefix_for};
use crate::watch_cache::WatchCache;

fn account_name(spec: &Value) -> &str {
    spec.get("serviceAccountName").and_then(|n| n.as_str()).filter(|n| !n.is_empty()).unwrap_or("default")
}

fn has_pull_secrets(spec: &Value) -> bool {
    spec.get("imagePullSecrets").and_then(|s| s.as_array()).is_some_and(|a| !a.is_empty())
}

/// The account's imagePullSecrets (as JSON), if it has any.
fn account_secrets(cache: &WatchCache, namespace: &str, account: &str) -> Option<Value> {
    let o = cache.get(&key_for("serviceaccounts", Some(namespace), account))?;
    let sa: Value = serde_json::from_slice(&o.raw).ok()?;
    let secrets = sa.get("imagePullSecrets")?.as_array()?.clone();
    (!secrets.is_empty()).then_some(Value::Array(secrets))
}

/// On pod create (the general path): copy the account's imagePullSecrets.
pub fn admit_pod(cache: &WatchCache, namespace: &str, pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec") else { return };
    if has_pull_secrets(spec) {
        return;
    }
    let account = account_name(spec).to_string();
    if let Some(secrets) = account_secrets(cache, namespace, &account) {
        spec["imagePullSecrets"] = secrets;
    }
}

/// May the raw (namespace-less, typed) create path skip this plugin? Yes when
/// the pod names its own pull secrets or no ServiceAccount has any; else the
/// general path decides (it knows the namespace).
pub fn raw_path_ok(cache: &WatchCache, spec: &PodSpec) -> bool {
    if spec.image_pull_secrets.as_ref().is_some_and(|s| !s.is_empty()) {
        return true;
    }
    let (accounts, _) = cache.list(&prefix_for("serviceaccounts", None));
    const FIELD: &[u8] = b"\"imagePullSecrets\"";
    !accounts.iter().any(|o| o.raw.windows(FIELD.len()).any(|w| w == FIELD))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Kinds;
    use serde_json::json;

    #[test]
    fn a_pod_without_pull_secrets_gets_its_accounts() {
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": "ci"},
            "imagePullSecrets": [{"name": "regcred"}]});
        let plain = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "ci"}});
        let cache = WatchCache::from_objects(Kinds::new(), &[("/registry/serviceaccounts/ci/builder", sa), ("/registry/serviceaccounts/ci/default", plain)]);
        let mut pod = json!({"spec": {"serviceAccountName": "builder", "containers": []}});
        admit_pod(&cache, "ci", &mut pod);
        assert_eq!(pod["spec"]["imagePullSecrets"], json!([{"name": "regcred"}]));
        // The pod's own secrets win; the default account has none; another namespace is not looked at.
        let mut own = json!({"spec": {"serviceAccountName": "builder", "imagePullSecrets": [{"name": "mine"}]}});
        admit_pod(&cache, "ci", &mut own);
        assert_eq!(own["spec"]["imagePullSecrets"], json!([{"name": "mine"}]));
        let mut dflt = json!({"spec": {"containers": []}});
        admit_pod(&cache, "ci", &mut dflt);
        assert!(dflt["spec"].get("imagePullSecrets").is_none());
        let mut other = json!({"spec": {"serviceAccountName": "builder"}});
        admit_pod(&cache, "prod", &mut other);
        assert!(other["spec"].get("imagePullSecrets").is_none());
        // The raw path defers while some account has pull secrets.
        assert!(!raw_path_ok(&cache, &PodSpec::default()));
        let empty = WatchCache::from_objects(Kinds::new(), &[]);
        assert!(raw_path_ok(&empty, &PodSpec::default()));
    }
}
