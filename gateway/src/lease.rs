//! The local fast path of the shared rate limit: a gateway leases a few
//! tokens of a (client, stream) key from Redis at once and spends them
//! without a round trip, and remembers a refusal until its Retry-After, so a
//! decision rarely waits for Redis.
//!
//! Why it stays within the shared limit: a leased token was taken from the
//! key's TAT on Redis, so N gateways together never admit more than the
//! rate plus the burst; tokens left unused when a lease expires are lost,
//! which can only admit less. The size of a lease follows this process's
//! demand for the key (decisions per lease window), so a key used rarely is
//! leased one token at a time (nothing wasted) and a busy key in batches
//! (at most a quarter of its burst, so other gateways still get a share).
//! A refusal remembered locally is exact: the shared TAT only grows, so no
//! token can be had before the Retry-After Redis gave.
//!
//! Pure: every function takes the time; `shared_limit` does the I/O.

use crate::ratelimit::{Gcra, key_hash};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use tokio::sync::watch;

const SHARDS: usize = 64;
/// The most tokens one lease asks for.
const MAX_LEASE: u64 = 256;

/// What the local state can decide without Redis.
#[derive(Debug)]
pub enum Local {
    /// A leased token was spent; the shared remaining as last seen.
    Allow { remaining: u64 },
    /// Refused until the Retry-After Redis gave (ns from now).
    Deny { retry_after: u64 },
    /// Ask Redis for `tokens` (one for this request, the rest for later);
    /// the request waiting on this lease wake when `asking` drops.
    Ask { tokens: u64, asking: Option<Asking> },
    /// Another request is leasing for this key: wait for it, then take again.
    Wait(watch::Receiver<()>),
}

/// Held while a lease request is on its way; dropping it (answer, error or
/// cancellation) wakes the requests waiting for it.
#[derive(Debug)]
pub struct Asking {
    _wakes: watch::Sender<()>,
}

impl PartialEq for Local {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Local::Allow { remaining: a }, Local::Allow { remaining: b }) => a == b,
            (Local::Deny { retry_after: a }, Local::Deny { retry_after: b }) => a == b,
            (Local::Ask { tokens: a, .. }, Local::Ask { tokens: b, .. }) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Leased tokens not yet spent, valid until `expires`.
    tokens: u64,
    expires: u64,
    /// The shared remaining at the last grant.
    remaining: u64,
    /// Refused until then (ns since 1970).
    denied_until: u64,
    /// Decisions asked of this entry in the window that began at `since`,
    /// and in the window before: the demand.
    seen: u64,
    since: u64,
    seen_before: u64,
    /// A lease request is in flight: others wait for it rather than each
    /// making a round trip of its own (or leasing a batch each).
    asking: Option<watch::Receiver<()>>,
}

/// Leases by key hash, sharded like the local limiter.
pub struct Leases {
    shards: Box<[Mutex<HashMap<u64, Entry, foldhash::fast::FixedState>>]>,
    /// How long leased tokens stay valid (ns); 0: no leasing.
    window: u64,
}

impl Leases {
    pub fn new(window_ns: u64) -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(), window: window_ns }
    }

    pub fn hash(key: &impl Hash) -> u64 {
        key_hash(key)
    }

    fn with<T>(
        &self,
        hash: u64,
        f: impl FnOnce(&mut HashMap<u64, Entry, foldhash::fast::FixedState>) -> T,
    ) -> T {
        let shard = &self.shards[hash as usize % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut map)
    }

    /// A decision from local state, or how many tokens to ask Redis for.
    pub fn take(&self, hash: u64, gcra: &Gcra, now: u64) -> Local {
        let window = self.window;
        self.with(hash, |map| {
            let entry = map.entry(hash).or_insert(Entry { since: now, ..Entry::default() });
            if now.saturating_sub(entry.since) >= window {
                // One window without a decision means no demand before it.
                entry.seen_before = if now - entry.since >= 2 * window { 0 } else { entry.seen };
                entry.seen = 0;
                entry.since = now;
            }
            entry.seen += 1;
            if entry.denied_until > now {
                return Local::Deny { retry_after: entry.denied_until - now };
            }
            if entry.tokens > 0 && entry.expires > now {
                entry.tokens -= 1;
                return Local::Allow { remaining: entry.remaining + entry.tokens };
            }
            if window == 0 {
                return Local::Ask { tokens: 1, asking: None };
            }
            // A lease on its way (its sender alive): wait for it.
            if let Some(asking) = &entry.asking
                && asking.has_changed().is_ok()
            {
                return Local::Wait(asking.clone());
            }
            let (sender, receiver) = watch::channel(());
            entry.asking = Some(receiver);
            let tokens = lease_size(entry.seen.max(entry.seen_before), gcra, window);
            Local::Ask { tokens, asking: Some(Asking { _wakes: sender }) }
        })
    }

    /// Redis granted `granted` tokens (one of them spent by the asking
    /// request) with `remaining` left on the shared key.
    pub fn granted(&self, hash: u64, granted: u64, remaining: u64, now: u64) {
        let window = self.window;
        self.with(hash, |map| {
            let entry = map.entry(hash).or_default();
            entry.asking = None;
            if entry.expires <= now {
                entry.tokens = 0;
            }
            entry.tokens += granted.saturating_sub(1);
            entry.expires = now + window;
            entry.remaining = remaining;
        });
    }

    /// Redis refused: no token before `retry_after` ns from `now`.
    pub fn denied(&self, hash: u64, retry_after: u64, now: u64) {
        self.with(hash, |map| {
            let entry = map.entry(hash).or_default();
            entry.asking = None;
            entry.denied_until = entry.denied_until.max(now.saturating_add(retry_after));
        });
    }

    /// Redis could not answer: the next request asks again.
    pub fn failed(&self, hash: u64) {
        self.with(hash, |map| {
            if let Some(entry) = map.get_mut(&hash) {
                entry.asking = None;
            }
        });
    }

    /// Drops entries with nothing left to decide locally.
    pub fn sweep(&self, now: u64) {
        let window = self.window;
        for shard in self.shards.iter() {
            let mut map = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            map.retain(|_, e| {
                e.asking.as_ref().is_some_and(|a| a.has_changed().is_ok())
                    || e.denied_until > now
                    || (e.tokens > 0 && e.expires > now)
                    || e.since + window > now
            });
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map(|m| m.len()).unwrap_or(0)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Tokens to lease for a demand of `demand` decisions per window: never
/// more than the stream's rate brings in a window, a quarter of its burst,
/// or [`MAX_LEASE`]; at least the one this request needs.
fn lease_size(demand: u64, gcra: &Gcra, window: u64) -> u64 {
    let per_window = window / gcra.interval_ns().max(1);
    let cap = per_window.min(u64::from(gcra.burst) / 4).min(MAX_LEASE);
    demand.min(cap).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn ask(tokens: u64) -> Local {
        Local::Ask { tokens, asking: None }
    }

    #[test]
    fn a_rare_key_leases_one_token_at_a_time() {
        let leases = Leases::new(10 * MS);
        let gcra = Gcra::new(10_000.0, 1000);
        let h = Leases::hash(&"k");
        for i in 0..5 {
            let now = 1_000 * MS + i * 100 * MS;
            assert_eq!(leases.take(h, &gcra, now), ask(1));
            leases.granted(h, 1, 900, now);
        }
    }

    #[test]
    fn a_busy_key_leases_what_it_spends_in_a_window_and_spends_it_locally() {
        let leases = Leases::new(10 * MS);
        let gcra = Gcra::new(100_000.0, 10_000);
        let h = Leases::hash(&"k");
        let t0 = 1_000 * MS;
        for i in 0..49 {
            // Each asks for what the window has seen so far (each ask failed).
            assert_eq!(leases.take(h, &gcra, t0 + i * 20_000), ask(i + 1));
            leases.failed(h);
        }
        assert_eq!(leases.take(h, &gcra, t0 + MS), ask(50));
        leases.granted(h, 50, 5_000, t0 + MS);
        for _ in 1..50 {
            assert!(matches!(leases.take(h, &gcra, t0 + 2 * MS), Local::Allow { .. }));
        }
        // 100 decisions in this window: the next lease is 100.
        assert_eq!(leases.take(h, &gcra, t0 + 2 * MS), ask(100));
    }

    #[test]
    fn leased_tokens_expire_with_their_window() {
        let leases = Leases::new(10 * MS);
        let gcra = Gcra::new(1_000_000.0, 100_000);
        let h = Leases::hash(&"k");
        leases.granted(h, 10, 0, 0);
        assert!(matches!(leases.take(h, &gcra, 5 * MS), Local::Allow { .. }));
        assert!(matches!(leases.take(h, &gcra, 11 * MS), Local::Ask { .. }));
    }

    #[test]
    fn a_refusal_is_remembered_until_its_retry_after() {
        let leases = Leases::new(10 * MS);
        let gcra = Gcra::new(50.0, 10);
        let h = Leases::hash(&"k");
        leases.denied(h, 20 * MS, 100 * MS);
        assert_eq!(leases.take(h, &gcra, 110 * MS), Local::Deny { retry_after: 10 * MS });
        assert!(matches!(leases.take(h, &gcra, 120 * MS), Local::Ask { .. }));
    }

    #[test]
    fn a_lease_never_exceeds_a_quarter_of_the_burst_or_the_rate_of_a_window() {
        // 50/s, burst 10: 0.5 tokens a window, so one at a time.
        assert_eq!(lease_size(1000, &Gcra::new(50.0, 10), 10 * MS), 1);
        // 10k/s, burst 20: 100 a window, but a quarter of the burst is 5.
        assert_eq!(lease_size(1000, &Gcra::new(10_000.0, 20), 10 * MS), 5);
        assert_eq!(lease_size(3, &Gcra::new(10_000.0, 2000), 10 * MS), 3);
        assert_eq!(lease_size(100_000, &Gcra::new(1e7, 1_000_000), 10 * MS), MAX_LEASE);
    }

    #[tokio::test]
    async fn requests_arriving_while_a_lease_is_on_its_way_wait_for_it() {
        let leases = Leases::new(10 * MS);
        let gcra = Gcra::new(100_000.0, 10_000);
        let h = Leases::hash(&"k");
        let Local::Ask { tokens: 1, asking: Some(asking) } = leases.take(h, &gcra, MS) else {
            panic!("the first request asks")
        };
        let Local::Wait(mut waiting) = leases.take(h, &gcra, MS + 1) else { panic!("the second waits") };
        leases.granted(h, 5, 100, MS + 2);
        drop(asking);
        assert!(waiting.changed().await.is_err(), "woken when the lease is in");
        assert!(matches!(leases.take(h, &gcra, MS + 3), Local::Allow { remaining: 103 }));
    }

    #[test]
    fn an_ask_abandoned_on_its_way_does_not_hold_the_others() {
        let leases = Leases::new(10 * MS);
        let gcra = Gcra::new(100_000.0, 10_000);
        let h = Leases::hash(&"k");
        let first = leases.take(h, &gcra, MS);
        assert!(matches!(leases.take(h, &gcra, MS + 1), Local::Wait(_)));
        drop(first);
        assert!(matches!(leases.take(h, &gcra, MS + 2), Local::Ask { asking: Some(_), .. }));
        leases.sweep(u64::MAX / 2);
        assert!(leases.is_empty());
    }
}
