//! Go's time.ParseDuration and Duration.String(), and apimachinery's
//! HumanDuration / ShortHumanDuration (util/duration) for ages.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(pub String);

/// Go's strconv.Quote for the ASCII that durations contain.
fn quote(s: &str) -> String {
    format!("{s:?}")
}

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;

fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => NS,
        "us" | "µs" | "μs" => US,
        "ms" => MS,
        "s" => S,
        "m" => M,
        "h" => H,
        _ => return None,
    })
}

/// Go's time.ParseDuration: signed nanoseconds ("300ms", "-1.5h", "2h45m").
pub fn parse_nanos(orig: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError(format!("time: invalid duration {}", quote(orig)));
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // [0-9]*
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for c in &b[..n] {
            if v > (1 << 63) / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > 1 << 63 {
                return Err(invalid());
            }
        }
        let pre = n > 0;
        s = &s[n..];
        // (\.[0-9]*)?
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.starts_with('.') {
            s = &s[1..];
            let b = s.as_bytes();
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for c in &b[..n] {
                if overflow {
                    continue;
                }
                if f > ((1u64 << 63) - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > 1 << 63 {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = n > 0;
            s = &s[n..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let i = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if i == 0 {
            return Err(DurationError(format!("time: missing unit in duration {}", quote(orig))));
        }
        let u = &s[..i];
        s = &s[i..];
        let Some(unit) = unit(u) else {
            return Err(DurationError(format!("time: unknown unit {} in duration {}", quote(u), quote(orig))));
        };
        if v > (1 << 63) / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // float64 keeps fractions of hours nanosecond-accurate, as Go does
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > 1 << 63 {
                return Err(invalid());
            }
        }
        d += v;
        if d > 1 << 63 {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i128).wrapping_neg() as i64);
    }
    if d > (1 << 63) - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's time.ParseDuration for a non-negative duration (flags, timeouts).
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let n = parse_nanos(s)?;
    if n < 0 {
        return Err(DurationError(format!("invalid duration {}: must not be negative", quote(s))));
    }
    Ok(Duration::from_nanos(n as u64))
}

/// Writes `v / 10^prec` as ".123" (trailing zeros and an empty fraction dropped); returns the integer part.
fn frac(out: &mut String, v: u64, prec: u32) -> u64 {
    let mut digits = Vec::new();
    let mut v = v;
    let mut printed = false;
    for _ in 0..prec {
        let digit = v % 10;
        printed = printed || digit != 0;
        if printed {
            digits.push(b'0' + digit as u8);
        }
        v /= 10;
    }
    if printed {
        digits.reverse();
        out.push('.');
        out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    }
    v
}

/// Go's Duration.String() of signed nanoseconds: "1h30m0s", "300ms", "1.5µs", "0s".
pub fn format_nanos(d: i64) -> String {
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < S {
        if u == 0 {
            return "0s".into();
        }
        let (prec, suffix) = if u < US {
            (0, "ns")
        } else if u < MS {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let mut f = String::new();
        let int = frac(&mut f, u, prec);
        out = format!("{int}{f}{suffix}");
    } else {
        let mut f = String::new();
        let secs = frac(&mut f, u, 9);
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}{f}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Go's Duration.String() of a std Duration.
pub fn format(d: Duration) -> String {
    format_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// apimachinery's HumanDuration ("5s", "3m2s", "10m", "2d3h", "3y45d") of seconds.
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
        let (d, h) = (hours / 24, hours % 24);
        return if h == 0 { format!("{d}d") } else { format!("{d}d{h}h") };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let (y, d) = (hours / 24 / 365, (hours / 24) % 365);
        return if d == 0 { format!("{y}y") } else { format!("{y}y{d}d") };
    }
    format!("{}y", hours / 24 / 365)
}

/// apimachinery's ShortHumanDuration ("5s", "10m", "3h", "2d", "1y") of seconds.
pub fn short_human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let secs = secs.max(0);
    if secs < 60 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 60 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 24 {
        return format!("{hours}h");
    }
    if hours < 24 * 365 {
        return format!("{}d", hours / 24);
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_go() {
        // Go's time_test.go parseDurationTests
        for (s, want) in [
            ("0", 0i64),
            ("5s", 5 * S as i64),
            ("30s", 30 * S as i64),
            ("1478s", 1478 * S as i64),
            ("-5s", -5 * S as i64),
            ("+5s", 5 * S as i64),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5 * S as i64),
            ("5.6s", 5 * S as i64 + 600 * MS as i64),
            ("5.s", 5 * S as i64),
            (".5s", 500 * MS as i64),
            ("1.0s", S as i64),
            ("1.00s", S as i64),
            ("1.004s", S as i64 + 4 * MS as i64),
            ("1.0040s", S as i64 + 4 * MS as i64),
            ("100.00100s", 100 * S as i64 + MS as i64),
            ("10ns", 10),
            ("11us", 11 * US as i64),
            ("12µs", 12 * US as i64),
            ("12μs", 12 * US as i64),
            ("13ms", 13 * MS as i64),
            ("14s", 14 * S as i64),
            ("15m", 15 * M as i64),
            ("16h", 16 * H as i64),
            ("3h30m", 3 * H as i64 + 30 * M as i64),
            ("10.5s4m", 4 * M as i64 + 10 * S as i64 + 500 * MS as i64),
            ("-2m3.4s", -(2 * M as i64 + 3 * S as i64 + 400 * MS as i64)),
            ("1h2m3s4ms5us6ns", H as i64 + 2 * M as i64 + 3 * S as i64 + 4 * MS as i64 + 5 * US as i64 + 6),
            ("39h9m14.425s", 39 * H as i64 + 9 * M as i64 + 14 * S as i64 + 425 * MS as i64),
            ("52763797000ns", 52763797000),
            ("0.3333333333333333333h", 20 * M as i64),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.100000000000000000000h", 6 * M as i64),
            ("1m", M as i64),
            ("1h30m", 90 * M as i64),
            ("300ms", 300 * MS as i64),
            ("-1.5h", -(90 * M as i64)),
        ] {
            assert_eq!(parse_nanos(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn refuses_as_go() {
        for (s, msg) in [
            ("", "time: invalid duration \"\""),
            ("3", "time: missing unit in duration \"3\""),
            ("-", "time: invalid duration \"-\""),
            ("s", "time: invalid duration \"s\""),
            (".", "time: invalid duration \".\""),
            ("-.", "time: invalid duration \"-.\""),
            (".s", "time: invalid duration \".s\""),
            ("+.s", "time: invalid duration \"+.s\""),
            ("1d", "time: unknown unit \"d\" in duration \"1d\""),
            ("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""),
            ("9223372036854775.808us", "time: invalid duration \"9223372036854775.808us\""),
            ("9223372036854ms775us808ns", "time: invalid duration \"9223372036854ms775us808ns\""),
            ("-9223372036854775809ns", "time: invalid duration \"-9223372036854775809ns\""),
        ] {
            assert_eq!(parse_nanos(s).unwrap_err().0, msg, "{s}");
        }
        assert!(parse("-1s").is_err());
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn formats_as_go() {
        // Go's time_test.go durationTests
        for (d, want) in [
            (0i64, "0s"),
            (1, "1ns"),
            (1100, "1.1µs"),
            (2200 * US as i64, "2.2ms"),
            (3300 * MS as i64, "3.3s"),
            (4 * M as i64 + 5 * S as i64, "4m5s"),
            (4 * M as i64 + 5001 * MS as i64, "4m5.001s"),
            (5 * H as i64 + 6 * M as i64 + 7001 * MS as i64, "5h6m7.001s"),
            (8 * M as i64 + 1, "8m0.000000001s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            (-(90 * M as i64), "-1h30m0s"),
            (300 * MS as i64, "300ms"),
        ] {
            assert_eq!(format_nanos(d), want, "{d}");
        }
        assert_eq!(format(Duration::from_secs(10)), "10s");
    }

    #[test]
    fn human_durations() {
        let h = human_duration;
        for (secs, want) in [
            (5, "5s"),
            (119, "119s"),
            (180, "3m"),
            (182, "3m2s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600 + 120, "3h2m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (51 * 3600, "2d3h"),
            (10 * 86400, "10d"),
            (3 * 365 * 86400 + 45 * 86400, "3y45d"),
            (9 * 365 * 86400, "9y"),
            (-5, "<invalid>"),
            (-1, "0s"),
        ] {
            assert_eq!(h(secs), want, "{secs}");
        }
        assert_eq!(short_human_duration(59), "59s");
        assert_eq!(short_human_duration(3600 * 25), "1d");
        assert_eq!(short_human_duration(86400 * 400), "1y");
    }
}
