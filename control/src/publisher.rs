//! Publication: signed responses become an immutable, content-addressed
//! segment, then a manifest of the next generation names it. Segments are
//! written before the manifest, so a responder never sees a manifest whose
//! segments are missing.

use anyhow::Context;
use base64::Engine;
use bytes::Bytes;
use cartorio_pkix::hash::sha256_hex;
use cartorio_pkix::publication::{
    MANIFEST_KEY, Manifest, ManifestIssuer, SegmentBuilder, SegmentRef, parse_segment, segment_key,
};
use cartorio_platform::ObjectStore;
use std::collections::BTreeMap;

/// Past this many segments, the next publication merges them into one.
const MAX_SEGMENTS: usize = 16;

pub struct Publisher {
    store: ObjectStore,
    manifest: Manifest,
}

impl Publisher {
    pub async fn open(store: ObjectStore) -> anyhow::Result<Self> {
        let manifest = match store.get(MANIFEST_KEY).await? {
            Some(bytes) => Manifest::from_json(&bytes).context("the published manifest is not valid")?,
            None => Manifest { generation: 0, created_at: 0, issuers: vec![], segments: vec![] },
        };
        Ok(Self { store, manifest })
    }

    pub fn generation(&self) -> u64 {
        self.manifest.generation
    }

    /// Publishes `segment` as the newest override layer; returns the new generation.
    pub async fn publish(
        &mut self,
        issuers: &[(String, Vec<u8>)],
        segment: SegmentBuilder,
        now: i64,
    ) -> anyhow::Result<u64> {
        let entries = segment.len() as u64;
        let mut segments = self.manifest.segments.clone();
        segments.push(self.put_segment(segment.finish(), entries).await?);
        if segments.len() > MAX_SEGMENTS {
            segments = vec![self.compact(&segments).await?];
        }
        let manifest = Manifest {
            generation: self.manifest.generation + 1,
            created_at: now,
            issuers: issuers
                .iter()
                .map(|(id, der)| ManifestIssuer {
                    id: id.clone(),
                    certificate: base64::engine::general_purpose::STANDARD.encode(der),
                })
                .collect(),
            segments,
        };
        self.store.put(MANIFEST_KEY, Bytes::from(manifest.to_json())).await?;
        self.manifest = manifest;
        metrics::gauge!("cartorio_publication_generation").set(self.manifest.generation as f64);
        Ok(self.manifest.generation)
    }

    async fn put_segment(&self, bytes: Vec<u8>, entries: u64) -> anyhow::Result<SegmentRef> {
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        self.store.put(&segment_key(&sha256), Bytes::from(bytes)).await?;
        Ok(SegmentRef { sha256, entries, bytes: size })
    }

    /// Merges `segments` (later wins) into one new segment.
    async fn compact(&self, segments: &[SegmentRef]) -> anyhow::Result<SegmentRef> {
        let mut loaded = Vec::with_capacity(segments.len());
        for segment in segments {
            let key = segment_key(&segment.sha256);
            loaded.push(self.store.get(&key).await?.with_context(|| format!("{key} is missing"))?);
        }
        let mut latest = BTreeMap::new();
        for bytes in &loaded {
            for entry in parse_segment(bytes)? {
                latest.insert((*entry.issuer, entry.serial.to_vec()), (entry.meta, bytes.slice(entry.der)));
            }
        }
        let mut merged = SegmentBuilder::new();
        for ((issuer, serial), (meta, der)) in &latest {
            merged.push(issuer, serial, *meta, der)?;
        }
        let entries = merged.len() as u64;
        tracing::info!(segments = segments.len(), entries, "compacting published segments");
        self.put_segment(merged.finish(), entries).await
    }
}
