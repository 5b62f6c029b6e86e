//! Command-line parsing (clap) and dispatch; errors are printed the way
//! upstream kubectl prints them, with exit code 1.

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::config::Overrides;
use crate::context::{err, Ctx};
use crate::error::CmdError;

/// The top-level help, grouped as upstream's (commands this kubectl has).
const TOP_HELP: &str = "kubectl controls the Kubernetes cluster manager.

 Find more information at: https://kubernetes.io/docs/reference/kubectl/

Basic Commands (Beginner):
  create          Create a resource from a file or from stdin
  expose          Take a replication controller, service, deployment or pod and expose it as a new Kubernetes service
  run             Run a particular image on the cluster
  set             Set specific features on objects

Basic Commands (Intermediate):
  explain         Get documentation for a resource
  get             Display one or many resources
  edit            Edit a resource on the server
  delete          Delete resources by file names, stdin, resources and names, or by resources and label selector

Deploy Commands:
  rollout         Manage the rollout of a resource
  scale           Set a new size for a deployment, replica set, or replication controller

Cluster Management Commands:
  cordon          Mark node as unschedulable
  uncordon        Mark node as schedulable
  drain           Drain node in preparation for maintenance
  taint           Update the taints on one or more nodes

Troubleshooting and Debugging Commands:
  describe        Show details of a specific resource or group of resources
  logs            Print the logs for a container in a pod
  attach          Attach to a running container
  exec            Execute a command in a container
  port-forward    Forward one or more local ports to a pod
  cp              Copy files and directories to and from containers

Advanced Commands:
  apply           Apply a configuration to a resource by file name or stdin
  patch           Update fields of a resource
  replace         Replace a resource by file name or stdin

Settings Commands:
  label           Update the labels on a resource
  annotate        Update the annotations on a resource

Other Commands:
  api-resources   Print the supported API resources on the server
  api-versions    Print the supported API versions on the server, in the form of \"group/version\"
  config          Modify kubeconfig files
  version         Print the client and server version information

Usage:
  kubectl [flags] [options]

Use \"kubectl <command> --help\" for more information about a given command.
";

#[derive(Parser, Debug)]
#[command(
    name = "kubectl",
    about = "kubectl controls the Kubernetes cluster manager.",
    long_about = "kubectl controls the Kubernetes cluster manager.\n\n Find more information at: https://kubernetes.io/docs/reference/kubectl/",
    disable_version_flag = true,
    arg_required_else_help = true,
    disable_help_subcommand = true,
    help_template = TOP_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file to use for CLI requests.
    #[arg(long, global = true)]
    pub kubeconfig: Option<String>,
    /// The name of the kubeconfig context to use
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The name of the kubeconfig cluster to use
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, global = true)]
    pub server: Option<String>,
    /// If present, the namespace scope for this CLI request
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// The length of time to wait before giving up on a single server request (accepted for compatibility).
    #[arg(long = "request-timeout", global = true)]
    pub request_timeout: Option<String>,
    /// number for the log level verbosity (accepted for compatibility)
    #[arg(short = 'v', long = "v", global = true)]
    pub verbosity: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Display one or many resources
    Get(cmd::get::GetArgs),
    /// Show details of a specific resource or group of resources
    Describe(cmd::describe::DescribeArgs),
    /// Print the logs for a container in a pod
    Logs(cmd::logs::LogsArgs),
    /// Attach to a running container
    Attach(cmd::attach::AttachArgs),
    /// Execute a command in a container
    Exec(cmd::exec::ExecArgs),
    /// Forward one or more local ports to a pod
    #[command(name = "port-forward")]
    PortForward(cmd::port_forward::PortForwardArgs),
    /// Copy files and directories to and from containers
    Cp(cmd::cp::CpArgs),
    /// Create a resource from a file or from stdin
    Create(cmd::create::CreateArgs),
    /// Apply a configuration to a resource by file name or stdin
    Apply(cmd::apply::ApplyArgs),
    /// Delete resources by file names, stdin, resources and names, or by resources and label selector
    Delete(cmd::delete::DeleteArgs),
    /// Replace a resource by file name or stdin
    Replace(cmd::replace::ReplaceArgs),
    /// Edit a resource on the server
    Edit(cmd::edit::EditArgs),
    /// Update fields of a resource
    Patch(cmd::patch::PatchArgs),
    /// Update the labels on a resource
    Label(cmd::label::LabelArgs),
    /// Update the annotations on a resource
    Annotate(cmd::label::LabelArgs),
    /// Set a new size for a deployment, replica set, or replication controller
    Scale(cmd::scale::ScaleArgs),
    /// Manage the rollout of a resource
    #[command(subcommand)]
    Rollout(cmd::rollout::RolloutCmd),
    /// Run a particular image on the cluster
    Run(cmd::run::RunArgs),
    /// Take a replication controller, service, deployment or pod and expose it as a new Kubernetes service
    Expose(cmd::expose::ExposeArgs),
    /// Set specific features on objects
    #[command(subcommand)]
    Set(cmd::set::SetCmd),
    /// Mark node as unschedulable
    Cordon(cmd::node::CordonArgs),
    /// Mark node as schedulable
    Uncordon(cmd::node::CordonArgs),
    /// Drain node in preparation for maintenance
    Drain(cmd::node::DrainArgs),
    /// Update the taints on one or more nodes
    Taint(cmd::node::TaintArgs),
    /// Get documentation for a resource
    Explain(cmd::explain::ExplainArgs),
    /// Print the supported API resources on the server
    #[command(name = "api-resources")]
    ApiResources(cmd::api_resources::ApiResourcesArgs),
    /// Print the supported API versions on the server, in the form of "group/version"
    #[command(name = "api-versions")]
    ApiVersions,
    /// Print the client and server version information
    Version(cmd::version::VersionArgs),
    /// Modify kubeconfig files
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Get(_) => "get",
            Command::Describe(_) => "describe",
            Command::Logs(_) => "logs",
            Command::Attach(_) => "attach",
            Command::Exec(_) => "exec",
            Command::PortForward(_) => "port-forward",
            Command::Cp(_) => "cp",
            Command::Create(_) => "create",
            Command::Apply(_) => "apply",
            Command::Delete(_) => "delete",
            Command::Replace(_) => "replace",
            Command::Edit(_) => "edit",
            Command::Patch(_) => "patch",
            Command::Label(_) => "label",
            Command::Annotate(_) => "annotate",
            Command::Scale(_) => "scale",
            Command::Rollout(_) => "rollout",
            Command::Run(_) => "run",
            Command::Expose(_) => "expose",
            Command::Set(_) => "set",
            Command::Cordon(_) => "cordon",
            Command::Uncordon(_) => "uncordon",
            Command::Drain(_) => "drain",
            Command::Taint(_) => "taint",
            Command::Explain(_) => "explain",
            Command::ApiResources(_) => "api-resources",
            Command::ApiVersions => "api-versions",
            Command::Version(_) => "version",
            Command::Config(_) => "config",
        }
    }
}

/// Parses `args`, runs the command, prints any error; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => return clap_error(e, &args),
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return 1;
        }
    };
    let g = cli.global.clone();
    let ctx = Ctx::new(Overrides {
        kubeconfig: g.kubeconfig,
        context: g.context,
        cluster: g.cluster,
        user: g.user,
        server: g.server,
        namespace: g.namespace,
    });
    let name = cli.command.name();
    let result = rt.block_on(dispatch(&ctx, cli.command));
    match result {
        Ok(()) => 0,
        Err(e) => {
            let e = match e {
                CmdError::Usage { msg, cmd } if cmd.is_empty() => CmdError::Usage { msg, cmd: name.into() },
                other => other,
            };
            let (text, code) = e.render();
            err(&text);
            code
        }
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<(), CmdError> {
    match command {
        Command::Get(a) => cmd::get::run(ctx, a).await,
        Command::Describe(a) => cmd::describe::run(ctx, a).await,
        Command::Logs(a) => cmd::logs::run(ctx, a).await,
        Command::Attach(a) => cmd::attach::run(ctx, a).await,
        Command::Exec(a) => cmd::exec::run(ctx, a).await,
        Command::PortForward(a) => cmd::port_forward::run(ctx, a).await,
        Command::Cp(a) => cmd::cp::run(ctx, a).await,
        Command::Create(a) => cmd::create::run(ctx, a).await,
        Command::Apply(a) => cmd::apply::run(ctx, a).await,
        Command::Delete(a) => cmd::delete::run(ctx, a).await,
        Command::Replace(a) => cmd::replace::run(ctx, a).await,
        Command::Edit(a) => cmd::edit::run(ctx, a).await,
        Command::Patch(a) => cmd::patch::run(ctx, a).await,
        Command::Label(a) => cmd::label::run(ctx, a, cmd::label::Which::Labels).await,
        Command::Annotate(a) => cmd::label::run(ctx, a, cmd::label::Which::Annotations).await,
        Command::Scale(a) => cmd::scale::run(ctx, a).await,
        Command::Rollout(a) => cmd::rollout::run(ctx, a).await,
        Command::Run(a) => cmd::run::run(ctx, a).await,
        Command::Expose(a) => cmd::expose::run(ctx, a).await,
        Command::Set(a) => cmd::set::run(ctx, a).await,
        Command::Cordon(a) => cmd::node::cordon(ctx, a, true).await,
        Command::Uncordon(a) => cmd::node::cordon(ctx, a, false).await,
        Command::Drain(a) => cmd::node::drain(ctx, a).await,
        Command::Taint(a) => cmd::node::taint(ctx, a).await,
        Command::Explain(a) => cmd::explain::run(ctx, a).await,
        Command::ApiResources(a) => cmd::api_resources::run(ctx, a).await,
        Command::ApiVersions => cmd::api_resources::versions(ctx).await,
        Command::Version(a) => cmd::version::run(ctx, a).await,
        Command::Config(a) => cmd::config::run(ctx, a),
    }
}

/// "get", "create secret generic": the subcommand path named by `args`.
fn command_path(args: &[String]) -> String {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut path = Vec::new();
    let mut skip_value = false;
    for a in args.iter().skip(1) {
        if skip_value {
            skip_value = false;
            continue;
        }
        if a.starts_with('-') {
            // Global flags that take their value as the next argument.
            skip_value = !a.contains('=')
                && matches!(a.as_str(), "-n" | "--namespace" | "-s" | "--server" | "--context" | "--kubeconfig" | "--cluster" | "--user" | "-v" | "--v");
            continue;
        }
        let next = cmd.get_subcommands().find(|c| c.get_name() == a || c.get_all_aliases().any(|x| x == a)).cloned();
        match next {
            Some(c) => {
                path.push(c.get_name().to_string());
                cmd = c;
            }
            None => break,
        }
    }
    path.join(" ")
}

/// Positional arguments after the command path (to report "got N").
fn positionals_after(args: &[String], path: &str) -> usize {
    let words: Vec<&str> = path.split(' ').collect();
    let mut seen_path = 0;
    let mut count = 0;
    for a in args.iter().skip(1) {
        if a.starts_with('-') {
            continue;
        }
        if seen_path < words.len() {
            seen_path += 1;
            continue;
        }
        count += 1;
    }
    count
}

/// Help goes to stdout with exit 0; usage errors as upstream's, exit 1.
fn clap_error(e: clap::Error, args: &[String]) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            crate::context::out(&e.render().to_string());
            return 0;
        }
        // `kubectl` alone prints help and succeeds; `kubectl create secret` prints help and fails.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            crate::context::out(&e.render().to_string());
            return if args.len() <= 1 { 0 } else { 1 };
        }
        _ => {}
    }
    let ctx_str = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        _ => None,
    };
    let path = command_path(args);
    let see = if path.is_empty() { "kubectl".to_string() } else { format!("kubectl {path}") };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = ctx_str(ContextKind::InvalidArg).unwrap_or_default();
            let flag = arg.split('=').next().unwrap_or(&arg).to_string();
            let msg = if flag.starts_with("--") {
                format!("unknown flag: {flag}")
            } else if let Some(c) = flag.strip_prefix('-') {
                format!("unknown shorthand flag: '{}' in {arg}", c.chars().next().unwrap_or(' '))
            } else if path.starts_with("create ") {
                let got = positionals_after(args, &path);
                err(&format!("error: exactly one NAME is required, got {got}\nSee '{see} -h' for help and examples\n"));
                return 1;
            } else {
                err(&format!("error: unknown command \"{flag}\" for \"{see}\"\n"));
                return 1;
            };
            err(&format!("Error: {msg}\nSee '{see} --help' for usage.\n"));
        }
        ErrorKind::InvalidSubcommand => {
            let sub = ctx_str(ContextKind::InvalidSubcommand).unwrap_or_default();
            err(&format!("error: unknown command \"{sub}\" for \"{see}\"\n"));
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = ctx_str(ContextKind::InvalidArg).unwrap_or_default();
            let names: Vec<String> = missing
                .split(", ")
                .map(|m| m.trim_start_matches('-').split([' ', '=', '<']).next().unwrap_or("").to_lowercase())
                .map(|m| format!("\"{m}\""))
                .collect();
            if missing.starts_with('-') {
                err(&format!("error: required flag(s) {} not set\n", names.join(", ")));
            } else if path.starts_with("create ") {
                err(&format!("error: exactly one NAME is required, got 0\nSee '{see} -h' for help and examples\n"));
            } else {
                err(&match path.as_str() {
                    "run" => "error: NAME is required for run\nSee 'kubectl run -h' for help and examples\n".to_string(),
                    "drain" => "error: USAGE: drain NODE [flags]\nSee 'kubectl drain -h' for help and examples\n".to_string(),
                    "explain" => "error: You must specify the type of resource to explain. Use \"kubectl api-resources\" for a complete list of supported resources.\n".to_string(),
                    "config use-context" => "error: Unexpected args: []\n".to_string(),
                    _ => format!("error: accepts 1 arg(s), received 0\nSee '{see} -h' for help and examples\n"),
                });
            }
        }
        ErrorKind::MissingSubcommand => {
            crate::context::out(&e.render().to_string());
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
            err(&format!("error: {first}\nSee '{see} --help' for usage.\n"));
        }
    }
    1
}
