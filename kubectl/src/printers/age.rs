//! Ages of objects as upstream's printers show them (translateTimestampSince:
//! HumanDuration since a timestamp, "<unknown>" without one).

use api::duration::human_duration;
use chrono::{DateTime, Utc};

pub fn age_at(ts: Option<&str>, now: DateTime<Utc>) -> String {
    match ts.and_then(parse_time) {
        Some(t) => human_duration((now - t).num_seconds()),
        None => "<unknown>".into(),
    }
}

/// An RFC 3339 timestamp (metav1.Time) in UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_as_upstream() {
        let now = parse_time("2024-01-01T01:00:00Z").unwrap();
        assert_eq!(age_at(Some("2024-01-01T00:57:00Z"), now), "3m");
        assert_eq!(age_at(Some("2023-12-30T01:00:00Z"), now), "2d");
        assert_eq!(age_at(None, now), "<unknown>");
        assert_eq!(age_at(Some("yesterday"), now), "<unknown>");
    }
}
