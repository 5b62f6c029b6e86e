//! NodeResourcesBalancedAllocation: favours nodes whose requested fractions
//! of each resource stay close together: (1 - std deviation) * 100.

use super::node_resources_fit::requested_and_allocatable;
use super::BALANCED_ALLOCATION;
use crate::cache::NodeInfo;
use crate::framework::{CycleState, Plugin, Point, MAX_NODE_SCORE};
use crate::pod_info::PodInfo;

pub struct BalancedAllocation {
    pub resources: Vec<(String, i64)>,
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        BALANCED_ALLOCATION
    }
    fn points(&self) -> &'static [Point] {
        &[Point::Score]
    }
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let mut fractions = Vec::with_capacity(self.resources.len());
        for (name, _) in &self.resources {
            let (req, cap) = requested_and_allocatable(pod, node, name, true);
            if cap == 0 {
                continue;
            }
            fractions.push((req as f64 / cap as f64).min(1.0));
        }
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
        let b = BalancedAllocation { resources: vec![("cpu".into(), 1), ("memory".into(), 1)] };
        let n = node_info("n", "4", "8Gi");
        // cpu 50%, memory 50%: perfectly balanced.
        assert_eq!(b.score(&CycleState::default(), &pod_info("p", "2", "4Gi"), &n), 100);
        // cpu 50%, memory 0%: std 0.25.
        assert_eq!(b.score(&CycleState::default(), &pod_info("p", "2", ""), &n), 75);
    }
}
