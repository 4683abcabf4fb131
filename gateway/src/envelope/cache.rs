//! KMS data-key caching, as the AWS Encryption SDK's caching materials
//! manager does: one `GenerateDataKey` serves up to `max_objects` objects
//! of a stream for at most `max_age_secs`, each object's key derived from it
//! (HKDF, see [`super::object_key`]), and opened data keys are kept as
//! long, so reading a day's objects back costs one `Decrypt` per shared
//! key, not per object. Bounded by count (`max_keys`), age and uses.

use super::{EnvelopeError, KEY_LEN};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `[encryption.kms.data_key_cache]`; `max_age_secs = 0` turns caching off
/// (a `GenerateDataKey` and a `Decrypt` per object).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataKeyCacheConfig {
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
    #[serde(default = "default_max_objects")]
    pub max_objects: u64,
    #[serde(default = "default_max_keys")]
    pub max_keys: u64,
}

fn default_max_age_secs() -> u64 {
    300
}
fn default_max_objects() -> u64 {
    1000
}
fn default_max_keys() -> u64 {
    10_000
}

impl Default for DataKeyCacheConfig {
    fn default() -> Self {
        Self {
            max_age_secs: default_max_age_secs(),
            max_objects: default_max_objects(),
            max_keys: default_max_keys(),
        }
    }
}

struct SealingKey {
    dek: [u8; KEY_LEN],
    wrapped: Vec<u8>,
    uses: AtomicU64,
}

pub struct DataKeyCache {
    max_objects: u64,
    /// Stream -> the data key new objects of it are sealed under.
    sealing: Option<moka::future::Cache<String, Arc<SealingKey>>>,
    /// (stream, wrapped key) -> the opened key.
    opening: moka::future::Cache<(String, Vec<u8>), [u8; KEY_LEN]>,
}

fn record(side: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("cartorio_gateway_data_key_cache_total", "side" => side, "result" => result)
        .increment(1);
}

impl DataKeyCache {
    pub fn new(config: &DataKeyCacheConfig) -> Self {
        let age = Duration::from_secs(config.max_age_secs.max(1));
        let sealing = (config.max_age_secs > 0 && config.max_objects > 1)
            .then(|| moka::future::Cache::builder().max_capacity(config.max_keys).time_to_live(age).build());
        let opening = moka::future::Cache::builder().max_capacity(config.max_keys).time_to_live(age).build();
        Self { max_objects: config.max_objects, sealing, opening }
    }

    /// Whether new objects get keys derived from a shared data key.
    pub fn seals_shared(&self) -> bool {
        self.sealing.is_some()
    }

    /// The shared data key for the next object of `stream`; `generate`
    /// runs (once, however many ask at the same moment) when there is none
    /// or it has sealed `max_objects` objects.
    pub async fn sealing_key<F, Fut>(
        &self,
        stream: &str,
        generate: F,
    ) -> anyhow::Result<([u8; KEY_LEN], Vec<u8>)>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<([u8; KEY_LEN], Vec<u8>)>>,
    {
        let Some(cache) = &self.sealing else { return generate().await };
        loop {
            let entry = cache
                .entry_by_ref(stream)
                .or_try_insert_with(async {
                    let (dek, wrapped) = generate().await?;
                    anyhow::Ok(Arc::new(SealingKey { dek, wrapped, uses: AtomicU64::new(0) }))
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let fresh = entry.is_fresh();
            let key = entry.into_value();
            if key.uses.fetch_add(1, Ordering::Relaxed) < self.max_objects {
                record("seal", !fresh);
                return Ok((key.dek, key.wrapped.clone()));
            }
            // Used up: the next caller generates a new one (a race may
            // retire a fresh key early; that only costs a KMS call).
            cache.invalidate(stream).await;
        }
    }

    /// The opened form of `wrapped` (a shared key of `stream`), from the
    /// cache or by `open`.
    pub async fn opening_key<F, Fut>(
        &self,
        stream: &str,
        wrapped: &[u8],
        open: F,
    ) -> Result<[u8; KEY_LEN], EnvelopeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<[u8; KEY_LEN], EnvelopeError>>,
    {
        let entry = self
            .opening
            .entry((stream.to_owned(), wrapped.to_vec()))
            .or_try_insert_with(open())
            .await
            .map_err(|e| (*e).clone())?;
        record("open", !entry.is_fresh());
        Ok(entry.into_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn a_shared_key_seals_at_most_max_objects() {
        let cache = DataKeyCache::new(&DataKeyCacheConfig { max_age_secs: 60, max_objects: 3, max_keys: 10 });
        let generated = AtomicUsize::new(0);
        let generate = || async {
            let n = generated.fetch_add(1, Ordering::SeqCst);
            anyhow::Ok(([u8::try_from(n).unwrap_or(0); KEY_LEN], vec![u8::try_from(n).unwrap_or(0)]))
        };
        let mut wrapped = Vec::new();
        for _ in 0..7 {
            wrapped.push(cache.sealing_key("s", generate).await.expect("key").1[0]);
        }
        assert_eq!(wrapped, [0, 0, 0, 1, 1, 1, 2]);
        cache.sealing_key("other", generate).await.expect("key");
        assert_eq!(generated.load(Ordering::SeqCst), 4, "one key per stream");
    }

    #[tokio::test]
    async fn caching_off_generates_per_object_and_opened_keys_are_reused() {
        let cache =
            DataKeyCache::new(&DataKeyCacheConfig { max_age_secs: 0, max_objects: 1000, max_keys: 10 });
        assert!(!cache.seals_shared());
        let opened = AtomicUsize::new(0);
        for _ in 0..3 {
            let key = cache
                .opening_key("s", b"w", || async {
                    opened.fetch_add(1, Ordering::SeqCst);
                    Ok([9u8; KEY_LEN])
                })
                .await;
            assert_eq!(key, Ok([9u8; KEY_LEN]));
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
        let refused = cache.opening_key("s", b"x", || async { Err(EnvelopeError::Forged) }).await;
        assert_eq!(refused, Err(EnvelopeError::Forged), "failures are not cached as keys");
    }
}
