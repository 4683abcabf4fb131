//! Time encodings. Callers pass `now` in; nothing here reads a clock.

use chrono::{DateTime, Utc};

fn to_datetime(unix_secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(unix_secs, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Year, month, day, hour, minute, second (UTC) of a Unix time, by Howard
/// Hinnant's `civil_from_days`: integer arithmetic only, because the
/// pre-signer formats three times per response and chrono's formatter cost
/// several percent of a signature.
fn civil(unix_secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (days, secs) = (unix_secs.div_euclid(86_400), unix_secs.rem_euclid(86_400));
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs / 3_600, secs % 3_600 / 60, secs % 60)
}

/// The digits of `fields`, two each, after `year_digits` of the year, then `Z`.
fn digits(year: i64, year_digits: u32, rest: [i64; 5]) -> String {
    let mut out = String::with_capacity(15);
    for place in (0..year_digits).rev() {
        out.push(char::from(b'0' + (year / 10i64.pow(place) % 10) as u8));
    }
    for field in rest {
        out.push(char::from(b'0' + (field / 10) as u8));
        out.push(char::from(b'0' + (field % 10) as u8));
    }
    out.push('Z');
    out
}

/// `YYYYMMDDHHMMSSZ`.
pub fn format_generalized(unix_secs: i64) -> String {
    match civil(unix_secs) {
        (year @ 0..=9999, mo, d, h, mi, s) => digits(year, 4, [mo, d, h, mi, s]),
        _ => to_datetime(unix_secs).format("%Y%m%d%H%M%SZ").to_string(),
    }
}

/// `YYMMDDHHMMSSZ` for years 1950..=2049, as RFC 5280 requires; `None` outside.
pub fn format_utc_time(unix_secs: i64) -> Option<String> {
    let (year, mo, d, h, mi, s) = civil(unix_secs);
    (1950..2050).contains(&year).then(|| digits(year % 100, 2, [mo, d, h, mi, s]))
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

    #[test]
    fn integer_formatting_agrees_with_chrono() {
        let mut t: i64 = -62_135_596_800; // 0001-01-01
        let mut step: i64 = 1;
        while t < 253_402_300_799 {
            // 9999-12-31T23:59:59Z
            let reference = to_datetime(t);
            assert_eq!(format_generalized(t), reference.format("%Y%m%d%H%M%SZ").to_string(), "{t}");
            let utc = (1950..2050).contains(&chrono::Datelike::year(&reference));
            assert_eq!(format_utc_time(t), utc.then(|| reference.format("%y%m%d%H%M%SZ").to_string()), "{t}");
            t += step;
            step = (step * 3 + 7) % 40_000_000;
        }
    }
}
