//! `Idempotency-Key`: a retry with the same key (same stream, same client)
//! and the same body gets the first result instead of storing the payload
//! again; the same key with another body is refused (422), and a retry
//! racing the first gets 409 until the first is done. A key is remembered
//! for `idempotency_ttl_secs` (default 24 h).
//!
//! Results are kept in the object store (they survive restarts and every
//! gateway on the store reads them). Claims (who runs the first request)
//! are in this process, or on Redis when it is configured, so two gateways
//! behind one load balancer cannot both run it: `SET NX` of `pending SHA`
//! (two minutes, for a gateway that dies mid-request), then `done SHA` for
//! the key's lifetime. SHA is the body's SHA-256.

use crate::redis_link::RedisLink;
use crate::shared_limit::OnBackendError;
use bytes::Bytes;
use cartorio_platform::ObjectStore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Recorded {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// The SHA-256 (hex) of the request body the result answers.
    #[serde(default)]
    pub request_sha256: String,
    /// When the result was recorded (seconds since 1970); 0 before this field.
    #[serde(default)]
    pub recorded_at: u64,
}

/// What `begin` found for a request carrying an Idempotency-Key.
pub enum Begin {
    /// The first with this key: run it, then `finish`.
    Claimed(Claim),
    /// Done before with the same body: its result.
    Replay(Recorded),
    /// A request with this key is running (409).
    InProgress,
    /// The key was used with another body (422).
    Mismatch,
    /// The shared backend cannot say and the configuration denies (503).
    Unavailable,
}

type InFlight = Arc<Mutex<HashMap<String, String>>>;

pub struct Idempotency {
    /// Record key -> body SHA-256 of the request running under it here.
    in_flight: InFlight,
    shared: Option<Arc<RedisLink>>,
    ttl_secs: u64,
    claim_script: redis::Script,
    settle_script: redis::Script,
}

/// Holds a key while its first request runs; dropped without `finish`
/// (an error, a cancelled request), it frees the key for a retry.
pub struct Claim {
    key: String,
    request_sha256: String,
    /// This process's claims, when the claim is one of them.
    in_flight: Option<InFlight>,
    shared: Option<Arc<RedisLink>>,
    settle: Option<redis::Script>,
}

/// Claims the key unless it is held: `claimed`, or the value it holds.
const CLAIM_SCRIPT: &str = r"
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], 'pending ' .. ARGV[1], 'PX', 120000)
return 'claimed'
";

/// Settles a pending claim of ours: `done` for the key's lifetime
/// (ARGV[2] ms), or released (ARGV[2] = 0) so a retry may run.
const SETTLE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= 'pending ' .. ARGV[1] then return 0 end
if tonumber(ARGV[2]) == 0 then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], 'done ' .. ARGV[1], 'PX', ARGV[2])
return 1
";

/// Whether a client's Idempotency-Key is usable: 1 to 255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The object key under which a result is kept.
pub fn record_key(stream: &str, client: &str, key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [client.as_bytes(), b"\0", key.as_bytes()] {
        ctx.update(part);
    }
    format!("idempotency/{stream}/{}.json", hex::encode(ctx.finish()))
}

/// The Redis key of a record: hash-tagged by stream like the rate limits.
fn shared_key(record: &str) -> String {
    let (stream, digest) = record
        .strip_prefix("idempotency/")
        .and_then(|r| r.strip_suffix(".json"))
        .and_then(|r| r.rsplit_once('/'))
        .unwrap_or(("", record));
    format!("{{idem:{stream}}}:{digest}")
}

/// What a held key says about a request with body `sha256`.
fn judge_held(held: &str, sha256: &str) -> Option<Begin> {
    let (state, theirs) = held.split_once(' ')?;
    Some(match (state, theirs == sha256) {
        (_, false) => Begin::Mismatch,
        ("pending", true) => Begin::InProgress,
        _ => return None,
    })
}

impl Idempotency {
    pub fn new(shared: Option<Arc<RedisLink>>, ttl_secs: u64) -> Self {
        Self {
            in_flight: InFlight::default(),
            shared,
            ttl_secs: ttl_secs.max(1),
            claim_script: redis::Script::new(CLAIM_SCRIPT),
            settle_script: redis::Script::new(SETTLE_SCRIPT),
        }
    }

    /// Claims `record` for a request whose body hashes to `sha256`, or says
    /// why not.
    pub async fn begin(&self, store: &ObjectStore, record: &str, sha256: &str, now_secs: u64) -> Begin {
        let claim = match self.claim_shared(record, sha256).await {
            Some(Ok(claim)) => claim,
            Some(Err(refusal)) => return refusal,
            None => match self.claim_local(record, sha256) {
                Ok(claim) => claim,
                Err(refusal) => return refusal,
            },
        };
        // The store has the last word on results (it outlives Redis's memory).
        match self.recall(store, record, now_secs).await {
            Some(first) if first.request_sha256.is_empty() || first.request_sha256 == sha256 => {
                Begin::Replay(first)
            }
            Some(_) => Begin::Mismatch,
            None => Begin::Claimed(claim),
        }
    }

    /// `None`: no shared backend, or it failed and `local` is configured.
    async fn claim_shared(&self, record: &str, sha256: &str) -> Option<Result<Claim, Begin>> {
        let link = self.shared.as_ref()?;
        let mut invocation = self.claim_script.key(shared_key(record));
        invocation.arg(sha256);
        match link.run::<String>(invocation).await {
            Ok(held) if held == "claimed" => Some(Ok(self.claim(record, sha256, true))),
            Ok(held) => match judge_held(&held, sha256) {
                Some(refusal) => Some(Err(refusal)),
                // Done with this body: the store holds the result (or lost
                // it, and this request runs again).
                None => Some(Ok(self.claim(record, sha256, false))),
            },
            Err(error) => match link.failed("idempotency", &error) {
                OnBackendError::Deny => Some(Err(Begin::Unavailable)),
                OnBackendError::Local => None,
            },
        }
    }

    fn claim_local(&self, record: &str, sha256: &str) -> Result<Claim, Begin> {
        let mut held = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(theirs) = held.get(record) {
            return Err(if theirs == sha256 { Begin::InProgress } else { Begin::Mismatch });
        }
        held.insert(record.to_owned(), sha256.to_owned());
        drop(held);
        let mut claim = self.claim(record, sha256, false);
        claim.in_flight = Some(self.in_flight.clone());
        Ok(claim)
    }

    /// A claim settled on Redis when `shared`, else held by no one (the
    /// caller marks a local one).
    fn claim(&self, record: &str, sha256: &str, shared: bool) -> Claim {
        Claim {
            key: record.to_owned(),
            request_sha256: sha256.to_owned(),
            in_flight: None,
            shared: self.shared.clone().filter(|_| shared),
            settle: shared.then(|| self.settle_script.clone()),
        }
    }

    /// The result recorded under `record`, unless older than the TTL.
    async fn recall(&self, store: &ObjectStore, record: &str, now_secs: u64) -> Option<Recorded> {
        let bytes = store.get(record).await.ok()??;
        let first: Recorded = serde_json::from_slice(&bytes).ok()?;
        let fresh = first.recorded_at == 0 || first.recorded_at.saturating_add(self.ttl_secs) > now_secs;
        fresh.then_some(first)
    }

    /// Records the first result and settles the claim.
    pub async fn finish(&self, store: &ObjectStore, mut claim: Claim, mut result: Recorded, now_secs: u64) {
        result.request_sha256.clone_from(&claim.request_sha256);
        result.recorded_at = now_secs;
        let json = serde_json::to_vec(&result).unwrap_or_default();
        if let Err(error) = store.put(&claim.key, Bytes::from(json)).await {
            tracing::warn!(%error, "could not record an idempotent result");
            return;
        }
        if let (Some(link), Some(script)) = (claim.shared.take(), claim.settle.take()) {
            let mut invocation = script.key(shared_key(&claim.key));
            invocation.arg(&claim.request_sha256).arg(self.ttl_secs.saturating_mul(1000));
            if let Err(error) = link.run::<u8>(invocation).await {
                // Settling is best effort: the claim expires by itself.
                link.failed("idempotency", &error);
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Only a local claim is in this process's set: another's entry for
        // the same key (taken while Redis was down) stays.
        if let Some(in_flight) = &self.in_flight {
            in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
        }
        // Not finished: free the shared claim so a retry may run (it would
        // expire by itself in two minutes otherwise).
        if let (Some(link), Some(script)) = (self.shared.take(), self.settle.take())
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (key, sha256) = (shared_key(&self.key), std::mem::take(&mut self.request_sha256));
            runtime.spawn(async move {
                let mut invocation = script.key(key);
                invocation.arg(sha256).arg(0u64);
                if let Err(error) = link.run::<u8>(invocation).await {
                    link.failed("idempotency", &error);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> Recorded {
        Recorded {
            status: 202,
            content_type: "application/json".into(),
            body: "{}".into(),
            request_sha256: String::new(),
            recorded_at: 0,
        }
    }

    #[tokio::test]
    async fn a_retry_gets_the_first_result_and_another_body_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let idem = Idempotency::new(None, 3600);
        let record = record_key("demo", "alice", "k1");
        assert_ne!(record, record_key("demo", "bob", "k1"), "keys are per client");
        let Begin::Claimed(claim) = idem.begin(&store, &record, "aa", 1000).await else { panic!("first") };
        assert!(matches!(idem.begin(&store, &record, "aa", 1000).await, Begin::InProgress));
        assert!(matches!(idem.begin(&store, &record, "bb", 1000).await, Begin::Mismatch));
        idem.finish(&store, claim, result(), 1000).await;
        let Begin::Replay(first) = idem.begin(&store, &record, "aa", 1001).await else { panic!("replay") };
        assert_eq!((first.status, first.request_sha256.as_str(), first.recorded_at), (202, "aa", 1000));
        assert!(matches!(idem.begin(&store, &record, "bb", 1001).await, Begin::Mismatch));
        // After the TTL the key is free again.
        assert!(matches!(idem.begin(&store, &record, "bb", 1000 + 3600).await, Begin::Claimed(_)));
        assert!(valid_key("abc-123") && !valid_key("") && !valid_key("a b") && !valid_key(&"x".repeat(256)));
    }

    #[tokio::test]
    async fn a_claim_dropped_unfinished_frees_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let idem = Idempotency::new(None, 3600);
        let record = record_key("demo", "alice", "k2");
        let first = idem.begin(&store, &record, "aa", 10).await;
        assert!(matches!(first, Begin::Claimed(_)));
        drop(first);
        assert!(matches!(idem.begin(&store, &record, "bb", 10).await, Begin::Claimed(_)));
    }

    #[tokio::test]
    async fn only_a_local_claim_frees_the_local_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let idem = Idempotency::new(None, 3600);
        let record = record_key("demo", "alice", "k3");
        let Begin::Claimed(_held) = idem.begin(&store, &record, "aa", 10).await else { panic!("first") };
        drop(idem.claim(&record, "aa", false));
        assert!(matches!(idem.begin(&store, &record, "aa", 10).await, Begin::InProgress), "still held");
    }

    #[test]
    fn shared_keys_are_hash_tagged_by_stream() {
        let record = record_key("demo", "alice", "k1");
        let key = shared_key(&record);
        assert!(key.starts_with("{idem:demo}:") && key.len() == "{idem:demo}:".len() + 64, "{key}");
        assert!(matches!(judge_held("pending aa", "aa"), Some(Begin::InProgress)));
        assert!(matches!(judge_held("done aa", "bb"), Some(Begin::Mismatch)));
        assert!(judge_held("done aa", "aa").is_none());
    }
}
