//! The project's own test images, built offline from Debian's busybox-static so the
//! books' manifests run unchanged:
//! - `busybox` (docker.io/library/busybox:latest): busybox and its applets, `CMD ["sh"]`;
//! - `luksa/kubia` (docker.io/luksa/kubia:latest): the busybox layer (shared) plus a
//!   small web app on port 8080 answering `You've hit <hostname>`.
//!
//! Each is written as an OCI archive (a tar of an OCI layout), the format
//! `--image-dir` imports and `skopeo copy oci-archive:...` pushes.

use super::store::sha256_hex;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const BUSYBOX: &str = "/bin/busybox";

const KUBIA_SH: &str = r#"#!/bin/sh
# luksa/kubia look-alike: answers every HTTP request with "You've hit <hostname>".
if [ "$1" = "serve" ]; then
  read -r request
  while read -r h; do h=$(printf '%s' "$h" | tr -d '\r'); [ -z "$h" ] && break; done
  echo "Received request: $request" >&2
  body="You've hit $(hostname)"
  printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' $((${#body}+1)) "$body"
  exit 0
fi
echo "Kubia server starting..."
exec nc -ll -p 8080 -e /bin/sh /app/kubia.sh serve
"#;

struct Layer {
    gz: Vec<u8>,
    diff_id: String,
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn finish(b: tar::Builder<Vec<u8>>) -> std::io::Result<Layer> {
    let raw = b.into_inner()?;
    let diff_id = format!("sha256:{}", sha256_hex(&raw));
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw)?;
    Ok(Layer { gz: gz.finish()?, diff_id })
}

fn dir(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) -> std::io::Result<()> {
    b.append_data(&mut header(tar::EntryType::Directory, mode, 0), path, std::io::empty())
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) -> std::io::Result<()> {
    b.append_data(&mut header(tar::EntryType::Regular, mode, data.len() as u64), path, data)
}

fn busybox_layer() -> std::io::Result<Layer> {
    let mut b = tar::Builder::new(Vec::new());
    for (d, m) in [("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777), ("var", 0o755), ("home", 0o755)] {
        dir(&mut b, d, m)?;
    }
    file(&mut b, "bin/busybox", 0o755, &std::fs::read(BUSYBOX)?)?;
    let out = std::process::Command::new(BUSYBOX).arg("--list").output()?;
    let mut applets: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    applets.sort();
    for a in applets.iter().filter(|a| a.as_str() != "busybox") {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("bin/{a}"), "busybox")?;
    }
    file(&mut b, "etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")?;
    file(&mut b, "etc/group", 0o644, b"root:x:0:\nnobody:x:65534:\n")?;
    finish(b)
}

fn kubia_layer() -> std::io::Result<Layer> {
    let mut b = tar::Builder::new(Vec::new());
    dir(&mut b, "app", 0o755)?;
    file(&mut b, "app/kubia.sh", 0o755, KUBIA_SH.as_bytes())?;
    finish(b)
}

fn put(layout: &Path, data: &[u8]) -> std::io::Result<(String, usize)> {
    let digest = format!("sha256:{}", sha256_hex(data));
    std::fs::write(layout.join("blobs/sha256").join(&digest[7..]), data)?;
    Ok((digest, data.len()))
}

/// Write one image as an OCI archive at `archive`.
fn write_archive(archive: &Path, name: &str, layers: &[&Layer], config: serde_json::Value) -> std::io::Result<()> {
    let layout = archive.with_extension("layout");
    let _ = std::fs::remove_dir_all(&layout);
    std::fs::create_dir_all(layout.join("blobs/sha256"))?;
    std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
    let cfg = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let (cd, cs) = put(&layout, &serde_json::to_vec(&cfg)?)?;
    let mut descs = Vec::new();
    for l in layers {
        let (d, s) = put(&layout, &l.gz)?;
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s}));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs,
    });
    let (md, ms) = put(&layout, &serde_json::to_vec(&manifest)?)?;
    let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md, "size": ms,
            "annotations": { "org.opencontainers.image.ref.name": tag, "io.containerd.image.name": name },
        }],
    });
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    let mut tb = tar::Builder::new(std::fs::File::create(archive)?);
    tb.append_dir_all(".", &layout)?;
    tb.finish()?;
    std::fs::remove_dir_all(&layout)
}

/// Build `busybox.tar` and `kubia.tar` in `out`; returns their paths.
pub fn build(out: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let base = busybox_layer()?;
    let app = kubia_layer()?;
    let path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let bb = out.join("busybox.tar");
    write_archive(&bb, "docker.io/library/busybox:latest", &[&base], json!({"Env": [path_env], "Cmd": ["sh"]}))?;
    let kubia = out.join("kubia.tar");
    write_archive(
        &kubia,
        "docker.io/luksa/kubia:latest",
        &[&base, &app],
        json!({"Env": [path_env], "Cmd": ["/bin/sh", "/app/kubia.sh"], "ExposedPorts": {"8080/tcp": {}}}),
    )?;
    Ok(vec![bb, kubia])
}
