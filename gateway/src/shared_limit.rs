//! GCRA per (key, stream) on Redis, so N gateways admit a stream's rate
//! once, not N times (`[ratelimit] backend = "redis"`). One script call per
//! decision, atomic on the server, timed by the server's clock (gateways'
//! clocks may differ; Redis's is one); a key expires by itself at its TAT.
//! Keys are hash-tagged by stream (`{rl:STREAM}:KEY`), so a Redis Cluster
//! keeps a stream's keys on one slot and the script's single key is legal.
//!
//! A gateway leases a few tokens at a time and remembers refusals until
//! their Retry-After (`lease`), so most decisions need no round trip.
//!
//! When Redis is slow or down, `on_backend_error` decides: `deny` (503 with
//! Retry-After: no admission without the shared count) or `local` (this
//! process's own limiter, as if alone); both counted in
//! `cartorio_gateway_ratelimit_backend_errors_total`.

use crate::lease::{Leases, Local};
use crate::ratelimit::{Decision, Gcra, Limiter};
use crate::redis_link::RedisLink;
use serde::Deserialize;
use std::sync::Arc;

/// `[ratelimit]` in the gateway's TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default)]
    pub backend: Backend,
    /// `redis://[user:password@]host:port[/db]` (AUTH from the URL), or
    /// `rediss://...` for TLS.
    #[serde(default)]
    pub url: Option<String>,
    /// With `rediss://`: the CA certificates (PEM) Redis's certificate must
    /// chain to (default: the system's), and a client certificate and key
    /// (PEM) when Redis requires them (`tls-auth-clients yes`).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub cert_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub key_file: Option<std::path::PathBuf>,
    /// `url` is one node of a Redis Cluster; the others are discovered.
    #[serde(default)]
    pub cluster: bool,
    #[serde(default)]
    pub on_backend_error: OnBackendError,
    /// How long a decision may wait for Redis before it is an error.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How long tokens leased from Redis stay valid in this process (the
    /// local fast path, `lease`); 0 asks Redis for every decision.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
}

fn default_lease_ms() -> u64 {
    10
}

fn default_timeout_ms() -> u64 {
    50
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Local,
            url: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            cluster: false,
            on_backend_error: OnBackendError::Deny,
            timeout_ms: default_timeout_ms(),
            lease_ms: default_lease_ms(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Local,
    Redis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBackendError {
    /// 503 + Retry-After while Redis cannot answer.
    #[default]
    Deny,
    /// This process's own limiter while Redis cannot answer.
    Local,
}

/// GCRA in microseconds (Lua numbers are doubles: exact below 2^53, which
/// microseconds since 1970 are and nanoseconds are not), taking up to
/// ARGV[3] tokens at once (a lease, `lease`): as many as fit under the
/// burst. Returns `{granted, remaining}`, or `{0, retry_after_us}`.
const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local base = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local room = math.floor((tolerance - (base - now)) / interval)
if room < 1 then
  return {0, base + interval - now - tolerance}
end
local granted = math.min(wanted, room)
local new_tat = base + granted * interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {granted, room - granted}
";

/// The shared limiter: the Redis link, the script and the leases.
pub struct SharedLimiter {
    link: Arc<RedisLink>,
    script: redis::Script,
    leases: Leases,
}

/// A decision, or none because the backend could not give one and the
/// configuration says to refuse.
pub enum Shared {
    Decided(Decision),
    Unavailable,
}

impl SharedLimiter {
    pub fn new(link: Arc<RedisLink>, lease_ms: u64) -> Self {
        Self {
            link,
            script: redis::Script::new(GCRA_SCRIPT),
            leases: Leases::new(lease_ms.saturating_mul(1_000_000)),
        }
    }

    /// The decision for `client` on `stream`: from a lease or a remembered
    /// refusal when there is one, else from Redis; `local` serves when Redis
    /// cannot and the configuration says so.
    pub async fn check(
        &self,
        client: &str,
        stream: &str,
        gcra: &Gcra,
        now_ns: u64,
        local: &Limiter,
    ) -> Shared {
        let hash = Leases::hash(&(client, stream));
        let mut waits = 0;
        let (tokens, _asking) = loop {
            match self.leases.take(hash, gcra, now_ns) {
                Local::Allow { remaining } => return Shared::Decided(Decision::Allow { tat: 0, remaining }),
                Local::Deny { retry_after } => return Shared::Decided(Decision::Deny { retry_after }),
                Local::Ask { tokens, asking } => break (tokens, asking),
                // Twice at most: a lease smaller than the crowd waiting for
                // it leaves the rest to ask for themselves.
                Local::Wait(mut lease) if waits < 2 => {
                    waits += 1;
                    let _ = tokio::time::timeout(self.link.timeout, lease.changed()).await;
                }
                Local::Wait(_) => break (1, None),
            }
        };
        match self.ask(client, stream, gcra, tokens).await {
            Ok((0, retry_after_us)) => {
                let retry_after = retry_after_us.saturating_mul(1000);
                self.leases.denied(hash, retry_after, now_ns);
                Shared::Decided(Decision::Deny { retry_after })
            }
            Ok((granted, remaining)) => {
                self.leases.granted(hash, granted, remaining, now_ns);
                Shared::Decided(Decision::Allow { tat: 0, remaining: remaining + granted - 1 })
            }
            Err(error) => {
                self.leases.failed(hash);
                match self.link.failed("ratelimit", &error) {
                    OnBackendError::Deny => Shared::Unavailable,
                    OnBackendError::Local => Shared::Decided(local.check(&(client, stream), gcra, now_ns)),
                }
            }
        }
    }

    /// Drops lease entries with nothing left to decide.
    pub fn sweep(&self, now_ns: u64) {
        self.leases.sweep(now_ns);
    }

    /// Up to `tokens` tokens: `(granted, remaining)`, or `(0, retry_after_us)`.
    async fn ask(&self, client: &str, stream: &str, gcra: &Gcra, tokens: u64) -> Result<(u64, u64), String> {
        // Not the local limiter's hash: that one is seeded per process.
        let key = format!("{{rl:{stream}}}:{}", crate::redis_link::key_tag(client));
        let mut invocation = self.script.key(key);
        invocation
            .arg((gcra.interval_ns() / 1000).max(1))
            .arg((gcra.tolerance_ns() / 1000).max(1))
            .arg(tokens.max(1));
        self.link.run(invocation).await
    }
}
