//! resource.Quantity, exact: parse ("100m", "1.5", "128Mi", "1G", "1e3"),
//! compare, add/sub, `Value`/`MilliValue` (rounded up), and upstream's
//! canonical String() ("0.5" -> "500m", "1000" -> "1k", "1024Mi" -> "1Gi").

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

/// Upstream's message for an unparsable quantity (ErrFormatWrong).
pub const SYNTAX_ERROR: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("{}", SYNTAX_ERROR)]
    Syntax,
    /// Beyond what an exact nano count (i128) holds; upstream's inf.Dec has no limit.
    #[error("quantity is too large")]
    TooLarge,
}

/// How the quantity was written; canonical printing keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// A quantity as an exact count of nano-units (parsing rounds up below 1n, as
/// upstream). Equality and order are by value; the format only affects printing.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    pub nanos: i128,
    pub format: Format,
}

const NANO: i128 = 1_000_000_000;

/// A resource list (name -> quantity), as v1.ResourceList.
pub type ResourceList = BTreeMap<String, Quantity>;

impl Default for Quantity {
    fn default() -> Self {
        Quantity::zero()
    }
}

impl Quantity {
    pub fn zero() -> Self {
        Quantity { nanos: 0, format: Format::DecimalSI }
    }

    /// upstream's NewQuantity(value, format).
    pub fn from_value(value: i64, format: Format) -> Self {
        Quantity { nanos: value as i128 * NANO, format }
    }

    /// upstream's NewMilliQuantity(milli, format).
    pub fn from_milli(milli: i64, format: Format) -> Self {
        Quantity { nanos: milli as i128 * (NANO / 1000), format }
    }

    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        use QuantityError::{Syntax, TooLarge};
        let (neg, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, suffix) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(Syntax);
        }
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        // value = digits * 10^(-frac_len) * base * 10^exp
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
                let digits = s[1..].trim_start_matches(['+', '-']);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Syntax);
                }
                let e: i32 = s[1..].parse().map_err(|_| TooLarge)?;
                if !(-40..=40).contains(&e) {
                    return Err(TooLarge);
                }
                (1, e, Format::DecimalExponent)
            }
            _ => return Err(Syntax),
        };
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(TooLarge);
        }
        let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| Syntax)? };
        // nanos = mantissa * base * 10^(exp + 9 - frac_len), rounded up (away from zero)
        let shift = exp + 9 - frac_part.len() as i32;
        let mut v = mantissa.checked_mul(base).ok_or(TooLarge)?;
        if shift >= 0 {
            v = v.checked_mul(10i128.checked_pow(shift as u32).ok_or(TooLarge)?).ok_or(TooLarge)?;
        } else {
            match 10i128.checked_pow((-shift) as u32) {
                Some(d) => v = v / d + i128::from(v % d != 0),
                None => v = i128::from(v != 0),
            }
        }
        Ok(Quantity { nanos: if neg { -v } else { v }, format })
    }

    /// Parses a k8s-openapi quantity.
    pub fn from_k8s(q: &K8sQuantity) -> Result<Self, QuantityError> {
        Quantity::parse(&q.0)
    }

    /// The canonical k8s-openapi quantity.
    pub fn to_k8s(&self) -> K8sQuantity {
        K8sQuantity(self.to_string())
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// upstream's Add: a zero receiver takes the other's format.
    pub fn add(&mut self, o: &Quantity) {
        if self.nanos == 0 {
            self.format = o.format;
        }
        self.nanos += o.nanos;
    }

    /// upstream's Sub: a zero receiver takes the other's format.
    pub fn sub(&mut self, o: &Quantity) {
        if self.nanos == 0 {
            self.format = o.format;
        }
        self.nanos -= o.nanos;
    }

    /// The value scaled to 10^scale units, rounded up (upstream's ScaledValue).
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let shift = 9 + scale;
        let v = if shift >= 0 {
            let d = 10i128.pow(shift as u32);
            self.nanos.div_euclid(d) + i128::from(self.nanos.rem_euclid(d) != 0)
        } else {
            self.nanos * 10i128.pow((-shift) as u32)
        };
        v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// Whole units, rounded up (upstream's Value).
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// Thousandths, rounded up (upstream's MilliValue).
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// The value as a float, for scoring and sorting only.
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }

    /// upstream's RoundUp(Milli), applied to every ResourceList on decode.
    pub fn round_up_milli(&self) -> Quantity {
        let m = NANO / 1000;
        let r = self.nanos.rem_euclid(m);
        let nanos = if r == 0 { self.nanos } else { self.nanos - r + m };
        Quantity { nanos, format: self.format }
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, o: &Self) -> bool {
        self.nanos == o.nanos
    }
}
impl Eq for Quantity {}
impl Hash for Quantity {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.nanos.hash(h)
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

impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(mut self, o: Quantity) -> Quantity {
        Quantity::add(&mut self, &o);
        self
    }
}
impl std::ops::Sub for Quantity {
    type Output = Quantity;
    fn sub(mut self, o: Quantity) -> Quantity {
        Quantity::sub(&mut self, &o);
        self
    }
}
impl std::ops::AddAssign for Quantity {
    fn add_assign(&mut self, o: Quantity) {
        Quantity::add(self, &o)
    }
}
impl std::ops::SubAssign for Quantity {
    fn sub_assign(&mut self, o: Quantity) {
        Quantity::sub(self, &o)
    }
}

/// Canonical print of `nanos` with decimal suffixes (or exponents).
fn decimal(nanos: i128, exponent: bool) -> String {
    if nanos == 0 {
        return "0".into();
    }
    // the largest power of 1000 (from n up to E) that divides exactly
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
                // upstream falls back to decimal below 1Ki and for fractions
                if self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0 {
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

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Quantity::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Canonical form of a quantity string as the apiserver stores it (rounded up
/// to milli), or None if unparsable.
pub fn canonical(s: &str) -> Option<String> {
    Quantity::parse(s).ok().map(|q| q.round_up_milli().to_string())
}

/// A k8s-openapi resource list parsed; entries that do not parse are left out
/// (the apiserver refuses them, so only unvalidated objects have any).
pub fn resource_list(list: Option<&BTreeMap<String, K8sQuantity>>) -> ResourceList {
    list.into_iter().flatten().filter_map(|(k, v)| Quantity::from_k8s(v).ok().map(|q| (k.clone(), q))).collect()
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
        assert_eq!(q("1E3").nanos, 1000 * NANO);
        assert_eq!(q("1e-3").nanos, NANO / 1000);
        assert_eq!(q("-2").nanos, -2 * NANO);
        assert_eq!(q("+2").nanos, 2 * NANO);
        assert_eq!(q(".5").nanos, NANO / 2);
        assert_eq!(q("5.").nanos, 5 * NANO);
        assert_eq!(q("0.1n").nanos, 1, "rounded up to 1n");
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1Gi"), q("1073741824"), "equality is by value, not format");
        for bad in ["", "abc", "1.2.3", "1Q", "Mi", "1e", "1 Gi", ".", "1i", "1KI", "e3", "--1", "1e+"] {
            assert_eq!(Quantity::parse(bad), Err(QuantityError::Syntax), "{bad}");
        }
        assert_eq!(QuantityError::Syntax.to_string(), SYNTAX_ERROR);
    }

    #[test]
    fn canonical_forms_match_upstream() {
        // upstream quantity_test.go TestQuantityCanonicalize / TestQuantityParse cases
        for (input, want) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1000", "1k"),
            ("1e3", "1e3"),
            ("1024Mi", "1Gi"),
            ("1536", "1536"),
            ("1.5Ki", "1536"),
            ("0.5Ki", "512"),
            ("128Mi", "128Mi"),
            ("0.0001", "1m"),
            ("0", "0"),
            ("0Mi", "0"),
            ("1.5G", "1500M"),
            ("1Ki", "1Ki"),
            ("1023", "1023"),
            ("1024", "1024"),
            ("1025Ki", "1025Ki"),
            ("12e6", "12e6"),
            ("1000E", "1000E"),
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("-1.5", "-1500m"),
            ("-100Mi", "-100Mi"),
            ("1M", "1M"),
            ("1000000", "1M"),
        ] {
            assert_eq!(canonical(input).unwrap(), want, "{input}");
        }
        assert_eq!(q("100n").to_string(), "100n", "without milli rounding");
        assert_eq!(q("1500u").to_string(), "1500u");
    }

    #[test]
    fn values_round_up_as_upstream() {
        assert_eq!(q("1Ki").value(), 1024);
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("0.5").milli_value(), 500);
        assert_eq!(q("2").milli_value(), 2000);
        assert_eq!(q("1Gi").scaled_value(6), 1074);
        assert_eq!(q("250m").as_f64(), 0.25);
    }

    #[test]
    fn add_and_sub_keep_upstream_formats() {
        let mut a = Quantity::zero();
        a.add(&q("64Mi"));
        a.add(&q("128Mi"));
        assert_eq!(a.to_string(), "192Mi");
        let b = q("1") - q("250m");
        assert_eq!(b.to_string(), "750m");
        assert_eq!((q("1Gi") + q("1G")).format, Format::BinarySI);
        assert_eq!(Quantity::from_milli(1500, Format::DecimalSI).to_string(), "1500m");
        assert_eq!(Quantity::from_value(2048, Format::BinarySI).to_string(), "2Ki");
    }

    #[test]
    fn serde_and_resource_lists() {
        let v: Quantity = serde_json::from_str("\"1000m\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"1\"");
        let raw: BTreeMap<String, K8sQuantity> =
            [("cpu".to_string(), K8sQuantity("500m".into())), ("bad".to_string(), K8sQuantity("x".into()))].into();
        let l = resource_list(Some(&raw));
        assert_eq!(l.len(), 1);
        assert_eq!(l["cpu"].milli_value(), 500);
    }
}
