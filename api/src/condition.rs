//! metav1.Condition lists (apimachinery's api/meta SetStatusCondition and
//! FindStatusCondition), as PodDisruptionBudget and newer kinds use them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// The condition of type `ty`, if any.
pub fn find_status_condition<'a>(conditions: &'a [Condition], ty: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == ty)
}

/// Adds `new` or updates the condition of its type; lastTransitionTime
/// becomes `new`'s (normally now) only when the status changes. Returns
/// whether anything changed.
pub fn set_status_condition(conditions: &mut Vec<Condition>, new: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        None => {
            conditions.push(new);
            true
        }
        Some(c) => {
            let mut changed = false;
            if c.status != new.status {
                c.status = new.status;
                c.last_transition_time = new.last_transition_time;
                changed = true;
            }
            if c.reason != new.reason {
                c.reason = new.reason;
                changed = true;
            }
            if c.message != new.message {
                c.message = new.message;
                changed = true;
            }
            if c.observed_generation != new.observed_generation {
                c.observed_generation = new.observed_generation;
                changed = true;
            }
            changed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn t(s: i64) -> Time {
        Time(Timestamp::from_second(s).unwrap())
    }

    fn cond(status: &str, reason: &str, at: i64) -> Condition {
        Condition { type_: "DisruptionAllowed".into(), status: status.into(), reason: reason.into(), message: String::new(), observed_generation: Some(1), last_transition_time: t(at) }
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut cs = Vec::new();
        assert!(set_status_condition(&mut cs, cond("True", "SufficientPods", 10)));
        assert_eq!(cs[0].last_transition_time, t(10));
        assert!(!set_status_condition(&mut cs, cond("True", "SufficientPods", 20)));
        assert!(set_status_condition(&mut cs, Condition { message: "m".into(), ..cond("True", "SufficientPods", 30) }));
        assert_eq!(cs[0].last_transition_time, t(10), "same status: time kept");
        assert!(set_status_condition(&mut cs, Condition { message: String::new(), ..cond("False", "InsufficientPods", 40) }));
        assert_eq!((cs[0].status.as_str(), cs[0].reason.as_str(), cs[0].last_transition_time.clone()), ("False", "InsufficientPods", t(40)));
        assert_eq!(find_status_condition(&cs, "DisruptionAllowed").map(|c| c.message.as_str()), Some(""));
        assert!(find_status_condition(&cs, "Other").is_none());
    }
}
