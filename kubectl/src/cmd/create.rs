//! `kubectl create -f` and `kubectl create <kind> NAME ...`.

use client::PostParams;
use clap::Subcommand;
use serde_json::Value;

use super::common::{complete_object, done, map_item, DryRun, FileArgs};
use super::create_gen as gen;
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::{print_each, Output};

/// Output and dry-run flags of commands that write objects.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct WriteFlags {
    /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Must be "none", "server", or "client". If client strategy, only print the object that would be sent, without sending it. If server strategy, submit server-side request without persisting the resource.
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "client")]
    pub dry_run: Option<String>,
    /// If true, the configuration of current object will be saved in its annotation. Otherwise, the annotation will be unchanged.
    #[arg(long = "save-config")]
    pub save_config: bool,
    /// Name of the manager used to track field ownership.
    #[arg(long = "field-manager", default_value = "kubectl-create")]
    pub field_manager: String,
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub sub: Option<CreateSub>,
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub write: WriteFlags,
    /// Must be one of: strict (or true), warn, ignore (or false) (accepted for compatibility).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "strict")]
    pub validate: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum CreateSub {
    /// Create a namespace with the specified name
    #[command(alias = "ns")]
    Namespace {
        name: String,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// Create a deployment with the specified name
    #[command(alias = "deploy")]
    Deployment {
        name: String,
        /// Image names to run. A deployment can have multiple images set for multi-container pod.
        #[arg(long, required = true)]
        image: Vec<String>,
        /// Number of replicas to create. Default is 1.
        #[arg(short = 'r', long, default_value_t = 1)]
        replicas: i64,
        /// The containerPort that this deployment exposes.
        #[arg(long)]
        port: Option<i64>,
        #[command(flatten)]
        write: WriteFlags,
        /// Command to run in the container (after --).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Create a config map from a local file, directory or literal value
    #[command(alias = "cm")]
    Configmap {
        name: String,
        /// Specify a key and literal value to insert in configmap (i.e. mykey=somevalue)
        #[arg(long = "from-literal")]
        from_literal: Vec<String>,
        /// Key file can be specified using its file path, in which case file basename will be used as configmap key, or optionally with a key and file path, in which case the given key will be used.
        #[arg(long = "from-file")]
        from_file: Vec<String>,
        /// Specify the path to a file to read lines of key=val pairs to create a configmap.
        #[arg(long = "from-env-file")]
        from_env_file: Vec<String>,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// Create a secret using a specified subcommand
    #[command(subcommand)]
    Secret(SecretSub),
    /// Create a service using a specified subcommand
    #[command(subcommand, alias = "svc")]
    Service(ServiceSub),
    /// Create a service account with the specified name
    #[command(alias = "sa")]
    Serviceaccount {
        name: String,
        #[command(flatten)]
        write: WriteFlags,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretSub {
    /// Create a secret from a local file, directory, or literal value
    Generic {
        name: String,
        /// Specify a key and literal value to insert in secret (i.e. mykey=somevalue)
        #[arg(long = "from-literal")]
        from_literal: Vec<String>,
        /// Key files can be specified using their file path, in which case a default name will be given to them, or optionally with a name and file path, in which case the given name will be used.
        #[arg(long = "from-file")]
        from_file: Vec<String>,
        /// Specify the path to a file to read lines of key=val pairs to create a secret.
        #[arg(long = "from-env-file")]
        from_env_file: Vec<String>,
        /// The type of secret to create
        #[arg(long = "type")]
        type_: Option<String>,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// Create a secret for use with a Docker registry
    DockerRegistry {
        name: String,
        /// Server location for Docker registry
        #[arg(long = "docker-server", default_value = "https://index.docker.io/v1/")]
        docker_server: String,
        /// Username for Docker registry authentication
        #[arg(long = "docker-username")]
        docker_username: Option<String>,
        /// Password for Docker registry authentication
        #[arg(long = "docker-password")]
        docker_password: Option<String>,
        /// Email for Docker registry
        #[arg(long = "docker-email")]
        docker_email: Option<String>,
        #[command(flatten)]
        write: WriteFlags,
    },
}

#[derive(clap::Args, Debug)]
pub struct ServiceFlags {
    pub name: String,
    /// Port pairs can be specified as '<port>:<targetPort>'.
    #[arg(long, value_delimiter = ',')]
    pub tcp: Vec<String>,
    /// Assign your own ClusterIP or set to 'None' for a 'headless' service (no loadbalancing).
    #[arg(long)]
    pub clusterip: Option<String>,
    /// Port used to expose the service on each node in a cluster.
    #[arg(long = "node-port")]
    pub node_port: Option<i64>,
    /// External name of service
    #[arg(long = "external-name")]
    pub external_name: Option<String>,
    #[command(flatten)]
    pub write: WriteFlags,
}

#[derive(Subcommand, Debug)]
pub enum ServiceSub {
    /// Create a ClusterIP service
    Clusterip(ServiceFlags),
    /// Create a NodePort service
    Nodeport(ServiceFlags),
    /// Create a LoadBalancer service
    Loadbalancer(ServiceFlags),
    /// Create an ExternalName service
    Externalname(ServiceFlags),
}

pub async fn run(ctx: &Ctx, a: CreateArgs) -> CmdResult {
    let Some(sub) = a.sub else { return create_from_files(ctx, &a.files, &a.write).await };
    let (obj, write) = match sub {
        CreateSub::Namespace { name, write } => (gen::namespace(&name), write),
        CreateSub::Deployment { name, image, replicas, port, write, command } => {
            (gen::deployment(&name, &image, replicas, port, &command), write)
        }
        CreateSub::Configmap { name, from_literal, from_file, from_env_file, write } => {
            let src = gen::Sources { literals: from_literal, files: from_file, env_files: from_env_file };
            (gen::configmap(&name, &src)?, write)
        }
        CreateSub::Secret(SecretSub::Generic { name, from_literal, from_file, from_env_file, type_, write }) => {
            let src = gen::Sources { literals: from_literal, files: from_file, env_files: from_env_file };
            (gen::secret_generic(&name, &src, type_.as_deref())?, write)
        }
        CreateSub::Secret(SecretSub::DockerRegistry { name, docker_server, docker_username, docker_password, docker_email, write }) => {
            let (Some(u), Some(p)) = (docker_username, docker_password) else {
                return Err(CmdError::usage("create secret docker-registry", "either --from-file or the combination of --docker-username, --docker-password and --docker-server is required"));
            };
            (gen::secret_docker_registry(&name, &docker_server, &u, &p, docker_email.as_deref()), write)
        }
        CreateSub::Service(s) => {
            let (ty, f) = match s {
                ServiceSub::Clusterip(f) => ("ClusterIP", f),
                ServiceSub::Nodeport(f) => ("NodePort", f),
                ServiceSub::Loadbalancer(f) => ("LoadBalancer", f),
                ServiceSub::Externalname(f) => ("ExternalName", f),
            };
            if ty == "ExternalName" && f.external_name.is_none() {
                return Err(CmdError::msg("external name must be specified"));
            }
            if ty == "ClusterIP" && f.tcp.is_empty() && f.clusterip.as_deref() != Some("None") {
                return Err(CmdError::msg("at least one tcp port specifier must be provided"));
            }
            let obj = gen::service(&f.name, ty, &f.tcp, f.clusterip.as_deref(), f.node_port, f.external_name.as_deref())?;
            (obj, f.write)
        }
        CreateSub::Serviceaccount { name, write } => (gen::service_account(&name), write),
    };
    create_generated(ctx, obj, &write).await
}

/// Creates (or with --dry-run=client prints) one generated object.
pub async fn create_generated(ctx: &Ctx, mut obj: Value, write: &WriteFlags) -> CmdResult {
    let output = Output::parse_for_write(write.output.as_deref())?;
    let dry = DryRun::parse(write.dry_run.as_deref())?;
    let av = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let r = crate::resources::builtin(&av, &kind)
        .ok_or_else(|| CmdError::msg(format!("the server doesn't have a resource type \"{}\"", kind.to_lowercase())))?;
    let ns = ctx.namespace()?;
    if r.namespaced && dry == DryRun::None {
        complete_object(&r, &mut obj, Some(&ns));
    } else if r.namespaced && ctx.resolved()?.namespace_explicit {
        complete_object(&r, &mut obj, Some(&ns));
    }
    if write.save_config {
        obj = crate::apply::with_last_applied(&obj);
    }
    let result = match dry {
        DryRun::Client => obj,
        _ => {
            let api = ctx.api(&r, Some(&ns)).await?;
            let pp = PostParams { dry_run: dry == DryRun::Server, field_manager: Some(write.field_manager.clone()) };
            api.create(&pp, &obj).await?
        }
    };
    match output {
        Output::Table => out(&done(&r, crate::util::name(&result), "created", dry)),
        // Generators print typed objects: Go struct order in JSON.
        Output::Json => out(&crate::printers::json::to_typed_json(&result)),
        _ => out(&print_each(&output, &[(&r, result)])?),
    }
    Ok(())
}

async fn create_from_files(ctx: &Ctx, files: &FileArgs, write: &WriteFlags) -> CmdResult {
    if files.filename.is_empty() {
        return Err(CmdError::usage("create", "must specify one of -f and -k"));
    }
    let output = Output::parse_for_write(write.output.as_deref())?;
    let dry = DryRun::parse(write.dry_run.as_deref())?;
    let items = crate::manifest::read(&files.filename, files.recursive)?;
    if items.is_empty() {
        return Err(CmdError::msg("no objects passed to create"));
    }
    let d = ctx.discovery().await?;
    let mut errors = Vec::new();
    for item in items {
        let (r, ns) = match map_item(ctx, d, &item) {
            Ok(x) => x,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut obj = item.obj.clone();
        complete_object(r, &mut obj, ns.as_deref());
        if write.save_config {
            obj = crate::apply::with_last_applied(&obj);
        }
        let result = match dry {
            DryRun::Client => Ok(obj),
            _ => {
                let api = ctx.api(r, ns.as_deref()).await?;
                let pp = PostParams { dry_run: dry == DryRun::Server, field_manager: Some(write.field_manager.clone()) };
                api.create(&pp, &obj).await.map_err(CmdError::from)
            }
        };
        match result {
            Ok(o) => {
                if output == Output::Table {
                    out(&done(r, crate::util::name(&o), "created", dry));
                } else {
                    out(&print_each(&output, &[(r, o)])?);
                }
            }
            Err(e) => errors.push(e.with_source("creating", &item.source)),
        }
    }
    CmdError::aggregate(errors)
}
