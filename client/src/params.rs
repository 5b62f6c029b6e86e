//! Options of the API verbs, mirroring metav1's ListOptions, DeleteOptions, ...

use proto::v1::PatchType;

#[derive(Debug, Clone, Default)]
pub struct PostParams {
    pub dry_run: bool,
    pub field_manager: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<i64>,
    pub continue_token: Option<String>,
    /// "" (or None) = most recent; "0" = any, from the watch cache.
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

impl ListParams {
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub allow_bookmarks: bool,
    pub timeout_seconds: Option<i64>,
}

impl WatchParams {
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }
    pub fn bookmarks(mut self) -> Self {
        self.allow_bookmarks = true;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct DeleteParams {
    pub grace_period_seconds: Option<i64>,
    /// "Orphan", "Background" or "Foreground".
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteParams {
    pub fn grace_period(mut self, seconds: i64) -> Self {
        self.grace_period_seconds = Some(seconds);
        self
    }
    /// Deletes at once, without graceful termination.
    pub fn immediate() -> Self {
        Self { grace_period_seconds: Some(0), ..Default::default() }
    }
    pub fn propagation(mut self, policy: &str) -> Self {
        self.propagation_policy = Some(policy.to_string());
        self
    }
}

/// A patch body and its type.
#[derive(Debug, Clone)]
pub enum Patch {
    /// RFC 6902 JSON patch: an array of operations.
    Json(serde_json::Value),
    /// RFC 7386 JSON merge patch.
    Merge(serde_json::Value),
    /// Kubernetes strategic merge patch.
    Strategic(serde_json::Value),
    /// Server-side apply configuration.
    Apply(serde_json::Value),
}

impl Patch {
    pub fn patch_type(&self) -> PatchType {
        match self {
            Patch::Json(_) => PatchType::JsonPatch,
            Patch::Merge(_) => PatchType::MergePatch,
            Patch::Strategic(_) => PatchType::StrategicMergePatch,
            Patch::Apply(_) => PatchType::ApplyPatch,
        }
    }
    pub fn body(&self) -> &serde_json::Value {
        match self {
            Patch::Json(v) | Patch::Merge(v) | Patch::Strategic(v) | Patch::Apply(v) => v,
        }
    }
}
