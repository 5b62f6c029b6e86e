//! kubectl's side of kubeconfig: the model, loading, merging and context
//! resolution live in `client::config` (shared with the daemons); here is
//! what only kubectl does with it: write files back in upstream's layout and
//! print `config view` as upstream does.

use std::path::Path;

pub use client::config::*;
use serde_json::Value;

use crate::error::{CmdError, CmdResult};

impl From<ConfigError> for CmdError {
    fn from(e: ConfigError) -> Self {
        match e {
            // Upstream prints these without the "error: " prefix.
            ConfigError::Invalid(m) => CmdError::raw(m),
            e => CmdError::msg(e.to_string()),
        }
    }
}

/// The document as kubectl writes and views it.
pub trait ToValue {
    /// As upstream writes it: keys sorted, entries sorted by name,
    /// `apiVersion`, `kind` and `preferences` always present.
    fn to_value(&self) -> Value;
}

impl ToValue for Kubeconfig {
    fn to_value(&self) -> Value {
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
}

/// Changing one kubeconfig file in place (`config set-context`, `use-context`...).
pub trait Modify {
    /// Loads one file, lets `f` change it and writes it back.
    fn modify(&self, path: &Path, f: impl FnOnce(&mut Kubeconfig) -> CmdResult<()>) -> CmdResult<()>;
}

impl Modify for ConfigFiles {
    fn modify(&self, path: &Path, f: impl FnOnce(&mut Kubeconfig) -> CmdResult<()>) -> CmdResult<()> {
        let mut cfg = Kubeconfig::load(path).map_err(CmdError::from)?;
        f(&mut cfg)?;
        let text = crate::util::to_yaml(&cfg.to_value());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CmdError::msg(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, text).map_err(|e| CmdError::msg(format!("{}: {e}", path.display())))
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
