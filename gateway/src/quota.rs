//! The quarantine quota: bytes of rejected payloads kept per UTC day, in
//! this process or, with `[ratelimit] backend = "redis"`, over all gateways
//! (one counter per day on Redis, expiring two days later). Beyond it a
//! rejected payload is refused as before but not kept.

use crate::redis_link::RedisLink;
use crate::shared_limit::OnBackendError;
use std::sync::{Arc, Mutex};

/// Adds ARGV[1] bytes to the day's count unless that passes ARGV[2].
const TAKE_SCRIPT: &str = r"
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
if used > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return 0
end
if used == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], 172800) end
return 1
";

pub struct QuarantineQuota {
    limit: u64,
    /// (UTC day, bytes taken that day) in this process.
    local: Mutex<(u64, u64)>,
    shared: Option<Arc<RedisLink>>,
    script: redis::Script,
}

impl QuarantineQuota {
    pub fn new(limit: u64, shared: Option<Arc<RedisLink>>) -> Self {
        Self { limit, local: Mutex::new((0, 0)), shared, script: redis::Script::new(TAKE_SCRIPT) }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether `size` more bytes may be kept today.
    pub async fn take(&self, size: u64, now_secs: u64) -> bool {
        let day = now_secs / 86_400;
        if let Some(link) = &self.shared {
            let mut invocation = self.script.key(format!("{{cartorio:quarantine}}:{day}"));
            invocation.arg(size).arg(self.limit);
            match link.run::<u8>(invocation).await {
                Ok(taken) => return taken == 1,
                Err(error) => {
                    if link.failed("quarantine_quota", &error) == OnBackendError::Deny {
                        return false;
                    }
                }
            }
        }
        self.take_local(size, day)
    }

    fn take_local(&self, size: u64, day: u64) -> bool {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.0 != day {
            *local = (day, 0);
        }
        let fits = local.1.saturating_add(size) <= self.limit;
        if fits {
            local.1 += size;
        }
        fits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_quota_holds_per_day_and_starts_again_the_next() {
        let quota = QuarantineQuota::new(100, None);
        let day = 20_000 * 86_400;
        assert!(quota.take(60, day).await);
        assert!(!quota.take(60, day + 10).await, "over the day's quota");
        assert!(quota.take(40, day + 20).await, "what fits still does");
        assert!(quota.take(100, day + 86_400).await, "a new day");
    }
}
