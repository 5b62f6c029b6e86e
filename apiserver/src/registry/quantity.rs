//! resource.Quantity: parse ("100m", "1.5", "128Mi", "1G", "1e3"), compare,
//! add, and print in upstream's canonical form ("0.5" -> "500m", "1000" -> "1k").

use std::cmp::Ordering;
use std::fmt;

/// Upstream's message for an unparsable quantity.
pub const SYNTAX_ERROR: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// How the quantity was written; canonical printing keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// A quantity as an exact count of nano-units (rounded up below 1n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    pub nanos: i128,
    pub format: Format,
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    pub fn zero() -> Self {
        Quantity { nanos: 0, format: Format::DecimalSI }
    }

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let (neg, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, suffix) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(SYNTAX_ERROR);
        }
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        // value = digits * 10^(-frac_len) * multiplier
        let (base, exp, format): (i128, i32, Format) = match suffix {
            "" => (1, 0, Format::DecimalSI),
            "n" => (1, -9, Format::DecimalSI),
            "u" => (1, -6, Format::DecimalSI),
            "m" => (1, -3, Format::DecimalSI),
            "k" => (1, 3, Format::DecimalSI),
            "M" => (1, 6, Format::DecimalSI),
            "G" => (1, 9, Format::DecimalSI),
            "T" => (1, 12, Format::DecimalSI),
            "P" => (1, 15, Format::DecimalSI),
            "E" => (1, 18, Format::DecimalSI),
            "Ki" => (1 << 10, 0, Format::BinarySI),
            "Mi" => (1 << 20, 0, Format::BinarySI),
            "Gi" => (1 << 30, 0, Format::BinarySI),
            "Ti" => (1 << 40, 0, Format::BinarySI),
            "Pi" => (1 << 50, 0, Format::BinarySI),
            "Ei" => (1 << 60, 0, Format::BinarySI),
            s if s.starts_with(['e', 'E']) => {
                let e: i32 = s[1..].parse().map_err(|_| SYNTAX_ERROR)?;
                if s.len() == 1 || !(-40..=40).contains(&e) {
                    return Err(SYNTAX_ERROR);
                }
                (1, e, Format::DecimalExponent)
            }
            _ => return Err(SYNTAX_ERROR),
        };
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err("quantity is too large");
        }
        let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| SYNTAX_ERROR)? };
        // nanos = mantissa * base * 10^(exp + 9 - frac_len), rounded up
        let shift = exp + 9 - frac_part.len() as i32;
        let mut v = mantissa.checked_mul(base).ok_or("quantity is too large")?;
        if shift >= 0 {
            v = v.checked_mul(10i128.checked_pow(shift as u32).ok_or("quantity is too large")?).ok_or("quantity is too large")?;
        } else {
            let d = 10i128.checked_pow((-shift) as u32).unwrap_or(i128::MAX);
            v = (v + d - 1) / d;
        }
        Ok(Quantity { nanos: if neg { -v } else { v }, format })
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn add(&self, o: &Quantity) -> Quantity {
        Quantity { nanos: self.nanos + o.nanos, format: self.format }
    }

    /// Upstream's RoundUp(milli) applied to every ResourceList on decode.
    pub fn round_up_milli(&self) -> Quantity {
        let m = NANO / 1000;
        let r = self.nanos.rem_euclid(m);
        let nanos = if r == 0 { self.nanos } else { self.nanos - r + m };
        Quantity { nanos, format: self.format }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Quantity {
    fn cmp(&self, o: &Self) -> Ordering {
        self.nanos.cmp(&o.nanos)
    }
}

/// Canonical print of `nanos` with decimal suffixes (or exponents).
fn decimal(nanos: i128, exponent: bool) -> String {
    if nanos == 0 {
        return "0".into();
    }
    // pick the largest power of 1000 (from n up to E) that divides exactly
    const SI: [&str; 10] = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
    let mut idx = 0;
    let mut v = nanos;
    while idx < SI.len() - 1 && v % 1000 == 0 {
        v /= 1000;
        idx += 1;
    }
    let e = (idx as i32 - 3) * 3;
    if exponent {
        if e == 0 { v.to_string() } else { format!("{v}e{e}") }
    } else {
        format!("{v}{}", SI[idx])
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.format {
            Format::DecimalSI => decimal(self.nanos, false),
            Format::DecimalExponent => decimal(self.nanos, true),
            Format::BinarySI => {
                let whole = self.nanos % NANO == 0;
                if self.nanos.abs() < 1024 * NANO || !whole {
                    decimal(self.nanos, false)
                } else {
                    let mut v = self.nanos / NANO;
                    let mut idx = 0;
                    const BIN: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
                    while idx < BIN.len() - 1 && v % 1024 == 0 {
                        v /= 1024;
                        idx += 1;
                    }
                    format!("{v}{}", BIN[idx])
                }
            }
        };
        f.write_str(&s)
    }
}

/// Canonical form of a quantity string as stored (rounded up to milli), or None if unparsable.
pub fn canonical(s: &str) -> Option<String> {
    Quantity::parse(s).ok().map(|q| q.round_up_milli().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn parses_all_forms() {
        assert_eq!(q("100m").nanos, 100_000_000);
        assert_eq!(q("1.5").nanos, 1_500_000_000);
        assert_eq!(q("128Mi").nanos, 128 * (1 << 20) * NANO);
        assert_eq!(q("1G").nanos, 1_000_000_000 * NANO);
        assert_eq!(q("1e3").nanos, 1000 * NANO);
        assert_eq!(q("-2").nanos, -2 * NANO);
        assert_eq!(q(".5").nanos, NANO / 2);
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1000m"), Quantity { nanos: NANO, format: Format::DecimalSI });
        for bad in ["", "abc", "1.2.3", "1Q", "Mi", "1e", "1 Gi"] {
            assert_eq!(Quantity::parse(bad), Err(SYNTAX_ERROR), "{bad}");
        }
    }

    #[test]
    fn canonical_forms_match_upstream() {
        assert_eq!(canonical("0.5").unwrap(), "500m");
        assert_eq!(canonical("1000m").unwrap(), "1");
        assert_eq!(canonical("1000").unwrap(), "1k");
        assert_eq!(canonical("1e3").unwrap(), "1e3");
        assert_eq!(canonical("1024Mi").unwrap(), "1Gi");
        assert_eq!(canonical("1536").unwrap(), "1536");
        assert_eq!(canonical("1.5Ki").unwrap(), "1536");
        assert_eq!(canonical("0.5Ki").unwrap(), "512");
        assert_eq!(canonical("128Mi").unwrap(), "128Mi");
        assert_eq!(canonical("0.0001").unwrap(), "1m");
        assert_eq!(canonical("0").unwrap(), "0");
        assert_eq!(canonical("1.5G").unwrap(), "1500M");
    }
}
