//! Segment format (little-endian):
//!
//! ```text
//! magic        8   "CARTSEG\x01"
//! issuers      u16 count, then count x 32-octet IssuerId
//! entries      u32 count, then per entry:
//!   issuer     u16 index into the issuer table
//!   this_update i64 Unix seconds
//!   next_update i64 Unix seconds
//!   status     u8  0 good, 1 revoked (for metrics; the DER is authoritative)
//!   certid     u8  hash of the response's CertID: 0 SHA-1, 1 SHA-256, 2 SHA-384, 3 SHA-512
//!   serial     u8 length, then the serial INTEGER contents
//!   response   u32 length, then the complete OCSPResponse DER
//! ```
//!
//! Validity is stored beside the DER so the responder never parses a
//! response on the hot path.

use crate::hash::HashAlg;
use std::ops::Range;
use thiserror::Error;

pub const MAGIC: &[u8; 8] = b"CARTSEG\x01";
const MAX_SERIAL: usize = 21;

/// SHA-256 of the issuer's SubjectPublicKeyInfo.
pub type IssuerId = [u8; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SegmentError {
    #[error("not a segment (bad magic)")]
    Magic,
    #[error("segment truncated")]
    Truncated,
    #[error("segment entry names an issuer index out of range")]
    IssuerIndex,
    #[error("segment entry has an invalid serial length")]
    Serial,
    #[error("segment entry has an invalid status or CertID hash octet")]
    Status,
    #[error("trailing bytes after the last segment entry")]
    Trailing,
}

#[derive(Debug, Default)]
pub struct SegmentBuilder {
    issuers: Vec<IssuerId>,
    /// `header_room` octets reserved for the header, then the records.
    body: Vec<u8>,
    count: u32,
    /// Octets at the front of `body` kept for the header by [`Self::concat`],
    /// so that `finish` writes the header in place instead of copying the
    /// records behind it. 0 for a builder grown by `push`.
    header_room: usize,
}

impl SegmentBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Octets of records so far.
    pub fn record_bytes(&self) -> usize {
        self.records().len()
    }

    /// Reserves room for `additional` more octets of records.
    pub fn reserve(&mut self, additional: usize) {
        self.body.reserve(additional);
    }

    /// Adds a response. `serial` is INTEGER contents (at most 21 octets).
    pub fn push(
        &mut self,
        issuer: &IssuerId,
        serial: &[u8],
        meta: EntryMeta,
        der: &[u8],
    ) -> Result<(), SegmentError> {
        if serial.is_empty() || serial.len() > MAX_SERIAL {
            return Err(SegmentError::Serial);
        }
        let index = match self.issuers.iter().position(|i| i == issuer) {
            Some(i) => i,
            None => {
                self.issuers.push(*issuer);
                self.issuers.len() - 1
            }
        };
        let index = u16::try_from(index).map_err(|_| SegmentError::IssuerIndex)?;
        let der_len = u32::try_from(der.len()).map_err(|_| SegmentError::Truncated)?;
        self.body.extend_from_slice(&index.to_le_bytes());
        self.body.extend_from_slice(&meta.this_update.to_le_bytes());
        self.body.extend_from_slice(&meta.next_update.to_le_bytes());
        self.body.push(u8::from(meta.revoked));
        self.body.push(hash_code(meta.cert_id_hash));
        self.body.push(serial.len() as u8);
        self.body.extend_from_slice(serial);
        self.body.extend_from_slice(&der_len.to_le_bytes());
        self.body.extend_from_slice(der);
        self.count += 1;
        Ok(())
    }

    /// Adds `other`'s responses after this builder's: what threads that
    /// built parts of one segment in parallel hand back. Same issuers in
    /// the same order (one issuer's batch): the records are copied as they
    /// are; otherwise each is pushed again with its issuer renumbered.
    pub fn append(&mut self, other: SegmentBuilder) -> Result<(), SegmentError> {
        if self.count == 0 && self.issuers.is_empty() {
            *self = other;
            return Ok(());
        }
        if other.issuers == self.issuers {
            self.body.extend_from_slice(other.records());
            self.count += other.count;
            return Ok(());
        }
        let bytes = other.finish();
        for entry in parse_segment(&bytes)? {
            self.push(entry.issuer, entry.serial, entry.meta, bytes.get(entry.der).unwrap_or_default())?;
        }
        Ok(())
    }

    /// Joins parts built in parallel, in order, into one builder. When all
    /// parts have the same issuers (one issuer's batch), each record is
    /// copied once into a buffer of the final size, with room for the header
    /// in front. Otherwise the parts are appended one by one.
    /// In a bulk refresh of a million certificates, growing the joined
    /// buffer and then copying it behind its header moved the whole segment
    /// two more times.
    pub fn concat(parts: Vec<SegmentBuilder>) -> Result<SegmentBuilder, SegmentError> {
        let same_issuers = parts.windows(2).all(|pair| pair[0].issuers == pair[1].issuers);
        let Some(first) = parts.first().filter(|_| same_issuers) else {
            let mut joined = SegmentBuilder::new();
            for part in parts {
                joined.append(part)?;
            }
            return Ok(joined);
        };
        let issuers = first.issuers.clone();
        let header_room = header_len(issuers.len());
        let records: usize = parts.iter().map(|p| p.records().len()).sum();
        let mut body = Vec::with_capacity(header_room + records);
        body.resize(header_room, 0);
        let mut count = 0u32;
        for part in &parts {
            body.extend_from_slice(part.records());
            count = count.checked_add(part.count).ok_or(SegmentError::Truncated)?;
        }
        Ok(SegmentBuilder { issuers, body, count, header_room })
    }

    fn records(&self) -> &[u8] {
        self.body.get(self.header_room..).unwrap_or_default()
    }

    fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(header_len(self.issuers.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.issuers.len() as u16).to_le_bytes());
        for issuer in &self.issuers {
            out.extend_from_slice(issuer);
        }
        out.extend_from_slice(&self.count.to_le_bytes());
        out
    }

    pub fn finish(self) -> Vec<u8> {
        let header = self.header();
        if self.header_room == header.len() {
            let mut out = self.body;
            out[..header.len()].copy_from_slice(&header);
            return out;
        }
        let mut out = Vec::with_capacity(header.len() + self.records().len());
        out.extend_from_slice(&header);
        out.extend_from_slice(self.records());
        out
    }
}

/// Octets before the first record: magic, issuer count, issuers, entry count.
fn header_len(issuers: usize) -> usize {
    MAGIC.len() + 2 + 32 * issuers + 4
}

/// What a segment stores beside each response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    pub this_update: i64,
    pub next_update: i64,
    pub revoked: bool,
    /// The hash algorithm of the response's CertID.
    pub cert_id_hash: HashAlg,
}

fn hash_code(hash: HashAlg) -> u8 {
    match hash {
        HashAlg::Sha1 => 0,
        HashAlg::Sha256 => 1,
        HashAlg::Sha384 => 2,
        HashAlg::Sha512 => 3,
    }
}

fn hash_from_code(code: u8) -> Option<HashAlg> {
    HashAlg::ALL.into_iter().find(|h| hash_code(*h) == code)
}

/// One entry; `der` is a range into the segment bytes so callers can slice
/// a shared buffer without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry<'a> {
    pub issuer: &'a IssuerId,
    pub serial: &'a [u8],
    pub meta: EntryMeta,
    pub der: Range<usize>,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SegmentError> {
        let end = self.pos.checked_add(n).ok_or(SegmentError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(SegmentError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SegmentError> {
        self.take(N)?.try_into().map_err(|_| SegmentError::Truncated)
    }
}

/// Parses a whole segment, checking every entry before returning any.
pub fn parse_segment(data: &[u8]) -> Result<Vec<SegmentEntry<'_>>, SegmentError> {
    let mut c = Cursor { data, pos: 0 };
    if c.take(MAGIC.len())? != MAGIC {
        return Err(SegmentError::Magic);
    }
    let issuer_count = usize::from(u16::from_le_bytes(c.array()?));
    let table = c.take(issuer_count * 32)?;
    let issuers: Vec<&IssuerId> = table.chunks_exact(32).filter_map(|ch| ch.try_into().ok()).collect();
    let count = u32::from_le_bytes(c.array()?) as usize;
    // Each entry is at least 26 octets: bound the allocation by the input.
    let mut entries = Vec::with_capacity(count.min(data.len() / 26));
    for _ in 0..count {
        let index = usize::from(u16::from_le_bytes(c.array()?));
        let issuer = issuers.get(index).copied().ok_or(SegmentError::IssuerIndex)?;
        let this_update = i64::from_le_bytes(c.array()?);
        let next_update = i64::from_le_bytes(c.array()?);
        let revoked = match c.array::<1>()? {
            [0] => false,
            [1] => true,
            _ => return Err(SegmentError::Status),
        };
        let cert_id_hash = hash_from_code(c.array::<1>()?[0]).ok_or(SegmentError::Status)?;
        let serial_len = usize::from(c.array::<1>()?[0]);
        if serial_len == 0 || serial_len > MAX_SERIAL {
            return Err(SegmentError::Serial);
        }
        let serial = c.take(serial_len)?;
        let der_len = u32::from_le_bytes(c.array()?) as usize;
        let start = c.pos;
        c.take(der_len)?;
        let meta = EntryMeta { this_update, next_update, revoked, cert_id_hash };
        entries.push(SegmentEntry { issuer, serial, meta, der: start..start + der_len });
    }
    if c.pos != data.len() {
        return Err(SegmentError::Trailing);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = SegmentBuilder::new();
        let meta = |t, revoked| EntryMeta {
            this_update: t,
            next_update: t + 10,
            revoked,
            cert_id_hash: HashAlg::Sha256,
        };
        b.push(&[1; 32], &[5], meta(10, false), b"resp-one").expect("push");
        b.push(&[2; 32], &[0, 0x80], meta(11, true), b"resp-two!").expect("push");
        b.push(&[1; 32], &[6], meta(12, false), b"").expect("push");
        let bytes = b.finish();
        let entries = parse_segment(&bytes).expect("parse");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].issuer, &[2; 32]);
        assert_eq!(entries[1].serial, &[0, 0x80]);
        assert_eq!(&bytes[entries[1].der.clone()], b"resp-two!");
        assert_eq!(entries[2].meta, meta(12, false));
        assert!(entries[1].meta.revoked);
    }

    #[test]
    fn appended_parts_read_as_one_segment_in_order() {
        let meta = |t| EntryMeta {
            this_update: t,
            next_update: t + 10,
            revoked: false,
            cert_id_hash: HashAlg::Sha1,
        };
        let part = |issuers: &[u8], first: i64| {
            let mut b = SegmentBuilder::new();
            for (i, issuer) in issuers.iter().enumerate() {
                b.push(&[*issuer; 32], &[*issuer], meta(first + i as i64), &[*issuer, 0xd0]).expect("push");
            }
            b
        };
        let mut whole = SegmentBuilder::new();
        whole.append(part(&[1, 2], 0)).expect("first");
        whole.append(part(&[1, 2], 2)).expect("same issuers: copied");
        whole.append(part(&[3, 1], 4)).expect("other issuers: renumbered");
        assert_eq!(whole.len(), 6);
        let bytes = whole.finish();
        let entries = parse_segment(&bytes).expect("parse");
        let seen: Vec<(u8, i64, Vec<u8>)> = entries
            .iter()
            .map(|e| (e.issuer[0], e.meta.this_update, bytes[e.der.clone()].to_vec()))
            .collect();
        let want = [(1, 0), (2, 1), (1, 2), (2, 3), (3, 4), (1, 5)];
        assert_eq!(seen, want.map(|(i, t)| (i, t, vec![i, 0xd0])));
    }

    #[test]
    fn concatenated_parts_finish_as_the_same_bytes_as_pushed_ones() {
        let meta = |t| EntryMeta {
            this_update: t,
            next_update: t + 10,
            revoked: false,
            cert_id_hash: HashAlg::Sha256,
        };
        let records = |issuers: &[u8], first: i64| -> Vec<([u8; 32], i64)> {
            issuers.iter().enumerate().map(|(i, issuer)| ([*issuer; 32], first + i as i64)).collect()
        };
        let build = |records: &[([u8; 32], i64)]| {
            let mut b = SegmentBuilder::new();
            for (issuer, t) in records {
                b.push(issuer, &[issuer[0], 1], meta(*t), &[issuer[0]; 7]).expect("push");
            }
            b
        };
        for layout in [
            vec![records(&[1, 1], 0), records(&[1], 2), records(&[1, 1, 1], 3)],
            vec![records(&[1, 2], 0), records(&[2, 1], 2)],
        ] {
            let pushed = build(&layout.concat()).finish();
            let parts = layout.iter().map(|r| build(r)).collect();
            let joined = SegmentBuilder::concat(parts).expect("concat");
            assert_eq!(joined.len(), layout.iter().map(Vec::len).sum::<usize>());
            assert_eq!(joined.finish(), pushed);
        }
        let mut grown = SegmentBuilder::concat(vec![build(&records(&[1], 0))]).expect("concat");
        grown.push(&[9; 32], &[9], meta(5), b"late").expect("a new issuer after concat");
        let bytes = grown.finish();
        let entries = parse_segment(&bytes).expect("parse");
        assert_eq!(entries.iter().map(|e| e.issuer[0]).collect::<Vec<_>>(), [1, 9]);
        assert!(SegmentBuilder::concat(vec![]).expect("empty").is_empty());
    }

    #[test]
    fn rejects_corruption() {
        let mut b = SegmentBuilder::new();
        let meta =
            EntryMeta { this_update: 10, next_update: 20, revoked: false, cert_id_hash: HashAlg::Sha1 };
        b.push(&[1; 32], &[5], meta, b"resp").expect("push");
        let bytes = b.finish();
        for cut in 0..bytes.len() {
            assert!(parse_segment(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(parse_segment(&extra), Err(SegmentError::Trailing));
        assert_eq!(parse_segment(b"CARTSEG\x02\0\0\0\0\0\0"), Err(SegmentError::Magic));
        assert_eq!(SegmentBuilder::new().push(&[1; 32], &[], meta, b""), Err(SegmentError::Serial));
    }
}
