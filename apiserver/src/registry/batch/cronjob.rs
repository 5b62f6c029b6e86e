//! CronJob (batch/v1): concurrencyPolicy Allow, suspend false, history limits
//! 3/1; a standard 5-field schedule (or @descriptor, parsed by api::cron, the
//! parser the controller runs); an IANA timeZone; names at most 52
//! characters (the Job names it creates add 11).

use k8s_openapi::api::batch::v1::CronJob;

use crate::registry::batch::job::validate_job_spec;
use crate::registry::pod_template::default_template_spec;
use crate::registry::validation::{self as v, go_label_selector};
use crate::registry::workload::{self as w, nonneg_status};
use crate::registry::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct CronJobStrategy;

const MAX_NAME: usize = 52;

impl Strategy for CronJobStrategy {
    type Object = CronJob;

    const INFO: ResourceInfo = ResourceInfo {
        group: "batch",
        version: "v1",
        plural: "cronjobs",
        singular: "cronjob",
        kind: "CronJob",
        namespaced: true,
        short_names: &["cj"],
        categories: &["all"],
        subresources: &["status"],
        name_rule: NameRule::Subdomain,
        tracks_generation: true,
    };

    fn required_before_decode(&self, v: &serde_json::Value) -> ErrorList {
        w::require_json(v, &[("/spec", "spec"), ("/spec/schedule", "spec.schedule"), ("/spec/jobTemplate", "spec.jobTemplate")])
    }

    fn default(&self, cj: &mut CronJob) {
        let spec = &mut cj.spec;
        spec.concurrency_policy.get_or_insert_with(|| "Allow".into());
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        if let Some(js) = spec.job_template.spec.as_mut() {
            default_template_spec(&mut js.template);
        }
    }

    fn prepare_for_create(&self, cj: &mut CronJob) {
        cj.status = Some(Default::default());
    }

    fn validate(&self, cj: &CronJob) -> ErrorList {
        let mut errs = Vec::new();
        let name = cj.metadata.name.as_deref().unwrap_or("");
        if name.len() > MAX_NAME {
            errs.push(FieldError::invalid(&Path::new("metadata").child("name"), name, &format!("must be no more than {MAX_NAME} characters")));
        }
        let spec = &cj.spec;
        let path = Path::new("spec");
        let sched = spec.schedule.as_str();
        if sched.is_empty() {
            errs.push(FieldError::required(&path.child("schedule"), ""));
        } else if sched.contains("TZ") {
            errs.push(FieldError::invalid(&path.child("schedule"), sched, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        } else if let Err(e) = api::cron::parse(sched) {
            errs.push(FieldError::invalid(&path.child("schedule"), sched, &e.0));
        }
        if let Some(tz) = spec.time_zone.as_deref() {
            if let Err(msg) = api::cron::validate_time_zone(tz) {
                errs.push(FieldError::invalid(&path.child("timeZone"), tz, &msg));
            }
        }
        match spec.concurrency_policy.as_deref().unwrap_or("") {
            "" => errs.push(FieldError::required(&path.child("concurrencyPolicy"), "")),
            "Allow" | "Forbid" | "Replace" => {}
            p => errs.push(FieldError::not_supported(&path.child("concurrencyPolicy"), p, &["Allow", "Forbid", "Replace"])),
        }
        for (f, val) in [
            ("startingDeadlineSeconds", spec.starting_deadline_seconds),
            ("successfulJobsHistoryLimit", spec.successful_jobs_history_limit.map(i64::from)),
            ("failedJobsHistoryLimit", spec.failed_jobs_history_limit.map(i64::from)),
        ] {
            if let Some(x) = val {
                errs.extend(v::nonnegative(x, &path.child(f)));
            }
        }
        let jt = path.child("jobTemplate");
        if let Some(labels) = spec.job_template.metadata.as_ref().and_then(|m| m.labels.as_ref()) {
            errs.extend(v::validate_labels(labels, &jt.child("metadata").child("labels")));
        }
        if let Some(js) = &spec.job_template.spec {
            errs.extend(validate_job_spec(js, &jt.child("spec")));
            if let Some(sel) = &js.selector {
                errs.push(FieldError::invalid_raw(&jt.child("spec").child("selector"), go_label_selector(Some(sel)), "`selector` will be auto-generated"));
            }
            if js.manual_selector == Some(true) {
                errs.push(w::not_supported_raw(&jt.child("spec").child("manualSelector"), "true".into(), &["nil", "false"]));
            }
        }
        errs
    }

    fn validate_status_update(&self, new: &CronJob, _old: &CronJob) -> ErrorList {
        let mut errs = Vec::new();
        let active = new.status.as_ref().and_then(|s| s.active.as_ref()).map(|a| a.len() as i64);
        nonneg_status(&mut errs, &[("active", active)]);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Kind, Typed};
    use serde_json::json;

    fn cj(schedule: &str) -> serde_json::Value {
        json!({"metadata": {"name": "hello", "namespace": "default"}, "spec": {"schedule": schedule,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}})
    }

    #[test]
    fn defaults() {
        let c = Typed(CronJobStrategy).admit_create(cj("*/5 * * * *")).unwrap();
        let s = &c["spec"];
        assert_eq!(s["concurrencyPolicy"], "Allow");
        assert_eq!(s["suspend"], false);
        assert_eq!(s["successfulJobsHistoryLimit"], 3);
        assert_eq!(s["failedJobsHistoryLimit"], 1);
        assert_eq!(s["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    }

    #[test]
    fn schedule_errors() {
        let kind = Typed(CronJobStrategy);
        for (sched, msg) in [
            ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
            ("61 * * * *", "end of range (61) above maximum (59): 61"),
            ("x * * * *", r#"failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax"#),
            ("TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
        ] {
            let e = kind.admit_create(cj(sched)).unwrap_err();
            assert_eq!(e.message, format!(r#"CronJob "hello" is invalid: spec.schedule: Invalid value: "{sched}": {msg}"#));
        }
        for ok in ["@hourly", "0 0 * * MON-FRI", "0 0 1 jan,jul ?", "@every 1h30m"] {
            assert!(kind.admit_create(cj(ok)).is_ok(), "{ok}");
        }
        let mut tz = cj("0 9 * * *");
        tz["spec"]["timeZone"] = json!("Europe/Nowhere");
        let e = kind.admit_create(tz.clone()).unwrap_err();
        assert_eq!(e.message, r#"CronJob "hello" is invalid: spec.timeZone: Invalid value: "Europe/Nowhere": unknown time zone Europe/Nowhere"#);
        tz["spec"]["timeZone"] = json!("Europe/Paris");
        assert!(kind.admit_create(tz).is_ok());
        let mut always = cj("@daily");
        always["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let e = kind.admit_create(always).unwrap_err();
        assert_eq!(
            e.message,
            r#"CronJob "hello" is invalid: spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""#
        );
    }
}
