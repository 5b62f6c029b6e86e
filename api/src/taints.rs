//! Taints and tolerations: kubectl taint's spec parsing
//! (`key=value:Effect`, `key:Effect`, `key-`, `key:Effect-`) and upstream's
//! ToleratesTaint / FindMatchingUntoleratedTaint.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::validation;

pub const NO_SCHEDULE: &str = "NoSchedule";
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";

/// A taint spec kubectl refuses; the message is kubectl's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TaintError(pub String);

fn validate_effect(effect: &str) -> Result<(), TaintError> {
    if matches!(effect, NO_SCHEDULE | PREFER_NO_SCHEDULE | NO_EXECUTE) {
        Ok(())
    } else {
        Err(TaintError(format!("invalid taint effect: {effect}, unsupported taint effect")))
    }
}

/// kubectl's parseTaint: `<key>=<value>:<effect>`, `<key>:<effect>` or `<key>`.
pub fn parse_taint(st: &str) -> Result<Taint, TaintError> {
    let parts: Vec<&str> = st.split(':').collect();
    let (key, value, effect) = match parts.as_slice() {
        [key] => (*key, "", ""),
        [kv, effect] => {
            validate_effect(effect)?;
            let kv: Vec<&str> = kv.split('=').collect();
            match kv.as_slice() {
                [key] => (*key, "", *effect),
                [key, value] => {
                    let errs = validation::label_value(value);
                    if !errs.is_empty() {
                        return Err(TaintError(format!("invalid taint spec: {st}, {}", errs.join("; "))));
                    }
                    (*key, *value, *effect)
                }
                _ => return Err(TaintError(format!("invalid taint spec: {st}"))),
            }
        }
        _ => return Err(TaintError(format!("invalid taint spec: {st}"))),
    };
    let errs = validation::qualified_name(key);
    if !errs.is_empty() {
        return Err(TaintError(format!("invalid taint spec: {st}, {}", errs.join("; "))));
    }
    Ok(Taint { key: key.into(), value: (!value.is_empty()).then(|| value.into()), effect: effect.into(), time_added: None })
}

/// kubectl's parseTaints: taints to add and taints to remove (specs ending in "-").
pub fn parse_taints<S: AsRef<str>>(specs: &[S]) -> Result<(Vec<Taint>, Vec<Taint>), TaintError> {
    let (mut add, mut remove) = (Vec::<Taint>::new(), Vec::new());
    for spec in specs {
        let spec = spec.as_ref();
        if let Some(rest) = spec.strip_suffix('-') {
            let t = parse_taint(rest)?;
            remove.push(Taint { key: t.key, effect: t.effect, ..Default::default() });
            continue;
        }
        let t = parse_taint(spec)?;
        if t.effect.is_empty() {
            return Err(TaintError(format!("invalid taint spec: {spec}")));
        }
        if add.iter().any(|x| x.key == t.key && x.effect == t.effect) {
            return Err(TaintError(format!("duplicated taints with the same key and effect: {}", go_taint(&t))));
        }
        add.push(t);
    }
    Ok((add, remove))
}

/// Go's %v of a v1.Taint, as kubectl's duplicate message prints it.
fn go_taint(t: &Taint) -> String {
    format!("{{{} {} {} <nil>}}", t.key, t.value.as_deref().unwrap_or(""), t.effect)
}

/// upstream's Taint.ToString: `key=value:effect` or `key:effect`.
pub fn taint_to_string(t: &Taint) -> String {
    match t.value.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => format!("{}={v}:{}", t.key, t.effect),
        None => format!("{}:{}", t.key, t.effect),
    }
}

/// upstream's MatchTaint: same key and effect.
pub fn same_taint(a: &Taint, b: &Taint) -> bool {
    a.key == b.key && a.effect == b.effect
}

/// upstream's Toleration.ToleratesTaint.
pub fn toleration_tolerates_taint(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    if let Some(k) = t.key.as_deref().filter(|k| !k.is_empty()) {
        if k != taint.key {
            return false;
        }
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// upstream's TolerationsTolerateTaint.
pub fn tolerations_tolerate_taint(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| toleration_tolerates_taint(t, taint))
}

/// upstream's FindMatchingUntoleratedTaint: the first taint kept by `filter`
/// that no toleration tolerates.
pub fn find_untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration], filter: impl Fn(&Taint) -> bool) -> Option<&'a Taint> {
    taints.iter().filter(|t| filter(t)).find(|t| !tolerations_tolerate_taint(tolerations, t))
}

/// The scheduler's and the node controller's filter: NoSchedule and NoExecute taints.
pub fn does_not_schedule(t: &Taint) -> bool {
    t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint { key: key.into(), value: (!value.is_empty()).then(|| value.into()), effect: effect.into(), time_added: None }
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let o = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration { key: o(key), operator: o(op), value: o(value), effect: o(effect), toleration_seconds: None }
    }

    #[test]
    fn parses_as_kubectl() {
        // kubectl taint utils_test.go TestParseTaints cases
        let (add, remove) = parse_taints(&["foo=abc:NoSchedule", "bar:NoExecute", "baz-", "qux:NoSchedule-"]).unwrap();
        assert_eq!(add, [taint("foo", "abc", NO_SCHEDULE), taint("bar", "", NO_EXECUTE)]);
        assert_eq!(remove, [taint("baz", "", ""), taint("qux", "", NO_SCHEDULE)]);
        for (spec, msg) in [
            ("foo", "invalid taint spec: foo"),
            ("foo=abc", "invalid taint spec: foo=abc, name part must consist of"),
            ("foo=abc:Bogus", "invalid taint effect: Bogus, unsupported taint effect"),
            ("foo=a=b:NoSchedule", "invalid taint spec: foo=a=b:NoSchedule"),
            ("foo:bar:NoSchedule", "invalid taint spec: foo:bar:NoSchedule"),
            ("foo=a b:NoSchedule", "invalid taint spec: foo=a b:NoSchedule, a valid label must be"),
            (":NoSchedule", "invalid taint spec: :NoSchedule, name part must be non-empty"),
        ] {
            let e = parse_taints(&[spec]).unwrap_err();
            assert!(e.0.starts_with(msg), "{spec}: {e}");
        }
        let e = parse_taints(&["a=1:NoSchedule", "a=2:NoSchedule"]).unwrap_err();
        assert_eq!(e.0, "duplicated taints with the same key and effect: {a 2 NoSchedule <nil>}");
        assert_eq!(taint_to_string(&taint("k", "v", NO_SCHEDULE)), "k=v:NoSchedule");
        assert_eq!(taint_to_string(&taint("k", "", NO_EXECUTE)), "k:NoExecute");
    }

    #[test]
    fn tolerations_as_upstream() {
        // upstream core/v1 toleration_test.go TestTolerationToleratesTaint cases
        let t = taint("foo", "bar", NO_SCHEDULE);
        for (tl, want) in [
            (tol("", "", "", ""), false),
            (tol("foo", "Exists", "", ""), true),
            (tol("", "Exists", "", ""), true),
            (tol("foo", "Equal", "bar", NO_SCHEDULE), true),
            (tol("foo", "", "bar", ""), true),
            (tol("foo", "Equal", "baz", ""), false),
            (tol("foo", "Exists", "", NO_EXECUTE), false),
            (tol("bar", "Exists", "", ""), false),
            (tol("foo", "Lt", "bar", ""), false),
        ] {
            assert_eq!(toleration_tolerates_taint(&tl, &t), want, "{tl:?}");
        }
        let taints = [taint("a", "", PREFER_NO_SCHEDULE), taint("b", "", NO_SCHEDULE), taint("c", "", NO_EXECUTE)];
        let tols = [tol("b", "Exists", "", "")];
        assert_eq!(find_untolerated(&taints, &tols, does_not_schedule).map(|t| t.key.as_str()), Some("c"));
        assert_eq!(find_untolerated(&taints, &[tol("", "Exists", "", "")], |_| true), None);
    }
}
