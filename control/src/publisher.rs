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

/// Past this many segments, the next publication compacts.
const MAX_SEGMENTS: usize = 16;

/// Where compaction starts merging (size-tiered): the segments after the
/// first when they hold less than half as many entries as it, so the big base
/// segment, and the responders' index of it, survive a compaction; all of
/// them otherwise.
fn compaction_start(segments: &[SegmentRef]) -> usize {
    let Some((base, rest)) = segments.split_first() else { return 0 };
    let newer: u64 = rest.iter().map(|s| s.entries).sum();
    if newer < base.entries / 2 { 1 } else { 0 }
}

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
            let start = compaction_start(&segments);
            let merged = self.compact(segments.get(start..).unwrap_or_default()).await?;
            segments.truncate(start);
            segments.push(merged);
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

    /// Publishes a CRL (DER) under `key` (see [`crate::crl::crl_key`] and
    /// [`crate::crl::CrlSharding::shard_key`]).
    pub async fn put_crl(&self, key: &str, der: Vec<u8>) -> anyhow::Result<()> {
        self.store.put(key, Bytes::from(der)).await?;
        Ok(())
    }

    /// Exports a signed audit checkpoint (JSON).
    pub async fn put_checkpoint(&self, checkpoint: &crate::audit::Checkpoint) -> anyhow::Result<()> {
        let key = format!("audit/checkpoints/{:012}.json", checkpoint.size);
        self.store.put(&key, Bytes::from(serde_json::to_vec_pretty(checkpoint)?)).await?;
        Ok(())
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
        // One response per (issuer, serial, CertID hash): the same key the
        // responder's index uses. Later segments win.
        let mut latest = BTreeMap::new();
        for bytes in &loaded {
            for entry in parse_segment(bytes)? {
                let key = (*entry.issuer, entry.serial.to_vec(), entry.meta.cert_id_hash);
                latest.insert(key, (entry.meta, bytes.slice(entry.der)));
            }
        }
        let mut merged = SegmentBuilder::new();
        for ((issuer, serial, _), (meta, der)) in &latest {
            merged.push(issuer, serial, *meta, der)?;
        }
        let entries = merged.len() as u64;
        tracing::info!(segments = segments.len(), entries, "compacting published segments");
        self.put_segment(merged.finish(), entries).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartorio_pkix::hash::HashAlg;
    use cartorio_pkix::publication::EntryMeta;

    fn meta(t: i64, hash: HashAlg) -> EntryMeta {
        EntryMeta { this_update: t, next_update: t + 100, revoked: false, cert_id_hash: hash }
    }

    #[tokio::test]
    async fn compaction_keeps_one_response_per_serial_and_certid_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let mut publisher = Publisher::open(store.clone()).await.expect("open");
        let issuer = [7u8; 32];
        // More publications than MAX_SEGMENTS, each with both hashes; serial 1 re-signed at the end.
        for round in 0..=MAX_SEGMENTS as u8 {
            let mut segment = SegmentBuilder::new();
            let serial = if round == MAX_SEGMENTS as u8 { 1 } else { round + 1 };
            for hash in [HashAlg::Sha1, HashAlg::Sha256] {
                segment
                    .push(&issuer, &[serial], meta(i64::from(round), hash), &[round, serial])
                    .expect("push");
            }
            publisher.publish(&[], segment, 0).await.expect("publish");
        }
        let manifest = Manifest::from_json(&store.get(MANIFEST_KEY).await.expect("get").expect("manifest"))
            .expect("json");
        assert_eq!(manifest.segments.len(), 1, "compacted");
        let bytes =
            store.get(&segment_key(&manifest.segments[0].sha256)).await.expect("get").expect("segment");
        let entries = parse_segment(&bytes).expect("parse");
        assert_eq!(entries.len(), 2 * MAX_SEGMENTS, "every serial under both hashes");
        let serial_one: Vec<_> = entries.iter().filter(|e| e.serial == [1]).collect();
        assert_eq!(serial_one.len(), 2);
        assert!(serial_one.iter().all(|e| e.meta.this_update == MAX_SEGMENTS as i64), "latest wins");
    }

    #[tokio::test]
    async fn compaction_keeps_a_big_base_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let mut publisher = Publisher::open(store.clone()).await.expect("open");
        let issuer = [7u8; 32];
        let mut base = SegmentBuilder::new();
        for serial in 0..100u8 {
            base.push(&issuer, &[serial], meta(0, HashAlg::Sha1), &[serial]).expect("push");
        }
        publisher.publish(&[], base, 0).await.expect("publish");
        let first = publisher.manifest.segments[0].clone();
        for round in 1..=MAX_SEGMENTS as u8 {
            let mut segment = SegmentBuilder::new();
            segment.push(&issuer, &[round], meta(i64::from(round), HashAlg::Sha1), &[round]).expect("push");
            publisher.publish(&[], segment, 0).await.expect("publish");
        }
        let segments = &publisher.manifest.segments;
        assert_eq!(segments.len(), 2, "the newer segments merged into one");
        assert_eq!(segments[0], first, "the base segment kept as it was");
        assert_eq!(segments[1].entries, MAX_SEGMENTS as u64);
    }
}
