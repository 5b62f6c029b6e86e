//! The kubeconfig `up` writes, in upstream's format.

use std::path::Path;

pub fn write(path: &Path, server: &str) -> anyhow::Result<()> {
    let cfg = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "ferrokube", "cluster": {"server": server}}],
        "users": [{"name": "ferrokube-admin", "user": {}}],
        "contexts": [{"name": "ferrokube", "context": {"cluster": "ferrokube", "user": "ferrokube-admin", "namespace": "default"}}],
        "current-context": "ferrokube",
        "preferences": {},
    });
    std::fs::write(path, serde_yaml::to_string(&cfg)?)?;
    Ok(())
}
