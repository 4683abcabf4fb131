//! A strict DER checker (X.690 §10 and §11) for everything Cartorio emits:
//! certificates, CRLs, OCSP responses, time-stamp tokens. Strict verifiers
//! (rust-asn1, .NET, c2pa-rs) refuse a whole structure over one of these
//! faults, so tests run every structure they get through [`check`].
//!
//! It walks the element tree and checks:
//! - lengths definite and minimal, contents inside their element, nothing
//!   after the outermost element;
//! - BOOLEAN `00`/`FF`; INTEGER and ENUMERATED minimal; BIT STRING unused
//!   bits in range and zero; NULL empty; OBJECT IDENTIFIER arcs minimal;
//!   UTCTime `YYMMDDHHMMSSZ`; GeneralizedTime `Z`-terminated, fraction
//!   without trailing zeros;
//! - every SET OF sorted by encoding (§11.6): universal SETs, and the
//!   IMPLICIT ones CMS has (SignedData `certificates`/`crls`, SignerInfo
//!   `signedAttrs`/`unsignedAttrs`), found by the content type OID;
//! - DER inside OCTET STRINGs where a structure says it is DER: an
//!   OCTET STRING after an OID in one SEQUENCE (an Extension's extnValue,
//!   OCSP ResponseBytes), directly or under `[0] EXPLICIT` (CMS eContent).
//!
//! A schema-free walk cannot see an IMPLICIT SET it is not told about; the
//! CMS ones are the only ones in what Cartorio emits.

use std::cmp::Ordering;
use std::fmt;

/// The first fault found, and where: a path of `tag[index]` steps from the
/// outermost element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.what, if self.path.is_empty() { "/" } else { &self.path })
    }
}

/// Checks that `der` is exactly one element in canonical DER.
pub fn check(der: &[u8]) -> Result<(), Problem> {
    let (element, rest) = read(der, "")?;
    if !rest.is_empty() {
        return Err(problem("", format!("{} octets after the element", rest.len())));
    }
    walk(&element, "", Context::Plain)
}

/// Panics with the problem and `label` unless `der` passes [`check`].
pub fn assert_der(label: &str, der: &[u8]) {
    if let Err(problem) = check(der) {
        panic!("{label} is not canonical DER: {problem}");
    }
}

const SET: u8 = 0x31;
const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
/// 1.2.840.113549.1.7.2, id-signedData.
const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Plain,
    /// The SignedData SEQUENCE: `[0]` and `[1]` are IMPLICIT SET OF.
    SignedData,
    /// The signerInfos SET: each SignerInfo's `[0]`, `[1]` are IMPLICIT SET OF.
    SignerInfos,
    SignerInfo,
    /// A `[0]`/`[1]` of SignedData or SignerInfo: a SET OF.
    ImplicitSet,
}

struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    /// The whole encoding (for SET ordering).
    raw: &'a [u8],
}

fn problem(path: &str, what: impl Into<String>) -> Problem {
    Problem { path: path.to_owned(), what: what.into() }
}

fn read<'a>(input: &'a [u8], path: &str) -> Result<(Element<'a>, &'a [u8]), Problem> {
    let (&tag, after_tag) = input.split_first().ok_or_else(|| problem(path, "empty input"))?;
    if tag & 0x1f == 0x1f {
        return Err(problem(path, format!("high tag number form {tag:#04x}")));
    }
    let (&first, mut rest) = after_tag.split_first().ok_or_else(|| problem(path, "no length octet"))?;
    let len = match first {
        0x80 => return Err(problem(path, "indefinite length")),
        0..0x80 => usize::from(first),
        _ => {
            let count = usize::from(first & 0x7f);
            let (octets, after) =
                rest.split_at_checked(count).ok_or_else(|| problem(path, "length octets cut short"))?;
            rest = after;
            if octets.first() == Some(&0) || count > 8 {
                return Err(problem(path, "length with a leading zero octet"));
            }
            let len = octets.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
            if len < 0x80 {
                return Err(problem(path, format!("long-form length for {len} octets")));
            }
            len
        }
    };
    let (content, after) = rest.split_at_checked(len).ok_or_else(|| problem(path, "contents cut short"))?;
    let raw = input.get(..input.len() - after.len()).unwrap_or_default();
    Ok((Element { tag, content, raw }, after))
}

fn children<'a>(content: &'a [u8], path: &str) -> Result<Vec<Element<'a>>, Problem> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let tag = rest.first().copied().unwrap_or_default();
        let (child, after) = read(rest, &format!("{path}/{tag:02x}[{}]", out.len()))?;
        out.push(child);
        rest = after;
    }
    Ok(out)
}

/// X.690 §11.6: ascending, compared as octet strings, the shorter padded
/// with zero octets.
fn padded_order(a: &[u8], b: &[u8]) -> Ordering {
    let len = a.len().max(b.len());
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    (0..len).map(|i| at(a, i).cmp(&at(b, i))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

fn check_sorted(elements: &[Element<'_>], path: &str) -> Result<(), Problem> {
    for (i, pair) in elements.windows(2).enumerate() {
        if padded_order(pair[0].raw, pair[1].raw) == Ordering::Greater {
            return Err(problem(
                path,
                format!("SET OF not sorted: element {} sorts before element {i}", i + 1),
            ));
        }
    }
    Ok(())
}

fn walk(element: &Element<'_>, path: &str, context: Context) -> Result<(), Problem> {
    let here = path;
    match element.tag {
        0x01 => match element.content {
            [0x00] | [0xff] => Ok(()),
            _ => Err(problem(here, "BOOLEAN other than 00 or FF")),
        },
        0x02 | 0x0a => check_integer(element.content, here),
        0x03 => check_bit_string(element.content, here),
        0x05 if !element.content.is_empty() => Err(problem(here, "NULL with contents")),
        0x06 => check_oid(element.content, here),
        0x17 => check_utc_time(element.content, here),
        0x18 => check_generalized_time(element.content, here),
        tag if tag & 0x20 != 0 => walk_constructed(element, here, context),
        _ => Ok(()),
    }
}

fn walk_constructed(element: &Element<'_>, path: &str, context: Context) -> Result<(), Problem> {
    let kids = children(element.content, path)?;
    if element.tag == SET || context == Context::ImplicitSet {
        check_sorted(&kids, path)?;
    }
    let first_is_oid = element.tag == SEQUENCE && kids.first().is_some_and(|k| k.tag == OID);
    let signed_data = first_is_oid && kids.first().is_some_and(|k| k.content == SIGNED_DATA);
    for (i, kid) in kids.iter().enumerate() {
        let kid_path = format!("{path}/{:02x}[{i}]", kid.tag);
        let kid_context = match (context, kid.tag) {
            (Context::SignedData, SET) => Context::SignerInfos,
            (Context::SignerInfos, SEQUENCE) => Context::SignerInfo,
            (Context::SignedData | Context::SignerInfo, 0xa0 | 0xa1) => Context::ImplicitSet,
            _ => Context::Plain,
        };
        walk(kid, &kid_path, kid_context)?;
        if first_is_oid && i > 0 {
            match kid.tag {
                OCTET_STRING => embedded(kid.content, &kid_path)?,
                0xa0 => {
                    let inner = children(kid.content, &kid_path)?;
                    match inner.as_slice() {
                        [only] if only.tag == OCTET_STRING => {
                            embedded(only.content, &format!("{kid_path}/04[0]"))?
                        }
                        [only] if signed_data && only.tag == SEQUENCE => {
                            walk(only, &format!("{kid_path}/30[0]"), Context::SignedData)?
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// DER carried in an OCTET STRING: exactly one element, itself checked.
fn embedded(content: &[u8], path: &str) -> Result<(), Problem> {
    let path = format!("{path}>");
    let (inner, rest) = read(content, &path)?;
    if !rest.is_empty() {
        return Err(problem(&path, "octets after the embedded element"));
    }
    walk(&inner, &format!("{path}/{:02x}", inner.tag), Context::Plain)
}

fn check_integer(content: &[u8], path: &str) -> Result<(), Problem> {
    match content {
        [] => Err(problem(path, "empty INTEGER")),
        [0x00, next, ..] if next & 0x80 == 0 => Err(problem(path, "INTEGER with a redundant 00 octet")),
        [0xff, next, ..] if next & 0x80 != 0 => Err(problem(path, "INTEGER with a redundant FF octet")),
        _ => Ok(()),
    }
}

fn check_bit_string(content: &[u8], path: &str) -> Result<(), Problem> {
    let Some((&unused, bits)) = content.split_first() else {
        return Err(problem(path, "BIT STRING without its unused-bits octet"));
    };
    match (unused, bits.last()) {
        (8.., _) => Err(problem(path, "BIT STRING with more than 7 unused bits")),
        (1.., None) => Err(problem(path, "empty BIT STRING with unused bits")),
        (n, Some(last)) if last & ((1u8 << n) - 1) != 0 => {
            Err(problem(path, "BIT STRING unused bits not zero"))
        }
        _ => Ok(()),
    }
}

fn check_oid(content: &[u8], path: &str) -> Result<(), Problem> {
    let mut start = true;
    for &b in content {
        if start && b == 0x80 {
            return Err(problem(path, "OID arc with a leading 80 octet"));
        }
        start = b & 0x80 == 0;
    }
    if content.is_empty() || !start { Err(problem(path, "empty or unterminated OID")) } else { Ok(()) }
}

fn digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

fn check_utc_time(content: &[u8], path: &str) -> Result<(), Problem> {
    match content.split_last() {
        Some((b'Z', body)) if body.len() == 12 && digits(body) => Ok(()),
        _ => Err(problem(path, "UTCTime other than YYMMDDHHMMSSZ")),
    }
}

fn check_generalized_time(content: &[u8], path: &str) -> Result<(), Problem> {
    let Some((b'Z', body)) = content.split_last() else {
        return Err(problem(path, "GeneralizedTime not ending in Z"));
    };
    let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], Some(&body[dot + 1..])),
        None => (body, None),
    };
    if whole.len() != 14 || !digits(whole) {
        return Err(problem(path, "GeneralizedTime other than YYYYMMDDHHMMSS[.f]Z"));
    }
    match fraction {
        Some(f) if !digits(f) || f.last() == Some(&b'0') => {
            Err(problem(path, "GeneralizedTime fraction empty or with trailing zeros"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            let len = content.len().to_be_bytes();
            let skip = len.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (len.len() - skip) as u8);
            out.extend_from_slice(&len[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    fn int(n: u8) -> Vec<u8> {
        tlv(0x02, &[n])
    }

    #[test]
    fn canonical_structures_pass() {
        let set = tlv(SET, &[int(1), int(2)].concat());
        assert_eq!(check(&tlv(SEQUENCE, &[set, tlv(0x01, &[0xff]), tlv(0x05, &[])].concat())), Ok(()));
        assert_eq!(check(&tlv(0x04, &vec![7; 300])), Ok(()));
        assert_eq!(check(&tlv(0x18, b"20261203101010.25Z")), Ok(()));
        assert_eq!(check(&tlv(0x03, &[1, 0xfe])), Ok(()));
    }

    #[test]
    fn each_fault_is_named() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (tlv(SET, &[int(2), int(1)].concat()), "not sorted"),
            (vec![0x04, 0x81, 0x05, 1, 2, 3, 4, 5], "long-form"),
            (vec![0x04, 0x82, 0x00, 0x81], "leading zero"),
            (vec![0x30, 0x80, 0, 0], "indefinite"),
            ([int(1), vec![0]].concat(), "after the element"),
            (tlv(0x01, &[1]), "BOOLEAN"),
            (tlv(0x02, &[0, 1]), "redundant 00"),
            (tlv(0x03, &[1, 0xff]), "unused bits not zero"),
            (tlv(0x18, b"20261203101010.50Z"), "trailing zeros"),
            (tlv(0x17, b"2612031010Z"), "UTCTime"),
            (tlv(0x06, &[0x2a, 0x80, 0x01]), "leading 80"),
        ];
        for (der, want) in cases {
            let problem = check(&der).expect_err(want);
            assert!(problem.what.contains(want), "{want}: {problem}");
        }
    }

    #[test]
    fn extension_values_and_cms_implicit_sets_are_looked_into() {
        // Extension { OID, OCTET STRING { SET { 2, 1 } } }
        let bad_set = tlv(SET, &[int(2), int(1)].concat());
        let extension = tlv(SEQUENCE, &[tlv(OID, &[0x55, 0x1d, 0x0f]), tlv(0x04, &bad_set)].concat());
        let problem = check(&extension).expect_err("unsorted inside extnValue");
        assert!(problem.path.contains('>'), "{problem}");
        // ContentInfo { signedData, [0] { SignedData { 3, [0] certs (unsorted) } } }
        let certs = tlv(0xa0, &[tlv(SEQUENCE, &int(2)), tlv(SEQUENCE, &int(1))].concat());
        let signed_data = tlv(SEQUENCE, &[int(3), certs.clone()].concat());
        let content_info = tlv(SEQUENCE, &[tlv(OID, SIGNED_DATA), tlv(0xa0, &signed_data)].concat());
        let problem = check(&content_info).expect_err("unsorted certificates");
        assert!(problem.what.contains("not sorted"), "{problem}");
        // The same [0] anywhere else is not a SET.
        let elsewhere = tlv(SEQUENCE, &[int(3), certs].concat());
        assert_eq!(check(&elsewhere), Ok(()));
    }
}
