//! The in-memory index of pre-signed responses for one manifest generation.
//!
//! Read lock-free by every request; the loader swaps whole indexes. An index
//! is two layers: the *base*, built from the manifest's first segment (the
//! big compacted one) and shared between generations, and the *delta*, built
//! from the segments published after it. A revocation burst therefore costs a
//! rebuild of the delta only, not of ten million entries. Response bytes are
//! `Bytes` slices of the loaded segments: serving one copies nothing.

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::hash::HashAlg;
use cartorio_pkix::ocsp::{CertId, IssuerHashes};
use cartorio_pkix::publication::{IssuerId, Manifest, ManifestIssuer, SegmentRef, parse_segment};
use std::collections::HashMap;
use std::sync::Arc;

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
    segment: u32,
    offset: u32,
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
    /// First 8 octets of SHA-256(der), for the strong ETag.
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
    served: metrics::Counter,
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
    let served = metrics::counter!("cartorio_ocsp_responses_by_issuer_total", "issuer" => label);
    Ok(Issuer { id, hashes: IssuerHashes::of(&view)?, served })
}

type Key = (u16, HashAlg, SerialKey);

/// The responses of a run of consecutive segments, later segments winning.
#[derive(Default)]
pub struct Layer {
    /// Content hashes of the segments, in manifest order.
    sources: Vec<String>,
    segments: Vec<Bytes>,
    entries: HashMap<Key, Slot>,
}

impl Layer {
    /// Indexes `refs` (bytes looked up by content hash in `loaded`).
    pub fn build(
        issuers: &Issuers,
        refs: &[SegmentRef],
        loaded: &HashMap<String, Bytes>,
    ) -> anyhow::Result<Self> {
        let mut layer = Layer::default();
        layer.entries.reserve(refs.iter().map(|r| r.entries as usize).sum());
        for segment in refs {
            let bytes = loaded
                .get(&segment.sha256)
                .with_context(|| format!("segment {} not loaded", segment.sha256))?;
            layer.add(issuers, &segment.sha256, bytes.clone())?;
        }
        layer.entries.shrink_to_fit();
        Ok(layer)
    }

    fn add(&mut self, issuers: &Issuers, sha256: &str, bytes: Bytes) -> anyhow::Result<()> {
        let segment = u32::try_from(self.segments.len()).context("too many segments")?;
        for entry in parse_segment(&bytes).with_context(|| format!("segment {sha256}"))? {
            let Some(issuer) = issuers.position(entry.issuer) else {
                bail!("segment {sha256} names an issuer missing from the manifest");
            };
            let key = SerialKey::new(entry.serial).context("serial too long")?;
            let der = bytes.get(entry.der.clone()).context("entry outside its segment")?;
            let digest = ring::digest::digest(&ring::digest::SHA256, der);
            let mut etag = [0u8; 8];
            etag.copy_from_slice(digest.as_ref().get(..8).unwrap_or(&[0; 8]));
            let slot = Slot {
                segment,
                offset: u32::try_from(entry.der.start).context("segment over 4 GiB")?,
                len: u32::try_from(der.len()).context("response over 4 GiB")?,
                this_update: unix_u32(entry.meta.this_update),
                next_update: unix_u32(entry.meta.next_update),
                revoked: entry.meta.revoked,
                etag: u64::from_be_bytes(etag),
            };
            self.entries.insert((issuer, entry.meta.cert_id_hash, key), slot);
        }
        self.sources.push(sha256.to_owned());
        self.segments.push(bytes);
        Ok(())
    }

    /// The response whose CertID uses the request's hash; else the SHA-1
    /// one, which RFC 5019 clients expect and others may still accept.
    fn find(&self, issuer: u16, hash: HashAlg, serial: SerialKey) -> Option<Entry> {
        let slot = self
            .entries
            .get(&(issuer, hash, serial))
            .or_else(|| self.entries.get(&(issuer, HashAlg::Sha1, serial)))?;
        let start = slot.offset as usize;
        let der = self.segments.get(slot.segment as usize)?.slice(start..start + slot.len as usize);
        Some(Entry {
            der,
            this_update: i64::from(slot.this_update),
            next_update: i64::from(slot.next_update),
            revoked: slot.revoked,
            etag: slot.etag,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether this layer was built from exactly the first segments of `refs`.
    pub fn is_prefix_of(&self, refs: &[SegmentRef]) -> bool {
        refs.len() >= self.sources.len() && self.sources.iter().zip(refs).all(|(a, b)| a == &b.sha256)
    }

    pub fn segment_count(&self) -> usize {
        self.sources.len()
    }
}

#[derive(Default)]
pub struct Index {
    pub generation: u64,
    issuers: Arc<Issuers>,
    base: Arc<Layer>,
    delta: Layer,
}

pub enum Lookup {
    Found(Entry),
    UnknownIssuer,
    UnknownSerial,
}

impl Index {
    /// Builds the whole index: the manifest's first segment becomes the
    /// base, the rest the delta.
    pub fn build(manifest: &Manifest, segments: &HashMap<String, Bytes>) -> anyhow::Result<Self> {
        let issuers = Arc::new(Issuers::of(manifest)?);
        let split = manifest.segments.len().min(1);
        let (base, rest) = manifest.segments.split_at(split);
        let base = Arc::new(Layer::build(&issuers, base, segments)?);
        let delta = Layer::build(&issuers, rest, segments)?;
        Ok(Self { generation: manifest.generation, issuers, base, delta })
    }

    /// Builds the index of `manifest` over the base of `previous`, indexing
    /// only the segments after it; `None` when the base no longer applies
    /// (issuers changed or the base segment was compacted away).
    pub fn build_delta(
        previous: &Index,
        manifest: &Manifest,
        segments: &HashMap<String, Bytes>,
    ) -> anyhow::Result<Option<Self>> {
        let base = &previous.base;
        if base.segment_count() == 0
            || !previous.issuers.same_as(manifest)
            || !base.is_prefix_of(&manifest.segments)
        {
            return Ok(None);
        }
        let rest = manifest.segments.get(base.segment_count()..).unwrap_or_default();
        let delta = Layer::build(&previous.issuers, rest, segments)?;
        Ok(Some(Self {
            generation: manifest.generation,
            issuers: previous.issuers.clone(),
            base: base.clone(),
            delta,
        }))
    }

    /// Entries in both layers (a response overridden by the delta counts twice).
    pub fn len(&self) -> usize {
        self.base.len() + self.delta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries in the delta layer.
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    pub fn lookup(&self, id: &CertId<'_>) -> Lookup {
        let Some(position) = self.issuers.parsed.iter().position(|i| i.hashes.matches(id)) else {
            return Lookup::UnknownIssuer;
        };
        let (Some(key), Ok(issuer)) = (SerialKey::new(id.serial), u16::try_from(position)) else {
            return Lookup::UnknownSerial;
        };
        // Newest layer first: a revocation in the delta overrides the base.
        let found = self.delta.find(issuer, id.hash, key).or_else(|| self.base.find(issuer, id.hash, key));
        let Some(entry) = found else {
            return Lookup::UnknownSerial;
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
    use cartorio_pkix::hash::sha256_hex;
    use cartorio_pkix::publication::{EntryMeta, SegmentBuilder};
    use cartorio_pkix::EcCurve;

    struct Published {
        manifest: Manifest,
        segments: HashMap<String, Bytes>,
        hashes: IssuerHashes,
    }

    /// One issuer and one segment per `(serial, revoked, cert_id_hash)` list, in order.
    fn publish(layers: &[&[(u8, bool, HashAlg)]]) -> Published {
        let signer = cartorio_pkix::testing::ec_key(EcCurve::P256);
        let cert = cartorio_pkix::testing::self_signed(&signer, "Issuer", vec![]);
        let view = CertificateView::parse(&cert).expect("view");
        let (mut manifest, _) = cartorio_pkix::testing::one_segment_manifest(&cert, &[], 0);
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
    fn a_delta_is_built_over_the_shared_base_and_overrides_it() {
        let mut p = publish(&[&[(1, false, Sha1), (1, false, Sha256), (2, false, Sha1)]]);
        let full = Index::build(&p.manifest, &p.segments).expect("build");
        assert_eq!(status(&full, &p, Sha256, 1), Some(false));

        // Revoke serial 1 with a SHA-1 response only: it must win over the
        // base's SHA-256 response for every request hash.
        let id = issuer_id(&p);
        append(&mut p, &id, &[(1, true, Sha1), (3, false, Sha1)]);
        let delta = Index::build_delta(&full, &p.manifest, &p.segments).expect("build").expect("delta");
        assert!(Arc::ptr_eq(&delta.base, &full.base), "base shared, not rebuilt");
        assert_eq!(delta.delta_len(), 2);
        for hash in [Sha1, Sha256, HashAlg::Sha512] {
            assert_eq!(status(&delta, &p, hash, 1), Some(true), "{hash:?}");
        }
        assert_eq!(status(&delta, &p, Sha1, 2), Some(false), "base entries still served");
        assert_eq!(status(&delta, &p, Sha1, 3), Some(false), "new entries served");
        assert_eq!(status(&delta, &p, Sha1, 4), None);
    }

    #[test]
    fn a_changed_base_or_issuer_list_needs_a_full_build() {
        let first = publish(&[&[(1, false, Sha1)]]);
        let full = Index::build(&first.manifest, &first.segments).expect("build");
        let other_issuer = publish(&[&[(1, false, Sha1)], &[(2, false, Sha1)]]);
        assert!(
            Index::build_delta(&full, &other_issuer.manifest, &other_issuer.segments).expect("ok").is_none()
        );
        let mut compacted = publish(&[]);
        compacted.manifest.issuers = first.manifest.issuers.clone();
        append(&mut compacted, &issuer_id(&first), &[(1, true, Sha1)]);
        assert!(Index::build_delta(&full, &compacted.manifest, &compacted.segments).expect("ok").is_none());
        assert!(
            Index::build_delta(&Index::default(), &first.manifest, &first.segments).expect("ok").is_none()
        );
    }
}
