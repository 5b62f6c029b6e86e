//! Resource quantities ("100m", "1.5Gi", "2") as upstream's
//! resource.Quantity: parsing to milli-units, adding, and the canonical
//! String() form that describe prints.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    BinarySI,
    DecimalSI,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The value in thousandths of a unit.
    pub milli: i128,
    pub format: Format,
}

impl Default for Quantity {
    fn default() -> Self {
        Quantity { milli: 0, format: Format::DecimalSI }
    }
}

impl Quantity {
    pub fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
        let (num, suffix) = s.split_at(split);
        let (mult_num, mult_den, format): (i128, i128, Format) = match suffix {
            "" => (1, 1, Format::DecimalSI),
            "n" => (1, 1_000_000_000, Format::DecimalSI),
            "u" => (1, 1_000_000, Format::DecimalSI),
            "m" => (1, 1000, Format::DecimalSI),
            "k" => (1_000, 1, Format::DecimalSI),
            "M" => (1_000_000, 1, Format::DecimalSI),
            "G" => (1_000_000_000, 1, Format::DecimalSI),
            "T" => (1_000_000_000_000, 1, Format::DecimalSI),
            "P" => (1_000_000_000_000_000, 1, Format::DecimalSI),
            "E" => (1_000_000_000_000_000_000, 1, Format::DecimalSI),
            "Ki" => (1 << 10, 1, Format::BinarySI),
            "Mi" => (1 << 20, 1, Format::BinarySI),
            "Gi" => (1 << 30, 1, Format::BinarySI),
            "Ti" => (1 << 40, 1, Format::BinarySI),
            "Pi" => (1 << 50, 1, Format::BinarySI),
            "Ei" => (1 << 60, 1, Format::BinarySI),
            e if e.starts_with(['e', 'E']) => {
                let exp: u32 = e[1..].parse().ok()?;
                (10i128.checked_pow(exp)?, 1, Format::DecimalSI)
            }
            _ => return None,
        };
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        let neg = int_part.starts_with('-');
        let int_digits = int_part.trim_start_matches(['+', '-']);
        let mut scaled: i128 = 0;
        let mut den: i128 = 1;
        for c in int_digits.chars().chain(frac_part.chars()) {
            scaled = scaled.checked_mul(10)?.checked_add(c.to_digit(10)? as i128)?;
        }
        for _ in 0..frac_part.len() {
            den *= 10;
        }
        let milli = scaled.checked_mul(mult_num)?.checked_mul(1000)? / (den * mult_den);
        Some(Quantity { milli: if neg { -milli } else { milli }, format })
    }

    /// Adds `other`, keeping this quantity's format (upstream's Add).
    pub fn add(&mut self, other: Quantity) {
        if self.milli == 0 {
            self.format = other.format;
        }
        self.milli += other.milli;
    }

    /// The value in whole units, rounded up (Go's Value()).
    pub fn value(&self) -> i128 {
        (self.milli + 999).div_euclid(1000)
    }

    /// Go's Quantity.String(): the canonical form.
    pub fn to_go_string(&self) -> String {
        if self.milli == 0 {
            return "0".into();
        }
        let whole = self.milli % 1000 == 0;
        if self.format == Format::BinarySI && whole && self.milli.abs() >= 1024 * 1000 {
            let mut v = self.milli / 1000;
            let mut k = 0;
            while v % 1024 == 0 && k < 6 {
                v /= 1024;
                k += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
            return format!("{v}{suffix}");
        }
        // Decimal: remove factors of 1000 from the milli value.
        let mut v = self.milli;
        let mut e = -3i32;
        while v % 1000 == 0 && e < 18 {
            v /= 1000;
            e += 3;
        }
        let suffix = match e {
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        format!("{v}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        Quantity::parse(s).unwrap().to_go_string()
    }

    #[test]
    fn canonical_forms_like_go() {
        assert_eq!(q("100m"), "100m");
        assert_eq!(q("0.5"), "500m");
        assert_eq!(q("2000m"), "2");
        assert_eq!(q("1500m"), "1500m");
        assert_eq!(q("1Gi"), "1Gi");
        assert_eq!(q("1024Mi"), "1Gi");
        assert_eq!(q("1536Mi"), "1536Mi");
        assert_eq!(q("1000"), "1k");
        assert_eq!(q("128974848"), "128974848");
        assert_eq!(q("0"), "0");
        let mut a = Quantity::parse("64Mi").unwrap();
        a.add(Quantity::parse("128Mi").unwrap());
        assert_eq!(a.to_go_string(), "192Mi");
        assert_eq!(Quantity::parse("1Ki").unwrap().value(), 1024);
        assert!(Quantity::parse("12x").is_none());
    }
}
