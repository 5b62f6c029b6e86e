//! The node-local OCI image store under `<root-dir>/images`:
//! `blobs/sha256/<hex>` (content-addressed manifests, configs, layer blobs),
//! `layers/<hex>/` (each layer blob unpacked once and shared by every image that
//! holds it) and `index.json` (normalized reference -> image record).

use super::layer;
use api::image::Reference;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad image: {0}")]
    Bad(String),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Digest { expected: String, actual: String },
}

/// What a container needs from its image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfig {
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default)]
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    /// Normalized reference, e.g. `docker.io/library/busybox:latest`.
    pub name: String,
    /// Digest of the image config: the image's ID.
    pub id: String,
    /// Digest of the manifest: the repo digest reported as imageID.
    pub manifest_digest: String,
    /// Layer blob digests, bottom first.
    pub layers: Vec<String>,
    pub config: ImageConfig,
}

impl ImageRecord {
    /// `docker.io/library/busybox@sha256:...`, what upstream reports as imageID.
    pub fn image_id(&self) -> String {
        let repo = Reference::parse(&self.name).map(|r| r.repository()).unwrap_or_else(|_| self.name.clone());
        format!("{repo}@{}", self.manifest_digest)
    }
}

pub struct ImageStore {
    root: PathBuf,
    index: Mutex<BTreeMap<String, ImageRecord>>,
    /// Serializes layer unpacking so two pulls never unpack the same layer at once.
    unpack: Mutex<()>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hex_of(digest: &str) -> Result<&str, StoreError> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| StoreError::Bad(format!("unsupported digest {digest}")))
}

impl ImageStore {
    pub fn open(root: &Path) -> Result<ImageStore, StoreError> {
        std::fs::create_dir_all(root.join("blobs/sha256"))?;
        std::fs::create_dir_all(root.join("layers"))?;
        let index = match std::fs::read(root.join("index.json")) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Bad(format!("index.json: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(ImageStore { root: root.to_path_buf(), index: Mutex::new(index), unpack: Mutex::new(()) })
    }

    pub fn get(&self, r: &Reference) -> Option<ImageRecord> {
        self.index.lock().get(&r.to_string()).cloned()
    }

    pub fn list(&self) -> Vec<ImageRecord> {
        self.index.lock().values().cloned().collect()
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("blobs/sha256").join(hex_of(digest)?))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.exists()).unwrap_or(false)
    }

    /// Store bytes under their digest, verifying it.
    pub fn put_blob(&self, digest: &str, data: &[u8]) -> Result<(), StoreError> {
        let actual = format!("sha256:{}", sha256_hex(data));
        if actual != digest {
            return Err(StoreError::Digest { expected: digest.into(), actual });
        }
        let path = self.blob_path(digest)?;
        if !path.exists() {
            let tmp = path.with_extension(format!("tmp{}", rand::random::<u32>()));
            std::fs::write(&tmp, data)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(())
    }

    /// Bytes of the image's config and layer blobs (the size upstream reports).
    pub fn image_size(&self, rec: &ImageRecord) -> u64 {
        std::iter::once(&rec.id)
            .chain(rec.layers.iter())
            .filter_map(|d| self.blob_path(d).ok())
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        Ok(std::fs::read(self.blob_path(digest)?)?)
    }

    pub fn layer_dir(&self, digest: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join("layers").join(hex_of(digest)?))
    }

    fn ensure_layer(&self, digest: &str) -> Result<(), StoreError> {
        let dir = self.layer_dir(digest)?;
        let _g = self.unpack.lock();
        if !dir.exists() {
            let f = std::fs::File::open(self.blob_path(digest)?)?;
            layer::unpack(std::io::BufReader::new(f), &dir)?;
        }
        Ok(())
    }

    /// Register an image whose manifest, config and layer blobs are all stored:
    /// unpack missing layers and record it under `name`.
    pub fn commit(&self, name: &Reference, manifest_digest: &str) -> Result<ImageRecord, StoreError> {
        let manifest: serde_json::Value = serde_json::from_slice(&self.read_blob(manifest_digest)?)
            .map_err(|e| StoreError::Bad(format!("manifest: {e}")))?;
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .ok_or_else(|| StoreError::Bad("manifest without config".into()))?
            .to_string();
        let config: serde_json::Value = serde_json::from_slice(&self.read_blob(&config_digest)?)
            .map_err(|e| StoreError::Bad(format!("config: {e}")))?;
        let layers: Vec<String> = manifest["layers"]
            .as_array()
            .ok_or_else(|| StoreError::Bad("manifest without layers".into()))?
            .iter()
            .filter_map(|l| l["digest"].as_str().map(str::to_string))
            .collect();
        for l in &layers {
            self.ensure_layer(l)?;
        }
        let c = &config["config"];
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
        };
        let rec = ImageRecord {
            name: name.to_string(),
            id: config_digest,
            manifest_digest: manifest_digest.to_string(),
            layers,
            config: ImageConfig {
                env: strings(&c["Env"]),
                entrypoint: strings(&c["Entrypoint"]),
                cmd: strings(&c["Cmd"]),
                working_dir: c["WorkingDir"].as_str().unwrap_or("").to_string(),
                user: c["User"].as_str().unwrap_or("").to_string(),
            },
        };
        let mut idx = self.index.lock();
        idx.insert(rec.name.clone(), rec.clone());
        let tmp = self.root.join(format!("index.json.tmp{}", rand::random::<u32>()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(&*idx).expect("index serializes"))?;
        std::fs::rename(&tmp, self.root.join("index.json"))?;
        Ok(rec)
    }

    /// Layer directories for overlayfs' lowerdir, top layer first.
    pub fn lower_dirs(&self, rec: &ImageRecord) -> Result<Vec<PathBuf>, StoreError> {
        rec.layers.iter().rev().map(|l| self.layer_dir(l)).collect()
    }

    /// Import an OCI image layout directory (oci-layout, index.json, blobs/).
    /// `fallback_repo` names images whose ref annotation is only a tag.
    pub fn import_layout(&self, dir: &Path, fallback_repo: &str) -> Result<Vec<ImageRecord>, StoreError> {
        let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)
            .map_err(|e| StoreError::Bad(format!("index.json: {e}")))?;
        let blob = |d: &str| -> Result<Vec<u8>, StoreError> { Ok(std::fs::read(dir.join("blobs/sha256").join(hex_of(d)?))?) };
        let mut out = Vec::new();
        for m in index["manifests"].as_array().cloned().unwrap_or_default() {
            let ann = &m["annotations"];
            let name = ann["io.containerd.image.name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    ann["org.opencontainers.image.ref.name"].as_str().map(|r| {
                        if r.contains('/') || r.contains(':') { r.to_string() } else { format!("{fallback_repo}:{r}") }
                    })
                })
                .unwrap_or_else(|| fallback_repo.to_string());
            let name = Reference::parse(&name).map_err(|e| StoreError::Bad(e.to_string()))?;
            let mut digest = m["digest"].as_str().unwrap_or_default().to_string();
            let mut bytes = blob(&digest)?;
            // An image index: take the linux/amd64 (or first) manifest.
            let parsed: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| StoreError::Bad(e.to_string()))?;
            if let Some(list) = parsed["manifests"].as_array() {
                let pick = list
                    .iter()
                    .find(|e| e["platform"]["architecture"] == "amd64" && e["platform"]["os"] == "linux")
                    .or_else(|| list.first())
                    .ok_or_else(|| StoreError::Bad("empty image index".into()))?;
                digest = pick["digest"].as_str().unwrap_or_default().to_string();
                bytes = blob(&digest)?;
            }
            self.put_blob(&digest, &bytes)?;
            let manifest: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| StoreError::Bad(e.to_string()))?;
            let mut needed = vec![manifest["config"]["digest"].as_str().unwrap_or_default().to_string()];
            needed.extend(manifest["layers"].as_array().into_iter().flatten().filter_map(|l| l["digest"].as_str().map(str::to_string)));
            for d in needed {
                if !self.has_blob(&d) {
                    self.put_blob(&d, &blob(&d)?)?;
                }
            }
            out.push(self.commit(&name, &digest)?);
        }
        Ok(out)
    }

    /// Import an OCI archive (a tar of an OCI layout, as `skopeo copy ... oci-archive:`
    /// writes). Images named only by tag take the archive's file stem as repository.
    pub fn import_archive(&self, archive: &Path) -> Result<Vec<ImageRecord>, StoreError> {
        let tmp = self.root.join(format!("import-{}", rand::random::<u32>()));
        let res = (|| {
            let f = std::fs::File::open(archive)?;
            tar::Archive::new(layer::open_maybe_gzip(std::io::BufReader::new(f))?).unpack(&tmp)?;
            let stem = archive.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            let stem = stem.trim_end_matches(".tar").to_string();
            self.import_layout(&tmp, &stem)
        })();
        let _ = std::fs::remove_dir_all(&tmp);
        res
    }

    /// Import every archive in `dir` (the `--image-dir` flag).
    pub fn import_dir(&self, dir: &Path) -> Vec<(PathBuf, Result<Vec<ImageRecord>, StoreError>)> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
            paths.sort();
            for p in paths {
                let r = self.import_archive(&p);
                out.push((p, r));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_images_import_and_share_layers() {
        let dir = tempfile::tempdir().unwrap();
        let archives = super::super::testimages::build(&dir.path().join("archives")).unwrap();
        let store = ImageStore::open(&dir.path().join("store")).unwrap();
        for a in &archives {
            store.import_archive(a).unwrap();
        }
        let bb = store.get(&Reference::parse("busybox").unwrap()).unwrap();
        let kubia = store.get(&Reference::parse("luksa/kubia").unwrap()).unwrap();
        assert_eq!(bb.config.cmd, vec!["sh"]);
        assert_eq!(kubia.layers[0], bb.layers[0], "the busybox layer is shared");
        assert_eq!(std::fs::read_dir(dir.path().join("store/layers")).unwrap().count(), 2);
        assert!(store.layer_dir(&bb.layers[0]).unwrap().join("bin/busybox").is_file());
        assert!(bb.image_id().starts_with("docker.io/library/busybox@sha256:"));
        // The index survives a reopen.
        let again = ImageStore::open(&dir.path().join("store")).unwrap();
        assert_eq!(again.get(&Reference::parse("docker.io/luksa/kubia:latest").unwrap()), Some(kubia));
    }
}
