//! IntOrString values that are counts or percentages of a total
//! (apimachinery's util/intstr GetScaledValueFromIntOrPercent), as
//! maxSurge, maxUnavailable and minAvailable use them.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Why a value is not a count or a percentage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for IntOrString: invalid type: string is not a percentage")]
pub struct NotAPercentage;

/// An int is itself; "N%" is N% of `total`, rounded up or down
/// (upstream's GetScaledValueFromIntOrPercent).
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, NotAPercentage> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let n: i64 = s.strip_suffix('%').and_then(|n| n.parse().ok()).ok_or(NotAPercentage)?;
            let scaled = n * i64::from(total);
            let v = if round_up { (scaled + 99).div_euclid(100) } else { scaled.div_euclid(100) };
            Ok(v as i32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentages_round_as_upstream() {
        let p = |s: &str| IntOrString::String(s.into());
        assert_eq!(scaled_value(&IntOrString::Int(3), 10, true), Ok(3));
        assert_eq!(scaled_value(&p("25%"), 3, true), Ok(1));
        assert_eq!(scaled_value(&p("25%"), 3, false), Ok(0));
        assert_eq!(scaled_value(&p("25%"), 10, true), Ok(3));
        assert_eq!(scaled_value(&p("25%"), 10, false), Ok(2));
        assert_eq!(scaled_value(&p("100%"), 7, false), Ok(7));
        assert_eq!(scaled_value(&p("0%"), 7, true), Ok(0));
        assert_eq!(scaled_value(&p("10"), 7, true), Err(NotAPercentage));
        assert_eq!(scaled_value(&p("x%"), 7, true), Err(NotAPercentage));
    }
}
