//! `kubectl config`: view, get-contexts, current-context, use-context,
//! set-context, get-clusters, get-users, set-cluster, set-credentials,
//! delete-context.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::config::{Kubeconfig, Modify, NamedCluster, NamedContext, NamedUser, ToValue};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::Output;
use crate::util::TabWriter;

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Display merged kubeconfig settings or a specified kubeconfig file
    View {
        /// Remove all information not used by current-context from the output
        #[arg(long)]
        minify: bool,
        /// Display raw byte data and sensitive data
        #[arg(long)]
        raw: bool,
        /// Flatten the resulting kubeconfig file into self-contained output
        #[arg(long)]
        flatten: bool,
        /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).
        #[arg(short = 'o', long, default_value = "yaml")]
        output: String,
    },
    /// Describe one or many contexts
    GetContexts {
        name: Option<String>,
        /// Output format. One of: (name).
        #[arg(short = 'o', long)]
        output: Option<String>,
        /// When using the default or custom-column output format, don't print headers (default print headers).
        #[arg(long = "no-headers")]
        no_headers: bool,
    },
    /// Display the current-context
    CurrentContext,
    /// Set the current-context in a kubeconfig file
    #[command(alias = "use")]
    UseContext { name: String },
    /// Set a context entry in kubeconfig
    SetContext {
        name: Option<String>,
        /// Modify the current context
        #[arg(long)]
        current: bool,
        /// cluster for the context entry in kubeconfig
        #[arg(long)]
        cluster: Option<String>,
        /// user for the context entry in kubeconfig
        #[arg(long)]
        user: Option<String>,
        /// namespace for the context entry in kubeconfig
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Display clusters defined in the kubeconfig
    GetClusters,
    /// Display users defined in the kubeconfig
    GetUsers,
    /// Set a cluster entry in kubeconfig
    SetCluster {
        name: String,
        /// server for the cluster entry in kubeconfig
        #[arg(long)]
        server: Option<String>,
        /// insecure-skip-tls-verify for the cluster entry in kubeconfig
        #[arg(long = "insecure-skip-tls-verify")]
        insecure_skip_tls_verify: Option<bool>,
    },
    /// Set a user entry in kubeconfig
    SetCredentials {
        name: String,
        /// token for the user entry in kubeconfig
        #[arg(long)]
        token: Option<String>,
        /// username for the user entry in kubeconfig
        #[arg(long)]
        username: Option<String>,
        /// password for the user entry in kubeconfig
        #[arg(long)]
        password: Option<String>,
    },
    /// Delete the specified context from the kubeconfig
    DeleteContext { name: String },
}

pub fn run(ctx: &Ctx, cmd: ConfigCmd) -> CmdResult {
    let files = &ctx.files;
    match cmd {
        ConfigCmd::View { minify, raw, flatten, output } => {
            let mut cfg = files.load_merged()?;
            if minify {
                if let Some(c) = &ctx.overrides.context {
                    cfg.current_context = c.clone();
                }
                cfg.minify()?;
            }
            if !raw && !flatten {
                cfg.redact();
            }
            let v = cfg.to_value();
            out(&match Output::parse(Some(&output))? {
                Output::Json => crate::config::to_ordered_json(&cfg),
                Output::JsonPath(t) => crate::printers::jsonpath::JsonPath::parse(&t)?.execute(&v)?,
                _ => crate::util::to_yaml(&v),
            });
            Ok(())
        }
        ConfigCmd::GetContexts { name, output, no_headers } => {
            let cfg = files.load_merged()?;
            let mut contexts: Vec<&NamedContext> = cfg.contexts.iter().collect();
            contexts.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(n) = &name {
                contexts.retain(|c| &c.name == n);
                if contexts.is_empty() {
                    // Upstream prints the header, then the error.
                    if output.as_deref() != Some("name") && !no_headers {
                        let mut tw = TabWriter::new();
                        tw.row(&["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]);
                        out(&tw.render());
                    }
                    return Err(CmdError::msg(format!("context {n} not found")));
                }
            }
            if output.as_deref() == Some("name") {
                out(&contexts.iter().map(|c| format!("{}\n", c.name)).collect::<String>());
                return Ok(());
            }
            let mut tw = TabWriter::new();
            if !no_headers {
                tw.row(&["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]);
            }
            for c in contexts {
                let cur = if c.name == cfg.current_context { "*" } else { "" };
                tw.row(&[cur, &c.name, &c.context.cluster, &c.context.user, &c.context.namespace]);
            }
            out(&tw.render());
            Ok(())
        }
        ConfigCmd::CurrentContext => {
            let cfg = files.load_merged()?;
            if cfg.current_context.is_empty() {
                return Err(CmdError::msg("current-context is not set"));
            }
            out(&format!("{}\n", cfg.current_context));
            Ok(())
        }
        ConfigCmd::UseContext { name } => {
            let cfg = files.load_merged()?;
            if cfg.context(&name).is_none() {
                return Err(CmdError::msg(format!("no context exists with the name: \"{name}\"")));
            }
            // As upstream: current-context goes to the default file.
            let path = files.default_file();
            files.modify(&path, |c| {
                c.current_context = name.clone();
                Ok(())
            })?;
            out(&format!("Switched to context \"{name}\".\n"));
            Ok(())
        }
        ConfigCmd::SetContext { name, current, cluster, user, namespace } => {
            let merged = files.load_merged()?;
            let name = match (name, current) {
                (Some(_), true) => return Err(CmdError::msg("you cannot specify both a context name and --current")),
                (Some(n), false) => n,
                (None, true) => {
                    if merged.current_context.is_empty() {
                        return Err(CmdError::msg("no current context is set"));
                    }
                    merged.current_context.clone()
                }
                (None, false) => return Err(CmdError::usage("config set-context", "you must specify a non-empty context name or --current")),
            };
            let exists = merged.context(&name).is_some();
            let path = files.file_for(|c| c.context(&name).is_some())?;
            files.modify(&path, |c: &mut Kubeconfig| {
                if c.context(&name).is_none() {
                    c.contexts.push(NamedContext { name: name.clone(), context: merged.context(&name).cloned().unwrap_or_default() });
                }
                let ctx = &mut c.contexts.iter_mut().find(|x| x.name == name).expect("just added").context;
                if let Some(v) = &cluster {
                    ctx.cluster = v.clone();
                }
                if let Some(v) = &user {
                    ctx.user = v.clone();
                }
                if let Some(v) = &namespace {
                    ctx.namespace = v.clone();
                }
                Ok(())
            })?;
            out(&format!("Context \"{name}\" {}.\n", if exists { "modified" } else { "created" }));
            Ok(())
        }
        ConfigCmd::GetClusters => {
            let cfg = files.load_merged()?;
            let mut names: Vec<&str> = cfg.clusters.iter().map(|c| c.name.as_str()).collect();
            names.sort();
            out(&format!("NAME\n{}", names.iter().map(|n| format!("{n}\n")).collect::<String>()));
            Ok(())
        }
        ConfigCmd::GetUsers => {
            let cfg = files.load_merged()?;
            let mut names: Vec<&str> = cfg.users.iter().map(|c| c.name.as_str()).collect();
            names.sort();
            out(&format!("NAME\n{}", names.iter().map(|n| format!("{n}\n")).collect::<String>()));
            Ok(())
        }
        ConfigCmd::SetCluster { name, server, insecure_skip_tls_verify } => {
            let path = files.file_for(|c| c.cluster(&name).is_some())?;
            files.modify(&path, |c| {
                if c.cluster(&name).is_none() {
                    c.clusters.push(NamedCluster { name: name.clone(), cluster: json!({}) });
                }
                let cl = &mut c.clusters.iter_mut().find(|x| x.name == name).expect("just added").cluster;
                if !cl.is_object() {
                    *cl = json!({});
                }
                if let Some(s) = &server {
                    cl["server"] = Value::String(s.clone());
                }
                if let Some(b) = insecure_skip_tls_verify {
                    cl["insecure-skip-tls-verify"] = Value::Bool(b);
                }
                Ok(())
            })?;
            out(&format!("Cluster \"{name}\" set.\n"));
            Ok(())
        }
        ConfigCmd::SetCredentials { name, token, username, password } => {
            let path = files.file_for(|c| c.users.iter().any(|u| u.name == name))?;
            files.modify(&path, |c| {
                if !c.users.iter().any(|u| u.name == name) {
                    c.users.push(NamedUser { name: name.clone(), user: json!({}) });
                }
                let u = &mut c.users.iter_mut().find(|x| x.name == name).expect("just added").user;
                if !u.is_object() {
                    *u = json!({});
                }
                for (k, v) in [("token", &token), ("username", &username), ("password", &password)] {
                    if let Some(v) = v {
                        u[k] = Value::String(v.clone());
                    }
                }
                Ok(())
            })?;
            out(&format!("User \"{name}\" set.\n"));
            Ok(())
        }
        ConfigCmd::DeleteContext { name } => {
            let path = files.file_for(|c| c.context(&name).is_some())?;
            let mut found = false;
            files.modify(&path, |c| {
                found = c.context(&name).is_some();
                c.contexts.retain(|x| x.name != name);
                Ok(())
            })?;
            if !found {
                return Err(CmdError::msg(format!("cannot delete context {name}, not in {}", path.display())));
            }
            out(&format!("deleted context {name} from {}\n", path.display()));
            Ok(())
        }
    }
}
