//! NodeResourcesBalancedAllocation: favours nodes whose requested fractions
//! of each resource stay close together: (1 - std deviation) * 100.

use super::node_resources_fit::requested_and_allocatable;
use super::BALANCED_ALLOCATION;
use crate::cache::NodeInfo;
use crate::framework::{CycleState, Plugin, Point, MAX_NODE_SCORE};
use crate::pod_info::PodInfo;
use crate::resource::ResKey;

pub struct BalancedAllocation {
    keys: Vec<ResKey>,
}

impl BalancedAllocation {
    pub fn new(resources: &[(String, i64)]) -> Self {
        BalancedAllocation { keys: resources.iter().map(|(n, _)| ResKey::parse(n)).collect() }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        BALANCED_ALLOCATION
    }
    fn points(&self) -> &'static [Point] {
        &[Point::Score]
    }
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        // No allocation per node: at most 16 resources are looked at.
        let mut buf = [0f64; 16];
        let mut len = 0;
        for key in self.keys.iter().take(16) {
            let (req, cap) = requested_and_allocatable(pod, node, key, true);
            if cap == 0 {
                continue;
            }
            buf[len] = (req as f64 / cap as f64).min(1.0);
            len += 1;
        }
        let fractions = &buf[..len];
        let std = match fractions.len() {
            0 | 1 => 0.0,
            2 => (fractions[0] - fractions[1]).abs() / 2.0,
            n => {
                let mean = fractions.iter().sum::<f64>() / n as f64;
                (fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
            }
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node_info, pod_info};

    #[test]
    fn balanced_scores() {
        let b = BalancedAllocation::new(&[("cpu".into(), 1), ("memory".into(), 1)]);
        let n = node_info("n", "4", "8Gi");
        // cpu 50%, memory 50%: perfectly balanced.
        assert_eq!(b.score(&CycleState::default(), &pod_info("p", "2", "4Gi"), &n), 100);
        // cpu 50%, memory 0%: std 0.25.
        assert_eq!(b.score(&CycleState::default(), &pod_info("p", "2", ""), &n), 75);
    }
}
