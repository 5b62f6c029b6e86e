//! Job (batch/v1): completions/parallelism 1, backoffLimit 6, NonIndexed,
//! suspend false; a selector generated from the job's uid unless
//! manualSelector; restartPolicy OnFailure or Never; the pod template is
//! immutable (scheduling directives excepted while suspended).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::registry::pod_template::{default_template_spec, template_labels, validate_template};
use crate::registry::validation::{self as v, go_label_selector, go_map};
use crate::registry::workload::{self as w, immutable_selector, nonneg_status, SELECTOR_MISMATCH};
use crate::registry::{ErrorList, FieldError, Fields, NameRule, Path, ResourceInfo, Strategy};

pub struct JobStrategy;

pub const LEGACY_CONTROLLER_UID: &str = "controller-uid";
pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub const LEGACY_JOB_NAME: &str = "job-name";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// SetDefaults_Job (Jobs only: a CronJob's job template is not defaulted this way).
pub fn default_job_spec(spec: &mut JobSpec) {
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
        spec.parallelism = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 });
    }
    spec.completion_mode.get_or_insert_with(|| "NonIndexed".into());
    spec.suspend.get_or_insert(false);
    if spec.pod_replacement_policy.is_none() {
        spec.pod_replacement_policy = Some(if spec.pod_failure_policy.is_some() { "Failed" } else { "TerminatingOrFailed" }.into());
    }
    for rule in spec.pod_failure_policy.iter_mut().flat_map(|p| p.rules.iter_mut()) {
        for c in rule.on_pod_conditions.iter_mut().flatten() {
            if c.status.as_deref().unwrap_or("").is_empty() {
                c.status = Some("True".into());
            }
        }
    }
}

/// The labels and selector upstream generates from the job's name and uid.
fn generate_selector(job: &mut Job) {
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = job.spec.as_mut() else { return };
    let labels = spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
    for key in [LEGACY_JOB_NAME, JOB_NAME] {
        labels.entry(key.into()).or_insert_with(|| name.clone());
    }
    for key in [LEGACY_CONTROLLER_UID, CONTROLLER_UID] {
        labels.entry(key.into()).or_insert_with(|| uid.clone());
    }
    let sel = spec.selector.get_or_insert_with(LabelSelector::default);
    sel.match_labels.get_or_insert_with(BTreeMap::new).entry(CONTROLLER_UID.into()).or_insert(uid);
}

/// Checks shared with CronJob's job template (upstream's validateJobSpec).
pub fn validate_job_spec(spec: &JobSpec, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (f, val) in [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        ("ttlSecondsAfterFinished", spec.ttl_seconds_after_finished.map(i64::from)),
    ] {
        if let Some(x) = val {
            errs.extend(v::nonnegative(x, &path.child(f)));
        }
    }
    match spec.completion_mode.as_deref().unwrap_or("NonIndexed") {
        "NonIndexed" => {}
        "Indexed" => {
            if spec.completions.is_none() {
                errs.push(FieldError::required(&path.child("completions"), "when completion mode is Indexed"));
            }
        }
        m => errs.push(FieldError::not_supported(&path.child("completionMode"), m, &["NonIndexed", "Indexed"])),
    }
    if let Some(p) = spec.pod_replacement_policy.as_deref() {
        if p != "TerminatingOrFailed" && p != "Failed" {
            errs.push(FieldError::not_supported(&path.child("podReplacementPolicy"), p, &["Failed", "TerminatingOrFailed"]));
        }
    }
    errs.extend(validate_template(Some(&spec.template), &path.child("template"), &["OnFailure", "Never"]));
    errs
}

fn validate_generated(job: &Job) -> ErrorList {
    let Some(spec) = &job.spec else { return vec![] };
    if spec.manual_selector == Some(true) {
        return vec![];
    }
    let mut errs = Vec::new();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    if uid.is_empty() {
        errs.push(FieldError::required(&Path::new("metadata").child("uid"), ""));
    }
    let labels = template_labels(Some(&spec.template));
    let lpath = Path::new("spec").child("template").child("metadata").child("labels");
    for (key, want) in [(LEGACY_CONTROLLER_UID, &uid), (LEGACY_JOB_NAME, &name), (CONTROLLER_UID, &uid), (JOB_NAME, &name)] {
        match labels.and_then(|l| l.get(key)) {
            None => errs.push(FieldError::required(&lpath.key(key), &format!("must be '{want}'"))),
            Some(got) if got != want => errs.push(FieldError::invalid_raw(&lpath.key(key), go_map(labels), &format!("must be '{want}'"))),
            _ => {}
        }
    }
    let expected: BTreeMap<String, String> = [(LEGACY_CONTROLLER_UID.to_string(), uid.clone()), (CONTROLLER_UID.to_string(), uid)].into();
    if let Some(sel) = &spec.selector {
        if !v::selector_matches(sel, Some(&expected)) {
            errs.push(FieldError::invalid_raw(&Path::new("spec").child("selector"), go_label_selector(Some(sel)), "`selector` not auto-generated"));
        }
    }
    errs
}

/// Template fields a suspended, never-started job may change (upstream's
/// mutable scheduling directives).
fn scheduling_munged(spec: &JobSpec, old: &JobSpec) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    let mut t = spec.template.clone();
    let o = &old.template;
    if let (Some(ps), Some(os)) = (t.spec.as_mut(), o.spec.as_ref()) {
        ps.node_selector = os.node_selector.clone();
        ps.affinity = os.affinity.clone();
        ps.tolerations = os.tolerations.clone();
        ps.scheduling_gates = os.scheduling_gates.clone();
    }
    if let Some(m) = t.metadata.as_mut() {
        m.labels = o.metadata.as_ref().and_then(|m| m.labels.clone());
        m.annotations = o.metadata.as_ref().and_then(|m| m.annotations.clone());
    }
    t
}

impl Strategy for JobStrategy {
    type Object = Job;

    const INFO: ResourceInfo = ResourceInfo {
        group: "batch",
        version: "v1",
        plural: "jobs",
        singular: "job",
        kind: "Job",
        namespaced: true,
        short_names: &[],
        categories: &["all"],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };
    const ORPHAN_DEPENDENTS: bool = true;

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        w::require_json(v, &[("/spec/template", "spec.template")])
    }

    fn default(&self, job: &mut Job) {
        let Some(spec) = job.spec.as_mut() else { return };
        default_job_spec(spec);
        default_template_spec(&mut spec.template);
        if job.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            job.metadata.labels = template_labels(Some(&spec.template)).cloned();
        }
    }

    fn prepare_for_create(&self, job: &mut Job) {
        job.status = Some(Default::default());
        let Some(spec) = job.spec.as_mut() else { return };
        let manual = *spec.manual_selector.get_or_insert(false);
        if !manual {
            generate_selector(job);
        }
        // Labels default from the (now generated) template labels, as a read would show.
        if job.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            job.metadata.labels = job.spec.as_ref().and_then(|s| template_labels(Some(&s.template))).cloned();
        }
    }

    fn validate(&self, job: &Job) -> ErrorList {
        let Some(spec) = &job.spec else { return vec![] };
        let path = Path::new("spec");
        let mut errs = validate_generated(job);
        match &spec.selector {
            None => errs.push(FieldError::required(&path.child("selector"), "")),
            Some(sel) => {
                errs.extend(v::validate_label_selector(sel, &path.child("selector")));
                let labels = template_labels(Some(&spec.template));
                if !v::selector_is_empty(sel) && !v::selector_matches(sel, labels) {
                    errs.push(FieldError::invalid_raw(&path.child("template").child("metadata").child("labels"), go_map(labels), SELECTOR_MISMATCH));
                }
            }
        }
        errs.extend(validate_job_spec(spec, &path));
        errs
    }

    fn validate_update(&self, new: &Job, old: &Job) -> ErrorList {
        let mut errs = self.validate(new);
        let (Some(n), Some(o)) = (&new.spec, &old.spec) else { return errs };
        let path = Path::new("spec");
        errs.extend(immutable_selector(n.selector.as_ref(), o.selector.as_ref()));
        let indexed = n.completion_mode.as_deref() == Some("Indexed");
        let elastic = indexed && n.completions == n.parallelism && o.completions == o.parallelism;
        if n.completions != o.completions && !elastic {
            errs.push(FieldError::invalid_raw(&path.child("completions"), n.completions.map_or("nil".into(), |c| c.to_string()), "field is immutable"));
        }
        if n.completion_mode != o.completion_mode {
            errs.push(FieldError::invalid(&path.child("completionMode"), n.completion_mode.clone().unwrap_or_default(), "field is immutable"));
        }
        let suspended_never_started = o.suspend == Some(true) && old.status.as_ref().is_none_or(|s| s.start_time.is_none());
        let template = if suspended_never_started { scheduling_munged(n, o) } else { n.template.clone() };
        if template != o.template {
            errs.push(FieldError::invalid_raw(&path.child("template"), "core.PodTemplateSpec{...}", "field is immutable"));
        }
        if n.pod_failure_policy != o.pod_failure_policy {
            errs.push(FieldError::invalid_raw(&path.child("podFailurePolicy"), "&batch.PodFailurePolicy{...}", "field is immutable"));
        }
        errs
    }

    fn validate_status_update(&self, new: &Job, _old: &Job) -> ErrorList {
        let mut errs = Vec::new();
        let s = new.status.clone().unwrap_or_default();
        nonneg_status(&mut errs, &[
            ("active", s.active.map(Into::into)),
            ("succeeded", s.succeeded.map(Into::into)),
            ("failed", s.failed.map(Into::into)),
            ("ready", s.ready.map(Into::into)),
            ("terminating", s.terminating.map(Into::into)),
        ]);
        errs
    }

    fn fields(&self, job: &serde_json::Value, out: &mut Fields) {
        out.insert("status.successful".into(), crate::registry::int_at(job, "/status/succeeded"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn job(restart: &str) -> serde_json::Value {
        json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": {
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5"}], "restartPolicy": restart}}}})
    }

    #[test]
    fn defaults_and_generated_selector() {
        let j = Typed(JobStrategy).admit_create(job("Never")).unwrap();
        let s = &j["spec"];
        assert_eq!((s["completions"].clone(), s["parallelism"].clone(), s["backoffLimit"].clone()), (json!(1), json!(1), json!(6)));
        assert_eq!(s["completionMode"], "NonIndexed");
        assert_eq!(s["suspend"], false);
        assert_eq!(s["manualSelector"], false);
        assert_eq!(s["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(s["selector"], json!({"matchLabels": {CONTROLLER_UID: "u-1"}}));
        let want = json!({CONTROLLER_UID: "u-1", JOB_NAME: "pi", LEGACY_CONTROLLER_UID: "u-1", LEGACY_JOB_NAME: "pi"});
        assert_eq!(s["template"]["metadata"]["labels"], want);
        assert_eq!(j["metadata"]["labels"], want);
    }

    #[test]
    fn restart_policy_and_manual_selector() {
        let kind = Typed(JobStrategy);
        let e = kind.admit_create(job("Always")).unwrap_err();
        assert_eq!(e.message, r#"Job "pi" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""#);
        let mut relabeled = job("Never");
        relabeled["spec"]["template"]["metadata"] = json!({"labels": {JOB_NAME: "other"}});
        let e = kind.admit_create(relabeled).unwrap_err();
        assert_eq!(
            e.message,
            r#"Job "pi" is invalid: spec.template.metadata.labels[batch.kubernetes.io/job-name]: Invalid value: map[string]string{"batch.kubernetes.io/controller-uid":"u-1", "batch.kubernetes.io/job-name":"other", "controller-uid":"u-1", "job-name":"pi"}: must be 'pi'"#
        );
        let mut wrong = job("Never");
        wrong["spec"]["selector"] = json!({"matchLabels": {CONTROLLER_UID: "other"}});
        let e = kind.admit_create(wrong).unwrap_err();
        assert!(e.message.contains("`selector` not auto-generated"), "{}", e.message);
        let mut manual = job("Never");
        manual["spec"]["manualSelector"] = json!(true);
        manual["spec"]["selector"] = json!({"matchLabels": {"app": "pi"}});
        manual["spec"]["template"]["metadata"] = json!({"labels": {"app": "pi"}});
        let j = kind.admit_create(manual).unwrap();
        assert_eq!(j["spec"]["selector"], json!({"matchLabels": {"app": "pi"}}));
    }

    #[test]
    fn template_is_immutable() {
        let kind = Typed(JobStrategy);
        let old = kind.admit_create(job("Never")).unwrap();
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:6");
        let e = kind.admit_update(new, &old).unwrap_err();
        assert_eq!(e.message, r#"Job "pi" is invalid: spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"#);
        let mut bumped = old.clone();
        bumped["spec"]["parallelism"] = json!(3);
        kind.admit_update(bumped, &old).unwrap();
    }
}
