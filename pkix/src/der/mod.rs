//! A bounds-checked reader for untrusted DER (after rustls' `codec::Reader`).
//!
//! Every read is a checked split; nothing indexes into input. Only what the
//! formats we parse need is supported: low tag numbers (< 31) and definite,
//! minimally encoded lengths of at most four octets.

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DerError {
    #[error("input ended inside a DER element")]
    Truncated,
    #[error("unsupported or malformed DER tag")]
    BadTag,
    #[error("non-minimal, indefinite or oversized DER length")]
    BadLength,
    #[error("expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("trailing data after a DER element")]
    TrailingData,
    #[error("malformed DER value")]
    BadValue,
}

/// Universal and context tags used by the PKIX formats.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0a;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    /// `[n]` constructed, context-specific (EXPLICIT tagging).
    pub const fn context_constructed(n: u8) -> u8 {
        0xa0 | n
    }
}

/// One element: its tag, its contents and its whole encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads the next element whatever its tag.
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let all = self.rest;
        let (&tag, after_tag) = all.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::BadTag);
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(DerError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(DerError::BadLength);
            }
            let (len_bytes, rest) = after_len.split_at_checked(n).ok_or(DerError::Truncated)?;
            after_len = rest;
            let len = len_bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            // DER: long form only when needed, and no leading zero octet.
            if len < 0x80 || len_bytes.first() == Some(&0) {
                return Err(DerError::BadLength);
            }
            len
        };
        let (value, rest) = after_len.split_at_checked(len).ok_or(DerError::Truncated)?;
        let header_len = all.len() - after_len.len();
        let raw = all.get(..header_len + len).ok_or(DerError::Truncated)?;
        self.rest = rest;
        Ok(Tlv { tag, value, raw })
    }

    /// Reads the next element, which must carry `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        let found = self.peek_tag().ok_or(DerError::Truncated)?;
        if found != tag {
            return Err(DerError::UnexpectedTag { expected: tag, found });
        }
        self.read()
    }

    /// Reads the next element, which must be a well-formed OBJECT IDENTIFIER.
    pub fn expect_oid(&mut self) -> Result<Tlv<'a>, DerError> {
        let oid = self.expect(tag::OID)?;
        check_oid(oid.value)?;
        Ok(oid)
    }

    /// Reads the next element only if it carries `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) { self.read().map(Some) } else { Ok(None) }
    }

    /// Fails unless everything has been read.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.rest.is_empty() { Ok(()) } else { Err(DerError::TrailingData) }
    }
}

/// Parses `input` as exactly one element with `tag`, nothing after it.
pub fn single(input: &[u8], tag: u8) -> Result<Tlv<'_>, DerError> {
    let mut reader = Reader::new(input);
    let tlv = reader.expect(tag)?;
    reader.finish()?;
    Ok(tlv)
}

/// Checks the contents of a DER INTEGER: non-empty and minimally encoded.
pub fn check_integer(value: &[u8]) -> Result<(), DerError> {
    match value {
        [] => Err(DerError::BadValue),
        [0x00, next, ..] if next & 0x80 == 0 => Err(DerError::BadValue),
        [0xff, next, ..] if next & 0x80 != 0 => Err(DerError::BadValue),
        _ => Ok(()),
    }
}

/// Checks the contents of an OBJECT IDENTIFIER: non-empty, each
/// subidentifier minimal (no leading 0x80) and terminated.
pub fn check_oid(value: &[u8]) -> Result<(), DerError> {
    let mut start_of_arc = true;
    for &b in value {
        if start_of_arc && b == 0x80 {
            return Err(DerError::BadValue);
        }
        start_of_arc = b & 0x80 == 0;
    }
    if value.is_empty() || !start_of_arc { Err(DerError::BadValue) } else { Ok(()) }
}

/// One `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Complete DER of the OID.
    pub id: &'a [u8],
    pub critical: bool,
    pub value: &'a [u8],
}

/// Parses the contents of `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension`.
pub fn parse_extensions(list: &[u8]) -> Result<Vec<Extension<'_>>, DerError> {
    let mut reader = Reader::new(list);
    let mut out = Vec::new();
    while !reader.is_empty() {
        let ext = reader.expect(tag::SEQUENCE)?;
        let mut fields = Reader::new(ext.value);
        let id = fields.expect_oid()?.raw;
        let critical = match fields.optional(tag::BOOLEAN)? {
            Some(b) => match b.value {
                [0xff] => true,
                [0x00] => false,
                _ => return Err(DerError::BadValue),
            },
            None => false,
        };
        let value = fields.expect(tag::OCTET_STRING)?.value;
        fields.finish()?;
        out.push(Extension { id, critical, value });
    }
    if out.is_empty() {
        return Err(DerError::BadValue);
    }
    Ok(out)
}

pub mod encode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let tlv = single(&long, tag::OCTET_STRING).expect("long form");
        assert_eq!(tlv.value.len(), 0x80);
        assert_eq!(tlv.raw.len(), long.len());
        let tlv = single(&[0x05, 0x00], tag::NULL).expect("null");
        assert!(tlv.value.is_empty());
    }

    #[test]
    fn rejects_non_der_lengths() {
        assert_eq!(single(&[0x04, 0x81, 0x01, 0x00], 0x04), Err(DerError::BadLength));
        assert_eq!(single(&[0x30, 0x80, 0x00, 0x00], 0x30), Err(DerError::BadLength));
        assert_eq!(single(&[0x04, 0x82, 0x00, 0x80], 0x04), Err(DerError::BadLength));
        assert_eq!(single(&[0x04, 0x05, 0x00], 0x04), Err(DerError::Truncated));
        assert_eq!(single(&[0x05, 0x00, 0x00], 0x05), Err(DerError::TrailingData));
        assert_eq!(single(&[0x1f, 0x01, 0x00], 0x1f), Err(DerError::BadTag));
    }

    #[test]
    fn oids_must_be_terminated_and_minimal() {
        assert!(check_oid(&[0x2a, 0x03, 0x04]).is_ok());
        assert!(check_oid(&[0x2a, 0x86, 0x48]).is_ok());
        assert!(check_oid(&[0x2a, 0x03, 0xb2]).is_err(), "last arc unterminated");
        assert!(check_oid(&[0x2a, 0x80, 0x01]).is_err(), "leading 0x80");
        assert!(check_oid(&[]).is_err());
    }

    #[test]
    fn extension_lists() {
        let ext = [0x30, 0x08, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x04, 0x01, 0x00];
        let parsed = parse_extensions(&ext).expect("one extension");
        assert_eq!(parsed.len(), 1);
        assert!(!parsed[0].critical);
        assert!(parse_extensions(&[]).is_err(), "SIZE (1..MAX)");
        assert!(parse_extensions(&[0x30, 0x03, 0x06, 0x01, 0x80]).is_err());
    }

    #[test]
    fn integers_must_be_minimal() {
        assert!(check_integer(&[0x00, 0x80]).is_ok());
        assert!(check_integer(&[0x00, 0x7f]).is_err());
        assert!(check_integer(&[0xff, 0x80]).is_err());
        assert!(check_integer(&[]).is_err());
    }
}
