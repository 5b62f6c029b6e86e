//! Upstream's AtomicWriter (pkg/volume/util/atomic_writer.go): a volume's files
//! live in a timestamped directory `..<time>.<rand>`; `..data` is a symlink to it
//! and every visible top-level entry is a symlink through `..data`. An update
//! writes a new timestamped directory and renames a fresh `..data_tmp` symlink
//! over `..data`, so readers see the old or the new set, never a mix.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

pub const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// One file of a volume: content and permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProjection {
    pub data: Vec<u8>,
    pub mode: u32,
}

pub type Payload = BTreeMap<String, FileProjection>;

/// Paths must be relative, without `..` components, and not start with `..`.
pub fn validate_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("invalid path: must not be empty".into());
    }
    let path = Path::new(p);
    if path.is_absolute() {
        return Err(format!("invalid path: must be relative path: {p}"));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("invalid path: must not contain '..': {p}"));
    }
    if p.starts_with("..") {
        return Err(format!("invalid path: must not start with '..': {p}"));
    }
    Ok(())
}

fn unchanged(ts_dir: &Path, payload: &Payload) -> bool {
    let mut on_disk = Vec::new();
    collect_files(ts_dir, Path::new(""), &mut on_disk);
    if on_disk.len() != payload.len() {
        return false;
    }
    payload.iter().all(|(p, f)| {
        let path = ts_dir.join(p);
        let mode = std::fs::symlink_metadata(&path).map(|m| m.permissions().mode() & 0o7777).ok();
        mode == Some(f.mode) && std::fs::read(&path).ok().as_deref() == Some(&f.data[..])
    })
}

fn collect_files(dir: &Path, rel: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let r = rel.join(e.file_name());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            collect_files(&e.path(), &r, out);
        } else {
            out.push(r.to_string_lossy().into_owned());
        }
    }
}

/// Make `dir` hold exactly `payload`. Returns whether anything changed.
pub fn write(dir: &Path, payload: &Payload) -> io::Result<bool> {
    for p in payload.keys() {
        validate_path(p).map_err(io::Error::other)?;
    }
    std::fs::create_dir_all(dir)?;
    let old = std::fs::read_link(dir.join(DATA)).ok();
    if let Some(o) = &old {
        if unchanged(&dir.join(o), payload) {
            return Ok(false);
        }
    }
    let name = format!("..{}.{:09}", chrono::Utc::now().format("%Y_%m_%d_%H_%M_%S"), rand::random::<u32>() % 1_000_000_000);
    let ts = dir.join(&name);
    std::fs::create_dir(&ts)?;
    // Group and others must be able to walk the tree.
    std::fs::set_permissions(&ts, std::fs::Permissions::from_mode(0o755))?;
    for (p, f) in payload {
        let path = ts.join(p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.data)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))?;
    }
    let tops: std::collections::BTreeSet<String> =
        payload.keys().filter_map(|p| Path::new(p).components().next()).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    for t in &tops {
        let link = dir.join(t);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new(DATA).join(t), &link)?;
        }
    }
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&name, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA))?;
    if let Some(o) = old {
        let _ = std::fs::remove_dir_all(dir.join(o));
    }
    // Visible entries the new payload no longer has.
    for e in std::fs::read_dir(dir)?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if !n.starts_with("..") && !tops.contains(&n) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(data: &str, mode: u32) -> FileProjection {
        FileProjection { data: data.as_bytes().to_vec(), mode }
    }

    #[test]
    fn writes_swaps_and_prunes() {
        let d = tempfile::tempdir().unwrap();
        let mut p = Payload::new();
        p.insert("a".into(), f("1", 0o644));
        p.insert("sub/b".into(), f("2", 0o400));
        assert!(write(d.path(), &p).unwrap());
        assert_eq!(std::fs::read_to_string(d.path().join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_link(d.path().join("a")).unwrap(), Path::new("..data/a"));
        assert_eq!(std::fs::read_to_string(d.path().join("sub/b")).unwrap(), "2");
        assert_eq!(std::fs::metadata(d.path().join("sub/b")).unwrap().permissions().mode() & 0o777, 0o400);
        let first = std::fs::read_link(d.path().join(DATA)).unwrap();
        assert!(!write(d.path(), &p).unwrap(), "same payload: nothing to do");

        p.remove("sub/b");
        p.insert("a".into(), f("changed", 0o644));
        assert!(write(d.path(), &p).unwrap());
        assert_eq!(std::fs::read_to_string(d.path().join("a")).unwrap(), "changed");
        assert!(std::fs::symlink_metadata(d.path().join("sub")).is_err(), "dropped entries go");
        assert!(!d.path().join(&first).exists(), "the old timestamped dir goes");
        assert_eq!(validate_path("../x").unwrap_err(), "invalid path: must not contain '..': ../x");
        assert!(validate_path("/x").is_err());
        assert!(validate_path("..data").is_err());
    }
}
