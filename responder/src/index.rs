//! The in-memory index of pre-signed responses for one manifest generation.
//!
//! Built once per generation, then read lock-free by every request (the
//! loader swaps whole indexes). Response bytes are `Bytes` slices of the
//! loaded segments: serving one copies nothing.

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::hash::HashAlg;
use cartorio_pkix::ocsp::{CertId, IssuerHashes};
use cartorio_pkix::publication::{IssuerId, Manifest, parse_segment};
use std::collections::HashMap;

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

#[derive(Default)]
pub struct Index {
    pub generation: u64,
    issuers: Vec<Issuer>,
    segments: Vec<Bytes>,
    entries: HashMap<(u16, HashAlg, SerialKey), Slot>,
}

pub enum Lookup {
    Found(Entry),
    UnknownIssuer,
    UnknownSerial,
}

impl Index {
    /// Builds the index from a manifest and the bytes of each of its segments
    /// (by content hash). Later segments override earlier ones.
    pub fn build(manifest: &Manifest, segments: &HashMap<String, Bytes>) -> anyhow::Result<Self> {
        let issuers = manifest
            .issuers
            .iter()
            .map(|issuer| {
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
            })
            .collect::<anyhow::Result<Vec<_>>>()?;

        let mut entries = HashMap::new();
        let mut loaded = Vec::with_capacity(manifest.segments.len());
        for segment in &manifest.segments {
            let bytes = segments
                .get(&segment.sha256)
                .with_context(|| format!("segment {} not loaded", segment.sha256))?;
            let segment_index = u32::try_from(loaded.len()).context("too many segments")?;
            loaded.push(bytes.clone());
            let parsed = parse_segment(bytes).with_context(|| format!("segment {}", segment.sha256))?;
            entries.reserve(parsed.len());
            for entry in parsed {
                let Some(issuer) = issuers.iter().position(|i| &i.id == entry.issuer) else {
                    bail!("segment {} names an issuer missing from the manifest", segment.sha256);
                };
                let key = SerialKey::new(entry.serial).context("serial too long")?;
                let der = bytes.get(entry.der.clone()).context("entry outside its segment")?;
                let digest = ring::digest::digest(&ring::digest::SHA256, der);
                let mut etag = [0u8; 8];
                etag.copy_from_slice(digest.as_ref().get(..8).unwrap_or(&[0; 8]));
                let slot = Slot {
                    segment: segment_index,
                    offset: u32::try_from(entry.der.start).context("segment over 4 GiB")?,
                    len: u32::try_from(der.len()).context("response over 4 GiB")?,
                    this_update: unix_u32(entry.meta.this_update),
                    next_update: unix_u32(entry.meta.next_update),
                    revoked: entry.meta.revoked,
                    etag: u64::from_be_bytes(etag),
                };
                entries.insert((issuer as u16, entry.meta.cert_id_hash, key), slot);
            }
        }
        entries.shrink_to_fit();
        Ok(Self { generation: manifest.generation, issuers, segments: loaded, entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn lookup(&self, id: &CertId<'_>) -> Lookup {
        let Some(issuer) = self.issuers.iter().position(|i| i.hashes.matches(id)) else {
            return Lookup::UnknownIssuer;
        };
        let Some(key) = SerialKey::new(id.serial) else {
            return Lookup::UnknownSerial;
        };
        // The response whose CertID uses the request's hash; else the SHA-1
        // one, which RFC 5019 clients expect and others may still accept.
        let exact = self.entries.get(&(issuer as u16, id.hash, key));
        let Some(slot) = exact.or_else(|| self.entries.get(&(issuer as u16, HashAlg::Sha1, key))) else {
            return Lookup::UnknownSerial;
        };
        let Some(segment) = self.segments.get(slot.segment as usize) else {
            return Lookup::UnknownSerial;
        };
        let start = slot.offset as usize;
        if let Some(i) = self.issuers.get(issuer) {
            i.served.increment(1);
        }
        Lookup::Found(Entry {
            der: segment.slice(start..start + slot.len as usize),
            this_update: i64::from(slot.this_update),
            next_update: i64::from(slot.next_update),
            revoked: slot.revoked,
            etag: slot.etag,
        })
    }
}
