//! Usage plans: quotas per API key per UTC day and calendar month, in
//! requests and in bytes (`[[plans]]`, named by an API key's `plan`), as
//! API gateways' usage plans do. Counted in this process, or on Redis when
//! `[ratelimit] backend = "redis"` (one hash per key and period, hash-tagged
//! by key, expiring after its period), so N gateways count a key once.
//!
//! A request is admitted when one more request and its declared length fit
//! in both periods; a body without a declared length is counted once read.

use crate::redis_link::RedisLink;
use crate::shared_limit::OnBackendError;
use chrono::{Datelike, TimeZone, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// `[[plans]]` in the gateway's TOML; an absent limit is no limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    pub name: String,
    pub requests_per_day: Option<u64>,
    pub requests_per_month: Option<u64>,
    pub bytes_per_day: Option<u64>,
    pub bytes_per_month: Option<u64>,
}

/// The limits of a period: requests, bytes.
type Limits = (Option<u64>, Option<u64>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
}

impl Period {
    pub fn label(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }
}

#[derive(Debug)]
pub struct Plan {
    pub name: String,
    /// Day, then month.
    limits: [Limits; 2],
}

impl Plan {
    pub fn new(config: &PlanConfig) -> Self {
        Self {
            name: config.name.clone(),
            limits: [
                (config.requests_per_day, config.bytes_per_day),
                (config.requests_per_month, config.bytes_per_month),
            ],
        }
    }
}

/// Where a period stands after a decision, for the RateLimit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    pub period: Period,
    pub quota: u64,
    pub remaining: u64,
    pub reset_secs: u64,
    /// The period's length (a day, this month's days).
    pub window_secs: u64,
    /// Counted in body bytes, not requests.
    pub in_bytes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quota {
    /// Admitted; the request quotas' states (day, month, as limited).
    Allow(Vec<QuotaState>),
    /// Over a quota: its state (nothing left until it starts again).
    Exceeded(QuotaState),
    /// Redis cannot say and `on_backend_error = "deny"`.
    Unavailable,
}

/// Counts of one key in the current day and month: (period id, requests, bytes).
type Counts = [(u64, u64, u64); 2];

/// The pure decision: whether `add` (requests, bytes) fits in `used` under
/// `limits` (`force`: counted whatever), and the requests left per period;
/// a refusal names the period (0 day, 1 month) and whether bytes were over.
fn decide(
    used: [(u64, u64); 2],
    add: (u64, u64),
    limits: &[Limits; 2],
    force: bool,
) -> Result<[Option<u64>; 2], (usize, bool)> {
    if !force {
        for (i, ((requests, bytes), (max_requests, max_bytes))) in used.iter().zip(limits).enumerate() {
            let over =
                |used: u64, add: u64, max: Option<u64>| max.is_some_and(|max| used.saturating_add(add) > max);
            if over(*requests, add.0, *max_requests) {
                return Err((i, false));
            }
            if over(*bytes, add.1, *max_bytes) {
                return Err((i, true));
            }
        }
    }
    Ok([0, 1].map(|i| limits[i].0.map(|max| max.saturating_sub(used[i].0 + add.0))))
}

/// `ARGV`: requests, bytes to add; day and month limits (requests, bytes;
/// -1 none); the two keys' lifetimes (s); force (1: add without checking).
/// Returns `{1, left_day, left_month}` (-1: no limit) or `{0, period,
/// bytes}` (period 0 day, 1 month; bytes 1 when bytes were over).
const USAGE_SCRIPT: &str = r"
local add_r, add_b = tonumber(ARGV[1]), tonumber(ARGV[2])
local force = ARGV[9] == '1'
local used = {}
for i = 1, 2 do
  local r = tonumber(redis.call('HGET', KEYS[i], 'r') or '0')
  local b = tonumber(redis.call('HGET', KEYS[i], 'b') or '0')
  local max_r, max_b = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  if not force and max_r >= 0 and r + add_r > max_r then return {0, i - 1, 0} end
  if not force and max_b >= 0 and b + add_b > max_b then return {0, i - 1, 1} end
  used[i] = r
end
local left = {}
for i = 1, 2 do
  if add_r > 0 then redis.call('HINCRBY', KEYS[i], 'r', add_r) end
  if add_b > 0 then redis.call('HINCRBY', KEYS[i], 'b', add_b) end
  redis.call('EXPIRE', KEYS[i], ARGV[6 + i])
  local max_r = tonumber(ARGV[1 + 2 * i])
  left[i] = -1
  if max_r >= 0 then left[i] = math.max(max_r - used[i] - add_r, 0) end
end
return {1, left[1], left[2]}
";

pub struct Usage {
    local: Mutex<HashMap<String, Counts>>,
    shared: Option<Arc<RedisLink>>,
    script: redis::Script,
}

impl Usage {
    pub fn new(shared: Option<Arc<RedisLink>>) -> Self {
        Self { local: Mutex::default(), shared, script: redis::Script::new(USAGE_SCRIPT) }
    }

    /// Admits one request of `declared` bytes (0 when not declared) for `key`.
    pub async fn admit(&self, key: &str, plan: &Plan, declared: u64, now_secs: u64) -> Quota {
        self.count(key, plan, (1, declared), false, now_secs).await
    }

    /// Counts `bytes` read from a body whose length was not declared.
    pub async fn add_bytes(&self, key: &str, plan: &Plan, bytes: u64, now_secs: u64) {
        let _ = self.count(key, plan, (0, bytes), true, now_secs).await;
    }

    async fn count(&self, key: &str, plan: &Plan, add: (u64, u64), force: bool, now: u64) -> Quota {
        let periods = periods(now);
        let decided = match &self.shared {
            Some(link) => match self.count_shared(link, key, plan, add, force, &periods).await {
                Ok(decided) => decided,
                Err(error) => match link.failed("usage", &error) {
                    OnBackendError::Deny => return Quota::Unavailable,
                    OnBackendError::Local => self.count_local(key, plan, add, force, &periods),
                },
            },
            None => self.count_local(key, plan, add, force, &periods),
        };
        match decided {
            Ok(left) => Quota::Allow(
                left.iter()
                    .zip(&plan.limits)
                    .zip(&periods)
                    .filter_map(|((left, (max, _)), p)| {
                        Some(QuotaState {
                            period: p.period,
                            quota: (*max)?,
                            remaining: (*left)?,
                            reset_secs: p.reset,
                            window_secs: p.window,
                            in_bytes: false,
                        })
                    })
                    .collect(),
            ),
            Err((i, in_bytes)) => {
                let ((requests, bytes), p) = (plan.limits[i], periods[i]);
                let quota = if in_bytes { bytes } else { requests }.unwrap_or(0);
                Quota::Exceeded(QuotaState {
                    period: p.period,
                    quota,
                    remaining: 0,
                    reset_secs: p.reset,
                    window_secs: p.window,
                    in_bytes,
                })
            }
        }
    }

    fn count_local(
        &self,
        key: &str,
        plan: &Plan,
        add: (u64, u64),
        force: bool,
        periods: &[PeriodNow; 2],
    ) -> Result<[Option<u64>; 2], (usize, bool)> {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let counts = local.entry(key.to_owned()).or_default();
        for (count, period) in counts.iter_mut().zip(periods) {
            if count.0 != period.id {
                *count = (period.id, 0, 0);
            }
        }
        let used = [(counts[0].1, counts[0].2), (counts[1].1, counts[1].2)];
        let left = decide(used, add, &plan.limits, force)?;
        for count in counts.iter_mut() {
            count.1 += add.0;
            count.2 += add.1;
        }
        Ok(left)
    }

    async fn count_shared(
        &self,
        link: &RedisLink,
        key: &str,
        plan: &Plan,
        add: (u64, u64),
        force: bool,
        periods: &[PeriodNow; 2],
    ) -> Result<Result<[Option<u64>; 2], (usize, bool)>, String> {
        // Hash-tagged by key, so both periods share a slot.
        let tag = crate::redis_link::key_tag(key);
        let mut invocation = self.script.key(format!("{{quota:{tag}}}:d:{}", periods[0].id));
        invocation.key(format!("{{quota:{tag}}}:m:{}", periods[1].id)).arg(add.0).arg(add.1);
        for (requests, bytes) in &plan.limits {
            invocation.arg(requests.map_or(-1, |v| v as i64)).arg(bytes.map_or(-1, |v| v as i64));
        }
        // Kept a day past their period, for clocks a little apart.
        invocation.arg(periods[0].reset + 86_400).arg(periods[1].reset + 86_400).arg(u8::from(force));
        let reply: Vec<i64> = link.run(invocation).await?;
        let value = |i: usize| reply.get(i).copied().unwrap_or(-1);
        Ok(match value(0) {
            1 => Ok([1, 2].map(|i| u64::try_from(value(i)).ok())),
            _ => Err((usize::try_from(value(1)).unwrap_or(0).min(1), value(2) == 1)),
        })
    }
}

/// A period as of now: which one it is, and seconds until the next.
#[derive(Debug, Clone, Copy)]
struct PeriodNow {
    period: Period,
    id: u64,
    reset: u64,
    window: u64,
}

/// Today and this month (UTC) at `now` (seconds since 1970).
fn periods(now: u64) -> [PeriodNow; 2] {
    let day =
        PeriodNow { period: Period::Day, id: now / 86_400, reset: 86_400 - now % 86_400, window: 86_400 };
    let date = Utc.timestamp_opt(i64::try_from(now).unwrap_or(0), 0).single().unwrap_or_default();
    let (year, month) = (date.year(), date.month());
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    let at =
        |y, m| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().map_or(0, |d| d.timestamp().max(0) as u64);
    let (start, next) = (at(year, month), at(next_year, next_month));
    let month = PeriodNow {
        period: Period::Month,
        id: u64::try_from(year).unwrap_or(0) * 12 + u64::from(month),
        reset: next.saturating_sub(now).max(1),
        window: next.saturating_sub(start).max(1),
    };
    [day, month]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(requests_per_day: Option<u64>, bytes_per_month: Option<u64>) -> Plan {
        Plan::new(&PlanConfig {
            name: "p".into(),
            requests_per_day,
            requests_per_month: None,
            bytes_per_day: None,
            bytes_per_month,
        })
    }

    #[test]
    fn periods_end_at_midnight_and_at_the_first_of_the_next_month() {
        // 2026-12-31T23:00:00Z
        let now = 1_798_758_000;
        let [day, month] = periods(now);
        assert_eq!((day.reset, month.reset), (3600, 3600));
        let [_, next_month] = periods(now + 3600);
        assert_ne!(month.id, next_month.id);
        // 2026-02-10T00:00:00Z: 18 days and 24 h to March.
        assert_eq!(periods(1_770_681_600)[1].reset, 19 * 86_400);
        assert_eq!(periods(1_770_681_600)[1].window, 28 * 86_400);
    }

    #[tokio::test]
    async fn requests_per_day_are_counted_and_refused_until_midnight() {
        let usage = Usage::new(None);
        let plan = plan(Some(3), None);
        let noon = 20_000 * 86_400 + 43_200;
        for left in [2, 1, 0] {
            let Quota::Allow(states) = usage.admit("k", &plan, 10, noon).await else { panic!("admitted") };
            let state = QuotaState {
                period: Period::Day,
                quota: 3,
                remaining: left,
                reset_secs: 43_200,
                window_secs: 86_400,
                in_bytes: false,
            };
            assert_eq!(states, vec![state]);
        }
        let Quota::Exceeded(spent) = usage.admit("k", &plan, 10, noon).await else { panic!("refused") };
        assert_eq!(
            (spent.period, spent.quota, spent.reset_secs, spent.in_bytes),
            (Period::Day, 3, 43_200, false)
        );
        assert!(matches!(usage.admit("other", &plan, 10, noon).await, Quota::Allow(_)), "per key");
        assert!(matches!(usage.admit("k", &plan, 10, noon + 43_200).await, Quota::Allow(_)), "a new day");
    }

    #[tokio::test]
    async fn bytes_count_declared_lengths_and_bodies_read_without_one() {
        let usage = Usage::new(None);
        let plan = plan(None, Some(100));
        let now = 20_000 * 86_400;
        assert!(matches!(usage.admit("k", &plan, 60, now).await, Quota::Allow(_)));
        let Quota::Exceeded(spent) = usage.admit("k", &plan, 60, now).await else { panic!("refused") };
        assert_eq!((spent.period, spent.quota, spent.in_bytes), (Period::Month, 100, true));
        usage.add_bytes("k", &plan, 40, now).await;
        assert!(matches!(usage.admit("k", &plan, 1, now).await, Quota::Exceeded(_)), "100 of 100 used");
        assert!(matches!(usage.admit("k", &plan, 0, now).await, Quota::Allow(_)), "an empty body still fits");
    }
}
