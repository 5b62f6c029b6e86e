//! kubeconfig files in upstream's format: loading (`--kubeconfig`,
//! `KUBECONFIG`, `~/.kube/config`), merging, resolving the server and
//! namespace of the current context, and writing changes back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CmdError, CmdResult};

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
    pub fn parse(text: &str) -> CmdResult<Self> {
        if text.trim().is_empty() {
            return Ok(Kubeconfig::default());
        }
        serde_yaml::from_str(text).map_err(|e| CmdError::msg(format!("error loading config: {e}")))
    }

    pub fn load(path: &Path) -> CmdResult<Self> {
        match std::fs::read_to_string(path) {
            Ok(t) => Self::parse(&t)
                .map_err(|_| CmdError::msg(format!("error loading config file \"{}\": invalid kubeconfig", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Kubeconfig::default()),
            Err(e) => Err(CmdError::msg(format!("error loading config file \"{}\": {e}", path.display()))),
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

    /// The document as upstream writes it: keys sorted, entries sorted by name,
    /// `apiVersion`, `kind` and `preferences` always present.
    pub fn to_value(&self) -> Value {
        let mut me = self.clone();
        me.api_version.get_or_insert_with(|| "v1".into());
        me.kind.get_or_insert_with(|| "Config".into());
        me.preferences.get_or_insert_with(|| Value::Object(Default::default()));
        me.clusters.sort_by(|a, b| a.name.cmp(&b.name));
        me.contexts.sort_by(|a, b| a.name.cmp(&b.name));
        me.users.sort_by(|a, b| a.name.cmp(&b.name));
        let mut v = serde_json::to_value(&me).unwrap_or(Value::Null);
        if let Some(m) = v.as_object_mut() {
            if me.current_context.is_empty() {
                m.insert("current-context".into(), Value::String(String::new()));
            }
            // Go writes empty (nil) lists as null.
            for k in ["clusters", "contexts", "users"] {
                if m.get(k).and_then(Value::as_array).is_some_and(|a| a.is_empty()) {
                    m.insert(k.into(), Value::Null);
                }
            }
        }
        crate::util::sort_keys(v)
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
    pub fn minify(&mut self) -> CmdResult<()> {
        let cur = self.current_context.clone();
        if cur.is_empty() {
            return Err(CmdError::msg("current-context must exist in order to minify"));
        }
        let ctx = self
            .context(&cur)
            .cloned()
            .ok_or_else(|| CmdError::msg(format!("cannot locate context {cur}")))?;
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
    pub fn load_merged(&self) -> CmdResult<Kubeconfig> {
        if let Some(p) = &self.explicit {
            if !p.exists() {
                return Err(CmdError::msg(format!("stat {}: no such file or directory", p.display())));
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
    pub fn file_for(&self, pred: impl Fn(&Kubeconfig) -> bool) -> CmdResult<PathBuf> {
        for p in &self.paths {
            if pred(&Kubeconfig::load(p)?) {
                return Ok(p.clone());
            }
        }
        Ok(self.default_file())
    }

    /// Loads one file, lets `f` change it and writes it back.
    pub fn modify(&self, path: &Path, f: impl FnOnce(&mut Kubeconfig) -> CmdResult<()>) -> CmdResult<()> {
        let mut cfg = Kubeconfig::load(path)?;
        f(&mut cfg)?;
        let text = crate::util::to_yaml(&cfg.to_value());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CmdError::msg(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, text).map_err(|e| CmdError::msg(format!("{}: {e}", path.display())))
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
    pub fn resolve(&self, cfg: &Kubeconfig) -> CmdResult<Resolved> {
        let ctx_name = self.context.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| cfg.current_context.clone());
        let ctx = match cfg.context(&ctx_name) {
            Some(c) => c.clone(),
            None if self.context.as_deref().is_some_and(|c| !c.is_empty()) => {
                return Err(CmdError::raw(format!(
                    "Error in configuration: context was not found for specified context: {ctx_name}"
                )))
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

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: http://127.0.0.1:6443
- name: other
  cluster:
    server: https://10.0.0.1:7443
    certificate-authority-data: AAAA
contexts:
- name: local
  context: {cluster: local, user: admin}
- name: other
  context: {cluster: other, user: bob, namespace: kube-system}
current-context: local
users:
- name: admin
  user: {token: secret}
- name: bob
  user: {client-certificate-data: BBBB, client-key-data: CCCC}
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
        assert!(o.resolve(&cfg).is_err());
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
    fn view_matches_upstream() {
        let mut cfg = Kubeconfig::parse(CFG).unwrap();
        cfg.redact();
        let got = crate::util::to_yaml(&cfg.to_value());
        let want = include_str!("../tests/golden/config_view.txt");
        assert_eq!(got, want);
    }

    #[test]
    fn view_json_in_upstream_order() {
        let mut cfg = Kubeconfig::parse(CFG).unwrap();
        cfg.current_context = "other".into();
        cfg.minify().unwrap();
        cfg.redact();
        assert_eq!(to_ordered_json(&cfg), include_str!("../tests/golden/config_view_minify.json"));
    }

    #[test]
    fn empty_config_like_upstream() {
        // `kubectl --kubeconfig <empty file> config view` from the real kubectl.
        let got = crate::util::to_yaml(&Kubeconfig::parse("").unwrap().to_value());
        assert_eq!(got, "apiVersion: v1\nclusters: null\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n");
    }

    #[test]
    fn merge_first_wins() {
        let mut a = Kubeconfig::parse("current-context: a\ncontexts:\n- name: a\n  context: {cluster: x}\n").unwrap();
        let b = Kubeconfig::parse(CFG).unwrap();
        a.merge_from(b);
        assert_eq!(a.current_context, "a");
        assert_eq!(a.contexts.len(), 3);
        assert_eq!(a.context("a").unwrap().cluster, "x");
    }
}

/// `kubectl config view -o json`: upstream prints the typed Config, so keys
/// come in its Go struct order rather than sorted.
pub fn to_ordered_json(cfg: &Kubeconfig) -> String {
    use serde_json::json;
    let v = cfg.to_value();
    let cluster_order = ["server", "tls-server-name", "insecure-skip-tls-verify", "certificate-authority", "certificate-authority-data", "proxy-url", "disable-compression", "extensions"];
    let user_order = [
        "client-certificate", "client-certificate-data", "client-key", "client-key-data", "token", "tokenFile", "as", "as-uid", "as-groups",
        "as-user-extra", "username", "password", "auth-provider", "exec", "extensions",
    ];
    let context_order = ["cluster", "user", "namespace", "extensions"];
    let named = |list: &str, inner: &str, order: &[&str]| -> Vec<Ordered> {
        v.get(list)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let body = e.get(inner).cloned().unwrap_or(json!({}));
                        Ordered::Obj(vec![("name".into(), Ordered::Leaf(e.get("name").cloned().unwrap_or(Value::Null))), (inner.into(), ordered(&body, order))])
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let top = Ordered::Obj(vec![
        ("kind".into(), Ordered::Leaf(v["kind"].clone())),
        ("apiVersion".into(), Ordered::Leaf(v["apiVersion"].clone())),
        ("preferences".into(), Ordered::Leaf(v.get("preferences").cloned().unwrap_or(json!({})))),
        ("clusters".into(), Ordered::Arr(named("clusters", "cluster", &cluster_order))),
        ("users".into(), Ordered::Arr(named("users", "user", &user_order))),
        ("contexts".into(), Ordered::Arr(named("contexts", "context", &context_order))),
        ("current-context".into(), Ordered::Leaf(v["current-context"].clone())),
    ]);
    let mut out = String::new();
    top.write(&mut out, 0);
    out.push('\n');
    out
}

/// A JSON value whose object keys keep a chosen order.
enum Ordered {
    Obj(Vec<(String, Ordered)>),
    Arr(Vec<Ordered>),
    Leaf(Value),
}

/// Known keys first, in `order`, then the rest sorted.
fn ordered(v: &Value, order: &[&str]) -> Ordered {
    let Some(m) = v.as_object() else { return Ordered::Leaf(v.clone()) };
    let mut fields: Vec<(String, Ordered)> = Vec::new();
    for k in order {
        if let Some(x) = m.get(*k) {
            fields.push((k.to_string(), Ordered::Leaf(x.clone())));
        }
    }
    let mut rest: Vec<&String> = m.keys().filter(|k| !order.contains(&k.as_str())).collect();
    rest.sort();
    for k in rest {
        fields.push((k.clone(), Ordered::Leaf(m[k].clone())));
    }
    Ordered::Obj(fields)
}

impl Ordered {
    fn write(&self, out: &mut String, indent: usize) {
        let pad = |n: usize| "    ".repeat(n);
        match self {
            Ordered::Leaf(v) => {
                let text = crate::util::to_json(v);
                out.push_str(&text.replace('\n', &format!("\n{}", pad(indent))));
            }
            Ordered::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Ordered::Arr(items) if items.is_empty() => out.push_str("[]"),
            Ordered::Obj(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(&format!("{}{}: ", pad(indent + 1), serde_json::to_string(k).unwrap_or_default()));
                    v.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                out.push_str(&format!("{}}}", pad(indent)));
            }
            Ordered::Arr(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    v.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&format!("{}]", pad(indent)));
            }
        }
    }
}
