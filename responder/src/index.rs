//! The in-memory index of pre-signed responses for one manifest generation.
//!
//! Read lock-free by every request; the loader swaps whole indexes. An index
//! is one immutable layer per published segment, looked up newest first, and
//! a new generation re-uses the layers of the segments it shares with the
//! previous one: a revocation burst costs the indexing of its own segment, not
//! of ten million entries (an LSM tree whose compaction the publisher does).
//! Response bytes are `Bytes` slices of the loaded segments: serving one
//! copies nothing.

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::hash::HashAlg;
use cartorio_pkix::ocsp::{CertId, IssuerHashes};
use cartorio_pkix::publication::{IssuerId, Manifest, ManifestIssuer, ManifestVersion, parse_segment};
use cartorio_platform::hot_metrics::Counter;
use hashbrown::{HashTable, hash_table};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

/// Longest serial we index (INTEGER contents: 20 octets plus a sign octet).
const MAX_SERIAL: usize = 21;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SerialKey {
    len: u8,
    bytes: [u8; MAX_SERIAL],
}

impl SerialKey {
    fn new(serial: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; MAX_SERIAL];
        bytes.get_mut(..serial.len())?.copy_from_slice(serial);
        Some(Self { len: serial.len() as u8, bytes })
    }
}

/// One pre-signed response as the index stores it: 32 octets, so that ten
/// million entries cost a few hundred MB beside the response bytes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u64,
    len: u32,
    /// Unix seconds (u32 lasts until 2106).
    this_update: u32,
    next_update: u32,
    revoked: bool,
    etag: u64,
}

/// One pre-signed response and what the HTTP layer needs to know about it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// A slice of the loaded segment: no copy.
    pub der: Bytes,
    pub this_update: i64,
    pub next_update: i64,
    pub revoked: bool,
    /// The strong ETag: see [`etag`].
    pub etag: u64,
}

fn unix_u32(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

struct Issuer {
    id: IssuerId,
    hashes: IssuerHashes,
    /// Responses served for this issuer; labelled by a short id, one label
    /// value per configured issuer (bounded).
    served: Counter,
}

/// The issuers of a manifest, in its order (entries refer to them by position).
#[derive(Default)]
pub struct Issuers {
    listed: Vec<ManifestIssuer>,
    parsed: Vec<Issuer>,
}

impl Issuers {
    pub fn of(manifest: &Manifest) -> anyhow::Result<Self> {
        let parsed = manifest.issuers.iter().map(parse_issuer).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { listed: manifest.issuers.clone(), parsed })
    }

    /// Whether `manifest` lists exactly these issuers (so layers built
    /// against them stay valid).
    pub fn same_as(&self, manifest: &Manifest) -> bool {
        self.listed == manifest.issuers
    }

    fn position(&self, id: &IssuerId) -> Option<u16> {
        self.parsed.iter().position(|i| &i.id == id).and_then(|i| u16::try_from(i).ok())
    }
}

fn parse_issuer(issuer: &ManifestIssuer) -> anyhow::Result<Issuer> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(&issuer.certificate)
        .context("issuer certificate is not base64")?;
    let view = CertificateView::parse(&der).context("issuer certificate is malformed")?;
    let id: IssuerId = ring::digest::digest(&ring::digest::SHA256, view.spki)
        .as_ref()
        .try_into()
        .context("digest length")?;
    if hex::encode(id) != issuer.id {
        bail!("issuer id {} does not match its certificate", issuer.id);
    }
    let label = issuer.id.get(..16).unwrap_or(&issuer.id).to_owned();
    let served = Counter::register("cartorio_ocsp_responses_by_issuer_total", &[("issuer", &label)]);
    Ok(Issuer { id, hashes: IssuerHashes::of(&view)?, served })
}

type Key = (u16, HashAlg, SerialKey);

/// The 64 bits of a segment's content hash that seed its entries' ETags.
fn etag_seed(sha256_hex: &str) -> u64 {
    let mut seed = [0u8; 8];
    let _ = hex::decode_to_slice(sha256_hex.get(..16).unwrap_or_default(), &mut seed);
    u64::from_be_bytes(seed)
}

/// The strong ETag of the response at `offset` in the segment seeded by
/// `seed`: segments are content-addressed, so (segment, offset) names the
/// bytes exactly, and the tag is the same on every responder and after every
/// restart without hashing each response (half the indexing cost). splitmix64
/// is a bijection: two responses of one segment never share a tag; across
/// segments they collide with probability 2^-64, as a truncated digest would.
/// The same bytes re-published in another segment get a new tag: one full
/// answer instead of a 304 after a compaction.
fn etag(seed: u64, offset: u64) -> u64 {
    let mut z = (seed ^ offset).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One keyed hasher for every layer, so a lookup hashes its key once and
/// probes each layer with that hash. Seeded at random per process: request
/// serials are attacker-chosen.
fn key_hash(key: &Key) -> u64 {
    static STATE: OnceLock<foldhash::quality::RandomState> = OnceLock::new();
    STATE.get_or_init(Default::default).hash_one(key)
}

/// A key and its hash, computed once per lookup.
#[derive(Clone, Copy)]
struct Probe {
    key: Key,
    hash: u64,
}

impl Probe {
    fn new(key: Key) -> Self {
        Self { key, hash: key_hash(&key) }
    }
}

/// The responses of one segment.
pub struct Layer {
    /// The segment's content hash.
    source: String,
    segment: Bytes,
    entries: HashTable<(Key, Slot)>,
}

impl Layer {
    pub fn build(issuers: &Issuers, sha256: &str, segment: Bytes) -> anyhow::Result<Self> {
        let parsed = parse_segment(&segment).with_context(|| format!("segment {sha256}"))?;
        let seed = etag_seed(sha256);
        let mut entries = HashTable::with_capacity(parsed.len());
        for entry in parsed {
            let Some(issuer) = issuers.position(entry.issuer) else {
                bail!("segment {sha256} names an issuer missing from the manifest");
            };
            let key = SerialKey::new(entry.serial).context("serial too long")?;
            let der = segment.get(entry.der.clone()).context("entry outside its segment")?;
            let slot = Slot {
                offset: entry.der.start as u64,
                len: u32::try_from(der.len()).context("response over 4 GiB")?,
                this_update: unix_u32(entry.meta.this_update),
                next_update: unix_u32(entry.meta.next_update),
                revoked: entry.meta.revoked,
                etag: etag(seed, entry.der.start as u64),
            };
            let key = (issuer, entry.meta.cert_id_hash, key);
            // Later entries of a segment win, as later segments do.
            match entries.entry(key_hash(&key), |(k, _)| *k == key, |(k, _)| key_hash(k)) {
                hash_table::Entry::Occupied(mut e) => e.get_mut().1 = slot,
                hash_table::Entry::Vacant(e) => {
                    e.insert((key, slot));
                }
            }
        }
        entries.shrink_to_fit(|(k, _)| key_hash(k));
        Ok(Self { source: sha256.to_owned(), segment, entries })
    }

    fn get(&self, probe: &Probe) -> Option<&Slot> {
        self.entries.find(probe.hash, |(k, _)| *k == probe.key).map(|(_, slot)| slot)
    }

    /// What this layer says about a certificate: its response for the
    /// request's CertID hash (`exact`); [`Said::OtherHash`] when it holds
    /// the certificate only under `sibling` (another pre-signed hash), so
    /// this layer is the newest word on it but has no response the client
    /// could match; `None` when it does not hold the certificate.
    fn find(&self, exact: &Probe, sibling: Option<&Probe>) -> Option<Said> {
        let Some(slot) = self.get(exact) else {
            return sibling.and_then(|s| self.get(s)).map(|_| Said::OtherHash);
        };
        let start = usize::try_from(slot.offset).ok()?;
        let der = self.segment.slice(start..start.checked_add(slot.len as usize)?);
        Some(Said::Response(Entry {
            der,
            this_update: i64::from(slot.this_update),
            next_update: i64::from(slot.next_update),
            revoked: slot.revoked,
            etag: slot.etag,
        }))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

enum Said {
    Response(Entry),
    OtherHash,
}

#[derive(Default)]
pub struct Index {
    pub generation: u64,
    /// The manifest's epoch (see [`Manifest::epoch`]).
    pub epoch: i64,
    /// When the manifest was published (its `created_at`, Unix seconds).
    pub published_at: i64,
    issuers: Arc<Issuers>,
    /// In manifest order: later layers win.
    layers: Vec<Arc<Layer>>,
    /// The CertID hashes responses are pre-signed for (the manifest's).
    cert_id_hashes: Vec<HashAlg>,
}

pub enum Lookup {
    Found(Entry),
    UnknownIssuer,
    UnknownSerial,
    /// The request's CertID hash has no pre-signed response (not one the
    /// manifest lists, or not yet signed for this certificate): answering
    /// with a response for another CertID would not match the request.
    NotPreSigned,
}

/// A new index and how many entries had to be indexed for it.
pub struct Built {
    pub index: Index,
    pub indexed: usize,
}

impl Index {
    /// Builds the index of `manifest` from scratch.
    pub fn build(manifest: &Manifest, segments: &HashMap<String, Bytes>) -> anyhow::Result<Self> {
        Ok(Self::next(&Self::default(), manifest, segments)?.index)
    }

    /// Builds the index of `manifest`, re-using the layers of `previous` for
    /// the segments both list (while the issuer list is unchanged) and
    /// indexing only the others.
    pub fn next(
        previous: &Index,
        manifest: &Manifest,
        segments: &HashMap<String, Bytes>,
    ) -> anyhow::Result<Built> {
        let issuers = match previous.issuers.same_as(manifest) {
            true => previous.issuers.clone(),
            false => Arc::new(Issuers::of(manifest)?),
        };
        let reusable: HashMap<&str, &Arc<Layer>> = match Arc::ptr_eq(&issuers, &previous.issuers) {
            true => previous.layers.iter().map(|l| (l.source.as_str(), l)).collect(),
            false => HashMap::new(),
        };
        let mut layers = Vec::with_capacity(manifest.segments.len());
        let mut indexed = 0;
        for segment in &manifest.segments {
            if let Some(layer) = reusable.get(segment.sha256.as_str()) {
                layers.push(Arc::clone(layer));
                continue;
            }
            let bytes = segments
                .get(&segment.sha256)
                .with_context(|| format!("segment {} not loaded", segment.sha256))?;
            let layer = Layer::build(&issuers, &segment.sha256, bytes.clone())?;
            indexed += layer.len();
            layers.push(Arc::new(layer));
        }
        let cert_id_hashes = manifest.cert_id_hashes.clone();
        let index = Self {
            generation: manifest.generation,
            epoch: manifest.epoch,
            published_at: manifest.created_at,
            issuers,
            layers,
            cert_id_hashes,
        };
        Ok(Built { index, indexed })
    }

    /// The served manifest's version: what a newer one must exceed.
    pub fn version(&self) -> ManifestVersion {
        ManifestVersion { epoch: self.epoch, generation: self.generation }
    }

    /// Entries over all layers (a response overridden later counts twice).
    pub fn len(&self) -> usize {
        self.layers.iter().map(|l| l.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    pub fn lookup(&self, id: &CertId<'_>) -> Lookup {
        let Some(position) = self.issuers.parsed.iter().position(|i| i.hashes.matches(id)) else {
            return Lookup::UnknownIssuer;
        };
        let (Some(key), Ok(issuer)) = (SerialKey::new(id.serial), u16::try_from(position)) else {
            return Lookup::UnknownSerial;
        };
        if !self.cert_id_hashes.contains(&id.hash) {
            return Lookup::NotPreSigned;
        }
        let exact = Probe::new((issuer, id.hash, key));
        // Every publication signs each certificate under every listed hash,
        // so the first listed one tells whether a layer holds the
        // certificate at all: the newest layer that does decides, even when
        // it lacks the requested hash (the list grew and this certificate is
        // not re-signed yet). An older layer's response, for any hash,
        // may be superseded by a revocation.
        let sibling =
            self.cert_id_hashes.first().filter(|h| **h != id.hash).map(|h| Probe::new((issuer, *h, key)));
        // Newest layer first: a revocation published later overrides.
        let entry = match self.layers.iter().rev().find_map(|l| l.find(&exact, sibling.as_ref())) {
            Some(Said::Response(entry)) => entry,
            Some(Said::OtherHash) => return Lookup::NotPreSigned,
            None => return Lookup::UnknownSerial,
        };
        if let Some(i) = self.issuers.parsed.get(position) {
            i.served.increment(1);
        }
        Lookup::Found(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HashAlg::{Sha1, Sha256};
    use cartorio_pkix::EcCurve;
    use cartorio_pkix::hash::sha256_hex;
    use cartorio_pkix::publication::{EntryMeta, SegmentBuilder, SegmentRef};

    struct Published {
        manifest: Manifest,
        segments: HashMap<String, Bytes>,
        hashes: IssuerHashes,
    }

    /// One issuer and one segment per `(serial, revoked, cert_id_hash)` list, in order.
    fn publish(layers: &[&[(u8, bool, HashAlg)]]) -> Published {
        let signer = cartorio_testkit::pki::ec_key(EcCurve::P256);
        let cert = cartorio_testkit::pki::self_signed(&signer, "Issuer", vec![]);
        let view = CertificateView::parse(&cert).expect("view");
        let (mut manifest, _) = cartorio_testkit::pki::one_segment_manifest(&cert, &[], 0);
        manifest.segments.clear();
        let mut published = Published {
            manifest,
            segments: HashMap::new(),
            hashes: IssuerHashes::of(&view).expect("hashes"),
        };
        let id: IssuerId = HashAlg::Sha256.digest(view.spki).try_into().expect("32");
        for layer in layers {
            append(&mut published, &id, layer);
        }
        published
    }

    fn append(p: &mut Published, id: &IssuerId, layer: &[(u8, bool, HashAlg)]) {
        let n = p.manifest.segments.len() as u8;
        let mut builder = SegmentBuilder::new();
        for &(serial, revoked, hash) in layer {
            let meta =
                EntryMeta { this_update: i64::from(n), next_update: 1000, revoked, cert_id_hash: hash };
            builder.push(id, &[serial], meta, &[0x30, n, serial]).expect("push");
        }
        let entries = builder.len() as u64;
        let bytes = builder.finish();
        let sha256 = sha256_hex(&bytes);
        p.manifest.segments.push(SegmentRef { sha256: sha256.clone(), entries, bytes: bytes.len() as u64 });
        p.segments.insert(sha256, Bytes::from(bytes));
        p.manifest.generation += 1;
    }

    fn issuer_id(p: &Published) -> IssuerId {
        let mut id = [0u8; 32];
        hex::decode_to_slice(&p.manifest.issuers[0].id, &mut id).expect("hex");
        id
    }

    fn status(index: &Index, p: &Published, hash: HashAlg, serial: u8) -> Option<bool> {
        let (issuer_name_hash, issuer_key_hash) = p.hashes.hashes(hash).expect("hashes");
        let serial = [serial];
        let id = CertId { hash, issuer_name_hash, issuer_key_hash, serial: &serial };
        match index.lookup(&id) {
            Lookup::Found(entry) => Some(entry.revoked),
            _ => None,
        }
    }

    #[test]
    fn a_new_segment_is_indexed_alone_and_overrides_older_ones() {
        let mut p = publish(&[&[(1, false, Sha1), (1, false, Sha256), (2, false, Sha1)]]);
        let full = Index::build(&p.manifest, &p.segments).expect("build");
        assert_eq!(status(&full, &p, Sha256, 1), Some(false));

        // Revoke serial 1 with a SHA-1 response only: no request hash may
        // still get the base's "good" response (SHA-256 has none now).
        let id = issuer_id(&p);
        append(&mut p, &id, &[(1, true, Sha1), (3, false, Sha1)]);
        let Built { index: delta, indexed } = Index::next(&full, &p.manifest, &p.segments).expect("build");
        assert!(Arc::ptr_eq(&delta.layers[0], &full.layers[0]), "base shared, not rebuilt");
        assert_eq!(indexed, 2, "only the new segment indexed");
        assert_eq!(status(&delta, &p, Sha1, 1), Some(true));
        for hash in [Sha256, HashAlg::Sha512] {
            assert_eq!(status(&delta, &p, hash, 1), None, "{hash:?}: no response for another CertID");
        }
        assert_eq!(status(&delta, &p, Sha1, 2), Some(false), "base entries still served");
        assert_eq!(status(&delta, &p, Sha1, 3), Some(false), "new entries served");
        assert_eq!(status(&delta, &p, Sha1, 4), None);
    }

    #[test]
    fn only_the_listed_cert_id_hashes_are_answered() {
        let mut p = publish(&[&[(1, false, Sha1), (1, false, Sha256), (1, false, HashAlg::Sha384)]]);
        let index = Index::build(&p.manifest, &p.segments).expect("build");
        assert_eq!(status(&index, &p, Sha256, 1), Some(false));
        assert_eq!(status(&index, &p, HashAlg::Sha384, 1), None, "SHA-384 is not in the manifest's list");
        p.manifest.cert_id_hashes.push(HashAlg::Sha384);
        let index = Index::build(&p.manifest, &p.segments).expect("build");
        assert_eq!(status(&index, &p, HashAlg::Sha384, 1), Some(false));
        assert_eq!(status(&index, &p, HashAlg::Sha512, 1), None);
    }

    #[test]
    fn etags_differ_within_a_segment_and_follow_its_content() {
        let seed = etag_seed(&"ab".repeat(32));
        assert_eq!(seed, 0xabab_abab_abab_abab);
        let tags: std::collections::HashSet<u64> = (0..10_000).map(|offset| etag(seed, offset)).collect();
        assert_eq!(tags.len(), 10_000);
        assert_ne!(etag(seed, 7), etag(etag_seed(&"cd".repeat(32)), 7));
        assert_eq!(etag(seed, 7), etag(seed, 7));
    }

    #[test]
    fn a_changed_issuer_list_rebuilds_every_layer() {
        let first = publish(&[&[(1, false, Sha1)]]);
        let full = Index::build(&first.manifest, &first.segments).expect("build");
        let mut more = publish(&[]);
        more.manifest.issuers.extend(first.manifest.issuers.clone());
        more.manifest.segments = first.manifest.segments.clone();
        more.segments = first.segments.clone();
        let Built { index, indexed } = Index::next(&full, &more.manifest, &more.segments).expect("build");
        assert_eq!(indexed, 1, "issuer positions changed: the segment is indexed again");
        assert_eq!(status(&index, &first, Sha1, 1), Some(false));
    }
}
