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

/// One pre-signed response and what the HTTP layer needs to know about it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub der: Bytes,
    pub this_update: i64,
    pub next_update: i64,
    pub revoked: bool,
    /// First 16 octets of SHA-256(der), for the strong ETag.
    pub etag: [u8; 16],
}

struct Issuer {
    id: IssuerId,
    hashes: IssuerHashes,
}

#[derive(Default)]
pub struct Index {
    pub generation: u64,
    issuers: Vec<Issuer>,
    entries: HashMap<(u16, HashAlg, SerialKey), Entry>,
}

pub enum Lookup<'a> {
    Found(&'a Entry),
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
                Ok(Issuer { id, hashes: IssuerHashes::of(&view)? })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;

        let mut entries = HashMap::new();
        for segment in &manifest.segments {
            let bytes = segments
                .get(&segment.sha256)
                .with_context(|| format!("segment {} not loaded", segment.sha256))?;
            for entry in parse_segment(bytes).with_context(|| format!("segment {}", segment.sha256))? {
                let Some(issuer) = issuers.iter().position(|i| &i.id == entry.issuer) else {
                    bail!("segment {} names an issuer missing from the manifest", segment.sha256);
                };
                let key = SerialKey::new(entry.serial).context("serial too long")?;
                let der = bytes.slice(entry.der);
                let digest = ring::digest::digest(&ring::digest::SHA256, &der);
                let mut etag = [0u8; 16];
                etag.copy_from_slice(digest.as_ref().get(..16).unwrap_or(&[0; 16]));
                let value = Entry {
                    der,
                    this_update: entry.meta.this_update,
                    next_update: entry.meta.next_update,
                    revoked: entry.meta.revoked,
                    etag,
                };
                entries.insert((issuer as u16, entry.meta.cert_id_hash, key), value);
            }
        }
        Ok(Self { generation: manifest.generation, issuers, entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn lookup(&self, id: &CertId<'_>) -> Lookup<'_> {
        let Some(issuer) = self.issuers.iter().position(|i| i.hashes.matches(id)) else {
            return Lookup::UnknownIssuer;
        };
        let Some(key) = SerialKey::new(id.serial) else {
            return Lookup::UnknownSerial;
        };
        // The response whose CertID uses the request's hash; else the SHA-1
        // one, which RFC 5019 clients expect and others may still accept.
        let exact = self.entries.get(&(issuer as u16, id.hash, key));
        match exact.or_else(|| self.entries.get(&(issuer as u16, HashAlg::Sha1, key))) {
            Some(entry) => Lookup::Found(entry),
            None => Lookup::UnknownSerial,
        }
    }
}
