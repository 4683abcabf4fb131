//! Publication: signed responses become an immutable, content-addressed
//! segment, then a manifest of the next generation names it. Segments are
//! written before the manifest, so a responder never sees a manifest whose
//! segments are missing.
//!
//! Any number of publishers share a store (`cartorio presign` beside `up`,
//! several control nodes), so the manifest is replaced by compare-and-swap
//! on the version last read: a publisher that loses re-reads the manifest
//! and puts its segment on top of what won. No publication is overwritten
//! and no two manifests ever carry one generation number.

use anyhow::Context;
use base64::Engine;
use bytes::Bytes;
use cartorio_pkix::hash::HashAlg;
use cartorio_pkix::hash::sha256_hex;
use cartorio_pkix::publication::{
    MANIFEST_KEY, Manifest, ManifestIssuer, SegmentBuilder, SegmentRef, parse_segment, segment_key,
};
use cartorio_platform::ObjectStore;
use cartorio_platform::store::Precondition;

/// Never more segments than this (each is one index layer a lookup may visit).
const MAX_SEGMENTS: usize = 16;

/// The first segment of the newest run to merge, if any. Binary-counter
/// (size-tiered) compaction: the newest segments merge while together they
/// hold at least half as many entries as the segment before them. Sizes so
/// stay geometric (a few segments, however many publications), each entry
/// is rewritten O(log n) times over a bulk run instead of at every
/// compaction, and a big base segment (and the responders' index of it)
/// survives until about as much newer data has accumulated. Past
/// MAX_SEGMENTS, the newest merge regardless.
fn merge_start(segments: &[SegmentRef]) -> Option<usize> {
    let mut start = segments.len().checked_sub(1)?;
    let mut newer = segments.get(start)?.entries;
    while let Some(previous) = start.checked_sub(1).and_then(|i| segments.get(i)) {
        if newer.saturating_mul(2) < previous.entries {
            break;
        }
        newer += previous.entries;
        start -= 1;
    }
    // Merging [start..] leaves start + 1 segments.
    let start = start.min(MAX_SEGMENTS - 1);
    (start + 1 < segments.len()).then_some(start)
}

/// In a bulk run past MAX_SEGMENTS: the adjacent pair of segments (index
/// of the first) with the fewest entries between them. Merging it costs
/// the least, where merging the newest run would grow with every batch.
fn cheapest_pair(segments: &[SegmentRef]) -> Option<usize> {
    (0..segments.len().checked_sub(1)?).min_by_key(|&i| segments[i].entries + segments[i + 1].entries)
}

pub struct Publisher {
    store: ObjectStore,
    /// The manifest as last read or written.
    manifest: Manifest,
    /// Its version in the store: a publication replaces only that one.
    version: Precondition,
    /// The CertID hashes this publisher's responses are signed for.
    cert_id_hashes: Vec<HashAlg>,
    /// In a bulk run, merge only past MAX_SEGMENTS, and then the cheapest
    /// pair: the run supersedes what it would merge, so merging as it goes
    /// is work thrown away. The next ordinary publication compacts.
    bulk: bool,
    /// The least epoch the next manifest carries (the registry's, see
    /// `Registry::publication_epoch`): after a restore, the store's
    /// manifest is of the backup's history, older than what responders
    /// serve; a later epoch makes the next one newer.
    epoch: i64,
}

impl Publisher {
    pub async fn open(store: ObjectStore, cert_id_hashes: Vec<HashAlg>) -> anyhow::Result<Self> {
        let mut publisher = Self {
            store,
            manifest: Manifest::empty(),
            version: Precondition::Absent,
            cert_id_hashes,
            bulk: false,
            epoch: 0,
        };
        publisher.reload().await?;
        Ok(publisher)
    }

    /// Publishes under `epoch` at least from the next manifest on.
    pub fn set_epoch(&mut self, epoch: i64) {
        self.epoch = epoch;
    }

    /// The CertID hashes the published manifest lists; `None` before the
    /// first publication.
    pub fn published_cert_id_hashes(&self) -> Option<&[HashAlg]> {
        (self.manifest.generation > 0).then_some(self.manifest.cert_id_hashes.as_slice())
    }

    /// The CertID hashes the next manifest lists.
    pub fn set_cert_id_hashes(&mut self, hashes: Vec<HashAlg>) {
        self.cert_id_hashes = hashes;
    }

    /// Reads the published manifest again: after another publisher won a
    /// race, the next attempt builds on what it published.
    pub async fn reload(&mut self) -> anyhow::Result<()> {
        (self.manifest, self.version) = match self.store.get_versioned(MANIFEST_KEY).await? {
            Some((bytes, version)) => (
                Manifest::from_json(&bytes).context("the published manifest is not valid")?,
                Precondition::Matches(version),
            ),
            None => (Manifest::empty(), Precondition::Absent),
        };
        Ok(())
    }

    /// Publishes `segment` as the newest override layer, retrying on top of
    /// whatever other publishers published meanwhile; returns the new
    /// generation. For responses that cannot go stale while it retries; the
    /// pre-signer checks its own between attempts (see `presigner.rs`).
    pub async fn publish(
        &mut self,
        issuers: &[(String, String, Vec<u8>)],
        segment: SegmentBuilder,
        now: i64,
    ) -> anyhow::Result<u64> {
        let entries = segment.len() as u64;
        let segment = self.put_segment(Bytes::from(segment.finish()), entries).await?;
        loop {
            if let Some(generation) = self.try_publish(issuers, &segment, now).await? {
                return Ok(generation);
            }
            self.reload().await?;
        }
    }

    /// Swaps in a manifest of the next generation with `segment` (already
    /// in the store) as its newest layer, if the published manifest is
    /// still the one last read. `None`: another publisher changed it first
    /// and nothing was written; [`Self::reload`] and try again.
    pub async fn try_publish(
        &mut self,
        issuers: &[(String, String, Vec<u8>)],
        segment: &SegmentRef,
        now: i64,
    ) -> anyhow::Result<Option<u64>> {
        let mut segments = self.manifest.segments.clone();
        segments.push(segment.clone());
        let run = match self.bulk {
            true => cheapest_pair(&segments).filter(|_| segments.len() > MAX_SEGMENTS).map(|i| i..i + 2),
            false => merge_start(&segments).map(|start| start..segments.len()),
        };
        if let Some(run) = run {
            let merged = self.compact(segments.get(run.clone()).unwrap_or_default()).await?;
            segments.splice(run, [merged]);
        }
        let manifest = Manifest {
            generation: self.manifest.generation + 1,
            epoch: self.manifest.epoch.max(self.epoch),
            created_at: now,
            issuers: issuers
                .iter()
                .map(|(id, name, der)| ManifestIssuer {
                    id: id.clone(),
                    name: name.clone(),
                    certificate: base64::engine::general_purpose::STANDARD.encode(der),
                })
                .collect(),
            segments,
            cert_id_hashes: self.cert_id_hashes.clone(),
        };
        let written = self.store.put_if(MANIFEST_KEY, Bytes::from(manifest.to_json()), &self.version).await?;
        let Some(version) = written else {
            metrics::counter!("cartorio_publication_conflicts_total").increment(1);
            tracing::info!(generation = manifest.generation, "another publisher published first; merging");
            return Ok(None);
        };
        (self.manifest, self.version) = (manifest, Precondition::Matches(version));
        metrics::gauge!("cartorio_publication_generation").set(self.manifest.generation as f64);
        Ok(Some(self.manifest.generation))
    }

    /// How many more segments the manifest takes before publications merge:
    /// a bulk run sizes its batches to fit.
    pub fn room(&self) -> usize {
        MAX_SEGMENTS.saturating_sub(self.manifest.segments.len())
    }

    /// Starts or ends a bulk run (see the `bulk` field).
    pub fn set_bulk(&mut self, bulk: bool) {
        self.bulk = bulk;
    }

    /// Publishes a CRL (DER) under `key` (see [`crate::crl::crl_key`] and
    /// [`crate::crl::CrlSharding::shard_key`]).
    ///
    /// By compare-and-swap, as the manifest: another publisher may have put
    /// a newer CRL (a higher cRLNumber, which is its issue time) since this
    /// one was signed, and replacing it could drop a revocation it lists.
    pub async fn put_crl(&self, key: &str, der: Vec<u8>) -> anyhow::Result<()> {
        let ours = cartorio_pkix::crl::crl_number(&der).context("a CRL without a cRLNumber")?;
        let der = Bytes::from(der);
        loop {
            let expected = match self.store.get_versioned(key).await? {
                Some((published, version)) => {
                    if cartorio_pkix::crl::crl_number(&published).is_some_and(|theirs| theirs >= ours) {
                        tracing::info!(key, "a newer CRL is already published; keeping it");
                        return Ok(());
                    }
                    Precondition::Matches(version)
                }
                None => Precondition::Absent,
            };
            if self.store.put_if(key, der.clone(), &expected).await?.is_some() {
                return Ok(());
            }
        }
    }

    /// Puts an issuing CA's certificate (DER) where the responder serves it,
    /// when it is not there already.
    pub async fn put_ca(&self, key: &str, der: &[u8]) -> anyhow::Result<()> {
        if self.store.get(key).await?.as_deref() != Some(der) {
            self.store.put(key, Bytes::copy_from_slice(der)).await?;
        }
        Ok(())
    }

    /// Exports a signed audit checkpoint (JSON).
    pub async fn put_checkpoint(&self, checkpoint: &crate::audit::Checkpoint) -> anyhow::Result<()> {
        let key = crate::audit::checkpoint_key(checkpoint.size);
        self.store.put(&key, Bytes::from(serde_json::to_vec_pretty(checkpoint)?)).await?;
        Ok(())
    }

    /// Exports the audit public key beside the checkpoints, once: a key
    /// already there is never replaced (a different one is reported: the
    /// checkpoints from now on would not verify with it).
    pub async fn put_audit_key(&self, spki: &[u8]) -> anyhow::Result<()> {
        let pem = cartorio_pkix::cert::public_key_pem(spki);
        let key = crate::audit::PUBLIC_KEY_KEY;
        match self.store.get(key).await? {
            Some(there) if there.as_ref() == pem.as_bytes() => Ok(()),
            Some(_) => {
                tracing::error!(key, "the store holds another audit public key; not replaced");
                Ok(())
            }
            None => {
                let written = self.store.put_if(key, Bytes::from(pem), &Precondition::Absent).await?;
                if written.is_none() {
                    tracing::debug!(key, "another publisher exported the audit key first");
                }
                Ok(())
            }
        }
    }

    /// Stores a segment under its content hash (putting it twice is harmless).
    pub async fn put_segment(&self, bytes: Bytes, entries: u64) -> anyhow::Result<SegmentRef> {
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        self.store.put(&segment_key(&sha256), bytes).await?;
        Ok(SegmentRef { sha256, entries, bytes: size })
    }

    /// Merges `segments` (later wins) into one new segment.
    async fn compact(&self, segments: &[SegmentRef]) -> anyhow::Result<SegmentRef> {
        let mut loaded = Vec::with_capacity(segments.len());
        for segment in segments {
            let key = segment_key(&segment.sha256);
            loaded.push(self.store.get(&key).await?.with_context(|| format!("{key} is missing"))?);
        }
        let count = segments.len();
        let (bytes, entries) = tokio::task::spawn_blocking(move || merge(&loaded)).await??;
        tracing::info!(segments = count, entries, "compacted published segments");
        self.put_segment(Bytes::from(bytes), entries).await
    }
}

/// One response per (issuer, serial, CertID hash), the key the responder's
/// index uses; later segments win. A sort of borrowed keys, no map: this
/// runs over millions of entries in a bulk refresh.
fn merge(loaded: &[Bytes]) -> anyhow::Result<(Vec<u8>, u64)> {
    let mut all = Vec::new();
    for (order, bytes) in loaded.iter().enumerate() {
        all.extend(parse_segment(bytes)?.into_iter().map(|entry| (order, bytes, entry)));
    }
    // Newest first within a key, so the dedup keeps it.
    all.sort_unstable_by(|(a_order, _, a), (b_order, _, b)| key(a).cmp(&key(b)).then(b_order.cmp(a_order)));
    all.dedup_by(|(_, _, later), (_, _, kept)| key(later) == key(kept));
    let mut merged = SegmentBuilder::new();
    for (_, bytes, entry) in &all {
        merged.push(
            entry.issuer,
            entry.serial,
            entry.meta,
            bytes.get(entry.der.clone()).unwrap_or_default(),
        )?;
    }
    let entries = merged.len() as u64;
    Ok((merged.finish(), entries))
}

type EntryKey<'a> = (&'a cartorio_pkix::publication::IssuerId, &'a [u8], cartorio_pkix::hash::HashAlg);

fn key<'a>(e: &cartorio_pkix::publication::SegmentEntry<'a>) -> EntryKey<'a> {
    (e.issuer, e.serial, e.meta.cert_id_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartorio_pkix::hash::HashAlg;
    use cartorio_pkix::publication::{EntryMeta, ManifestVersion};

    fn meta(t: i64, hash: HashAlg) -> EntryMeta {
        EntryMeta { this_update: t, next_update: t + 100, revoked: false, cert_id_hash: hash }
    }

    #[tokio::test]
    async fn compaction_keeps_one_response_per_serial_and_certid_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let mut publisher = Publisher::open(store.clone(), vec![]).await.expect("open");
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
        assert!(manifest.segments.len() < 6, "compacted: {:?}", manifest.segments);
        // Resolved as a responder does: newest segment first.
        let mut seen = std::collections::HashMap::new();
        for segment in manifest.segments.iter().rev() {
            let bytes = store.get(&segment_key(&segment.sha256)).await.expect("get").expect("segment");
            for e in parse_segment(&bytes).expect("parse") {
                seen.entry((e.serial.to_vec(), e.meta.cert_id_hash)).or_insert(e.meta.this_update);
            }
        }
        assert_eq!(seen.len(), 2 * MAX_SEGMENTS, "every serial under both hashes");
        for hash in [HashAlg::Sha1, HashAlg::Sha256] {
            assert_eq!(seen[&(vec![1u8], hash)], MAX_SEGMENTS as i64, "latest wins");
        }
    }

    #[tokio::test]
    async fn an_older_crl_never_replaces_a_newer_one() {
        use cartorio_pkix::crl::{CrlTemplate, build_crl, crl_number};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let publisher = Publisher::open(store.clone(), vec![]).await.expect("open");
        let signer = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
        let issuer = cartorio_pkix::cert::name(&[(cartorio_pkix::oid::COMMON_NAME, "Issuer")]);
        let crl = |number| {
            let t = CrlTemplate {
                issuer: &issuer,
                issuer_key_id: &[7; 20],
                this_update: 0,
                next_update: 100,
                number,
                revoked: &[],
                distribution_point: None,
            };
            build_crl(&t, &signer).expect("crl")
        };
        let published = || async { crl_number(&store.get("crl/x.crl").await.expect("get").expect("crl")) };
        publisher.put_crl("crl/x.crl", crl(20)).await.expect("put");
        publisher.put_crl("crl/x.crl", crl(10)).await.expect("put");
        assert_eq!(published().await, Some(20), "signed earlier, published later: not put");
        publisher.put_crl("crl/x.crl", crl(30)).await.expect("put");
        assert_eq!(published().await, Some(30));
    }

    #[tokio::test]
    async fn compaction_keeps_a_big_base_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let mut publisher = Publisher::open(store.clone(), vec![]).await.expect("open");
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
        assert_eq!(segments[0], first, "the base segment kept as it was");
        assert!(segments.len() <= 6, "the newer ones merged geometrically: {segments:?}");
        assert_eq!(segments.iter().skip(1).map(|s| s.entries).sum::<u64>(), MAX_SEGMENTS as u64);
    }

    #[tokio::test]
    async fn a_publisher_given_a_later_epoch_publishes_under_it_and_others_follow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ObjectStore::local(dir.path());
        let one = || {
            let mut segment = SegmentBuilder::new();
            segment.push(&[3u8; 32], &[1], meta(0, HashAlg::Sha1), &[1]).expect("push");
            segment
        };
        let mut before = Publisher::open(store.clone(), vec![]).await.expect("open");
        before.publish(&[], one(), 0).await.expect("publish");
        before.publish(&[], one(), 0).await.expect("publish");
        assert_eq!(before.manifest.version(), ManifestVersion { epoch: 0, generation: 2 });
        // Restored: the store holds the backup's generation 1.
        let backup = Manifest { generation: 1, ..before.manifest.clone() };
        store.put(MANIFEST_KEY, Bytes::from(backup.to_json())).await.expect("put");
        let mut restored = Publisher::open(store.clone(), vec![]).await.expect("open");
        restored.set_epoch(1_000);
        restored.publish(&[], one(), 0).await.expect("publish");
        assert_eq!(restored.manifest.version(), ManifestVersion { epoch: 1_000, generation: 2 });
        assert!(restored.manifest.version() > ManifestVersion { epoch: 0, generation: 2 });
        // A node that read no epoch builds on the published manifest's.
        let mut other = Publisher::open(store, vec![]).await.expect("open");
        other.publish(&[], one(), 0).await.expect("publish");
        assert_eq!(other.manifest.version(), ManifestVersion { epoch: 1_000, generation: 3 });
    }

    #[tokio::test]
    async fn a_bulk_run_past_the_segment_cap_merges_the_smallest_neighbours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut publisher = Publisher::open(ObjectStore::local(dir.path()), vec![]).await.expect("open");
        publisher.set_bulk(true);
        let issuer = [5u8; 32];
        // The first segment is big; the run's later ones are small.
        for round in 0..MAX_SEGMENTS as u16 + 4 {
            let mut segment = SegmentBuilder::new();
            let count = if round == 0 { 50 } else { 2 };
            for i in 0..count {
                let serial = (round * 100 + i).to_be_bytes();
                segment.push(&issuer, &serial, meta(i64::from(round), HashAlg::Sha1), &serial).expect("push");
            }
            publisher.publish(&[], segment, 0).await.expect("publish");
        }
        let segments = &publisher.manifest.segments;
        assert_eq!(segments.len(), MAX_SEGMENTS);
        assert_eq!(segments[0].entries, 50, "the big segment is never rewritten");
        assert_eq!(segments.iter().map(|s| s.entries).sum::<u64>(), 50 + 2 * (MAX_SEGMENTS as u64 + 3));
    }

    #[tokio::test]
    async fn a_bulk_run_keeps_few_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut publisher = Publisher::open(ObjectStore::local(dir.path()), vec![]).await.expect("open");
        let issuer = [9u8; 32];
        for round in 0..100u16 {
            let mut segment = SegmentBuilder::new();
            for i in 0..10u16 {
                let serial = (round * 10 + i).to_be_bytes();
                segment.push(&issuer, &serial, meta(i64::from(round), HashAlg::Sha1), &serial).expect("push");
            }
            publisher.publish(&[], segment, 0).await.expect("publish");
            let segments = &publisher.manifest.segments;
            assert!(segments.len() <= 8, "after {round}: {segments:?}");
        }
        let total: u64 = publisher.manifest.segments.iter().map(|s| s.entries).sum();
        assert_eq!(total, 1000, "nothing lost");
    }
}
