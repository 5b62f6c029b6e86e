//! Kubernetes resource quantities ("100m", "64Mi", "1.5G", "2e3") as numbers.

/// Parse a quantity into its value times `scale` (1000 for millicores, 1 for bytes),
/// rounding up like upstream's `MilliValue`/`Value`.
pub fn parse_scaled(q: &str, scale: f64) -> Option<i64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match suffix {
        "" => 1.0,
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
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some((n * mult * scale - 1e-9).ceil() as i64)
}

/// CPU in millicores.
pub fn milli_cpu(q: &str) -> Option<i64> {
    parse_scaled(q, 1000.0)
}

/// Memory (or storage) in bytes.
pub fn bytes(q: &str) -> Option<i64> {
    parse_scaled(q, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(milli_cpu("100m"), Some(100));
        assert_eq!(milli_cpu("1"), Some(1000));
        assert_eq!(milli_cpu("0.5"), Some(500));
        assert_eq!(bytes("64Mi"), Some(64 << 20));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("128974848"), Some(128974848));
        assert_eq!(bytes("129e6"), Some(129_000_000));
        assert_eq!(bytes("12x"), None);
    }
}
