//! Follows the published manifest and swaps in a new index per generation.
//!
//! Requests in flight keep the `Arc<Index>` they started with; a swap never
//! blocks or drops them. Segments are content-addressed, so each is fetched
//! once, checked against its hash, and kept while the manifest lists it.

use crate::index::Index;
use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use bytes::Bytes;
use cartorio_pkix::hash::sha256_hex;
use cartorio_pkix::publication::{MANIFEST_KEY, Manifest, segment_key};
use cartorio_platform::background::background;
use cartorio_platform::{ObjectStore, Shutdown};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub struct Loader {
    store: ObjectStore,
    segments: HashMap<String, Bytes>,
    index: Arc<ArcSwap<Index>>,
}

impl Loader {
    pub fn new(store: ObjectStore, index: Arc<ArcSwap<Index>>) -> Self {
        Self { store, segments: HashMap::new(), index }
    }

    /// Loads the current manifest if it is newer than the served generation.
    /// Returns the generation now served.
    pub async fn refresh(&mut self) -> anyhow::Result<u64> {
        let served = self.index.load().generation;
        let Some(bytes) = self.store.get(MANIFEST_KEY).await? else {
            return Ok(served);
        };
        let manifest = Manifest::from_json(&bytes).context("manifest is not valid JSON")?;
        if manifest.generation <= served {
            return Ok(served);
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

    /// Refreshes every `interval`, or at once when `notify` fires, until shutdown.
    /// A failed refresh keeps serving the current index (fail soft on availability).
    pub async fn run(mut self, interval: Duration, notify: Arc<Notify>, shutdown: Shutdown) {
        loop {
            if let Err(error) = self.refresh().await {
                metrics::counter!("cartorio_ocsp_index_load_failures_total").increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "manifest refresh failed; serving the previous generation"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = notify.notified() => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}
