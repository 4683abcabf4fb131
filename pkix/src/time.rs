//! Time encodings. Callers pass `now` in; nothing here reads a clock.

use chrono::{DateTime, Datelike, Utc};

fn to_datetime(unix_secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(unix_secs, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// `YYYYMMDDHHMMSSZ`.
pub fn format_generalized(unix_secs: i64) -> String {
    to_datetime(unix_secs).format("%Y%m%d%H%M%SZ").to_string()
}

/// `YYMMDDHHMMSSZ` for years 1950..=2049, as RFC 5280 requires; `None` outside.
pub fn format_utc_time(unix_secs: i64) -> Option<String> {
    let t = to_datetime(unix_secs);
    (1950..2050).contains(&t.year()).then(|| t.format("%y%m%d%H%M%SZ").to_string())
}

/// Parses an X.509 `Time` (UTCTime tag 0x17 or GeneralizedTime tag 0x18) in its
/// DER form (`Z`, no fractions) to Unix seconds.
pub fn parse_x509_time(tag: u8, value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let full = match tag {
        0x17 => {
            let yy: i32 = text.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        0x18 => text.to_owned(),
        _ => return None,
    };
    let naive = chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%SZ").ok()?;
    Some(naive.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = 1_700_000_000; // 2023-11-14T22:13:20Z
        assert_eq!(format_generalized(t), "20231114221320Z");
        assert_eq!(format_utc_time(t).as_deref(), Some("231114221320Z"));
        assert_eq!(parse_x509_time(0x17, b"231114221320Z"), Some(t));
        assert_eq!(parse_x509_time(0x18, b"20231114221320Z"), Some(t));
        assert_eq!(format_utc_time(2_600_000_000), None); // 2052
        assert_eq!(parse_x509_time(0x17, b"garbage"), None);
    }
}
