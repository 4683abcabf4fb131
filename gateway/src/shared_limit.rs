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
use serde::Deserialize;
use std::time::Duration;

/// `[ratelimit]` in the gateway's TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default)]
    pub backend: Backend,
    /// `redis://[user:password@]host:port[/db]` (AUTH from the URL).
    #[serde(default)]
    pub url: Option<String>,
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

/// The shared limiter: a connection (re-established by itself) and the script.
pub struct SharedLimiter {
    client: redis::Client,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    script: redis::Script,
    on_error: OnBackendError,
    timeout: Duration,
    leases: Leases,
}

/// A decision, or none because the backend could not give one and the
/// configuration says to refuse.
pub enum Shared {
    Decided(Decision),
    Unavailable,
}

impl SharedLimiter {
    pub fn build(config: &RateLimitConfig) -> anyhow::Result<Option<Self>> {
        if config.backend == Backend::Local {
            return Ok(None);
        }
        let url = config
            .url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("[ratelimit] backend = \"redis\" needs url"))?;
        Ok(Some(Self {
            client: redis::Client::open(url).map_err(|e| anyhow::anyhow!("[ratelimit] url: {e}"))?,
            connection: tokio::sync::OnceCell::new(),
            script: redis::Script::new(GCRA_SCRIPT),
            on_error: config.on_backend_error,
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
            leases: Leases::new(config.lease_ms.saturating_mul(1_000_000)),
        }))
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
                    let _ = tokio::time::timeout(self.timeout, lease.changed()).await;
                }
                Local::Wait(_) => break (1, None),
            }
        };
        match tokio::time::timeout(self.timeout, self.ask(client, stream, gcra, tokens)).await {
            Ok(Ok(reply)) => {
                let decision = match reply {
                    (0, retry_after_us) => {
                        let retry_after = retry_after_us.saturating_mul(1000);
                        self.leases.denied(hash, retry_after, now_ns);
                        Decision::Deny { retry_after }
                    }
                    (granted, remaining) => {
                        self.leases.granted(hash, granted, remaining, now_ns);
                        Decision::Allow { tat: 0, remaining: remaining + granted - 1 }
                    }
                };
                Shared::Decided(decision)
            }
            failed => {
                self.leases.failed(hash);
                let error = match failed {
                    Ok(Err(error)) => error.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::warn!(%error, "rate limit backend unavailable");
                let fallback = match self.on_error {
                    OnBackendError::Deny => "deny",
                    OnBackendError::Local => "local",
                };
                metrics::counter!("cartorio_gateway_ratelimit_backend_errors_total", "fallback" => fallback)
                    .increment(1);
                match self.on_error {
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
    async fn ask(
        &self,
        client: &str,
        stream: &str,
        gcra: &Gcra,
        tokens: u64,
    ) -> redis::RedisResult<(u64, u64)> {
        let connection = self
            .connection
            .get_or_try_init(|| redis::aio::ConnectionManager::new(self.client.clone()))
            .await?;
        let mut connection = connection.clone();
        // A digest stands for the client (no API key id in Redis), the same
        // in every gateway process (the local limiter's hash is seeded per
        // process).
        let digest = ring::digest::digest(&ring::digest::SHA256, client.as_bytes());
        let key = format!("{{rl:{stream}}}:{}", hex::encode(&digest.as_ref()[..16]));
        self.script
            .key(key)
            .arg((gcra.interval_ns() / 1000).max(1))
            .arg((gcra.tolerance_ns() / 1000).max(1))
            .arg(tokens.max(1))
            .invoke_async(&mut connection)
            .await
    }
}
