//! The version every binary reports (upstream's version.Info): the
//! Kubernetes API level it implements plus ferrokube's own version.

use serde::{Deserialize, Serialize};

pub const MAJOR: &str = "1";
pub const MINOR: &str = "33";
/// `v1.33.0-ferrokube+0.1.0`: the Kubernetes version, then ferrokube's.
pub const GIT_VERSION: &str = concat!("v1.33.0-ferrokube+", env!("CARGO_PKG_VERSION"));

/// upstream's version.Info (the JSON of `/version` and `kubectl version -o json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub major: String,
    pub minor: String,
    pub git_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
}

/// Go's GOOS/GOARCH spelling of this machine ("linux/amd64").
pub fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// This build's version.
pub fn get() -> Info {
    Info { major: MAJOR.into(), minor: MINOR.into(), git_version: GIT_VERSION.into(), platform: platform() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_json_as_upstream() {
        let v = serde_json::to_value(get()).unwrap();
        assert_eq!(v["gitVersion"], GIT_VERSION);
        assert_eq!((v["major"].as_str(), v["minor"].as_str()), (Some("1"), Some("33")));
        assert!(GIT_VERSION.starts_with("v1.33.0-ferrokube+"));
        assert!(v["platform"].as_str().unwrap().contains('/'));
    }
}
