//! Human-readable ages, as upstream's `duration.HumanDuration` and
//! `ShortHumanDuration` (k8s.io/apimachinery/pkg/util/duration).

use chrono::{DateTime, Utc};

/// Upstream's HumanDuration: "5s", "3m2s", "10m", "2d3h", "3y45d".
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let secs = secs.max(0);
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        let d = hours / 24;
        return if h == 0 { format!("{d}d") } else { format!("{d}d{h}h") };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let d = (hours / 24) % 365;
        let y = hours / 24 / 365;
        return if d == 0 { format!("{y}y") } else { format!("{y}y{d}d") };
    }
    format!("{}y", hours / 24 / 365)
}

/// Upstream's translateTimestampSince: "<unknown>" for a missing time.
pub fn age(ts: Option<&str>) -> String {
    age_at(ts, Utc::now())
}

pub fn age_at(ts: Option<&str>, now: DateTime<Utc>) -> String {
    match ts.and_then(parse_time) {
        Some(t) => human_duration((now - t).num_seconds()),
        None => "<unknown>".into(),
    }
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::human_duration as h;

    #[test]
    fn matches_upstream_human_duration() {
        assert_eq!(h(5), "5s");
        assert_eq!(h(119), "119s");
        assert_eq!(h(182), "3m2s");
        assert_eq!(h(180), "3m");
        assert_eq!(h(600), "10m");
        assert_eq!(h(3 * 3600 - 1), "179m");
        assert_eq!(h(3 * 3600 + 120), "3h2m");
        assert_eq!(h(8 * 3600), "8h");
        assert_eq!(h(47 * 3600), "47h");
        assert_eq!(h(51 * 3600), "2d3h");
        assert_eq!(h(10 * 86400), "10d");
        assert_eq!(h(3 * 365 * 86400 + 45 * 86400), "3y45d");
        assert_eq!(h(9 * 365 * 86400), "9y");
        assert_eq!(h(-5), "<invalid>");
    }
}
