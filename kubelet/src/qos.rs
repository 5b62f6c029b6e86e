//! QoS classes, the pod cgroup layout and per-class oom_score_adj, as upstream.

use crate::quantity;
use k8s_openapi::api::core::v1::{Container, Pod};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl Qos {
    pub fn as_str(self) -> &'static str {
        match self {
            Qos::Guaranteed => "Guaranteed",
            Qos::Burstable => "Burstable",
            Qos::BestEffort => "BestEffort",
        }
    }

    /// The QoS-level cgroup below the kubepods root.
    pub fn cgroup_dir(self) -> &'static str {
        match self {
            Qos::Guaranteed => "guaranteed",
            Qos::Burstable => "burstable",
            Qos::BestEffort => "besteffort",
        }
    }
}

fn get(c: &Container, limits: bool, res: &str) -> Option<String> {
    let r = c.resources.as_ref()?;
    let m = if limits { r.limits.as_ref()? } else { r.requests.as_ref()? };
    m.get(res).map(|q| q.0.clone())
}

/// Requests default to limits when only limits are given (apiserver defaulting).
pub fn request(c: &Container, res: &str) -> Option<String> {
    get(c, false, res).or_else(|| get(c, true, res))
}

pub fn limit(c: &Container, res: &str) -> Option<String> {
    get(c, true, res)
}

/// upstream's GetPodQOS over all (init and regular) containers.
pub fn pod_qos(pod: &Pod) -> Qos {
    let spec = match &pod.spec {
        Some(s) => s,
        None => return Qos::BestEffort,
    };
    let all: Vec<&Container> = spec.init_containers.iter().flatten().chain(spec.containers.iter()).collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &all {
        for res in ["cpu", "memory"] {
            let (rq, lm) = (request(c, res), limit(c, res));
            let nonzero = |q: &Option<String>| q.as_deref().and_then(quantity::bytes).map(|v| v != 0).unwrap_or(false)
                || q.as_deref().and_then(quantity::milli_cpu).map(|v| v != 0).unwrap_or(false);
            if nonzero(&rq) || nonzero(&lm) {
                any = true;
            }
            if lm.is_none() || rq != lm {
                guaranteed = false;
            }
        }
    }
    if !any {
        Qos::BestEffort
    } else if guaranteed {
        Qos::Guaranteed
    } else {
        Qos::Burstable
    }
}

/// upstream's GetContainerOOMScoreAdjust (guaranteed -997, best effort 1000,
/// burstable scaled by the memory request), never below `floor`: lowering it
/// under our own value needs CAP_SYS_RESOURCE, which this host does not grant.
pub fn oom_score_adj(qos: Qos, c: &Container, memory_capacity: i64, floor: i32) -> i32 {
    let v = match qos {
        Qos::Guaranteed => -997,
        Qos::BestEffort => 1000,
        Qos::Burstable => {
            let req = request(c, "memory").as_deref().and_then(quantity::bytes).unwrap_or(0);
            let adj = 1000 - (1000 * req) / memory_capacity.max(1);
            adj.clamp(2, 999) as i32
        }
    };
    v.max(floor)
}

/// upstream's MilliCPUToShares: 1024 per CPU, minimum 2.
pub fn cpu_shares(milli: i64) -> u64 {
    if milli == 0 {
        2
    } else {
        ((milli * 1024) / 1000).max(2) as u64
    }
}

/// CFS quota for a limit with the default 100 ms period (minimum 1 ms).
pub fn cpu_quota(milli: i64) -> i64 {
    ((milli * 100_000) / 1000).max(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(res: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": res}]}
        }))
        .unwrap()
    }

    #[test]
    fn classes_and_scores() {
        assert_eq!(pod_qos(&pod(serde_json::json!({}))), Qos::BestEffort);
        let g = pod(serde_json::json!({"limits": {"cpu": "100m", "memory": "64Mi"}}));
        assert_eq!(pod_qos(&g), Qos::Guaranteed);
        let b = pod(serde_json::json!({"requests": {"memory": "64Mi"}}));
        assert_eq!(pod_qos(&b), Qos::Burstable);
        let c = &b.spec.as_ref().unwrap().containers[0];
        assert_eq!(oom_score_adj(Qos::Burstable, c, 1 << 30, 0), 938);
        assert_eq!(oom_score_adj(Qos::Guaranteed, c, 1 << 30, 0), 0);
        assert_eq!(oom_score_adj(Qos::Guaranteed, c, 1 << 30, -1000), -997);
        assert_eq!(cpu_shares(100), 102);
        assert_eq!(cpu_quota(250), 25_000);
    }
}
