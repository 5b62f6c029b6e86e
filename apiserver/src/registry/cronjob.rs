//! CronJob (batch/v1): concurrencyPolicy Allow, suspend false, history limits
//! 3/1; a standard 5-field schedule (or @descriptor); names at most 52
//! characters (the Job names it creates add 11).

use k8s_openapi::api::batch::v1::CronJob;

use super::job::validate_job_spec;
use super::pod_template::default_template_spec;
use super::validation::{self as v, go_label_selector};
use super::workload::{self as w, nonneg_status};
use super::{ErrorList, FieldError, NameRule, Path, ResourceInfo, Strategy};

pub struct CronJobStrategy;

const MAX_NAME: usize = 52;

/// One cron field (robfig/cron's getRange/getField), with its messages.
fn parse_field(field: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    for expr in field.split(',') {
        let (range, step) = match expr.split('/').collect::<Vec<_>>()[..] {
            [r] => (r, None),
            [r, s] => (r, Some(s)),
            _ => return Err(format!("too many slashes: {expr}")),
        };
        let num = |s: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
                return Ok(i as u32 + min);
            }
            let n: i64 = s.parse().map_err(|_| format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"))?;
            if n < 0 {
                return Err(format!("negative number ({n}) not allowed: {s}"));
            }
            Ok(n as u32)
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else {
            match range.split('-').collect::<Vec<_>>()[..] {
                [a] => {
                    let a = num(a)?;
                    (a, if step.is_some() { max } else { a })
                }
                [a, b] => (num(a)?, num(b)?),
                _ => return Err(format!("too many hyphens: {expr}")),
            }
        };
        if lo < min {
            return Err(format!("beginning of range ({lo}) below minimum ({min}): {expr}"));
        }
        if hi > max {
            return Err(format!("end of range ({hi}) above maximum ({max}): {expr}"));
        }
        if lo > hi {
            return Err(format!("beginning of range ({lo}) beyond end of range ({hi}): {expr}"));
        }
        if let Some(s) = step {
            if num(s)? == 0 {
                return Err(format!("step of range should be a positive number: {expr}"));
            }
        }
    }
    Ok(())
}

/// robfig/cron's ParseStandard, for validation.
pub fn parse_schedule(s: &str) -> Result<(), String> {
    if let Some(d) = s.strip_prefix("@every ") {
        return api::duration::parse_nanos(d).map(|_| ()).map_err(|e| format!("failed to parse duration @every {d}: {e}"));
    }
    if s.starts_with('@') {
        return match s {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => Err(format!("unrecognized descriptor: {s}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    parse_field(fields[0], 0, 59, &[])?;
    parse_field(fields[1], 0, 23, &[])?;
    parse_field(fields[2], 1, 31, &[])?;
    parse_field(fields[3], 1, 12, MONTHS)?;
    parse_field(fields[4], 0, 6, DAYS)?;
    Ok(())
}

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
        } else if let Err(e) = parse_schedule(sched) {
            errs.push(FieldError::invalid(&path.child("schedule"), sched, &e));
        }
        if let Some(tz) = spec.time_zone.as_deref() {
            if tz.is_empty() || tz == "Local" || tz.contains(' ') {
                errs.push(FieldError::invalid(&path.child("timeZone"), tz, &format!("unknown time zone {tz}")));
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
            assert_eq!(e.0.message, format!(r#"CronJob "hello" is invalid: spec.schedule: Invalid value: "{sched}": {msg}"#));
        }
        for ok in ["@hourly", "0 0 * * MON-FRI", "0 0 1 jan,jul ?", "@every 1h30m"] {
            assert!(parse_schedule(ok).is_ok(), "{ok}");
        }
        let mut always = cj("@daily");
        always["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let e = kind.admit_create(always).unwrap_err();
        assert_eq!(
            e.0.message,
            r#"CronJob "hello" is invalid: spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""#
        );
    }
}
