//! Stage 3, rate-limit: GCRA per (client, stream), a cap on each client's
//! requests in flight, and a global in-flight cap (load shedding).
//!
//! GCRA keeps one number per key, the theoretical arrival time (TAT). A key
//! whose TAT has passed is in exactly the state of a key never seen, so
//! expiring idle keys is just dropping those entries: memory follows the
//! clients active within their burst window, 16 octets each (plus the table),
//! and a sweep bounded by [`SWEEP_EVERY`] removes the rest.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The limit of one stream: a sustained rate and a burst above it.
#[derive(Debug, Clone, Copy)]
pub struct Gcra {
    /// Nanoseconds between requests at the sustained rate.
    interval: u64,
    /// How far ahead of now the TAT may run: `burst` intervals.
    tolerance: u64,
    pub rate_per_sec: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted; the key's new TAT and the requests left in the burst now.
    Allow { tat: u64, remaining: u64 },
    /// Refused; nanoseconds until one request would be admitted.
    Deny { retry_after: u64 },
}

impl Gcra {
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        let interval = (1e9 / rate_per_sec.max(1e-9)).clamp(1.0, u64::MAX as f64 / 4.0) as u64;
        let tolerance = interval.saturating_mul(u64::from(burst.max(1)));
        Self { interval, tolerance, rate_per_sec, burst }
    }

    /// The decision for a request at `now` (ns) on a key whose TAT is `tat`
    /// (0 for a key never seen). Pure: the caller stores the new TAT.
    pub fn check(&self, tat: u64, now: u64) -> Decision {
        let new_tat = tat.max(now).saturating_add(self.interval);
        let ahead = new_tat - now;
        if ahead > self.tolerance {
            Decision::Deny { retry_after: ahead - self.tolerance }
        } else {
            Decision::Allow { tat: new_tat, remaining: (self.tolerance - ahead) / self.interval }
        }
    }

    /// Nanoseconds between requests at the sustained rate.
    pub fn interval_ns(&self) -> u64 {
        self.interval
    }

    /// How far ahead of now a key's TAT may run, in nanoseconds.
    pub fn tolerance_ns(&self) -> u64 {
        self.tolerance
    }

    /// Seconds a burst takes to refill (the policy's window).
    pub fn window_secs(&self) -> u64 {
        self.tolerance.div_ceil(1_000_000_000).max(1)
    }
}

const SHARDS: usize = 64;
/// A shard sweeps its expired keys every this many insertions.
const SWEEP_EVERY: usize = 4096;

pub(crate) fn key_hash(key: &impl Hash) -> u64 {
    static STATE: OnceLock<foldhash::quality::RandomState> = OnceLock::new();
    STATE.get_or_init(Default::default).hash_one(key)
}

/// TATs by key hash (a 64-bit hash stands for the key: two clients share a
/// limit only on a 2^-64 collision), sharded to keep locks short.
pub struct Limiter {
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Default)]
struct Shard {
    tats: HashMap<u64, u64, foldhash::fast::FixedState>,
    inserted: usize,
}

impl Default for Limiter {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect() }
    }
}

impl Limiter {
    pub fn check(&self, key: &impl Hash, gcra: &Gcra, now: u64) -> Decision {
        let hash = key_hash(key);
        let Some(shard) = self.shards.get(hash as usize % SHARDS) else {
            return Decision::Deny { retry_after: 1_000_000_000 };
        };
        let mut shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tat = shard.tats.get(&hash).copied().unwrap_or(0);
        let decision = gcra.check(tat, now);
        if let Decision::Allow { tat: new_tat, .. } = decision
            && shard.tats.insert(hash, new_tat).is_none()
        {
            shard.inserted += 1;
            if shard.inserted.is_multiple_of(SWEEP_EVERY) {
                shard.tats.retain(|_, tat| *tat > now);
            }
        }
        decision
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map(|s| s.tats.len()).unwrap_or(0)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every key whose TAT has passed.
    pub fn sweep(&self, now: u64) {
        for shard in self.shards.iter() {
            if let Ok(mut shard) = shard.lock() {
                shard.tats.retain(|_, tat| *tat > now);
            }
        }
    }
}

/// Requests in flight: over all clients, and per client.
pub struct InFlight {
    total: AtomicUsize,
    max_total: usize,
    per_client: Box<[Mutex<HashMap<u64, u32, foldhash::fast::FixedState>>]>,
    max_per_client: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The gateway as a whole is at its cap (503).
    Gateway,
    /// This client has too many requests in flight (429).
    Client,
}

/// Holds a request's place; dropping it frees the place.
pub struct Slot {
    owner: Arc<InFlight>,
    client: u64,
}

impl InFlight {
    pub fn new(max_total: usize, max_per_client: u32) -> Arc<Self> {
        Arc::new(Self {
            total: AtomicUsize::new(0),
            max_total,
            per_client: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
            max_per_client,
        })
    }

    pub fn enter(self: &Arc<Self>, client: &impl Hash) -> Result<Slot, Busy> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy::Gateway);
        }
        let hash = key_hash(client);
        let admitted = self.per_client.get(hash as usize % SHARDS).is_some_and(|shard| {
            let mut map = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = map.entry(hash).or_insert(0);
            let ok = *count < self.max_per_client;
            if ok {
                *count += 1;
            } else if *count == 0 {
                map.remove(&hash);
            }
            ok
        });
        if !admitted {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy::Client);
        }
        Ok(Slot { owner: self.clone(), client: hash })
    }

    pub fn total(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(shard) = self.owner.per_client.get(self.client as usize % SHARDS) {
            let mut map = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(count) = map.get_mut(&self.client) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(&self.client);
                }
            }
        }
        self.owner.total.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    /// Offered load at 10x the rate for 10 s: admitted within 2% of
    /// rate x duration + burst (the acceptance figure).
    #[test]
    fn ten_times_the_rate_for_ten_seconds_admits_rate_times_duration_plus_burst() {
        for (rate, burst) in [(100.0, 20u32), (2000.0, 4000), (7.5, 3)] {
            let gcra = Gcra::new(rate, burst);
            let limiter = Limiter::default();
            let offered = (rate * 10.0 * 10.0) as u64;
            let step = 10 * SECOND / offered;
            let start = 5 * SECOND;
            let admitted = (0..offered)
                .filter(|i| {
                    matches!(limiter.check(&"client", &gcra, start + i * step), Decision::Allow { .. })
                })
                .count() as f64;
            let expected = rate * 10.0 + f64::from(burst);
            assert!((admitted - expected).abs() <= expected * 0.02, "rate {rate}: {admitted} vs {expected}");
        }
    }

    #[test]
    fn a_denied_request_learns_when_to_retry_and_keys_are_independent() {
        let gcra = Gcra::new(1.0, 2);
        let limiter = Limiter::default();
        let now = 100 * SECOND;
        assert!(matches!(limiter.check(&"a", &gcra, now), Decision::Allow { remaining: 1, .. }));
        assert!(matches!(limiter.check(&"a", &gcra, now), Decision::Allow { remaining: 0, .. }));
        let Decision::Deny { retry_after } = limiter.check(&"a", &gcra, now) else {
            panic!("denied expected")
        };
        assert_eq!(retry_after, SECOND);
        assert!(matches!(limiter.check(&"a", &gcra, now + retry_after), Decision::Allow { .. }));
        assert!(matches!(limiter.check(&"b", &gcra, now), Decision::Allow { .. }));
    }

    #[test]
    fn idle_keys_are_swept() {
        let gcra = Gcra::new(10.0, 5);
        let limiter = Limiter::default();
        for client in 0..10_000u32 {
            limiter.check(&client, &gcra, SECOND);
        }
        assert_eq!(limiter.len(), 10_000);
        limiter.sweep(3 * SECOND);
        assert!(limiter.is_empty(), "every TAT has passed");
    }

    #[test]
    fn in_flight_caps_per_client_and_overall() {
        let caps = InFlight::new(3, 2);
        let a1 = caps.enter(&"a").expect("a1");
        let _a2 = caps.enter(&"a").expect("a2");
        assert_eq!(caps.enter(&"a").err(), Some(Busy::Client));
        let _b1 = caps.enter(&"b").expect("b1");
        assert_eq!(caps.enter(&"c").err(), Some(Busy::Gateway));
        drop(a1);
        assert_eq!(caps.total(), 2);
        assert!(caps.enter(&"a").is_ok());
    }
}
