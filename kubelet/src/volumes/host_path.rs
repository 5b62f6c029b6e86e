//! hostPath volumes: a path of the node bind-mounted as is, after upstream's
//! `type` checks (DirectoryOrCreate and FileOrCreate create what is missing).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

pub fn check_type(path: &str, ty: Option<&str>) -> Result<(), String> {
    let p = Path::new(path);
    let meta = std::fs::metadata(p).ok();
    let fail = |what: &str| Err(format!("hostPath type check failed: {path} is not {what}"));
    match ty.unwrap_or("") {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_none() => {
            std::fs::create_dir_all(p).map_err(|e| format!("mkdir {path}: {e}"))?;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
        }
        "DirectoryOrCreate" | "Directory" => if meta.is_some_and(|m| m.is_dir()) { Ok(()) } else { fail("a directory") },
        "FileOrCreate" if meta.is_none() => {
            std::fs::File::create(p).map_err(|e| format!("open {path}: {e}"))?;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())
        }
        "FileOrCreate" | "File" => if meta.is_some_and(|m| m.is_file()) { Ok(()) } else { fail("a file") },
        "Socket" => if meta.is_some_and(|m| m.file_type().is_socket()) { Ok(()) } else { fail("a socket file") },
        "CharDevice" => if meta.is_some_and(|m| m.file_type().is_char_device()) { Ok(()) } else { fail("a character device") },
        "BlockDevice" => if meta.is_some_and(|m| m.file_type().is_block_device()) { Ok(()) } else { fail("a block device") },
        other => Err(format!("invalid HostPathType {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_checked_and_created() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("new/dir");
        let s = dir.to_str().unwrap();
        assert_eq!(check_type(s, Some("Directory")).unwrap_err(), format!("hostPath type check failed: {s} is not a directory"));
        check_type(s, Some("DirectoryOrCreate")).unwrap();
        assert!(dir.is_dir());
        assert!(check_type(s, Some("File")).is_err());
        let f = d.path().join("f");
        check_type(f.to_str().unwrap(), Some("FileOrCreate")).unwrap();
        assert!(f.is_file());
        assert_eq!(check_type(f.to_str().unwrap(), Some("Socket")).unwrap_err(), format!("hostPath type check failed: {} is not a socket file", f.display()));
        check_type("/dev/null", Some("CharDevice")).unwrap();
        check_type("/nonexistent", None).unwrap();
    }
}
