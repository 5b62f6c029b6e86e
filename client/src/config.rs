//! kubeconfig, as client-go's `tools/clientcmd`: the file model (unknown
//! fields survive a round trip), loading (`--kubeconfig`, else the
//! `KUBECONFIG` list merged with the first file to set a value winning, else
//! `~/.kube/config`), current-context resolution with flag overrides, and
//! the in-cluster config (`KUBERNETES_SERVICE_HOST`/`_PORT` and the service
//! account files) that daemons and kubectl fall back to inside a pod.
//!
//! kubectl's `config` subcommands edit this model; daemons call
//! [`for_daemon`] (upstream's `BuildConfigFromFlags`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a kubeconfig could not be loaded or resolved. The messages are
/// upstream's; kubectl prints `Invalid` without its `error: ` prefix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read or parsed.
    #[error("{0}")]
    Load(String),
    /// The configuration does not name what it needs ("Error in configuration: ...").
    #[error("{0}")]
    Invalid(String),
    /// `--minify` without a usable current context.
    #[error("{0}")]
    Minify(String),
    /// Not running in a pod, or its service account files are missing.
    #[error("unable to load in-cluster configuration: {0}")]
    InCluster(String),
}

/// One kubeconfig document. Unknown fields survive a load/save round trip.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Kubeconfig {
    #[serde(rename = "apiVersion", default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub clusters: Vec<NamedCluster>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub contexts: Vec<NamedContext>,
    #[serde(rename = "current-context", default)]
    pub current_context: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub users: Vec<NamedUser>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    #[serde(default)]
    pub cluster: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NamedUser {
    pub name: String,
    #[serde(default)]
    pub user: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NamedContext {
    pub name: String,
    #[serde(default)]
    pub context: Context,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Context {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Kubeconfig {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Kubeconfig::default());
        }
        serde_yaml::from_str(text).map_err(|e| ConfigError::Load(format!("error loading config: {e}")))
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(t) => Self::parse(&t)
                .map_err(|_| ConfigError::Load(format!("error loading config file \"{}\": invalid kubeconfig", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Kubeconfig::default()),
            Err(e) => Err(ConfigError::Load(format!("error loading config file \"{}\": {e}", path.display()))),
        }
    }

    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts.iter().find(|c| c.name == name).map(|c| &c.context)
    }
    pub fn cluster(&self, name: &str) -> Option<&Value> {
        self.clusters.iter().find(|c| c.name == name).map(|c| &c.cluster)
    }

    /// Adds what `other` has and `self` lacks: upstream's rule that the
    /// first file to set a value wins.
    pub fn merge_from(&mut self, other: Kubeconfig) {
        if self.current_context.is_empty() {
            self.current_context = other.current_context;
        }
        if self.preferences.is_none() {
            self.preferences = other.preferences;
        }
        for c in other.clusters {
            if !self.clusters.iter().any(|x| x.name == c.name) {
                self.clusters.push(c);
            }
        }
        for c in other.contexts {
            if !self.contexts.iter().any(|x| x.name == c.name) {
                self.contexts.push(c);
            }
        }
        for u in other.users {
            if !self.users.iter().any(|x| x.name == u.name) {
                self.users.push(u);
            }
        }
    }

    /// Hides secrets as `kubectl config view` does without `--raw`.
    pub fn redact(&mut self) {
        for c in &mut self.clusters {
            omit(&mut c.cluster, "certificate-authority-data", "DATA+OMITTED");
        }
        for u in &mut self.users {
            omit(&mut u.user, "client-certificate-data", "DATA+OMITTED");
            omit(&mut u.user, "client-key-data", "DATA+OMITTED");
            omit(&mut u.user, "token", "REDACTED");
            omit(&mut u.user, "password", "REDACTED");
        }
    }

    /// Keeps only what the current context uses (`--minify`).
    pub fn minify(&mut self) -> Result<(), ConfigError> {
        let cur = self.current_context.clone();
        if cur.is_empty() {
            return Err(ConfigError::Minify("current-context must exist in order to minify".into()));
        }
        let ctx = self
            .context(&cur)
            .cloned()
            .ok_or_else(|| ConfigError::Minify(format!("cannot locate context {cur}")))?;
        self.contexts.retain(|c| c.name == cur);
        self.clusters.retain(|c| c.name == ctx.cluster);
        self.users.retain(|u| u.name == ctx.user);
        Ok(())
    }
}

fn omit(v: &mut Value, key: &str, with: &str) {
    if let Some(x) = v.get_mut(key) {
        if x.as_str().is_some_and(|s| !s.is_empty()) {
            *x = Value::String(with.into());
        }
    }
}

/// Where kubeconfig files come from: `--kubeconfig`, else `KUBECONFIG`
/// (a list separated by ':'), else `~/.kube/config`.
#[derive(Debug, Clone)]
pub struct ConfigFiles {
    pub explicit: Option<PathBuf>,
    pub paths: Vec<PathBuf>,
}

impl ConfigFiles {
    pub fn locate(explicit: Option<&str>) -> Self {
        if let Some(p) = explicit.filter(|p| !p.is_empty()) {
            return ConfigFiles { explicit: Some(p.into()), paths: vec![p.into()] };
        }
        if let Ok(list) = std::env::var("KUBECONFIG") {
            let paths: Vec<PathBuf> = list.split(':').filter(|p| !p.is_empty()).map(PathBuf::from).collect();
            if !paths.is_empty() {
                return ConfigFiles { explicit: None, paths };
            }
        }
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        ConfigFiles { explicit: None, paths: vec![Path::new(&home).join(".kube").join("config")] }
    }

    /// All files merged, the first to set a value winning.
    pub fn load_merged(&self) -> Result<Kubeconfig, ConfigError> {
        if let Some(p) = &self.explicit {
            if !p.exists() {
                return Err(ConfigError::Load(format!("stat {}: no such file or directory", p.display())));
            }
        }
        let mut merged = Kubeconfig::default();
        for p in &self.paths {
            merged.merge_from(Kubeconfig::load(p)?);
        }
        Ok(merged)
    }

    /// Upstream's GetDefaultFilename: the first file that exists, else the last.
    pub fn default_file(&self) -> PathBuf {
        self.paths.iter().find(|p| p.exists()).or(self.paths.last()).cloned().unwrap_or_default()
    }

    /// The file to change for `pred` (the one that defines it), else the default file.
    pub fn file_for(&self, pred: impl Fn(&Kubeconfig) -> bool) -> Result<PathBuf, ConfigError> {
        for p in &self.paths {
            if pred(&Kubeconfig::load(p)?) {
                return Ok(p.clone());
            }
        }
        Ok(self.default_file())
    }
}

/// Connection flags that override the kubeconfig.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub server: Option<String>,
    pub namespace: Option<String>,
}

/// Where to connect and which namespace to use.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// "host:port" to dial.
    pub address: String,
    /// The server as written (for messages).
    pub server: String,
    pub namespace: String,
    /// Whether the namespace came from `-n`.
    pub namespace_explicit: bool,
}

/// Upstream's default when nothing names a server.
pub const DEFAULT_SERVER: &str = "http://localhost:8080";

impl Overrides {
    pub fn resolve(&self, cfg: &Kubeconfig) -> Result<Resolved, ConfigError> {
        let ctx_name = self.context.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| cfg.current_context.clone());
        let ctx = match cfg.context(&ctx_name) {
            Some(c) => c.clone(),
            None if self.context.as_deref().is_some_and(|c| !c.is_empty()) => {
                return Err(ConfigError::Invalid(format!("Error in configuration: context was not found for specified context: {ctx_name}")))
            }
            None => Context::default(),
        };
        let cluster_name = self.cluster.clone().unwrap_or(ctx.cluster.clone());
        let cluster_server = cfg
            .cluster(&cluster_name)
            .and_then(|c| c.get("server"))
            .and_then(|s| s.as_str())
            .map(str::to_string);
        let server = self
            .server
            .clone()
            .filter(|s| !s.is_empty())
            .or(cluster_server)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.into());
        let (namespace, namespace_explicit) = match self.namespace.clone().filter(|n| !n.is_empty()) {
            Some(n) => (n, true),
            None if !ctx.namespace.is_empty() => (ctx.namespace.clone(), false),
            None => ("default".into(), false),
        };
        Ok(Resolved { address: dial_address(&server), server, namespace, namespace_explicit })
    }
}

/// "https://host:port/" or "http://host:port" or "host:port" -> "host:port".
/// For now every server is dialed in plaintext gRPC, even an https:// one:
/// TLS arrives with a later issue.
pub fn dial_address(server: &str) -> String {
    let (scheme, rest) = match server.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("", server),
    };
    let hostport = rest.split('/').next().unwrap_or(rest);
    let has_port = if hostport.starts_with('[') { hostport.contains("]:") } else { hostport.contains(':') };
    if has_port {
        hostport.to_string()
    } else {
        let port = if scheme == "https" { 443 } else { 80 };
        format!("{hostport}:{port}")
    }
}


/// Where a pod's service account token, CA and namespace are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The configuration of a process running in a pod (client-go's `InClusterConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct InCluster {
    /// `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`.
    pub server: String,
    /// The service account's bearer token (sent once the apiserver authenticates).
    pub token: String,
    /// The cluster CA, when mounted.
    pub ca_file: Option<PathBuf>,
    /// The pod's namespace ("default" when the file is missing).
    pub namespace: String,
}

impl InCluster {
    /// From the environment and [`SERVICE_ACCOUNT_DIR`].
    pub fn load() -> Result<Self, ConfigError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
        let port = std::env::var("KUBERNETES_SERVICE_PORT").ok();
        Self::load_from(host.as_deref(), port.as_deref(), Path::new(SERVICE_ACCOUNT_DIR))
    }

    /// From these values of the two variables and this service account directory.
    pub fn load_from(host: Option<&str>, port: Option<&str>, dir: &Path) -> Result<Self, ConfigError> {
        let (Some(host), Some(port)) = (host.filter(|h| !h.is_empty()), port.filter(|p| !p.is_empty())) else {
            return Err(ConfigError::InCluster("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined".into()));
        };
        let token_file = dir.join("token");
        let token = std::fs::read_to_string(&token_file).map_err(|e| ConfigError::InCluster(format!("open {}: {e}", token_file.display())))?;
        let ca = dir.join("ca.crt");
        let namespace = std::fs::read_to_string(dir.join("namespace")).map(|n| n.trim().to_string()).unwrap_or_default();
        // IPv6 hosts need brackets, as Go's net.JoinHostPort adds them.
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
        Ok(InCluster {
            server: format!("https://{host}:{port}"),
            token: token.trim().to_string(),
            ca_file: ca.exists().then_some(ca),
            namespace: if namespace.is_empty() { "default".into() } else { namespace },
        })
    }

    /// Where to connect, with `-n` (when given) over the pod's namespace.
    pub fn resolve(&self, namespace: Option<&str>) -> Resolved {
        let (namespace, namespace_explicit) = match namespace.filter(|n| !n.is_empty()) {
            Some(n) => (n.to_string(), true),
            None => (self.namespace.clone(), false),
        };
        Resolved { address: dial_address(&self.server), server: self.server.clone(), namespace, namespace_explicit }
    }
}

impl Overrides {
    /// kubectl's loading (client-go's `DeferredLoadingClientConfig`): the
    /// files merged and resolved with these overrides; inside a pod, when
    /// neither the files nor the flags name a server, the in-cluster config.
    pub fn load(&self, files: &ConfigFiles) -> Result<Resolved, ConfigError> {
        let cfg = files.load_merged()?;
        let r = self.resolve(&cfg)?;
        let names_nothing = r.server == DEFAULT_SERVER && self.server.as_deref().unwrap_or("").is_empty() && self.context.as_deref().unwrap_or("").is_empty();
        if names_nothing {
            if let Ok(ic) = InCluster::load() {
                return Ok(ic.resolve(self.namespace.as_deref()));
            }
        }
        Ok(r)
    }
}

/// A daemon's connection from its `--master` and `--kubeconfig` flags
/// (upstream's `BuildConfigFromFlags`, with kubectl's default files):
/// `--kubeconfig` (or else the `KUBECONFIG` list, else, outside a pod,
/// `~/.kube/config`) resolved at its current context, `--master` replacing
/// its server. With neither flag nor `KUBECONFIG`, the in-cluster config.
pub fn for_daemon(master: Option<&str>, kubeconfig: Option<&str>) -> Result<Resolved, ConfigError> {
    let master = master.filter(|m| !m.is_empty());
    let explicit = kubeconfig.filter(|k| !k.is_empty());
    let kubeconfig_env = std::env::var("KUBECONFIG").is_ok_and(|v| !v.is_empty());
    if master.is_none() && explicit.is_none() && !kubeconfig_env {
        match InCluster::load() {
            Ok(ic) => return Ok(ic.resolve(None)),
            Err(e) => tracing::warn!(error = %e, "neither --kubeconfig nor --master was specified and not in a cluster; trying ~/.kube/config"),
        }
    }
    let files = ConfigFiles::locate(explicit);
    let cfg = files.load_merged()?;
    let r = Overrides { server: master.map(str::to_string), ..Default::default() }.resolve(&cfg)?;
    if master.is_none() && r.server == DEFAULT_SERVER {
        return Err(ConfigError::Invalid("invalid configuration: no configuration has been provided, try setting --master or --kubeconfig".into()));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
clusters:
- name: local
  cluster:
    server: http://127.0.0.1:6443
- name: other
  cluster:
    server: https://10.0.0.1:7443
contexts:
- name: local
  context: {cluster: local, user: admin}
- name: other
  context: {cluster: other, user: bob, namespace: kube-system}
current-context: local
users:
- name: admin
  user: {token: secret}
"#;

    #[test]
    fn resolves_context_server_and_namespace() {
        let cfg = Kubeconfig::parse(CFG).unwrap();
        let r = Overrides::default().resolve(&cfg).unwrap();
        assert_eq!((r.address.as_str(), r.namespace.as_str()), ("127.0.0.1:6443", "default"));
        let o = Overrides { context: Some("other".into()), ..Default::default() };
        let r = o.resolve(&cfg).unwrap();
        assert_eq!((r.address.as_str(), r.namespace.as_str()), ("10.0.0.1:7443", "kube-system"));
        let o = Overrides { server: Some("127.0.0.1:9".into()), namespace: Some("x".into()), ..Default::default() };
        let r = o.resolve(&cfg).unwrap();
        assert_eq!((r.address.as_str(), r.namespace.as_str(), r.namespace_explicit), ("127.0.0.1:9", "x", true));
        let o = Overrides { context: Some("nope".into()), ..Default::default() };
        let e = o.resolve(&cfg).unwrap_err();
        assert_eq!(e.to_string(), "Error in configuration: context was not found for specified context: nope");
    }

    #[test]
    fn dial_addresses() {
        assert_eq!(dial_address("https://h:1/"), "h:1");
        assert_eq!(dial_address("http://h"), "h:80");
        assert_eq!(dial_address("https://h"), "h:443");
        assert_eq!(dial_address("h:5"), "h:5");
        assert_eq!(dial_address("http://[::1]:6443"), "[::1]:6443");
    }

    #[test]
    fn merge_first_wins() {
        let mut a = Kubeconfig::parse("current-context: a\ncontexts:\n- name: a\n  context: {cluster: x}\n").unwrap();
        a.merge_from(Kubeconfig::parse(CFG).unwrap());
        assert_eq!(a.current_context, "a");
        assert_eq!(a.contexts.len(), 3);
        assert_eq!(a.context("a").unwrap().cluster, "x");
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("client-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn kubeconfig_list_merges_files_and_skips_missing_ones() {
        let d = scratch("list");
        std::fs::write(d.join("a"), "current-context: other\nclusters:\n- name: other\n  cluster: {server: http://first:1}\n").unwrap();
        std::fs::write(d.join("b"), CFG).unwrap();
        // As KUBECONFIG=a:missing:b.
        let files = ConfigFiles { explicit: None, paths: vec![d.join("a"), d.join("missing"), d.join("b")] };
        let cfg = files.load_merged().unwrap();
        assert_eq!(cfg.current_context, "other");
        let r = Overrides::default().resolve(&cfg).unwrap();
        // The context comes from b, the cluster "other" from a (first wins).
        assert_eq!((r.server.as_str(), r.namespace.as_str()), ("http://first:1", "kube-system"));
        assert_eq!(files.default_file(), d.join("a"));
        assert_eq!(files.file_for(|c| c.context("local").is_some()).unwrap(), d.join("b"));
        // An explicit --kubeconfig must exist.
        let e = ConfigFiles::locate(Some(d.join("missing").to_str().unwrap())).load_merged().unwrap_err();
        assert!(e.to_string().starts_with("stat "), "{e}");
        std::fs::write(d.join("bad"), "clusters: 7\n").unwrap();
        assert!(Kubeconfig::load(&d.join("bad")).unwrap_err().to_string().contains("invalid kubeconfig"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn in_cluster_from_env_and_service_account_files() {
        let d = scratch("sa");
        assert!(matches!(InCluster::load_from(None, Some("443"), &d), Err(ConfigError::InCluster(_))));
        assert!(InCluster::load_from(Some("10.96.0.1"), Some("443"), &d).unwrap_err().to_string().contains("token"));
        std::fs::write(d.join("token"), "abc\n").unwrap();
        let ic = InCluster::load_from(Some("10.96.0.1"), Some("443"), &d).unwrap();
        assert_eq!(ic, InCluster { server: "https://10.96.0.1:443".into(), token: "abc".into(), ca_file: None, namespace: "default".into() });
        std::fs::write(d.join("namespace"), "team-a").unwrap();
        std::fs::write(d.join("ca.crt"), "pem").unwrap();
        let ic = InCluster::load_from(Some("fd00::1"), Some("6443"), &d).unwrap();
        assert_eq!(ic.server, "https://[fd00::1]:6443");
        assert_eq!(ic.ca_file, Some(d.join("ca.crt")));
        let r = ic.resolve(None);
        assert_eq!((r.address.as_str(), r.namespace.as_str(), r.namespace_explicit), ("[fd00::1]:6443", "team-a", false));
        assert_eq!(ic.resolve(Some("x")).namespace, "x");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn daemon_flags_master_overrides_the_kubeconfig() {
        let d = scratch("daemon");
        let k = d.join("kubeconfig");
        std::fs::write(&k, CFG).unwrap();
        let k = k.to_str().unwrap();
        assert_eq!(for_daemon(None, Some(k)).unwrap().address, "127.0.0.1:6443");
        assert_eq!(for_daemon(Some("http://10.1.1.1:6443"), Some(k)).unwrap().address, "10.1.1.1:6443");
        assert_eq!(for_daemon(Some("127.0.0.1:7"), None).unwrap().address, "127.0.0.1:7");
        let _ = std::fs::remove_dir_all(&d);
    }
}
