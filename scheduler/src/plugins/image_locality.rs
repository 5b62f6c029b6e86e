//! ImageLocality: favours nodes that already have the pod's images, weighted
//! by image size and by how widely the image is spread across nodes.

use std::sync::Arc;

use super::IMAGE_LOCALITY;
use crate::cache::{NodeInfo, Snapshot};
use crate::framework::{CycleState, Plugin, Point, Status, MAX_NODE_SCORE};
use crate::pod_info::PodInfo;

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;
const STATE: &str = "ImageLocality";

pub struct ImageLocality;

struct State {
    total_nodes: usize,
    image_nodes: Arc<std::collections::HashMap<String, usize>>,
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        IMAGE_LOCALITY
    }
    fn points(&self) -> &'static [Point] {
        &[Point::PreScore, Point::Score]
    }
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>], snap: &Snapshot) -> Status {
        if pod.images.is_empty() || snap.image_nodes.is_empty() {
            return Status::skip();
        }
        state.write(STATE, State { total_nodes: snap.len(), image_nodes: snap.image_nodes.clone() });
        Status::success()
    }
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(st) = state.read::<State>(STATE) else { return 0 };
        let mut sum = 0i64;
        for img in &pod.images {
            if let Some(size) = node.images.get(img) {
                let spread = *st.image_nodes.get(img).unwrap_or(&0) as f64 / st.total_nodes.max(1) as f64;
                sum += (*size as f64 * spread) as i64;
            }
        }
        let containers = pod.pod.spec.as_ref().map(|s| s.containers.len() + s.init_containers.as_ref().map_or(0, Vec::len)).unwrap_or(1);
        let max = MAX_CONTAINER_THRESHOLD * containers.max(1) as i64;
        let sum = sum.clamp(MIN_THRESHOLD, max);
        MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node_with_images, pod_with_image};

    #[test]
    fn bigger_widely_spread_images_score_higher() {
        let with = node_with_images("a", &[("app:1", 500 * MB)]);
        let without = node_with_images("b", &[]);
        let snap = Snapshot::from_nodes(vec![with.clone(), without.clone()]);
        let pod = pod_with_image("p", "app:1");
        let mut st = CycleState::default();
        assert!(ImageLocality.pre_score(&mut st, &pod, &snap.nodes, &snap).is_success());
        // 500MB * 1/2 spread = 250MB: (250-23)*100/(1000-23) = 23.
        assert_eq!(ImageLocality.score(&st, &pod, &with), 23);
        assert_eq!(ImageLocality.score(&st, &pod, &without), 0);
    }

    #[test]
    fn short_pod_image_matches_the_kubelets_fully_qualified_name() {
        // The kubelet reports status.images[].names fully qualified; pods say "busybox".
        let with = node_with_images("a", &[("docker.io/library/busybox:latest", 500 * MB)]);
        let other = node_with_images("b", &[("docker.io/library/nginx:1.27", 500 * MB)]);
        let snap = Snapshot::from_nodes(vec![with.clone(), other.clone()]);
        let pod = pod_with_image("p", "busybox");
        let mut st = CycleState::default();
        assert!(ImageLocality.pre_score(&mut st, &pod, &snap.nodes, &snap).is_success());
        assert_eq!(ImageLocality.score(&st, &pod, &with), 23);
        assert_eq!(ImageLocality.score(&st, &pod, &other), 0);
    }
}
