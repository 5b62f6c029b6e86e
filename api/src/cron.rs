//! Cron schedules as upstream's CronJobs read them: robfig/cron v3's
//! `ParseStandard` (five fields minute hour day-of-month month day-of-week,
//! `*`, `?`, ranges, lists, `/step`, month and day names, the `@yearly` ..
//! `@hourly` descriptors, `@every <Go duration>`, a `TZ=`/`CRON_TZ=` prefix)
//! and `Schedule.Next`, in a time zone read from the system's tzdata
//! (/usr/share/zoneinfo), as Go's `time.LoadLocation`.
//!
//! The apiserver validates `spec.schedule` and `spec.timeZone` with this
//! module and the CronJob controller computes start times with it: one
//! parser, so what validation accepts is what the controller runs.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// A schedule that did not parse, with robfig/cron's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

/// Set on a day field written as `*` or `?` (robfig's starBit): a
/// day-of-month and a day-of-week both restricted match either; otherwise both.
const STAR: u64 = 1 << 63;

/// A parsed schedule (robfig's SpecSchedule or ConstantDelaySchedule).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    kind: Kind,
    /// From a `TZ=` prefix or [`Schedule::in_time_zone`]; None = the local zone.
    location: Option<TimeZone>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Spec { minute: u64, hour: u64, dom: u64, month: u64, dow: u64 },
    /// `@every`: whole seconds, at least one.
    Every(i64),
}

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTH: Bounds = Bounds { min: 1, max: 12, names: MONTHS };
const DOW: Bounds = Bounds { min: 0, max: 6, names: DAYS };

fn bits(min: u32, max: u32, step: u32) -> u64 {
    if step == 1 {
        return !(u64::MAX << (max + 1)) & (u64::MAX << min);
    }
    (min..=max).step_by(step as usize).fold(0, |b, i| b | 1 << i)
}

fn all(b: &Bounds) -> u64 {
    bits(b.min, b.max, 1) | STAR
}

/// robfig's mustParseInt.
fn must_parse_int(s: &str) -> Result<u32, CronError> {
    let n: i64 = s.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        CronError(format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: {why}"))
    })?;
    if n < 0 {
        return Err(CronError(format!("negative number ({n}) not allowed: {s}")));
    }
    u32::try_from(n).map_err(|_| CronError(format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: value out of range")))
}

/// robfig's parseIntOrName.
fn int_or_name(s: &str, b: &Bounds) -> Result<u32, CronError> {
    if let Some(i) = b.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + b.min);
    }
    must_parse_int(s)
}

/// robfig's getRange: one comma-separated term.
fn range(expr: &str, b: &Bounds) -> Result<u64, CronError> {
    let (range, step) = match expr.split('/').collect::<Vec<_>>()[..] {
        [r] => (r, None),
        [r, s] => (r, Some(s)),
        _ => return Err(CronError(format!("too many slashes: {expr}"))),
    };
    let mut extra = 0;
    let (start, mut end, single) = if range == "*" || range == "?" {
        extra = STAR;
        (b.min, b.max, false)
    } else {
        match range.split('-').collect::<Vec<_>>()[..] {
            [a] => {
                let a = int_or_name(a, b)?;
                (a, a, true)
            }
            [a, z] => (int_or_name(a, b)?, int_or_name(z, b)?, false),
            _ => return Err(CronError(format!("too many hyphens: {expr}"))),
        }
    };
    let step = match step {
        None => 1,
        Some(s) => {
            let s = must_parse_int(s)?;
            // "N/step" means "N-max/step".
            if single {
                end = b.max;
            }
            if s > 1 {
                extra = 0;
            }
            s
        }
    };
    if start < b.min {
        return Err(CronError(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min)));
    }
    if end > b.max {
        return Err(CronError(format!("end of range ({end}) above maximum ({}): {expr}", b.max)));
    }
    if start > end {
        return Err(CronError(format!("beginning of range ({start}) beyond end of range ({end}): {expr}")));
    }
    if step == 0 {
        return Err(CronError(format!("step of range should be a positive number: {expr}")));
    }
    Ok(bits(start, end, step) | extra)
}

/// robfig's getField: a comma-separated list of ranges.
fn field(f: &str, b: &Bounds) -> Result<u64, CronError> {
    f.split(',').try_fold(0, |acc, expr| Ok(acc | range(expr, b)?))
}

/// Go's time.LoadLocation: "" and "UTC" are UTC, "Local" the system's
/// zone, anything else a tzdata name ("unknown time zone X" if none).
pub fn load_location(name: &str) -> Result<TimeZone, CronError> {
    match name {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(TimeZone::system()),
        _ => TimeZone::get(name).map_err(|_| CronError(format!("unknown time zone {name}"))),
    }
}

/// upstream's validateTimeZone for `spec.timeZone`: the message of the
/// field error, if any.
pub fn validate_time_zone(tz: &str) -> Result<(), String> {
    if tz.is_empty() {
        return Err("timeZone must be nil or non-empty string".into());
    }
    let valid_part = |p: &str| (1..=14).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c));
    if tz.split('/').any(|p| p == "." || p == ".." || p.starts_with('-') || !valid_part(p)) {
        return Err(format!("unknown time zone {tz}"));
    }
    if tz.eq_ignore_ascii_case("Local") {
        return Err("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones".into());
    }
    load_location(tz).map(|_| ()).map_err(|e| e.0)
}

/// robfig/cron's ParseStandard.
pub fn parse(spec: &str) -> Result<Schedule, CronError> {
    if spec.is_empty() {
        return Err(CronError("empty spec string".into()));
    }
    let mut location = None;
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').expect("has =");
        let Some(sp) = spec.find(' ') else { return Err(CronError(format!("provided bad location {}: unknown time zone {0}", &spec[eq + 1..]))) };
        let name = &spec[eq + 1..sp];
        location = Some(load_location(name).map_err(|e| CronError(format!("provided bad location {name}: {e}")))?);
        spec = spec[sp..].trim();
    }
    if spec.starts_with('@') {
        return descriptor(spec).map(|kind| Schedule { kind, location });
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(CronError(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" "))));
    }
    let kind = Kind::Spec {
        minute: field(fields[0], &MINUTES)?,
        hour: field(fields[1], &HOURS)?,
        dom: field(fields[2], &DOM)?,
        month: field(fields[3], &MONTH)?,
        dow: field(fields[4], &DOW)?,
    };
    Ok(Schedule { kind, location })
}

/// robfig's parseDescriptor.
fn descriptor(d: &str) -> Result<Kind, CronError> {
    let one = |b: &Bounds| 1u64 << b.min;
    let spec = |minute, hour, dom, month, dow| Ok(Kind::Spec { minute, hour, dom, month, dow });
    match d {
        "@yearly" | "@annually" => spec(one(&MINUTES), one(&HOURS), one(&DOM), one(&MONTH), all(&DOW)),
        "@monthly" => spec(one(&MINUTES), one(&HOURS), one(&DOM), all(&MONTH), all(&DOW)),
        "@weekly" => spec(one(&MINUTES), one(&HOURS), all(&DOM), all(&MONTH), one(&DOW)),
        "@daily" | "@midnight" => spec(one(&MINUTES), one(&HOURS), all(&DOM), all(&MONTH), all(&DOW)),
        "@hourly" => spec(one(&MINUTES), all(&HOURS), all(&DOM), all(&MONTH), all(&DOW)),
        _ => {
            let Some(every) = d.strip_prefix("@every ") else { return Err(CronError(format!("unrecognized descriptor: {d}"))) };
            let nanos = crate::duration::parse_nanos(every).map_err(|e| CronError(format!("failed to parse duration {d}: {e}")))?;
            // robfig's Every: at least a second, whole seconds.
            Ok(Kind::Every((nanos / 1_000_000_000).max(1)))
        }
    }
}

impl Schedule {
    /// The schedule read in `tz` (upstream prefixes `TZ=<spec.timeZone>`).
    pub fn in_time_zone(mut self, tz: TimeZone) -> Self {
        self.location = Some(tz);
        self
    }

    /// Whether this is an `@every` schedule.
    pub fn is_every(&self) -> bool {
        matches!(self.kind, Kind::Every(_))
    }

    /// The first activation strictly after `t` (whole seconds), or None if
    /// there is none within five years (robfig's Next returning zero).
    pub fn next(&self, t: Timestamp) -> Option<Timestamp> {
        let subsec = SignedDuration::from_nanos(i64::from(t.subsec_nanosecond()));
        match self.kind {
            Kind::Every(secs) => t.checked_add(SignedDuration::from_secs(secs) - subsec).ok(),
            Kind::Spec { minute, hour, dom, month, dow } => {
                let tz = self.location.clone().unwrap_or_else(TimeZone::system);
                let start = t.checked_add(SignedDuration::from_secs(1) - subsec).ok()?;
                spec_next(minute, hour, dom, month, dow, start.to_zoned(tz)).map(|z| z.timestamp())
            }
        }
    }
}

/// robfig's SpecSchedule.Next from `t` (already at the upcoming second),
/// stepping months, days (minding DST at midnight), hours and minutes in
/// the zone of `t`.
fn spec_next(minute: u64, hour: u64, dom: u64, month: u64, dow: u64, mut t: Zoned) -> Option<Zoned> {
    let tz = t.time_zone().clone();
    let at = |y: i16, mo: i8, d: i8, h: i8, mi: i8| jiff::civil::date(y, mo, d).at(h, mi, 0, 0).to_zoned(tz.clone()).ok();
    let has = |bits: u64, v: i8| bits & (1 << v as u32) != 0;
    let day_matches = |t: &Zoned| {
        let d = has(dom, t.day());
        let w = has(dow, t.weekday().to_sunday_zero_offset());
        if dom & STAR != 0 || dow & STAR != 0 {
            d && w
        } else {
            d || w
        }
    };
    let hours = |n: i64| SignedDuration::from_hours(n);
    let mut added = false;
    let year_limit = t.year() + 5;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while !has(month, t.month()) {
            if !added {
                added = true;
                t = at(t.year(), t.month(), 1, 0, 0)?;
            }
            t = t.checked_add(jiff::Span::new().months(1)).ok()?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(&t) {
            if !added {
                added = true;
                t = at(t.year(), t.month(), t.day(), 0, 0)?;
            }
            t = t.checked_add(jiff::Span::new().days(1)).ok()?;
            // Midnight may not exist (DST): go back to the day's start.
            let h = i64::from(t.hour());
            if h != 0 {
                t = t.checked_add(if h > 12 { hours(24 - h) } else { hours(-h) }).ok()?;
            }
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while !has(hour, t.hour()) {
            if !added {
                added = true;
                t = at(t.year(), t.month(), t.day(), t.hour(), 0)?;
            }
            t = t.checked_add(hours(1)).ok()?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while !has(minute, t.minute()) {
            if !added {
                added = true;
                t = t.checked_sub(SignedDuration::from_secs(i64::from(t.second()))).ok()?;
            }
            t = t.checked_add(SignedDuration::from_mins(1)).ok()?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        // The standard parser's seconds field is always 0.
        while t.second() != 0 {
            added = true;
            t = t.checked_add(SignedDuration::from_secs(1)).ok()?;
            if t.second() == 0 {
                continue 'wrap;
            }
        }
        return Some(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn utc(spec: &str) -> Schedule {
        parse(spec).unwrap().in_time_zone(TimeZone::UTC)
    }

    #[test]
    fn parse_errors_have_robfigs_messages() {
        for (spec, msg) in [
            ("", "empty spec string"),
            ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
            ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
            ("61 * * * *", "end of range (61) above maximum (59): 61"),
            ("x * * * *", r#"failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax"#),
            ("-1 * * * *", r#"failed to parse int from : strconv.Atoi: parsing "": invalid syntax"#),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
            ("*/0 * * * *", "step of range should be a positive number: */0"),
            ("1/2/3 * * * *", "too many slashes: 1/2/3"),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("* * * * 7", "end of range (7) above maximum (6): 7"),
            ("* * * foo *", r#"failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax"#),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            ("@every 1x", r#"failed to parse duration @every 1x: time: unknown unit "x" in duration "1x""#),
            ("TZ=Nowhere/Land 0 * * * *", "provided bad location Nowhere/Land: unknown time zone Nowhere/Land"),
        ] {
            assert_eq!(parse(spec).unwrap_err().0, msg, "{spec:?}");
        }
        for ok in ["@hourly", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "0 0 * * MON-FRI", "0 0 1 jan,jul ?", "@every 1h30m", "*/5 * * * *", "5/15 1-3,20 * DEC sun", "CRON_TZ=Europe/Paris 0 9 * * *"] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    /// robfig/cron's TestNext cases that the five-field parser can express.
    #[test]
    fn next_matches_robfig_table() {
        for (from, spec, want) in [
            // Simple cases
            ("2012-07-09T14:45:00Z", "0/15 * * * *", "2012-07-09T15:00:00Z"),
            ("2012-07-09T14:59:59Z", "0/15 * * * *", "2012-07-09T15:00:00Z"),
            ("2012-07-09T14:59:00Z", "0/15 * * * *", "2012-07-09T15:00:00Z"),
            // Wrap around hours
            ("2012-07-09T15:45:00Z", "20-35/15 * * * *", "2012-07-09T16:20:00Z"),
            // Wrap around days
            ("2012-07-09T23:46:00Z", "*/15 * * * *", "2012-07-10T00:00:00Z"),
            ("2012-07-09T23:45:00Z", "20-35/15 * * * *", "2012-07-10T00:20:00Z"),
            ("2012-07-09T23:35:51Z", "20-35/15 * * * *", "2012-07-10T00:20:00Z"),
            ("2012-07-09T23:35:51Z", "20-35/15 1/2 * * *", "2012-07-10T01:20:00Z"),
            ("2012-07-09T23:35:51Z", "20-35/15 10-12 * * *", "2012-07-10T10:20:00Z"),
            ("2012-07-09T23:35:51Z", "20-35/15 1/2 */2 * *", "2012-07-11T01:20:00Z"),
            ("2012-07-09T23:35:51Z", "20-35/15 * 9-20 * *", "2012-07-10T00:20:00Z"),
            ("2012-07-09T23:35:51Z", "20-35/15 * 9-20 Jul *", "2012-07-10T00:20:00Z"),
            // Wrap around months
            ("2012-07-09T23:35:00Z", "0 0 9 Apr-Oct ?", "2012-08-09T00:00:00Z"),
            // v3: a stepped day field is no star, so day-of-month OR day-of-week (robfig #70).
            ("2012-07-09T23:35:00Z", "0 0 */5 Apr,Aug,Oct Mon", "2012-08-01T00:00:00Z"),
            ("2012-07-09T23:35:00Z", "0 0 */5 Oct Mon", "2012-10-01T00:00:00Z"),
            // Wrap around years
            ("2012-07-09T23:35:00Z", "0 0 * Feb Mon", "2013-02-04T00:00:00Z"),
            ("2012-07-09T23:35:00Z", "0 0 * Feb Mon/2", "2013-02-01T00:00:00Z"),
            // Wrap around minute, hour, day, month, and year
            ("2012-12-31T23:59:45Z", "* * * * *", "2013-01-01T00:00:00Z"),
            // Leap year
            ("2012-07-09T23:35:00Z", "0 0 29 Feb ?", "2016-02-29T00:00:00Z"),
            // Unsatisfiable
            ("2012-07-09T23:35:00Z", "0 0 30 Feb ?", ""),
            ("2012-07-09T23:35:00Z", "0 0 31 Apr ?", ""),
            // Descriptors
            ("2012-07-09T23:35:00Z", "@hourly", "2012-07-10T00:00:00Z"),
            ("2012-07-09T23:35:00Z", "@daily", "2012-07-10T00:00:00Z"),
            ("2012-07-09T23:35:00Z", "@weekly", "2012-07-15T00:00:00Z"),
            ("2012-07-09T23:35:00Z", "@monthly", "2012-08-01T00:00:00Z"),
            ("2012-07-09T23:35:00Z", "@yearly", "2013-01-01T00:00:00Z"),
            // Day of month and day of week both restricted: either matches.
            ("2012-07-09T23:35:00Z", "0 0 15 * Fri", "2012-07-13T00:00:00Z"),
            ("2012-07-09T23:35:00Z", "0 0 10 * Fri", "2012-07-10T00:00:00Z"),
        ] {
            let got = utc(spec).next(ts(from)).map(|t| t.to_string());
            let want = (!want.is_empty()).then(|| want.to_string());
            assert_eq!(got, want, "{spec} after {from}");
        }
    }

    /// robfig/cron v3's TestNext daylight-saving cases (their six-field
    /// specs with the seconds field dropped).
    #[test]
    fn next_across_daylight_saving_as_robfig() {
        for (from, spec, want) in [
            // 2am EST -> 3am EDT.
            ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 30 2 11 Mar ?", "2013-03-11T02:30:00-04:00"),
            ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-03-11T01:00:00-05:00"),
            ("2012-03-11T01:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-03-11T03:00:00-04:00"),
            ("2012-03-11T03:00:00-04:00", "CRON_TZ=America/New_York 0 * * * ?", "2012-03-11T04:00:00-04:00"),
            ("2012-03-11T01:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-03-12T01:00:00-04:00"),
            ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 2 * * ?", "2012-03-12T02:00:00-04:00"),
            // 2am EDT -> 1am EST: 1am happens twice.
            ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 30 2 04 Nov ?", "2012-11-04T02:30:00-05:00"),
            ("2012-11-04T01:45:00-04:00", "TZ=America/New_York 30 1 04 Nov ?", "2012-11-04T01:30:00-05:00"),
            ("2012-11-04T01:00:00-04:00", "TZ=America/New_York 0 * * * ?", "2012-11-04T01:00:00-05:00"),
            ("2012-11-04T01:00:00-04:00", "TZ=America/New_York 0 1 * * ?", "2012-11-04T01:00:00-05:00"),
            ("2012-11-04T01:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-11-05T01:00:00-05:00"),
            ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 2 * * ?", "2012-11-04T02:00:00-05:00"),
            ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 3 3 * ?", "2012-12-03T03:00:00-05:00"),
            // Midnight does not exist in Sao Paulo on the DST day (robfig #157).
            ("2018-10-17T05:00:00-04:00", "TZ=America/Sao_Paulo 0 9 10 * ?", "2018-11-10T06:00:00-05:00"),
            ("2018-02-14T05:00:00-05:00", "TZ=America/Sao_Paulo 0 9 22 * ?", "2018-02-22T07:00:00-05:00"),
        ] {
            let got = parse(spec).unwrap().next(ts(from));
            assert_eq!(got, Some(ts(want)), "{spec} after {from}");
        }
    }

    #[test]
    fn every_adds_whole_seconds_from_the_second() {
        let s = utc("@every 1h30m");
        assert!(s.is_every());
        assert_eq!(s.next(ts("2024-01-01T00:00:00.5Z")), Some(ts("2024-01-01T01:30:00Z")));
        assert_eq!(utc("@every 100ms").next(ts("2024-01-01T00:00:00Z")), Some(ts("2024-01-01T00:00:01Z")), "at least a second");
        assert_eq!(utc("@every 1.5s").next(ts("2024-01-01T00:00:00Z")), Some(ts("2024-01-01T00:00:01Z")), "whole seconds");
    }

    #[test]
    fn time_zones_move_the_schedule_and_dst_is_minded() {
        // 09:00 in New York is 13:00 UTC in summer (EDT), 14:00 in winter (EST).
        let ny = TimeZone::get("America/New_York").unwrap();
        let s = parse("0 9 * * *").unwrap().in_time_zone(ny.clone());
        assert_eq!(s.next(ts("2024-07-01T00:00:00Z")), Some(ts("2024-07-01T13:00:00Z")));
        assert_eq!(s.next(ts("2024-01-01T00:00:00Z")), Some(ts("2024-01-01T14:00:00Z")));
        // The TZ= prefix does the same.
        assert_eq!(parse("TZ=America/New_York 0 9 * * *").unwrap().next(ts("2024-07-01T00:00:00Z")), Some(ts("2024-07-01T13:00:00Z")));
        // 02:xx does not exist on 2024-03-10 in New York: hours step from
        // 01:00 EST to 03:00 EDT, so (as robfig) the next run is the day after.
        let gap = parse("30 2 * * *").unwrap().in_time_zone(ny);
        assert_eq!(gap.next(ts("2024-03-10T05:00:00Z")), Some(ts("2024-03-11T06:30:00Z")));
        // Every hour in Kolkata (+05:30) is on the local hour.
        let kol = parse("0 * * * *").unwrap().in_time_zone(TimeZone::get("Asia/Kolkata").unwrap());
        assert_eq!(kol.next(ts("2024-01-01T00:00:00Z")), Some(ts("2024-01-01T00:30:00Z")));
    }

    #[test]
    fn time_zone_validation_as_upstream() {
        assert_eq!(validate_time_zone("Europe/Paris"), Ok(()));
        assert_eq!(validate_time_zone("UTC"), Ok(()));
        assert_eq!(validate_time_zone("").unwrap_err(), "timeZone must be nil or non-empty string");
        assert_eq!(validate_time_zone("Local").unwrap_err(), "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
        assert_eq!(validate_time_zone("Europe/Nowhere").unwrap_err(), "unknown time zone Europe/Nowhere");
        assert_eq!(validate_time_zone("../etc/passwd").unwrap_err(), "unknown time zone ../etc/passwd");
        assert_eq!(validate_time_zone("America/New York").unwrap_err(), "unknown time zone America/New York");
    }
}
