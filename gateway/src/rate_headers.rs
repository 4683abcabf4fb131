//! The `RateLimit-Policy` and `RateLimit` headers (IETF httpapi
//! ratelimit-headers): every policy that applies to the request (the
//! stream's rate, the key's daily and monthly quotas), and the state of the
//! tightest, the one with the fewest requests left.

use crate::ratelimit::Gcra;
use crate::usage::{Period, QuotaState};
use http::{HeaderMap, HeaderValue};

pub fn rate_limit_headers(
    headers: &mut HeaderMap,
    gcra: &Gcra,
    remaining: u64,
    reset_secs: u64,
    quotas: &[QuotaState],
) {
    let mut policy = format!("\"stream\";q={};w={}", gcra.burst, gcra.window_secs());
    let mut tightest = ("stream", remaining, reset_secs);
    for quota in quotas {
        // A quota in bytes is named apart and carries its unit (`qu`).
        let (name, unit) = match (quota.period, quota.in_bytes) {
            (Period::Day, false) => ("day", ""),
            (Period::Month, false) => ("month", ""),
            (Period::Day, true) => ("day-bytes", ";qu=\"content-bytes\""),
            (Period::Month, true) => ("month-bytes", ";qu=\"content-bytes\""),
        };
        policy.push_str(&format!(", \"{name}\";q={}{unit};w={}", quota.quota, quota.window_secs));
        if quota.remaining < tightest.1 {
            tightest = (name, quota.remaining, quota.reset_secs);
        }
    }
    let (name, remaining, reset) = tightest;
    let state = format!("\"{name}\";r={remaining};t={reset}");
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_policy_is_reported() {
        let gcra = Gcra::new(10.0, 20);
        let day = QuotaState {
            period: Period::Day,
            quota: 100,
            remaining: 7,
            reset_secs: 600,
            window_secs: 86_400,
            in_bytes: false,
        };
        let mut headers = HeaderMap::new();
        rate_limit_headers(&mut headers, &gcra, 15, 0, &[day]);
        assert_eq!(headers["ratelimit-policy"], "\"stream\";q=20;w=2, \"day\";q=100;w=86400");
        assert_eq!(headers["ratelimit"], "\"day\";r=7;t=600");
        rate_limit_headers(&mut headers, &gcra, 3, 0, &[day]);
        assert_eq!(headers["ratelimit"], "\"stream\";r=3;t=0");
        let spent = QuotaState { remaining: 0, in_bytes: true, ..day };
        rate_limit_headers(&mut headers, &gcra, 3, 0, &[spent]);
        assert_eq!(
            headers["ratelimit-policy"],
            "\"stream\";q=20;w=2, \"day-bytes\";q=100;qu=\"content-bytes\";w=86400"
        );
        assert_eq!(headers["ratelimit"], "\"day-bytes\";r=0;t=600");
    }
}
