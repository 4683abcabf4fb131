//! Follows the published manifest and swaps in a new index per generation.
//!
//! Requests in flight keep the `Arc<Index>` they started with; a swap never
//! blocks or drops them. Segments are content-addressed, so each is fetched
//! once, checked against its hash, and kept while the manifest lists it.

use crate::index::Index;
use crate::readiness::LoaderStatus;
use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use bytes::Bytes;
use cartorio_pkix::hash::sha256_hex;
use cartorio_pkix::publication::{MANIFEST_KEY, Manifest, segment_key};
use cartorio_platform::background::background;
use cartorio_platform::rounds::Reload;
use cartorio_platform::{ObjectStore, Shutdown};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Loader {
    store: ObjectStore,
    segments: HashMap<String, Bytes>,
    index: Arc<ArcSwap<Index>>,
    /// SHA-256 of the manifest the index was built from: a manifest is
    /// known by its content, not by its generation number alone.
    served_manifest: String,
    status: Arc<LoaderStatus>,
}

impl Loader {
    pub fn new(store: ObjectStore, index: Arc<ArcSwap<Index>>, status: Arc<LoaderStatus>) -> Self {
        Self { store, segments: HashMap::new(), index, served_manifest: String::new(), status }
    }

    /// Loads the current manifest if it is not the one served. Returns the
    /// generation now served.
    ///
    /// Publishers swap the manifest by compare-and-swap, so generations
    /// only grow within an epoch and each names one manifest. Still, a
    /// manifest with the served version but other content (written by a
    /// publisher without that guarantee) is loaded: it is what the store
    /// says now, and ignoring it once hid a revocation. An older version is
    /// not: it is a stale read or a rollback, and could hide one too. A
    /// restored control plane publishes under a later epoch, older
    /// generation or not (see `Manifest::epoch`).
    pub async fn refresh(&mut self) -> anyhow::Result<u64> {
        let served = self.index.load().version();
        let Some(bytes) = self.store.get(MANIFEST_KEY).await? else {
            return Ok(served.generation);
        };
        let digest = sha256_hex(&bytes);
        if digest == self.served_manifest {
            return Ok(served.generation);
        }
        let manifest = Manifest::from_json(&bytes).context("manifest is not valid JSON")?;
        if manifest.version() < served {
            metrics::counter!("cartorio_ocsp_manifest_rollbacks_total").increment(1);
            tracing::warn!(
                served = served.generation,
                served_epoch = served.epoch,
                published = manifest.generation,
                published_epoch = manifest.epoch,
                "the published manifest is older than the one served; keeping the newer"
            );
            return Ok(served.generation);
        }
        if manifest.version() == served && !self.served_manifest.is_empty() {
            metrics::counter!("cartorio_ocsp_manifest_collisions_total").increment(1);
            tracing::warn!(
                generation = served.generation,
                "a different manifest under the generation already served; loading it"
            );
        }
        if manifest.epoch > served.epoch && served.generation > 0 {
            tracing::info!(
                epoch = manifest.epoch,
                generation = manifest.generation,
                served = served.generation,
                "a manifest of a later epoch (a restored control plane); loading it"
            );
        }
        let started = Instant::now();
        let mut fetched = Vec::new();
        for segment in &manifest.segments {
            if !self.segments.contains_key(&segment.sha256) {
                let key = segment_key(&segment.sha256);
                let data = self.store.get(&key).await?.with_context(|| format!("{key} is missing"))?;
                fetched.push((segment.sha256.clone(), data));
            }
        }
        let mut segments = self.segments.clone();
        segments.retain(|hash, _| manifest.segments.iter().any(|s| &s.sha256 == hash));
        let previous = self.index.load_full();
        // Checking and indexing are CPU work: off the async threads, and at a
        // lower priority than serving (measured in benches: ocsp-swap).
        let (built, segments) = background("index-build", move || {
            for (sha256, data) in fetched {
                if sha256_hex(&data) != sha256 {
                    bail!("segment {sha256} does not match its content hash");
                }
                segments.insert(sha256, data);
            }
            Ok((Index::next(&previous, &manifest, &segments)?, segments))
        })
        .await?;
        self.segments = segments;
        self.served_manifest = digest;
        let (index, indexed) = (built.index, built.indexed);
        let (generation, size, layers) = (index.generation, index.len(), index.layers());
        self.index.store(Arc::new(index));
        let took = started.elapsed();
        metrics::gauge!("cartorio_ocsp_index_generation").set(generation as f64);
        metrics::gauge!("cartorio_ocsp_index_entries").set(size as f64);
        metrics::gauge!("cartorio_ocsp_index_layers").set(layers as f64);
        metrics::histogram!("cartorio_ocsp_index_swap_seconds").record(took.as_secs_f64());
        tracing::info!(
            generation,
            entries = size,
            layers,
            indexed,
            took_ms = took.as_millis() as u64,
            "index swapped"
        );
        Ok(generation)
    }

    /// Refreshes every `interval`, or at once when `reload` wakes it (a
    /// pre-signer in the same process, which waits on its rounds), until
    /// shutdown. A failed refresh keeps serving the current index (fail soft
    /// on availability).
    pub async fn run(mut self, interval: Duration, reload: Arc<Reload>, shutdown: Shutdown) {
        // Present from the start, so alerts on their increase see a zero.
        metrics::counter!("cartorio_ocsp_index_load_failures_total").increment(0);
        metrics::counter!("cartorio_ocsp_manifest_rollbacks_total").increment(0);
        reload.rounds.start();
        loop {
            let round = reload.rounds.begin();
            let refreshed = self.refresh().await;
            reload.rounds.end(round);
            match &refreshed {
                Ok(_) => self.status.succeeded(cartorio_platform::clock::unix_seconds()),
                Err(_) => self.status.failed(),
            }
            if let Err(error) = refreshed {
                metrics::counter!("cartorio_ocsp_index_load_failures_total").increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "manifest refresh failed; serving the previous generation"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = reload.wake.notified() => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartorio_pkix::EcCurve;

    fn manifest(epoch: i64, generation: u64) -> Manifest {
        let signer = cartorio_testkit::pki::ec_key(EcCurve::P256);
        let cert = cartorio_testkit::pki::self_signed(&signer, "Issuer", vec![]);
        let (mut manifest, _) = cartorio_testkit::pki::one_segment_manifest(&cert, &[], 0);
        manifest.segments.clear();
        (manifest.epoch, manifest.generation) = (epoch, generation);
        manifest
    }

    #[tokio::test]
    async fn an_older_manifest_is_refused_unless_of_a_later_epoch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let index = Arc::new(ArcSwap::from_pointee(Index::default()));
        let mut loader = Loader::new(store.clone(), index.clone(), Arc::new(LoaderStatus::default()));
        let publish = |m: Manifest| store.put(MANIFEST_KEY, Bytes::from(m.to_json()));
        publish(manifest(0, 5)).await.expect("put");
        assert_eq!(loader.refresh().await.expect("refresh"), 5);
        // A stale read or a rollback.
        publish(manifest(0, 2)).await.expect("put");
        assert_eq!(loader.refresh().await.expect("refresh"), 5);
        // A control plane restored from a backup of generation 1.
        let restored_at = 1_764_900_000;
        publish(manifest(restored_at, 2)).await.expect("put");
        assert_eq!(loader.refresh().await.expect("refresh"), 2);
        assert_eq!(index.load().epoch, restored_at);
        // And from then on, the history before the restore is the older.
        publish(manifest(0, 9)).await.expect("put");
        assert_eq!(loader.refresh().await.expect("refresh"), 2);
        publish(manifest(restored_at, 3)).await.expect("put");
        assert_eq!(loader.refresh().await.expect("refresh"), 3);
    }
}
