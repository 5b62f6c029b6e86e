//! Unpacking one layer (a possibly gzip-compressed tar) into its own directory, in
//! the form overlayfs reads: OCI whiteouts `.wh.name` become 0:0 character devices
//! and opaque markers `.wh..wh..opq` become the `trusted.overlay.opaque` xattr.

use std::ffi::CString;
use std::io::Read;
use std::path::{Component, Path};

const WH: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Gzip (1f 8b) or plain tar, whatever the media type claims.
pub fn open_maybe_gzip<'a>(mut r: impl Read + 'a) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 2];
    let n = r.read(&mut head)?;
    let chained = std::io::Cursor::new(head[..n].to_vec()).chain(r);
    if n == 2 && head == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::GzDecoder::new(chained)))
    } else {
        Ok(Box::new(chained))
    }
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("no NUL in paths")
}

/// Unpack `blob` into `dest` (which must not exist yet; written via a temp dir and
/// renamed so a crash never leaves a half layer under the final name).
pub fn unpack(blob: impl Read, dest: &Path) -> std::io::Result<()> {
    let tmp = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let mut ar = tar::Archive::new(open_maybe_gzip(blob)?);
    ar.set_preserve_permissions(true);
    ar.set_preserve_ownerships(true);
    ar.set_unpack_xattrs(true);
    ar.set_overwrite(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        // Never let an entry escape the layer directory.
        if path.components().any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_))) {
            continue;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let parent = tmp.join(path.parent().unwrap_or(Path::new("")));
        if name == OPAQUE {
            std::fs::create_dir_all(&parent)?;
            let v = b"y";
            let rc = unsafe {
                libc::setxattr(cstr(&parent).as_ptr(), c"trusted.overlay.opaque".as_ptr(), v.as_ptr().cast(), 1, 0)
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else if let Some(hidden) = name.strip_prefix(WH) {
            std::fs::create_dir_all(&parent)?;
            let target = parent.join(hidden);
            let _ = std::fs::remove_file(&target);
            let rc = unsafe { libc::mknod(cstr(&target).as_ptr(), libc::S_IFCHR, 0) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else {
            entry.unpack_in(&tmp)?;
        }
    }
    std::fs::rename(&tmp, dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_become_overlay_markers() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("l");
        let data = tar_of(&[("etc/keep", b"k"), ("etc/.wh.gone", b""), ("var/.wh..wh..opq", b"")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        unpack(&gz.finish().unwrap()[..], &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("etc/keep")).unwrap(), b"k");
        let md = std::fs::symlink_metadata(dest.join("etc/gone")).unwrap();
        assert!(md.file_type().is_char_device());
        assert!(!dest.join("etc/.wh.gone").exists());
        let mut v = [0u8; 4];
        let n = unsafe {
            libc::getxattr(cstr(&dest.join("var")).as_ptr(), c"trusted.overlay.opaque".as_ptr(), v.as_mut_ptr().cast(), 4)
        };
        assert_eq!(&v[..n as usize], b"y");
    }
}
