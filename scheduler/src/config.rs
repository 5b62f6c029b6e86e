//! KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) with upstream
//! defaults, and building each profile's framework from it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use serde_json::Value;

use crate::framework::{Framework, Plugin, Point};
use crate::plugins::pod_topology_spread::SpreadArgs;
use crate::plugins::{self, DEFAULT_PLUGINS};

pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Io(String, std::io::Error),
    #[error("decoding KubeSchedulerConfiguration: {0}")]
    Decode(#[from] serde_yaml::Error),
    #[error("invalid KubeSchedulerConfiguration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StrategyType {
    #[default]
    LeastAllocated,
    MostAllocated,
    RequestedToCapacityRatio,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScoringStrategy {
    pub kind: StrategyType,
    /// (resource name, weight).
    pub resources: Vec<(String, i64)>,
    /// RequestedToCapacityRatio shape: (utilization 0..100, score 0..10).
    pub shape: Vec<(i64, i64)>,
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        ScoringStrategy { kind: StrategyType::LeastAllocated, resources: default_resources(), shape: vec![] }
    }
}

fn default_resources() -> Vec<(String, i64)> {
    vec![("cpu".into(), 1), ("memory".into(), 1)]
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitArgs {
    pub strategy: ScoringStrategy,
}

/// Arguments of the plugins that take any.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginArgs {
    pub fit: FitArgs,
    pub balanced_resources: Vec<(String, i64)>,
    pub hard_pod_affinity_weight: i64,
    pub spread: SpreadArgs,
}

impl Default for PluginArgs {
    fn default() -> Self {
        PluginArgs { fit: FitArgs::default(), balanced_resources: default_resources(), hard_pod_affinity_weight: 1, spread: SpreadArgs::default() }
    }
}

// ---- the YAML document ----

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    api_version: Option<String>,
    kind: Option<String>,
    percentage_of_nodes_to_score: Option<i32>,
    pod_initial_backoff_seconds: Option<u64>,
    pod_max_backoff_seconds: Option<u64>,
    parallelism: Option<i32>,
    leader_election: Option<RawLeaderElection>,
    #[serde(default)]
    profiles: Vec<RawProfile>,
    #[allow(dead_code)]
    client_connection: Option<Value>,
    #[allow(dead_code)]
    extenders: Option<Value>,
    #[allow(dead_code)]
    delay_cache_until_active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawLeaderElection {
    leader_elect: Option<bool>,
    lease_duration: Option<String>,
    renew_deadline: Option<String>,
    retry_period: Option<String>,
    resource_name: Option<String>,
    resource_namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    scheduler_name: Option<String>,
    percentage_of_nodes_to_score: Option<i32>,
    plugins: Option<RawPlugins>,
    #[serde(default)]
    plugin_config: Vec<RawPluginConfig>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPlugins {
    multi_point: Option<RawPluginSet>,
    pre_filter: Option<RawPluginSet>,
    filter: Option<RawPluginSet>,
    post_filter: Option<RawPluginSet>,
    pre_score: Option<RawPluginSet>,
    score: Option<RawPluginSet>,
    #[serde(flatten)]
    _other: HashMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Default)]
struct RawPluginSet {
    #[serde(default)]
    enabled: Vec<RawPlugin>,
    #[serde(default)]
    disabled: Vec<RawPlugin>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawPlugin {
    name: String,
    #[serde(default)]
    weight: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawPluginConfig {
    name: String,
    #[serde(default)]
    args: Value,
}

// ---- the resolved configuration ----

#[derive(Debug, Clone, PartialEq)]
pub struct LeaderElection {
    pub leader_elect: bool,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
    pub resource_name: String,
    pub resource_namespace: String,
}

impl Default for LeaderElection {
    fn default() -> Self {
        LeaderElection {
            leader_elect: true,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            resource_name: "kube-scheduler".into(),
            resource_namespace: "kube-system".into(),
        }
    }
}

/// One enabled plugin at one extension point.
#[derive(Debug, Clone, PartialEq)]
pub struct Enabled {
    pub name: String,
    pub weight: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub scheduler_name: String,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub pre_filter: Vec<Enabled>,
    pub filter: Vec<Enabled>,
    pub post_filter: Vec<Enabled>,
    pub pre_score: Vec<Enabled>,
    pub score: Vec<Enabled>,
    pub args: PluginArgs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    pub percentage_of_nodes_to_score: i32,
    pub pod_initial_backoff: Duration,
    pub pod_max_backoff: Duration,
    pub parallelism: i32,
    pub leader_election: LeaderElection,
    pub profiles: Vec<Profile>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self::from_yaml("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n").expect("defaults")
    }
}

/// A metav1.Duration field: Go's time.ParseDuration ("15s", "1m", "1h30m").
fn parse_duration(field: &str, s: &str) -> Result<Duration, ConfigError> {
    api::duration::parse(s).map_err(|e| ConfigError::Invalid(format!("leaderElection.{field}: {e}")))
}

fn weighted(list: &[Value], what: &str) -> Result<Vec<(String, i64)>, ConfigError> {
    list.iter()
        .map(|r| {
            let name = r.get("name").and_then(Value::as_str).ok_or_else(|| ConfigError::Invalid(format!("{what}: resource without name")))?;
            Ok((name.to_string(), r.get("weight").and_then(Value::as_i64).unwrap_or(1)))
        })
        .collect()
}

/// PodTopologySpreadArgs, validated as upstream's ValidatePodTopologySpreadArgs.
fn spread_args(v: &Value) -> Result<SpreadArgs, ConfigError> {
    let bad = |m: String| ConfigError::Invalid(m);
    let constraints: Vec<TopologySpreadConstraint> = match v.get("defaultConstraints") {
        Some(c) => serde_json::from_value(c.clone()).map_err(|e| bad(format!("defaultConstraints: {e}")))?,
        None => vec![],
    };
    let system = match v.get("defaultingType").and_then(Value::as_str).unwrap_or("System") {
        "System" => true,
        "List" => false,
        other => return Err(bad(format!("defaultingType: Unsupported value: {other:?}: supported values: \"System\", \"List\""))),
    };
    if system && !constraints.is_empty() {
        return Err(bad("defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty".into()));
    }
    for (i, c) in constraints.iter().enumerate() {
        let p = format!("defaultConstraints[{i}]");
        if c.max_skew <= 0 {
            return Err(bad(format!("{p}.maxSkew: Invalid value: {}: not in valid range", c.max_skew)));
        }
        if c.topology_key.is_empty() {
            return Err(bad(format!("{p}.topologyKey: Required value: can not be empty")));
        }
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&c.when_unsatisfiable.as_str()) {
            return Err(bad(format!("{p}.whenUnsatisfiable: Unsupported value: {:?}: supported values: \"DoNotSchedule\", \"ScheduleAnyway\"", c.when_unsatisfiable)));
        }
        if c.label_selector.is_some() {
            return Err(bad(format!("{p}.labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod")));
        }
        if constraints[..i].iter().any(|o| o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable) {
            return Err(bad(format!("{p}: Duplicate value: {{{:?}, {:?}}}", c.topology_key, c.when_unsatisfiable)));
        }
    }
    Ok(SpreadArgs { system_defaulting: system, default_constraints: constraints })
}

fn plugin_args(cfgs: &[RawPluginConfig]) -> Result<PluginArgs, ConfigError> {
    let mut args = PluginArgs::default();
    for pc in cfgs {
        match pc.name.as_str() {
            plugins::NODE_RESOURCES_FIT => {
                if let Some(ss) = pc.args.get("scoringStrategy") {
                    let kind = match ss.get("type").and_then(Value::as_str).unwrap_or("LeastAllocated") {
                        "LeastAllocated" => StrategyType::LeastAllocated,
                        "MostAllocated" => StrategyType::MostAllocated,
                        "RequestedToCapacityRatio" => StrategyType::RequestedToCapacityRatio,
                        other => return Err(ConfigError::Invalid(format!("scoringStrategy.type: Unsupported value: {other:?}"))),
                    };
                    let resources = match ss.get("resources").and_then(Value::as_array) {
                        Some(r) => weighted(r, "scoringStrategy.resources")?,
                        None => default_resources(),
                    };
                    let mut shape = vec![];
                    if let Some(pts) = ss.pointer("/requestedToCapacityRatio/shape").and_then(Value::as_array) {
                        for p in pts {
                            let u = p.get("utilization").and_then(Value::as_i64).unwrap_or(0);
                            let s = p.get("score").and_then(Value::as_i64).unwrap_or(0);
                            if !(0..=100).contains(&u) || !(0..=10).contains(&s) {
                                return Err(ConfigError::Invalid(format!("shape point ({u}, {s}) out of range")));
                            }
                            shape.push((u, s));
                        }
                    }
                    if kind == StrategyType::RequestedToCapacityRatio && shape.is_empty() {
                        return Err(ConfigError::Invalid("scoringStrategy.requestedToCapacityRatio.shape: Required value".into()));
                    }
                    args.fit.strategy = ScoringStrategy { kind, resources, shape };
                }
            }
            plugins::BALANCED_ALLOCATION => {
                if let Some(r) = pc.args.get("resources").and_then(Value::as_array) {
                    args.balanced_resources = weighted(r, "resources")?;
                }
            }
            plugins::INTER_POD_AFFINITY => {
                if let Some(w) = pc.args.get("hardPodAffinityWeight").and_then(Value::as_i64) {
                    args.hard_pod_affinity_weight = w;
                }
            }
            plugins::POD_TOPOLOGY_SPREAD => args.spread = spread_args(&pc.args)?,
            _ => {}
        }
    }
    Ok(args)
}

fn default_weight(name: &str) -> i64 {
    DEFAULT_PLUGINS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w).filter(|w| *w > 0).unwrap_or(1)
}

fn points_of(name: &str) -> &'static [Point] {
    match name {
        plugins::DEFAULT_PREEMPTION => &[Point::PostFilter],
        _ => plugins::new_plugin(name, &PluginArgs::default()).map(|p| p.points()).unwrap_or(&[]),
    }
}

fn apply(list: &mut Vec<Enabled>, set: &Option<RawPluginSet>) -> Result<(), ConfigError> {
    let Some(set) = set else { return Ok(()) };
    for d in &set.disabled {
        if d.name == "*" {
            list.clear();
        } else {
            list.retain(|e| e.name != d.name);
        }
    }
    for e in &set.enabled {
        if !plugins::is_known(&e.name) {
            return Err(ConfigError::Invalid(format!("plugin {:?} does not exist", e.name)));
        }
        let weight = e.weight.filter(|w| *w > 0).unwrap_or_else(|| default_weight(&e.name));
        match list.iter_mut().find(|x| x.name == e.name) {
            Some(x) => x.weight = weight,
            None => list.push(Enabled { name: e.name.clone(), weight }),
        }
    }
    Ok(())
}

impl Profile {
    fn resolve(raw: &RawProfile) -> Result<Self, ConfigError> {
        let plugins = raw.plugins.clone().unwrap_or_default();
        let mut multi: Vec<Enabled> = DEFAULT_PLUGINS.iter().map(|(n, w)| Enabled { name: n.to_string(), weight: (*w).max(1) }).collect();
        apply(&mut multi, &plugins.multi_point)?;
        let at = |p: Point| -> Vec<Enabled> { multi.iter().filter(|e| points_of(&e.name).contains(&p)).cloned().collect() };
        let mut out = Profile {
            scheduler_name: raw.scheduler_name.clone().unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.into()),
            percentage_of_nodes_to_score: raw.percentage_of_nodes_to_score,
            pre_filter: at(Point::PreFilter),
            filter: at(Point::Filter),
            post_filter: at(Point::PostFilter),
            pre_score: at(Point::PreScore),
            score: at(Point::Score),
            args: plugin_args(&raw.plugin_config)?,
        };
        apply(&mut out.pre_filter, &plugins.pre_filter)?;
        apply(&mut out.filter, &plugins.filter)?;
        apply(&mut out.post_filter, &plugins.post_filter)?;
        apply(&mut out.pre_score, &plugins.pre_score)?;
        apply(&mut out.score, &plugins.score)?;
        // A Score plugin's PreScore runs with it even if only Score was enabled.
        for e in out.score.clone() {
            if points_of(&e.name).contains(&Point::PreScore) && !out.pre_score.iter().any(|p| p.name == e.name) {
                out.pre_score.push(Enabled { name: e.name, weight: 0 });
            }
        }
        for e in out.filter.clone() {
            if points_of(&e.name).contains(&Point::PreFilter) && !out.pre_filter.iter().any(|p| p.name == e.name) {
                out.pre_filter.push(Enabled { name: e.name, weight: 0 });
            }
        }
        Ok(out)
    }

    /// Instantiates the plugins of this profile.
    pub fn framework(&self, global_percentage: i32) -> Framework {
        let mut made: HashMap<String, Arc<dyn Plugin>> = HashMap::new();
        let mut get = |name: &str| -> Option<Arc<dyn Plugin>> {
            if let Some(p) = made.get(name) {
                return Some(p.clone());
            }
            let p = plugins::new_plugin(name, &self.args)?;
            made.insert(name.to_string(), p.clone());
            Some(p)
        };
        let mut list = |v: &[Enabled]| v.iter().filter_map(|e| get(&e.name)).collect::<Vec<_>>();
        let pre_filter = list(&self.pre_filter);
        let filter = list(&self.filter);
        let pre_score = list(&self.pre_score);
        let score = self.score.iter().filter_map(|e| get(&e.name).map(|p| (p, e.weight))).collect();
        Framework {
            scheduler_name: self.scheduler_name.clone(),
            pre_filter,
            filter,
            post_filter: self.post_filter.iter().map(|e| e.name.clone()).collect(),
            pre_score,
            score,
            percentage_of_nodes_to_score: self.percentage_of_nodes_to_score.or(Some(global_percentage)).filter(|p| *p > 0),
        }
    }
}

impl SchedulerConfig {
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_yaml::from_str(text)?;
        if let Some(v) = raw.api_version.as_deref() {
            if v != API_VERSION {
                return Err(ConfigError::Invalid(format!("apiVersion {v:?} is not supported, use {API_VERSION}")));
            }
        }
        if let Some(k) = raw.kind.as_deref() {
            if k != "KubeSchedulerConfiguration" {
                return Err(ConfigError::Invalid(format!("kind {k:?} is not KubeSchedulerConfiguration")));
            }
        }
        let pct = raw.percentage_of_nodes_to_score.unwrap_or(0);
        if !(0..=100).contains(&pct) {
            return Err(ConfigError::Invalid(format!("percentageOfNodesToScore: Invalid value: {pct}: not in valid range [0-100]")));
        }
        let mut profiles = vec![];
        let raws = if raw.profiles.is_empty() { vec![RawProfile::default()] } else { raw.profiles.clone() };
        for rp in &raws {
            let p = Profile::resolve(rp)?;
            if profiles.iter().any(|x: &Profile| x.scheduler_name == p.scheduler_name) {
                return Err(ConfigError::Invalid(format!("profiles: Duplicate value: {:?}", p.scheduler_name)));
            }
            profiles.push(p);
        }
        let le = raw.leader_election.clone().unwrap_or_default();
        let d = LeaderElection::default();
        let dur = |field: &str, s: &Option<String>, def: Duration| s.as_deref().map(|s| parse_duration(field, s)).transpose().map(|v| v.unwrap_or(def));
        Ok(SchedulerConfig {
            percentage_of_nodes_to_score: pct,
            pod_initial_backoff: Duration::from_secs(raw.pod_initial_backoff_seconds.unwrap_or(1)),
            pod_max_backoff: Duration::from_secs(raw.pod_max_backoff_seconds.unwrap_or(10)),
            parallelism: raw.parallelism.unwrap_or(16),
            leader_election: LeaderElection {
                leader_elect: le.leader_elect.unwrap_or(true),
                lease_duration: dur("leaseDuration", &le.lease_duration, d.lease_duration)?,
                renew_deadline: dur("renewDeadline", &le.renew_deadline, d.renew_deadline)?,
                retry_period: dur("retryPeriod", &le.retry_period, d.retry_period)?,
                resource_name: le.resource_name.unwrap_or(d.resource_name),
                resource_namespace: le.resource_namespace.unwrap_or(d.resource_namespace),
            },
            profiles,
        })
    }

    pub fn from_file(path: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io(path.into(), e))?;
        Self::from_yaml(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Enabled]) -> Vec<&str> {
        v.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn defaults_match_upstream() {
        let c = SchedulerConfig::default();
        assert_eq!(c.profiles.len(), 1);
        let p = &c.profiles[0];
        assert_eq!(p.scheduler_name, "default-scheduler");
        assert_eq!(c.pod_initial_backoff, Duration::from_secs(1));
        assert_eq!(c.pod_max_backoff, Duration::from_secs(10));
        assert!(c.leader_election.leader_elect);
        assert_eq!(c.leader_election.lease_duration, Duration::from_secs(15));
        assert_eq!(
            names(&p.filter),
            ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit", "VolumeBinding", "PodTopologySpread", "InterPodAffinity"]
        );
        let w: HashMap<&str, i64> = p.score.iter().map(|e| (e.name.as_str(), e.weight)).collect();
        assert_eq!(w["TaintToleration"], 3);
        assert_eq!(w["NodeAffinity"], 2);
        assert_eq!(w["InterPodAffinity"], 2);
        assert_eq!(w["PodTopologySpread"], 2);
        assert!(p.args.spread.system_defaulting);
        assert_eq!(w["NodeResourcesFit"], 1);
        assert_eq!(w["NodeResourcesBalancedAllocation"], 1);
        assert_eq!(w["ImageLocality"], 1);
        assert_eq!(names(&p.post_filter), ["DefaultPreemption"]);
        assert_eq!(p.args.fit.strategy.kind, StrategyType::LeastAllocated);
    }

    #[test]
    fn profiles_plugins_and_strategy() {
        let y = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 50
leaderElection:
  leaderElect: false
  leaseDuration: 4s
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  plugins:
    score:
      disabled:
      - name: ImageLocality
      enabled:
      - name: NodeResourcesFit
        weight: 5
    filter:
      disabled:
      - name: "*"
      enabled:
      - name: NodeResourcesFit
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 2
"#;
        let c = SchedulerConfig::from_yaml(y).unwrap();
        assert_eq!(c.percentage_of_nodes_to_score, 50);
        assert!(!c.leader_election.leader_elect);
        assert_eq!(c.leader_election.lease_duration, Duration::from_secs(4));
        let go = SchedulerConfig::from_yaml(&y.replace("leaseDuration: 4s", "leaseDuration: 1m30s\n  retryPeriod: 500ms")).unwrap();
        assert_eq!(go.leader_election.lease_duration, Duration::from_secs(90), "Go durations, not only seconds");
        assert_eq!(go.leader_election.retry_period, Duration::from_millis(500));
        let bad = SchedulerConfig::from_yaml(&y.replace("leaseDuration: 4s", "leaseDuration: 1d")).unwrap_err();
        assert_eq!(bad.to_string(), "invalid KubeSchedulerConfiguration: leaderElection.leaseDuration: time: unknown unit \"d\" in duration \"1d\"");
        let bp = &c.profiles[1];
        assert_eq!(bp.scheduler_name, "bin-packer");
        assert_eq!(names(&bp.filter), ["NodeResourcesFit"]);
        assert!(!names(&bp.score).contains(&"ImageLocality"));
        assert_eq!(bp.score.iter().find(|e| e.name == "NodeResourcesFit").unwrap().weight, 5);
        assert_eq!(bp.args.fit.strategy.kind, StrategyType::MostAllocated);
        assert_eq!(bp.args.fit.strategy.resources, vec![("cpu".to_string(), 2)]);
        let fw = bp.framework(c.percentage_of_nodes_to_score);
        assert_eq!(fw.filter.len(), 1);
        assert_eq!(fw.percentage_of_nodes_to_score, Some(50));
    }

    #[test]
    fn rejects_bad_documents() {
        assert!(SchedulerConfig::from_yaml("apiVersion: kubescheduler.config.k8s.io/v1beta9\n").is_err());
        assert!(SchedulerConfig::from_yaml("percentageOfNodesToScore: 101\n").is_err());
        let bad_plugin = "profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: NoSuchPlugin\n";
        assert!(SchedulerConfig::from_yaml(bad_plugin).is_err());
        let dup = "profiles:\n- schedulerName: a\n- schedulerName: a\n";
        assert!(SchedulerConfig::from_yaml(dup).is_err());
    }

    #[test]
    fn pod_topology_spread_args() {
        let doc = |args: &str| format!("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- pluginConfig:\n  - name: PodTopologySpread\n    args:\n{args}");
        let c = SchedulerConfig::from_yaml(&doc("      defaultingType: List\n      defaultConstraints:\n      - maxSkew: 2\n        topologyKey: zone\n        whenUnsatisfiable: ScheduleAnyway\n")).unwrap();
        let spread = &c.profiles[0].args.spread;
        assert!(!spread.system_defaulting);
        assert_eq!((spread.default_constraints[0].max_skew, spread.default_constraints[0].topology_key.as_str()), (2, "zone"));
        let err = |args: &str| SchedulerConfig::from_yaml(&doc(args)).unwrap_err().to_string();
        assert!(err("      defaultConstraints:\n      - maxSkew: 1\n        topologyKey: zone\n        whenUnsatisfiable: ScheduleAnyway\n").contains("defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty"));
        assert!(err("      defaultingType: List\n      defaultConstraints:\n      - maxSkew: 1\n        topologyKey: zone\n        whenUnsatisfiable: ScheduleAnyway\n        labelSelector: {}\n").contains("defaultConstraints[0].labelSelector: Forbidden: constraint must not define a selector"));
        assert!(err("      defaultingType: Sometimes\n").contains("defaultingType: Unsupported value: \"Sometimes\""));
    }
}
