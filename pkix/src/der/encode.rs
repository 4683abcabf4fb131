//! DER encoding of the values we sign: certificates, OCSP responses, CRLs.
//!
//! Each function returns a complete element, so structures read as nested
//! calls: `seq(&[&integer_u64(2), &oid])`. Lengths are always minimal.

use super::tag;

/// Encodes a definite DER length.
pub fn length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = bytes.get(skip..).unwrap_or_default();
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// The encoded size of an element with `content` octets of contents.
pub fn tlv_size(content: usize) -> usize {
    let length_octets = match content {
        0..0x80 => 1,
        n => 1 + (usize::BITS - n.leading_zeros()).div_ceil(8) as usize,
    };
    1 + length_octets + content
}

/// An element's tag and length, its contents to follow: for writing a
/// nested structure once, outside in, when every size is known up front.
pub fn header(tag: u8, content: usize, out: &mut Vec<u8>) {
    out.push(tag);
    length(content, out);
}

/// One element whose contents are the concatenation of `parts`.
pub fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    length(len, &mut out);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, parts)
}

/// A SET OF: DER wants the elements sorted by their encodings.
pub fn set_of(mut elements: Vec<Vec<u8>>) -> Vec<u8> {
    elements.sort();
    let parts: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    tlv(tag::SET, &parts)
}

/// The same element with every universal SET OF inside it sorted as DER
/// requires (X.690 11.6); everything else is kept as it was. For parts of
/// a request copied into what we sign (a CSR's subject and SANs): a client
/// may send a multi-valued RDN out of order, and a strict verifier refuses
/// the certificate we would sign over it. `element` must be well-formed
/// DER; nesting past 64 levels is refused.
pub fn sort_sets(element: &[u8]) -> Result<Vec<u8>, super::DerError> {
    fn sorted(tlv_in: super::Tlv<'_>, depth: usize) -> Result<Vec<u8>, super::DerError> {
        if tlv_in.tag & 0x20 == 0 {
            return Ok(tlv_in.raw.to_vec());
        }
        if depth == 64 {
            return Err(super::DerError::BadValue);
        }
        let mut reader = super::Reader::new(tlv_in.value);
        let mut parts = Vec::new();
        while !reader.is_empty() {
            parts.push(sorted(reader.read()?, depth + 1)?);
        }
        if tlv_in.tag == tag::SET {
            return Ok(set_of(parts));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        Ok(tlv(tlv_in.tag, &refs))
    }
    let mut reader = super::Reader::new(element);
    let out = sorted(reader.read()?, 0)?;
    reader.finish()?;
    Ok(out)
}

/// Replaces the tag of an encoded element (IMPLICIT tagging: `[n]` over a
/// primitive, or SET OF signed attributes re-tagged as `[0]`).
pub fn retag(mut element: Vec<u8>, tag: u8) -> Vec<u8> {
    if let Some(first) = element.first_mut() {
        *first = tag;
    }
    element
}

/// `[n] EXPLICIT`.
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(tag::context_constructed(n), &[inner])
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let trimmed = magnitude.get(skip..).unwrap_or_default();
    match trimmed.first() {
        None => tlv(tag::INTEGER, &[&[0]]),
        Some(b) if b & 0x80 != 0 => tlv(tag::INTEGER, &[&[0], trimmed]),
        Some(_) => tlv(tag::INTEGER, &[trimmed]),
    }
}

pub fn integer_u64(n: u64) -> Vec<u8> {
    unsigned_integer(&n.to_be_bytes())
}

pub fn enumerated(n: u8) -> Vec<u8> {
    tlv(tag::ENUMERATED, &[&[n]])
}

pub fn boolean(b: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[&[if b { 0xff } else { 0 }]])
}

pub fn null() -> Vec<u8> {
    vec![tag::NULL, 0]
}

pub fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, &[bytes])
}

/// A BIT STRING with no unused bits.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::BIT_STRING, &[&[0], bytes])
}

/// A named-bit BIT STRING (KeyUsage, ReasonFlags): bit 0 is the first,
/// trailing zero bits are dropped as DER requires.
pub fn named_bits(bits: &[u8]) -> Vec<u8> {
    let Some(highest) = bits.iter().max().copied() else {
        return tlv(tag::BIT_STRING, &[&[0]]);
    };
    let octets = usize::from(highest / 8) + 1;
    let mut value = vec![0u8; octets];
    for bit in bits {
        if let Some(octet) = value.get_mut(usize::from(bit / 8)) {
            *octet |= 0x80 >> (bit % 8);
        }
    }
    let unused = 7 - (highest % 8);
    tlv(tag::BIT_STRING, &[&[unused], &value])
}

pub fn utf8_string(s: &str) -> Vec<u8> {
    tlv(0x0c, &[s.as_bytes()])
}

pub fn ia5_string(s: &str) -> Vec<u8> {
    tlv(0x16, &[s.as_bytes()])
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` (RFC 5280: no fractional seconds).
pub fn generalized_time(unix_secs: i64) -> Vec<u8> {
    let text = crate::time::format_generalized(unix_secs);
    tlv(0x18, &[text.as_bytes()])
}

/// RFC 5280 `Time`: UTCTime through 2049, GeneralizedTime from 2050.
pub fn x509_time(unix_secs: i64) -> Vec<u8> {
    match crate::time::format_utc_time(unix_secs) {
        Some(text) => tlv(0x17, &[text.as_bytes()]),
        None => generalized_time(unix_secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_size_counts_the_length_octets_tlv_writes() {
        for content in [0, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 24] {
            assert_eq!(tlv_size(content), tlv(0x04, &[&vec![0; content]]).len(), "{content}");
        }
    }
    use crate::der::{Reader, single};

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000] {
            let out = octet_string(&vec![0u8; len]);
            let tlv = single(&out, tag::OCTET_STRING).expect("round trip");
            assert_eq!(tlv.value.len(), len);
        }
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0, 0, 0x7f]), vec![2, 1, 0x7f]);
        assert_eq!(unsigned_integer(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[]), vec![2, 1, 0]);
        assert_eq!(integer_u64(256), vec![2, 2, 1, 0]);
    }

    #[test]
    fn named_bits_drop_trailing_zeros() {
        // digitalSignature (0) only: one octet, 7 unused bits.
        assert_eq!(named_bits(&[0]), vec![3, 2, 7, 0x80]);
        // keyCertSign (5) + cRLSign (6).
        assert_eq!(named_bits(&[5, 6]), vec![3, 2, 1, 0x06]);
    }

    #[test]
    fn sets_nested_anywhere_are_sorted_and_nothing_else_moves() {
        let atv = |oid: &[u8], v: &str| seq(&[oid, &utf8_string(v)]);
        let (cn, org) = (atv(crate::oid::COMMON_NAME, "a"), atv(crate::oid::ORGANIZATION, "b"));
        // A multi-valued RDN out of order, inside a Name inside [4] EXPLICIT.
        let rdn = tlv(tag::SET, &[&org, &cn]);
        let name = seq(&[&set_of(vec![atv(crate::oid::COMMON_NAME, "z")]), &rdn]);
        let general_name = explicit(4, &name);
        let fixed = sort_sets(&general_name).expect("well-formed");
        let expected =
            explicit(4, &seq(&[&set_of(vec![atv(crate::oid::COMMON_NAME, "z")]), &set_of(vec![org, cn])]));
        assert_eq!(fixed, expected);
        assert_eq!(sort_sets(&expected).expect("sorted"), expected, "already canonical: unchanged");
        assert!(sort_sets(&[0x30, 0x02, 0x05]).is_err(), "malformed");
        let mut deep = null();
        for _ in 0..70 {
            deep = seq(&[&deep]);
        }
        assert!(sort_sets(&deep).is_err(), "nesting bounded");
    }

    #[test]
    fn set_of_is_sorted() {
        let set = set_of(vec![integer_u64(5), integer_u64(1)]);
        let mut reader = Reader::new(single(&set, tag::SET).expect("set").value);
        assert_eq!(reader.read().expect("first").raw, integer_u64(1).as_slice());
    }
}
