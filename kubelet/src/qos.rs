//! What the kubelet does with a pod's QoS class (computed by `api::qos`, the
//! same answer as status.qosClass): its cgroup tier below the kubepods root,
//! per-class oom_score_adj, and CPU shares/quota, as upstream.

pub use api::qos::QosClass as Qos;
use api::resources::{container_limits, container_requests};
use k8s_openapi::api::core::v1::{Container, Pod};

/// The pod's class: status.qosClass when set, else computed (api::qos).
pub fn pod_qos(pod: &Pod) -> Qos {
    api::qos::pod_qos(pod)
}

/// The QoS-level cgroup below the kubepods root.
pub fn cgroup_dir(q: Qos) -> &'static str {
    match q {
        Qos::Guaranteed => "guaranteed",
        Qos::Burstable => "burstable",
        Qos::BestEffort => "besteffort",
    }
}

/// The container's request of `res` in millis (cpu) or units (the rest),
/// requests defaulting to limits.
pub fn request_milli_cpu(c: &Container) -> Option<i64> {
    container_requests(c).get("cpu").map(|q| q.milli_value())
}

pub fn limit_milli_cpu(c: &Container) -> Option<i64> {
    container_limits(c).get("cpu").map(|q| q.milli_value())
}

pub fn request_bytes(c: &Container, res: &str) -> Option<i64> {
    container_requests(c).get(res).map(|q| q.value())
}

pub fn limit_bytes(c: &Container, res: &str) -> Option<i64> {
    container_limits(c).get(res).map(|q| q.value())
}

/// upstream's GetContainerOOMScoreAdjust (guaranteed -997, best effort 1000,
/// burstable scaled by the memory request), never below `floor`: lowering it
/// under our own value needs CAP_SYS_RESOURCE, which this host does not grant.
pub fn oom_score_adj(qos: Qos, c: &Container, memory_capacity: i64, floor: i32) -> i32 {
    let v = match qos {
        Qos::Guaranteed => -997,
        Qos::BestEffort => 1000,
        Qos::Burstable => {
            let req = request_bytes(c, "memory").unwrap_or(0);
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
    fn equal_quantities_written_differently_land_in_the_guaranteed_tier() {
        let p = pod(serde_json::json!({
            "requests": {"memory": "1Gi", "cpu": "500m"},
            "limits": {"memory": "1073741824", "cpu": "0.5"},
        }));
        assert_eq!(pod_qos(&p), Qos::Guaranteed);
        assert_eq!(crate::cgroups::pod_cgroup("kubepods", pod_qos(&p), "u"), "/kubepods/guaranteed/podu");
        // The same answer as status.qosClass (which wins when set).
        let mut with_status = p.clone();
        with_status.status = Some(serde_json::from_value(serde_json::json!({"qosClass": "Guaranteed"})).unwrap());
        assert_eq!(pod_qos(&with_status), api::qos::compute_pod_qos(&p));
        assert_eq!(cgroup_dir(pod_qos(&pod(serde_json::json!({"requests": {"memory": "1Gi"}})))), "burstable");
        assert_eq!(cgroup_dir(pod_qos(&pod(serde_json::json!({})))), "besteffort");
    }

    #[test]
    fn scores_and_cpu() {
        let b = pod(serde_json::json!({"requests": {"memory": "64Mi"}}));
        let c = &b.spec.as_ref().unwrap().containers[0];
        assert_eq!(oom_score_adj(Qos::Burstable, c, 1 << 30, 0), 938);
        assert_eq!(oom_score_adj(Qos::Guaranteed, c, 1 << 30, 0), 0);
        assert_eq!(oom_score_adj(Qos::Guaranteed, c, 1 << 30, -1000), -997);
        assert_eq!(cpu_shares(100), 102);
        assert_eq!(cpu_quota(250), 25_000);
    }
}
