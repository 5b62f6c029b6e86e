//! The kubelet's Events, with upstream's reasons and messages (pkg/kubelet/events,
//! images/image_manager.go, kuberuntime). Container events refer to the pod with
//! a fieldPath (`spec.containers{name}`), as upstream's GenerateContainerRef does.

use client::events::{object_reference, EventRecorder, EventType};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use std::time::Duration;

pub const PULLING: &str = "Pulling";
pub const PULLED: &str = "Pulled";
pub const FAILED: &str = "Failed";
pub const BACK_OFF: &str = "BackOff";
pub const ERR_IMAGE_NEVER_PULL: &str = "ErrImageNeverPull";
pub const INSPECT_FAILED: &str = "InspectFailed";
pub const CREATED: &str = "Created";
pub const STARTED: &str = "Started";
pub const KILLING: &str = "Killing";
pub const SANDBOX_CHANGED: &str = "SandboxChanged";
pub const INVALID_ENV_NAMES: &str = "InvalidEnvironmentVariableNames";
pub const FAILED_MOUNT: &str = "FailedMount";

/// A reference to one container of `pod` (init containers have their own path).
pub fn container_ref(pod: &Pod, container: &str) -> ObjectReference {
    let init = pod.spec.as_ref().and_then(|s| s.init_containers.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.name == container));
    let list = if init { "initContainers" } else { "containers" };
    ObjectReference { field_path: Some(format!("spec.{list}{{{container}}}")), ..object_reference(pod) }
}

/// Upstream's format.Pod: `name_namespace(uid)`.
pub fn format_pod(pod: &Pod) -> String {
    let m = &pod.metadata;
    format!(
        "{}_{}({})",
        m.name.as_deref().unwrap_or_default(),
        m.namespace.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    )
}

/// Go's time.Duration String() of `d` truncated to milliseconds, as upstream's
/// pull messages print it: `0s`, `512ms`, `1.5s`, `1m2.25s`, `1h0m0s`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        out.push_str(format!(".{frac:03}").trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// The kubelet's event calls, each with its upstream type, reason and message.
#[derive(Clone)]
pub struct Events(pub EventRecorder);

impl Events {
    fn container(&self, pod: &Pod, container: &str, t: EventType, reason: &str, msg: String) {
        self.0.publish_ref(container_ref(pod, container), t, reason, msg);
    }

    pub fn pulling(&self, pod: &Pod, c: &str, image: &str) {
        self.container(pod, c, EventType::Normal, PULLING, format!("Pulling image {image:?}"));
    }
    pub fn pulled(&self, pod: &Pod, c: &str, image: &str, pull: Duration, total: Duration, size: u64) {
        let msg = format!(
            "Successfully pulled image {image:?} in {} ({} including waiting). Image size: {size} bytes.",
            go_duration(pull),
            go_duration(total)
        );
        self.container(pod, c, EventType::Normal, PULLED, msg);
    }
    pub fn already_present(&self, pod: &Pod, c: &str, image: &str) {
        self.container(pod, c, EventType::Normal, PULLED, format!("Container image {image:?} already present on machine"));
    }
    pub fn pull_failed(&self, pod: &Pod, c: &str, image: &str, err: &str) {
        self.container(pod, c, EventType::Warning, FAILED, format!("Failed to pull image {image:?}: {err}"));
    }
    pub fn pull_back_off(&self, pod: &Pod, c: &str, image: &str) {
        self.container(pod, c, EventType::Normal, BACK_OFF, format!("Back-off pulling image {image:?}"));
    }
    pub fn never_pull(&self, pod: &Pod, c: &str, msg: &str) {
        self.container(pod, c, EventType::Warning, ERR_IMAGE_NEVER_PULL, msg.to_string());
    }
    pub fn invalid_image(&self, pod: &Pod, c: &str, msg: &str) {
        self.container(pod, c, EventType::Warning, INSPECT_FAILED, msg.to_string());
    }
    /// Creating or starting failed (upstream's FailedToCreateContainer /
    /// FailedToStartContainer: reason Failed, `Error: <reason or message>`).
    pub fn failed(&self, pod: &Pod, c: &str, what: &str) {
        self.container(pod, c, EventType::Warning, FAILED, format!("Error: {what}"));
    }
    pub fn created(&self, pod: &Pod, c: &str) {
        self.container(pod, c, EventType::Normal, CREATED, format!("Created container: {c}"));
    }
    pub fn started(&self, pod: &Pod, c: &str) {
        self.container(pod, c, EventType::Normal, STARTED, format!("Started container {c}"));
    }
    pub fn killing(&self, pod: &Pod, c: &str) {
        self.container(pod, c, EventType::Normal, KILLING, format!("Stopping container {c}"));
    }
    pub fn back_off_restart(&self, pod: &Pod, c: &str) {
        let msg = format!("Back-off restarting failed container {c} in pod {}", format_pod(pod));
        self.container(pod, c, EventType::Warning, BACK_OFF, msg);
    }
    /// envFrom keys that are not variable names (the message is env::make's).
    pub fn invalid_env_names(&self, pod: &Pod, msg: &str) {
        self.0.publish(pod, EventType::Warning, INVALID_ENV_NAMES, msg);
    }
    /// A volume could not be set up: `MountVolume.SetUp failed for volume "v" : <err>`.
    pub fn failed_mount(&self, pod: &Pod, msg: &str) {
        self.0.publish(pod, EventType::Warning, FAILED_MOUNT, msg);
    }
    /// A probe failed or errored (`Liveness probe failed: ...`).
    pub fn unhealthy(&self, pod: &Pod, c: &str, msg: &str) {
        self.container(pod, c, EventType::Warning, "Unhealthy", msg.to_string());
    }
    /// Killing for a reason other than the pod stopping (failed liveness/startup probe).
    pub fn killing_because(&self, pod: &Pod, c: &str, msg: &str) {
        self.container(pod, c, EventType::Normal, KILLING, msg.to_string());
    }
    /// A lifecycle hook failed (FailedPostStartHook / FailedPreStopHook).
    pub fn hook_failed(&self, pod: &Pod, c: &str, reason: &str, msg: &str) {
        self.container(pod, c, EventType::Warning, reason, msg.to_string());
    }
    pub fn pod_event(&self, pod: &Pod, warning: bool, reason: &str, msg: &str) {
        self.0.publish(pod, if warning { EventType::Warning } else { EventType::Normal }, reason, msg);
    }
    pub fn sandbox_changed(&self, pod: &Pod) {
        self.0.publish(pod, EventType::Normal, SANDBOX_CHANGED, "Pod sandbox changed, it will be killed and re-created.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        let ms = Duration::from_millis;
        let cases = [(0, "0s"), (7, "7ms"), (999, "999ms"), (1000, "1s"), (1500, "1.5s"), (1234, "1.234s"), (62_250, "1m2.25s"), (3_600_000, "1h0m0s"), (3_723_004, "1h2m3.004s")];
        for (n, want) in cases {
            assert_eq!(go_duration(ms(n)), want);
        }
        assert_eq!(go_duration(Duration::from_micros(1_500_999)), "1.5s", "truncated to milliseconds");
    }

    #[test]
    fn container_refs_carry_the_field_path() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1"},
            "spec": {"initContainers": [{"name": "setup"}], "containers": [{"name": "app"}]}
        }))
        .unwrap();
        let r = container_ref(&pod, "app");
        assert_eq!((r.kind.as_deref(), r.name.as_deref(), r.field_path.as_deref()), (Some("Pod"), Some("p"), Some("spec.containers{app}")));
        assert_eq!(container_ref(&pod, "setup").field_path.as_deref(), Some("spec.initContainers{setup}"));
        assert_eq!(format_pod(&pod), "p_ns(u-1)");
    }
}
