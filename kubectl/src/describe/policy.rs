//! Priority classes, disruption budgets, resource quotas and limit ranges,
//! as upstream's describePriorityClass, describePodDisruptionBudgetV1,
//! describeQuota and describeLimitRange (and the namespace sections that
//! reuse the last two).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{events, Evs, W};
use crate::printers::kinds::{canonical_quantity, selector_string};
use api::quantity::Quantity;
use crate::util::{arr, format_labels, i, s};

/// Upstream's describePriorityClass.
pub fn priorityclass(pc: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(pc)));
    w.w(0, &format!("Value:\t{}\n", i(pc, "/value")));
    w.w(0, &format!("GlobalDefault:\t{}\n", pc.get("globalDefault").and_then(Value::as_bool).unwrap_or(false)));
    w.w(0, &format!("PreemptionPolicy:\t{}\n", s(pc, "/preemptionPolicy")));
    w.w(0, &format!("Description:\t{}\n", s(pc, "/description")));
    // labels.FormatLabels: one line, the last-applied annotation included.
    w.w(0, &format!("Annotations:\t{}\n", format_labels(pc.pointer("/metadata/annotations"))));
    events(&mut w, evs, now);
    w.finish()
}

/// intstr.IntOrString's String().
fn int_or_string(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    }
}

/// Upstream's describePodDisruptionBudgetV1.
pub fn pdb(pdb: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(pdb)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(pdb)));
    if let Some(m) = pdb.pointer("/spec/minAvailable").filter(|v| !v.is_null()) {
        w.w(0, &format!("Min available:\t{}\n", int_or_string(m)));
    } else if let Some(m) = pdb.pointer("/spec/maxUnavailable").filter(|v| !v.is_null()) {
        w.w(0, &format!("Max unavailable:\t{}\n", int_or_string(m)));
    }
    match pdb.pointer("/spec/selector").filter(|v| !v.is_null()) {
        Some(sel) => w.w(0, &format!("Selector:\t{}\n", selector_string(Some(sel)))),
        None => w.w(0, "Selector:\t<unset>\n"),
    }
    w.w(0, "Status:\n");
    w.w(2, &format!("Allowed disruptions:\t{}\n", i(pdb, "/status/disruptionsAllowed")));
    w.w(2, &format!("Current:\t{}\n", i(pdb, "/status/currentHealthy")));
    w.w(2, &format!("Desired:\t{}\n", i(pdb, "/status/desiredHealthy")));
    w.w(2, &format!("Total:\t{}\n", i(pdb, "/status/expectedPods")));
    events(&mut w, evs, now);
    w.finish()
}

fn scope_help(scope: &str) -> &'static str {
    match scope {
        "Terminating" => "Matches all pods that have an active deadline. These pods have a limited lifespan on a node before being actively terminated by the system.",
        "NotTerminating" => "Matches all pods that do not have an active deadline. These pods usually include long running pods whose container command is not expected to terminate.",
        "BestEffort" => "Matches all pods that do not have resource requirements set. These pods have a best effort quality of service.",
        "NotBestEffort" => "Matches all pods that have at least one resource requirement set. These pods have a burstable or guaranteed quality of service.",
        _ => "",
    }
}

fn sorted_scopes(q: &Value) -> Vec<&str> {
    let mut scopes: Vec<&str> = arr(q, "/spec/scopes").iter().filter_map(Value::as_str).collect();
    scopes.sort_unstable();
    scopes
}

/// status.hard (quantities by resource name) with names sorted.
fn hard_of(q: &Value) -> (Vec<&String>, Option<&Map<String, Value>>) {
    let hard = q.pointer("/status/hard").and_then(Value::as_object);
    let mut names: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
    names.sort();
    (names, hard)
}

fn used_of<'a>(q: &'a Value, name: &str) -> Option<&'a str> {
    q.pointer("/status/used").and_then(|u| u.get(name)).and_then(Value::as_str)
}

/// describeQuota's Used cell: shown in the hard quantity's format when the
/// two differ (Go's NewQuantity(used.Value(), hard.Format)).
fn used_in_hard_format(used: Option<&str>, hard: &str) -> String {
    let hq = Quantity::parse(hard).ok();
    match (used.map(|u| (u, Quantity::parse(u).ok())), hq) {
        (Some((_, Some(u))), Some(h)) if u.format != h.format => Quantity::from_value(u.value(), h.format).to_string(),
        (Some((_, Some(u))), _) => u.to_string(),
        (Some((raw, None)), _) => raw.to_string(),
        // A missing used quantity has no format, so it is re-made in hard's: "0".
        (None, _) => "0".into(),
    }
}

/// Upstream's describeQuota (no labels, no events).
pub fn resourcequota(q: &Value) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(q)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(q)));
    let scopes = sorted_scopes(q);
    if !scopes.is_empty() {
        w.w(0, &format!("Scopes:\t{}\n", scopes.join(", ")));
        for sc in &scopes {
            let help = scope_help(sc);
            if !help.is_empty() {
                w.w(0, &format!(" * {help}\n"));
            }
        }
    }
    w.w(0, "Resource\tUsed\tHard\n");
    w.w(0, "--------\t----\t----\n");
    let (names, hard) = hard_of(q);
    for name in names {
        let h = hard.and_then(|h| h[name.as_str()].as_str()).unwrap_or("0");
        w.w(0, &format!("{name}\t{}\t{}\n", used_in_hard_format(used_of(q, name), h), canonical_quantity(h)));
    }
    w.finish()
}

/// DescribeResourceQuotas: the namespace's quotas, by name.
pub fn resource_quotas_section(w: &mut W, quotas: &[Value]) {
    if quotas.is_empty() {
        w.w(0, "No resource quota.\n");
        return;
    }
    let mut quotas: Vec<&Value> = quotas.iter().collect();
    quotas.sort_by(|a, b| crate::util::name(a).cmp(crate::util::name(b)));
    w.w(0, "Resource Quotas\n");
    for q in quotas {
        w.w(1, &format!("Name:\t{}\n", crate::util::name(q)));
        let scopes = sorted_scopes(q);
        if !scopes.is_empty() {
            w.w(1, &format!("Scopes:\t{}\n", scopes.join(", ")));
            for sc in &scopes {
                let help = scope_help(sc);
                if !help.is_empty() {
                    w.w(1, &format!("* {help}\n"));
                }
            }
        }
        w.w(1, "Resource\tUsed\tHard\n");
        w.w(1, "--------\t---\t---\n");
        let (names, hard) = hard_of(q);
        for name in names {
            let used = used_of(q, name).map_or("0".into(), canonical_quantity);
            let h = canonical_quantity(hard.and_then(|h| h[name.as_str()].as_str()).unwrap_or("0"));
            w.w(1, &format!("{name}\t{used}\t{h}\n"));
        }
    }
}

/// describeLimitRangeSpec: one row per limit and resource, "-" where unset.
/// Upstream walks a Go map (random order); resources are sorted here.
fn limit_rows(w: &mut W, lr: &Value, prefix: &str) {
    const COLS: [&str; 5] = ["min", "max", "defaultRequest", "default", "maxLimitRequestRatio"];
    for item in arr(lr, "/spec/limits") {
        let mut names: Vec<&String> = COLS.iter().filter_map(|c| item.get(*c).and_then(Value::as_object)).flat_map(|m| m.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let cell = |col: &str| item.get(col).and_then(|m| m.get(name.as_str())).and_then(Value::as_str).map_or("-".into(), canonical_quantity);
            w.w(
                0,
                &format!(
                    "{prefix}{}\t{name}\t{}\t{}\t{}\t{}\t{}\n",
                    s(item, "/type"),
                    cell("min"),
                    cell("max"),
                    cell("defaultRequest"),
                    cell("default"),
                    cell("maxLimitRequestRatio")
                ),
            );
        }
    }
}

/// Upstream's describeLimitRange (no labels, no events).
pub fn limitrange(lr: &Value) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(lr)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(lr)));
    w.w(0, "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n");
    w.w(0, "----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n");
    limit_rows(&mut w, lr, "");
    w.finish()
}

/// DescribeLimitRanges: every limit range of the namespace in one table.
pub fn limit_ranges_section(w: &mut W, ranges: &[Value]) {
    if ranges.is_empty() {
        w.w(0, "No LimitRange resource.\n");
        return;
    }
    w.w(0, "Resource Limits\n Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n");
    w.w(0, " ----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n");
    for lr in ranges {
        limit_rows(w, lr, " ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn priorityclass_and_pdb_like_upstream() {
        let now = chrono::Utc::now();
        let pc = json!({"metadata": {"name": "high", "annotations": {"team": "infra"}}, "value": 1000, "preemptionPolicy": "Never", "description": "for batch"});
        assert_eq!(
            priorityclass(&pc, Some(&mut []), now),
            "Name:              high\nValue:             1000\nGlobalDefault:     false\nPreemptionPolicy:  Never\nDescription:       for batch\nAnnotations:       team=infra\nEvents:            <none>\n"
        );
        // --show-events=false: no Events section at all.
        assert!(priorityclass(&pc, None, now).ends_with("Annotations:       team=infra\n"));
        let p = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptionsAllowed": 1, "currentHealthy": 4, "desiredHealthy": 3, "expectedPods": 4}});
        assert_eq!(
            pdb(&p, Some(&mut []), now),
            "Name:             web\nNamespace:        default\nMax unavailable:  25%\nSelector:         app=web\nStatus:\n    Allowed disruptions:  1\n    Current:              4\n    Desired:              3\n    Total:                4\nEvents:                   <none>\n"
        );
        // minAvailable wins over maxUnavailable; an empty selector is "<none>", a missing one "<unset>".
        let both = json!({"metadata": {"name": "b", "namespace": "ns"}, "spec": {"minAvailable": 2, "maxUnavailable": 1, "selector": {}}});
        assert!(pdb(&both, Some(&mut []), now).starts_with("Name:           b\nNamespace:      ns\nMin available:  2\nSelector:       <none>\nStatus:\n"));
        let bare = json!({"metadata": {"name": "b", "namespace": "ns"}, "spec": {}});
        assert!(pdb(&bare, Some(&mut []), now).starts_with("Name:       b\nNamespace:  ns\nSelector:   <unset>\nStatus:\n"));
    }

    #[test]
    fn quota_like_upstream() {
        let q = json!({"metadata": {"name": "compute", "namespace": "dev"}, "spec": {"scopes": ["NotTerminating", "BestEffort"]},
            "status": {"hard": {"pods": "10", "requests.memory": "1Gi", "limits.cpu": "2000m", "requests.cpu": "1"},
                       "used": {"pods": "3", "requests.memory": "0", "requests.cpu": "250m"}}});
        assert_eq!(
            resourcequota(&q),
            "Name:       compute\nNamespace:  dev\nScopes:     BestEffort, NotTerminating\n \
             * Matches all pods that do not have resource requirements set. These pods have a best effort quality of service.\n \
             * Matches all pods that do not have an active deadline. These pods usually include long running pods whose container command is not expected to terminate.\n\
             Resource         Used  Hard\n\
             --------         ----  ----\n\
             limits.cpu       0     2\n\
             pods             3     10\n\
             requests.cpu     250m  1\n\
             requests.memory  0     1Gi\n"
        );
        // A used quantity in another format is shown in the hard one's.
        let mixed = json!({"metadata": {"name": "m", "namespace": "dev"}, "status": {"hard": {"requests.memory": "2G"}, "used": {"requests.memory": "1Mi"}}});
        assert!(resourcequota(&mixed).ends_with("requests.memory  1048576  2G\n"), "{}", resourcequota(&mixed));
        // Before the quota controller has filled status: headers only.
        let fresh = json!({"metadata": {"name": "f", "namespace": "dev"}, "spec": {"hard": {"pods": "1"}}});
        assert_eq!(resourcequota(&fresh), "Name:       f\nNamespace:  dev\nResource    Used  Hard\n--------    ----  ----\n");
    }

    #[test]
    fn limitrange_like_upstream() {
        let lr = json!({"metadata": {"name": "limits", "namespace": "dev"}, "spec": {"limits": [
            {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "100m"}, "default": {"cpu": "500m", "memory": "512Mi"},
             "defaultRequest": {"cpu": "0.25"}, "maxLimitRequestRatio": {"cpu": "4"}},
            {"type": "Pod", "max": {"memory": "2048Mi"}}]}});
        assert_eq!(
            limitrange(&lr),
            "Name:       limits\nNamespace:  dev\n\
             Type        Resource  Min   Max  Default Request  Default Limit  Max Limit/Request Ratio\n\
             ----        --------  ---   ---  ---------------  -------------  -----------------------\n\
             Container   cpu       100m  2    250m             500m           4\n\
             Container   memory    -     1Gi  -                512Mi          -\n\
             Pod         memory    -     2Gi  -                -              -\n"
        );
    }

    #[test]
    fn namespace_sections_like_upstream() {
        let q = json!({"metadata": {"name": "q"}, "status": {"hard": {"pods": "4"}, "used": {"pods": "1"}}});
        let lr = json!({"metadata": {"name": "l"}, "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]}});
        let mut w = W::default();
        resource_quotas_section(&mut w, &[q]);
        w.w(0, "\n");
        limit_ranges_section(&mut w, &[lr]);
        assert_eq!(
            w.finish(),
            "Resource Quotas\n  Name:     q\n  Resource  Used  Hard\n  --------  ---   ---\n  pods      1     4\n\nResource Limits\n \
             Type       Resource  Min  Max  Default Request  Default Limit  Max Limit/Request Ratio\n \
             ----       --------  ---  ---  ---------------  -------------  -----------------------\n \
             Container  cpu       -    -    -                1              -\n"
        );
        let mut w = W::default();
        resource_quotas_section(&mut w, &[]);
        limit_ranges_section(&mut w, &[]);
        assert_eq!(w.finish(), "No resource quota.\nNo LimitRange resource.\n");
    }
}
