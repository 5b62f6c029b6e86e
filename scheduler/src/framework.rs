//! The scheduling framework: extension points, plugin statuses, cycle state,
//! and a profile's configured plugin lists with their score weights.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::cache::{NodeInfo, Snapshot};
use crate::pod_info::PodInfo;

pub const MAX_NODE_SCORE: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Success,
    /// Could fit if something changed on the node (e.g. pods removed by preemption).
    Unschedulable,
    /// Preemption cannot help on this node.
    UnschedulableAndUnresolvable,
    Error,
    /// The plugin has nothing to do for this pod (PreFilter/PreScore).
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
    pub plugin: &'static str,
}

impl Status {
    pub const fn success() -> Self {
        Status { code: Code::Success, reasons: Vec::new(), plugin: "" }
    }
    pub const fn skip() -> Self {
        Status { code: Code::Skip, reasons: Vec::new(), plugin: "" }
    }
    pub fn unschedulable(plugin: &'static str, reason: impl Into<String>) -> Self {
        Status { code: Code::Unschedulable, reasons: vec![reason.into()], plugin }
    }
    pub fn unresolvable(plugin: &'static str, reason: impl Into<String>) -> Self {
        Status { code: Code::UnschedulableAndUnresolvable, reasons: vec![reason.into()], plugin }
    }
    pub fn error(plugin: &'static str, reason: impl Into<String>) -> Self {
        Status { code: Code::Error, reasons: vec![reason.into()], plugin }
    }
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }
    pub fn is_rejected(&self) -> bool {
        matches!(self.code, Code::Unschedulable | Code::UnschedulableAndUnresolvable)
    }
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

/// Data plugins compute in PreFilter/PreScore and read in Filter/Score.
#[derive(Default)]
pub struct CycleState {
    data: HashMap<&'static str, Box<dyn Any + Send + Sync>>,
    skip_filter: HashSet<&'static str>,
    skip_score: HashSet<&'static str>,
    /// Per Filter plugin (in the framework's order): not skipped. Built once per cycle.
    filter_active: Vec<bool>,
}

impl CycleState {
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, v: T) {
        self.data.insert(key, Box::new(v));
    }
    pub fn read<T: Any + Send + Sync>(&self, key: &'static str) -> Option<&T> {
        self.data.get(key).and_then(|b| b.downcast_ref())
    }
}

/// Which extension points a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    PreFilter,
    Filter,
    PostFilter,
    PreScore,
    Score,
}

/// One scheduler plugin. Defaults make every extension point a no-op, so a
/// plugin overrides only what it implements and lists it in `points`.
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn points(&self) -> &'static [Point];

    fn pre_filter(&self, _state: &mut CycleState, _pod: &PodInfo, _snap: &Snapshot) -> Status {
        Status::skip()
    }
    fn filter(&self, _state: &CycleState, _pod: &PodInfo, _node: &NodeInfo) -> Status {
        Status::success()
    }
    fn pre_score(&self, _state: &mut CycleState, _pod: &PodInfo, _nodes: &[Arc<NodeInfo>], _snap: &Snapshot) -> Status {
        Status::success()
    }
    fn score(&self, _state: &CycleState, _pod: &PodInfo, _node: &NodeInfo) -> i64 {
        0
    }
    /// Maps raw scores onto 0..=100.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [i64]) {}
}

/// upstream helper.DefaultNormalizeScore: scale to 0..=max by the highest score, optionally reversed.
pub fn default_normalize(max: i64, reverse: bool, scores: &mut [i64]) {
    let highest = scores.iter().copied().max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = max * *s / highest;
        if reverse {
            *s = max - *s;
        }
    }
}

/// A profile's plugins, per extension point, as configured.
pub struct Framework {
    pub scheduler_name: String,
    pub pre_filter: Vec<Arc<dyn Plugin>>,
    pub filter: Vec<Arc<dyn Plugin>>,
    pub post_filter: Vec<String>,
    pub pre_score: Vec<Arc<dyn Plugin>>,
    pub score: Vec<(Arc<dyn Plugin>, i64)>,
    pub percentage_of_nodes_to_score: Option<i32>,
}

impl Framework {
    /// Runs every PreFilter; plugins that return Skip are left out of Filter.
    pub fn run_pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        for p in &self.pre_filter {
            let st = p.pre_filter(state, pod, snap);
            match st.code {
                Code::Success => {}
                Code::Skip => {
                    state.skip_filter.insert(p.name());
                }
                _ => return Status { plugin: p.name(), ..st },
            }
        }
        state.filter_active = self.filter.iter().map(|p| !state.skip_filter.contains(p.name())).collect();
        Status::success()
    }

    /// The first failing Filter's status, or success.
    pub fn run_filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for (i, p) in self.filter.iter().enumerate() {
            if !state.filter_active.get(i).copied().unwrap_or(true) {
                continue;
            }
            let st = p.filter(state, pod, node);
            if !st.is_success() {
                return Status { plugin: p.name(), ..st };
            }
        }
        Status::success()
    }

    pub fn run_pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>], snap: &Snapshot) -> Status {
        for p in &self.pre_score {
            let st = p.pre_score(state, pod, nodes, snap);
            match st.code {
                Code::Success => {}
                Code::Skip => {
                    state.skip_score.insert(p.name());
                }
                _ => return Status { plugin: p.name(), ..st },
            }
        }
        Status::success()
    }

    /// Weighted sum of the normalized scores of every Score plugin, per node.
    pub fn run_score(&self, state: &CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Vec<i64> {
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for (p, weight) in &self.score {
            if state.skip_score.contains(p.name()) {
                continue;
            }
            for (i, n) in nodes.iter().enumerate() {
                scores[i] = p.score(state, pod, n);
            }
            p.normalize(state, pod, &mut scores);
            for (t, s) in totals.iter_mut().zip(&scores) {
                *t += s * weight;
            }
        }
        totals
    }

    pub fn has_post_filter(&self) -> bool {
        !self.post_filter.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_scales_and_reverses() {
        let mut s = vec![0, 5, 10];
        default_normalize(100, false, &mut s);
        assert_eq!(s, vec![0, 50, 100]);
        let mut s = vec![0, 5, 10];
        default_normalize(100, true, &mut s);
        assert_eq!(s, vec![100, 50, 0]);
        let mut s = vec![0, 0];
        default_normalize(100, true, &mut s);
        assert_eq!(s, vec![100, 100]);
    }
}
