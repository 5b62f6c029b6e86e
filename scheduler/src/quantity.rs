//! Parsing of resource.Quantity strings ("100m", "1Gi", "2e3") into integers.

/// The quantity in base units, rounded up (upstream's `Quantity.Value()`).
pub fn value(q: &str) -> i64 {
    scaled(q, 1.0)
}

/// The quantity in thousandths, rounded up (upstream's `Quantity.MilliValue()`).
pub fn milli_value(q: &str) -> i64 {
    scaled(q, 1000.0)
}

fn scaled(q: &str, factor: f64) -> i64 {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let Ok(n) = num.parse::<f64>() else { return 0 };
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => match s[1..].parse::<i32>() {
            Ok(e) => 10f64.powi(e),
            Err(_) => return 0,
        },
        _ => return 0,
    };
    let v = n * mult * factor;
    // Guard against float noise such as 0.1*1000 = 100.00000000000001.
    let r = v.round();
    if (v - r).abs() < 1e-6 {
        r as i64
    } else {
        v.ceil() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_suffixes() {
        assert_eq!(milli_value("100m"), 100);
        assert_eq!(milli_value("1"), 1000);
        assert_eq!(milli_value("0.5"), 500);
        assert_eq!(milli_value("1.5"), 1500);
        assert_eq!(value("1Gi"), 1 << 30);
        assert_eq!(value("200Mi"), 200 << 20);
        assert_eq!(value("1k"), 1000);
        assert_eq!(value("1e3"), 1000);
        assert_eq!(value("500M"), 500_000_000);
        assert_eq!(value("110"), 110);
        assert_eq!(value("1500m"), 2, "Value() rounds up");
    }
}
