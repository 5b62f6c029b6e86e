//! The controllers, one module each (upstream's pkg/controller/<name>), and
//! the registry `--controllers` selects from (upstream's
//! NewControllerDescriptors and IsControllerEnabled).
//!
//! Adding a controller: a module here exporting a [`Descriptor`] whose
//! `start` runs it until the context's shutdown token is cancelled, and one
//! line in [`registry`]. Its `--concurrent-<name>-syncs` flag, if it has
//! one, comes from the descriptor.

pub mod daemonset;
pub mod cronjob;
pub mod deployment;
pub mod disruption;
pub mod endpoint;
pub mod endpointslice;
pub mod endpointslicemirroring;
pub mod garbagecollector;
pub mod job;
pub mod namespace;
pub mod persistentvolume;
pub mod nodeipam;
pub mod replicaset;
pub mod serviceaccount;
pub mod ttlafterfinished;
pub mod statefulset;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use client::{CancellationToken, Client};

use crate::informers::InformerFactory;
use crate::metrics::ControllerMetrics;

/// Every controller this binary has, in start order. One line per controller.
pub fn registry() -> Vec<Descriptor> {
    vec![
        replicaset::REPLICASET,
        replicaset::REPLICATION_CONTROLLER,
        garbagecollector::GARBAGE_COLLECTOR,
        namespace::NAMESPACE,
        serviceaccount::SERVICE_ACCOUNT,
        deployment::DEPLOYMENT,
        job::JOB,
        cronjob::CRONJOB,
        ttlafterfinished::TTL_AFTER_FINISHED,
        disruption::DISRUPTION,
        statefulset::STATEFULSET,
        daemonset::DAEMONSET,
        nodeipam::NODE_IPAM,
        persistentvolume::PV_BINDER,
        persistentvolume::PV_PROTECTION,
        persistentvolume::PVC_PROTECTION,
        endpoint::ENDPOINT,
        endpointslice::ENDPOINTSLICE,
        endpointslicemirroring::ENDPOINTSLICE_MIRRORING,
    ]
}

/// What a controller gets to run with.
#[derive(Clone)]
pub struct ControllerContext {
    pub client: Client,
    /// Shared informers: one watch per kind for all controllers.
    pub informers: InformerFactory,
    pub metrics: Arc<ControllerMetrics>,
    /// Its `--concurrent-<name>-syncs` (1 when it has no such flag).
    pub workers: usize,
    /// Cancelled on shutdown or lost leadership; `start`'s future must return then.
    pub shutdown: CancellationToken,
    /// Per-controller settings from the command line.
    pub options: Arc<Options>,
}

/// Settings of single controllers beyond their worker count (upstream's
/// KubeControllerManagerConfiguration sections).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub node_ipam: nodeipam::Options,
}

pub type StartFn = fn(ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A `--concurrent-<name>-syncs` style flag.
#[derive(Clone, Copy, Debug)]
pub struct ConcurrencyFlag {
    /// The flag without dashes, e.g. "concurrent-replicaset-syncs".
    pub flag: &'static str,
    pub default: usize,
    pub help: &'static str,
}

/// One controller in the registry.
#[derive(Clone, Copy)]
pub struct Descriptor {
    /// Upstream's canonical name, e.g. "replicaset-controller".
    pub name: &'static str,
    /// Other names `--controllers` accepts, e.g. "replicaset".
    pub aliases: &'static [&'static str],
    /// Off unless named explicitly (upstream's ControllersDisabledByDefault).
    pub disabled_by_default: bool,
    pub concurrency: Option<ConcurrencyFlag>,
    pub start: StartFn,
}

impl std::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Descriptor").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The names `--controllers` knows, for its help text.
pub fn known_names(registry: &[Descriptor]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = registry.iter().flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied())).collect();
    names.sort_unstable();
    names
}

/// The controllers `--controllers` enables, in registry order. Entries are
/// `*` (every on-by-default controller), `foo` (enable foo) or `-foo`
/// (disable foo), by canonical name or alias; the first entry naming a
/// controller wins. Unknown names are an error, as upstream's validation.
pub fn enabled<'a>(registry: &'a [Descriptor], flags: &[String]) -> Result<Vec<&'a Descriptor>, String> {
    let canonical = |n: &str| registry.iter().find(|d| d.name == n || d.aliases.contains(&n)).map(|d| d.name);
    let mut resolved = Vec::new();
    for entry in flags.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if entry == "*" {
            resolved.push("*".to_string());
            continue;
        }
        let (neg, name) = entry.strip_prefix('-').map_or((false, entry), |n| (true, n));
        let Some(c) = canonical(name) else {
            return Err(format!("{name:?} is not in the list of known controllers"));
        };
        resolved.push(if neg { format!("-{c}") } else { c.to_string() });
    }
    Ok(registry.iter().filter(|d| is_enabled(d.name, d.disabled_by_default, &resolved)).collect())
}

/// upstream's IsControllerEnabled.
fn is_enabled(name: &str, disabled_by_default: bool, controllers: &[String]) -> bool {
    let mut star = false;
    for c in controllers {
        if c == name {
            return true;
        }
        if c.strip_prefix('-') == Some(name) {
            return false;
        }
        if c == "*" {
            star = true;
        }
    }
    star && !disabled_by_default
}

/// Runs `controllers` (with their worker counts) until `shutdown` is
/// cancelled, on one shared informer factory; returns once all have stopped.
pub async fn run(client: Client, controllers: Vec<(Descriptor, usize)>, metrics: Arc<ControllerMetrics>, shutdown: CancellationToken) {
    run_with_options(client, controllers, Options::default(), metrics, shutdown).await
}

/// [`run`] with per-controller settings.
pub async fn run_with_options(client: Client, controllers: Vec<(Descriptor, usize)>, options: Options, metrics: Arc<ControllerMetrics>, shutdown: CancellationToken) {
    let options = Arc::new(options);
    let informers = InformerFactory::new(client.clone());
    let tasks: Vec<_> = controllers
        .into_iter()
        .map(|(d, workers)| {
            tracing::info!(controller = d.name, workers, "starting controller");
            let ctx = ControllerContext { client: client.clone(), informers: informers.clone(), metrics: metrics.clone(), workers, shutdown: shutdown.clone(), options: options.clone() };
            tokio::spawn((d.start)(ctx))
        })
        .collect();
    for t in tasks {
        if let Err(e) = t.await {
            tracing::error!(error = %e, "controller task failed");
        }
    }
    informers.shutdown();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }

    fn test_registry() -> Vec<Descriptor> {
        let d = |name, aliases, off| Descriptor { name, aliases, disabled_by_default: off, concurrency: None, start: noop };
        vec![
            d("replicaset-controller", &["replicaset"], false),
            d("deployment-controller", &["deployment"], false),
            d("bootstrap-signer-controller", &["bootstrapsigner"], true),
        ]
    }

    fn names(flags: &[&str]) -> Result<Vec<&'static str>, String> {
        let reg = test_registry();
        let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        enabled(&reg, &flags).map(|v| v.iter().map(|d| d.name).collect())
    }

    #[test]
    fn star_enables_the_on_by_default_controllers() {
        assert_eq!(names(&["*"]).unwrap(), ["replicaset-controller", "deployment-controller"]);
    }

    #[test]
    fn names_and_negations_by_canonical_name_or_alias() {
        assert_eq!(names(&["*", "-deployment"]).unwrap(), ["replicaset-controller"]);
        assert_eq!(names(&["*", "bootstrapsigner"]).unwrap(), ["replicaset-controller", "deployment-controller", "bootstrap-signer-controller"]);
        assert_eq!(names(&["replicaset"]).unwrap(), ["replicaset-controller"], "without * only what is named");
        assert_eq!(names(&["-replicaset-controller", "*"]).unwrap(), ["deployment-controller"]);
        // The first entry naming a controller wins.
        assert_eq!(names(&["deployment", "-deployment"]).unwrap(), ["deployment-controller"]);
        assert_eq!(names(&[]).unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(names(&["*", "-nosuch"]).unwrap_err(), r#""nosuch" is not in the list of known controllers"#);
        assert!(names(&["replicasets"]).is_err());
    }

    #[test]
    fn the_real_registry_has_unique_names_and_flags() {
        let reg = registry();
        let mut all = known_names(&reg);
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n, "a name or alias used twice");
        let mut flags: Vec<_> = reg.iter().filter_map(|d| d.concurrency.map(|c| c.flag)).collect();
        let n = flags.len();
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(flags.len(), n);
        assert!(names_real(&reg, &["*"]).contains(&"replicaset-controller"));
        assert!(names_real(&reg, &["*"]).contains(&"replicationcontroller-controller"));
    }

    fn names_real(reg: &[Descriptor], flags: &[&str]) -> Vec<&'static str> {
        let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        enabled(reg, &flags).unwrap().iter().map(|d| d.name).collect()
    }
}
