//! Pulls from an OCI distribution registry (oci-client) into the store, with
//! credentials from the pod's imagePullSecrets (kubernetes.io/dockerconfigjson
//! `.dockerconfigjson`, kubernetes.io/dockercfg `.dockercfg`).

use api::image::Reference;
use super::store::{ImageRecord, ImageStore};
use base64::Engine;
use client::Api;
use k8s_openapi::api::core::v1::{Pod, Secret};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;

/// One registry credential: (registry host, user, password).
pub type Credential = (String, String, String);

const ACCEPT: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Credentials from a `.dockerconfigjson` document.
pub fn parse_dockerconfig(json: &[u8]) -> Vec<Credential> {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let mut out = Vec::new();
    for (host, a) in v["auths"].as_object().into_iter().flatten() {
        let host = host.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').split('/').next().unwrap_or("").to_string();
        let (mut user, mut pass) = (a["username"].as_str().unwrap_or("").to_string(), a["password"].as_str().unwrap_or("").to_string());
        if let Some(auth) = a["auth"].as_str() {
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(auth) {
                if let Some((u, p)) = String::from_utf8_lossy(&raw).split_once(':') {
                    (user, pass) = (u.to_string(), p.to_string());
                }
            }
        }
        out.push((host, user, pass));
    }
    out
}

/// The pod's imagePullSecrets, read from the apiserver (missing ones are skipped).
pub async fn pull_secrets(client: &client::Client, pod: &Pod) -> Vec<Credential> {
    let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut out = Vec::new();
    for r in pod.spec.iter().flat_map(|s| s.image_pull_secrets.iter().flatten()) {
        if let Ok(Some(s)) = api.get_opt(&r.name).await {
            let data = s.data.unwrap_or_default();
            match s.type_.as_deref() {
                Some("kubernetes.io/dockercfg") => {
                    // The legacy ~/.dockercfg form: the "auths" map itself.
                    if let Some(d) = data.get(".dockercfg") {
                        let inner: serde_json::Value = serde_json::from_slice(&d.0).unwrap_or_default();
                        out.extend(parse_dockerconfig(&serde_json::to_vec(&serde_json::json!({ "auths": inner })).unwrap_or_default()));
                    }
                }
                _ => {
                    if let Some(d) = data.get(".dockerconfigjson") {
                        out.extend(parse_dockerconfig(&d.0));
                    }
                }
            }
        }
    }
    out
}

fn is_loopback(domain: &str) -> bool {
    let host = domain.rsplit_once(':').map(|(h, _)| h).unwrap_or(domain);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// Pull `r` (manifest, config, missing layers) and record it in the store.
pub async fn pull(store: &ImageStore, r: &Reference, creds: &[Credential]) -> Result<ImageRecord, String> {
    // Loopback registries (tests, a local registry) speak plain HTTP.
    let protocol = if is_loopback(&r.domain) { ClientProtocol::HttpsExcept(vec![r.domain.clone()]) } else { ClientProtocol::Https };
    let oci = oci_client::Client::new(ClientConfig { protocol, ..Default::default() });
    let oref: oci_client::Reference = r.to_string().parse().map_err(|e| format!("{e}"))?;
    let auth = creds
        .iter()
        .find(|(h, _, _)| *h == r.domain || (r.domain == "docker.io" && h.contains("docker.io")))
        .map(|(_, u, p)| RegistryAuth::Basic(u.clone(), p.clone()))
        .unwrap_or(RegistryAuth::Anonymous);
    let (mut bytes, mut digest) = oci.pull_manifest_raw(&oref, &auth, ACCEPT).await.map_err(|e| e.to_string())?;
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if let Some(list) = parsed["manifests"].as_array() {
        let pick = list
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
            .or_else(|| list.first())
            .and_then(|m| m["digest"].as_str())
            .ok_or("empty image index")?;
        let by_digest: oci_client::Reference = format!("{}@{}", r.repository(), pick).parse().map_err(|e| format!("{e}"))?;
        (bytes, digest) = oci.pull_manifest_raw(&by_digest, &auth, ACCEPT).await.map_err(|e| e.to_string())?;
    }
    store.put_blob(&digest, &bytes).map_err(|e| e.to_string())?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap_or_default().to_string()];
    blobs.extend(manifest["layers"].as_array().into_iter().flatten().filter_map(|l| l["digest"].as_str().map(str::to_string)));
    for d in blobs {
        if store.has_blob(&d) {
            continue;
        }
        let mut data: Vec<u8> = Vec::new();
        oci.pull_blob(&oref, d.as_str(), &mut data).await.map_err(|e| e.to_string())?;
        store.put_blob(&d, &data).map_err(|e| e.to_string())?;
    }
    let name = r.clone();
    tokio::task::block_in_place(|| store.commit(&name, &digest)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerconfigjson_credentials() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3cret");
        let doc = format!(r#"{{"auths":{{"https://127.0.0.1:5000/v1/":{{"auth":"{auth}"}},"quay.io":{{"username":"a","password":"b"}}}}}}"#);
        let mut c = parse_dockerconfig(doc.as_bytes());
        c.sort();
        assert_eq!(c, vec![("127.0.0.1:5000".into(), "bob".into(), "s3cret".into()), ("quay.io".into(), "a".into(), "b".into())]);
    }
}
