//! Image references parsed and normalized as upstream (the distribution
//! reference package): `busybox` = `docker.io/library/busybox:latest`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host, e.g. `docker.io` or `127.0.0.1:5000`.
    pub domain: String,
    /// Repository path, e.g. `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("invalid reference format: {0}")]
pub struct InvalidImageName(pub String);

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

impl Reference {
    /// ParseNormalizedNamed plus TagNameOnly: a reference without tag or digest gets `:latest`.
    pub fn parse(s: &str) -> Result<Reference, InvalidImageName> {
        let bad = || InvalidImageName(s.to_string());
        if s.is_empty() || s.chars().any(|c| c.is_whitespace()) {
            return Err(bad());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let (alg, hex) = d.split_once(':').ok_or_else(bad)?;
                if alg.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad());
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(bad());
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.') || first.contains(':') || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        // "index.docker.io" is docker.io's legacy name
        let domain = if domain == "index.docker.io" { DEFAULT_DOMAIN.to_string() } else { domain };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') { format!("library/{path}") } else { path };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
        };
        if path.is_empty() || !path.split('/').all(component_ok) || domain.is_empty() {
            return Err(bad());
        }
        let tag = if tag.is_none() && digest.is_none() { Some(DEFAULT_TAG.to_string()) } else { tag };
        Ok(Reference { domain, path, tag, digest })
    }

    /// `docker.io/library/busybox` (without tag or digest).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Upstream's rule: no tag or `:latest` means imagePullPolicy Always by default.
    pub fn is_latest(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref() == Some(DEFAULT_TAG)
    }

    /// The short form users write (`busybox:latest`, `luksa/kubia:latest`): FamiliarString.
    pub fn familiar(&self) -> String {
        let mut s = if self.domain == DEFAULT_DOMAIN {
            self.path.strip_prefix("library/").filter(|p| !p.contains('/')).unwrap_or(&self.path).to_string()
        } else {
            self.repository()
        };
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = InvalidImageName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// The fully qualified name (`docker.io/library/busybox:latest`).
pub fn normalize(image: &str) -> Result<String, InvalidImageName> {
    Reference::parse(image).map(|r| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).unwrap()
    }

    #[test]
    fn normalizes_like_upstream() {
        // distribution reference normalize_test.go cases
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("index.docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("luksa/kubia"), "docker.io/luksa/kubia:latest");
        assert_eq!(n("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(n("127.0.0.1:5000/busybox"), "127.0.0.1:5000/busybox:latest");
        assert_eq!(n("localhost/foo/bar:v1"), "localhost/foo/bar:v1");
        assert_eq!(n("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(n("quay.io/a/b"), "quay.io/a/b:latest");
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(n(&d), format!("docker.io/library/busybox@sha256:{}", "a".repeat(64)));
        let td = format!("busybox:1@sha256:{}", "b".repeat(64));
        assert_eq!(n(&td), format!("docker.io/library/busybox:1@sha256:{}", "b".repeat(64)));
        assert!(Reference::parse("busybox").unwrap().is_latest());
        assert!(!Reference::parse("busybox:1").unwrap().is_latest());
        assert_eq!(Reference::parse("busybox").unwrap().familiar(), "busybox:latest");
        assert_eq!(Reference::parse("docker.io/luksa/kubia:v1").unwrap().familiar(), "luksa/kubia:v1");
        assert_eq!(Reference::parse("quay.io/a/b").unwrap().familiar(), "quay.io/a/b:latest");
    }

    #[test]
    fn rejects_invalid_names() {
        for bad in ["", "Busybox", "busy box", "busybox:", "a//b", "busybox:-x", "x@sha256:zz", ":latest", "busybox@sha256"] {
            assert!(Reference::parse(bad).is_err(), "{bad} should be invalid");
        }
        assert_eq!(normalize("Busybox").unwrap_err().to_string(), "invalid reference format: Busybox");
    }
}
