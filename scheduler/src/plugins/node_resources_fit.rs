//! NodeResourcesFit: the pod's requests must fit in the node's allocatable
//! minus what its pods request; scores by the configured scoring strategy.

use super::NODE_RESOURCES_FIT;
use crate::cache::NodeInfo;
use crate::config::{FitArgs, StrategyType};
use crate::framework::{CycleState, Plugin, Point, Status, MAX_NODE_SCORE};
use crate::pod_info::PodInfo;
use crate::resource::{ResKey, CPU, EPHEMERAL_STORAGE, MEMORY};

pub struct NodeResourcesFit {
    args: FitArgs,
    keys: Vec<(ResKey, i64)>,
}

impl NodeResourcesFit {
    pub fn new(args: FitArgs) -> Self {
        let keys = args.strategy.resources.iter().map(|(n, w)| (ResKey::parse(n), *w)).collect();
        NodeResourcesFit { args, keys }
    }
}

/// The reasons the pod does not fit (empty when it fits), as upstream's fitsRequest.
pub fn insufficient(pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
    let mut out = vec![];
    let alloc = &node.allocatable;
    let used = &node.requested;
    if alloc.allowed_pod_number < used.allowed_pod_number + 1 {
        out.push("Too many pods".to_string());
    }
    let r = &pod.requests;
    if r.is_zero() {
        return out;
    }
    if r.milli_cpu > 0 && r.milli_cpu > alloc.milli_cpu - used.milli_cpu {
        out.push(format!("Insufficient {CPU}"));
    }
    if r.memory > 0 && r.memory > alloc.memory - used.memory {
        out.push(format!("Insufficient {MEMORY}"));
    }
    if r.ephemeral_storage > 0 && r.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage {
        out.push(format!("Insufficient {EPHEMERAL_STORAGE}"));
    }
    for (name, v) in &r.scalar {
        if *v > 0 && *v > alloc.get(name) - used.get(name) {
            out.push(format!("Insufficient {name}"));
        }
    }
    out
}

/// Requested (node + pod) and allocatable of one resource, as the scorers see them.
#[inline]
pub fn requested_and_allocatable(pod: &PodInfo, node: &NodeInfo, key: &ResKey, use_requested: bool) -> (i64, i64) {
    let alloc = node.allocatable.get_key(key);
    let (node_req, pod_req) = match key {
        ResKey::Cpu | ResKey::Memory if !use_requested => (node.non_zero_requested.get_key(key), pod.non_zero.get_key(key)),
        _ => (node.requested.get_key(key), pod.requests.get_key(key)),
    };
    (node_req + pod_req, alloc)
}

fn least_allocated(req: i64, cap: i64) -> i64 {
    if cap == 0 || req > cap {
        return 0;
    }
    (cap - req) * MAX_NODE_SCORE / cap
}

fn most_allocated(req: i64, cap: i64) -> i64 {
    if cap == 0 {
        return 0;
    }
    req.min(cap) * MAX_NODE_SCORE / cap
}

/// Broken-linear function through (utilization, score) points; scores are on 0..=10 and scaled to 0..=100.
fn ratio_score(shape: &[(i64, i64)], req: i64, cap: i64) -> i64 {
    let util = if cap == 0 || req > cap { 100 } else { req * 100 / cap };
    let pts: Vec<(i64, i64)> = shape.iter().map(|(u, s)| (*u, s * (MAX_NODE_SCORE / 10))).collect();
    let Some(first) = pts.first() else { return 0 };
    if util <= first.0 {
        return first.1;
    }
    for w in pts.windows(2) {
        let ((u0, s0), (u1, s1)) = (w[0], w[1]);
        if util <= u1 {
            return s0 + (s1 - s0) * (util - u0) / (u1 - u0).max(1);
        }
    }
    pts.last().map(|p| p.1).unwrap_or(0)
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NODE_RESOURCES_FIT
    }
    fn points(&self) -> &'static [Point] {
        &[Point::Filter, Point::Score]
    }
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let reasons = insufficient(pod, node);
        if reasons.is_empty() {
            Status::success()
        } else {
            Status { code: crate::framework::Code::Unschedulable, reasons, plugin: NODE_RESOURCES_FIT }
        }
    }
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let s = &self.args.strategy;
        let (mut sum, mut wsum) = (0, 0);
        for (key, weight) in &self.keys {
            let (req, cap) = requested_and_allocatable(pod, node, key, false);
            if cap == 0 {
                continue;
            }
            let v = match s.kind {
                StrategyType::LeastAllocated => least_allocated(req, cap),
                StrategyType::MostAllocated => most_allocated(req, cap),
                StrategyType::RequestedToCapacityRatio => ratio_score(&s.shape, req, cap),
            };
            sum += v * weight;
            wsum += weight;
        }
        if wsum == 0 {
            0
        } else {
            sum / wsum
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScoringStrategy;
    use crate::testutil::{node_info, pod_info};

    #[test]
    fn filter_reports_each_insufficient_resource() {
        let mut n = node_info("n", "2", "2Gi");
        n.add_pod(pod_info("a", "1500m", "1Gi").into());
        let p = pod_info("p", "1", "2Gi");
        assert_eq!(insufficient(&p, &n), vec!["Insufficient cpu", "Insufficient memory"]);
        assert!(insufficient(&pod_info("q", "500m", "1Gi"), &n).is_empty());
        n.allocatable.allowed_pod_number = 1;
        assert_eq!(insufficient(&pod_info("q", "", ""), &n), vec!["Too many pods"]);
    }

    #[test]
    fn least_most_and_ratio_scores() {
        // Node 4 cpu / 8Gi; pod 1 cpu / 2Gi: 75% free on both.
        let n = node_info("n", "4", "8Gi");
        let p = pod_info("p", "1", "2Gi");
        let fit = |kind, shape: Vec<(i64, i64)>| {
            NodeResourcesFit::new(FitArgs {
                strategy: ScoringStrategy { kind, resources: vec![("cpu".into(), 1), ("memory".into(), 1)], shape },
            })
            .score(&CycleState::default(), &p, &n)
        };
        assert_eq!(fit(StrategyType::LeastAllocated, vec![]), 75);
        assert_eq!(fit(StrategyType::MostAllocated, vec![]), 25);
        assert_eq!(fit(StrategyType::RequestedToCapacityRatio, vec![(0, 0), (100, 10)]), 25);
        assert_eq!(fit(StrategyType::RequestedToCapacityRatio, vec![(0, 10), (100, 0)]), 75);
    }

    #[test]
    fn scoring_uses_non_zero_defaults() {
        let n = node_info("n", "1", "2000Mi");
        let p = pod_info("p", "", "");
        let f = NodeResourcesFit::new(FitArgs::default());
        // 100m of 1000m and 200Mi of 2000Mi requested: 90 on both.
        assert_eq!(f.score(&CycleState::default(), &p, &n), 90);
    }
}
