//! The properties each fuzz target checks, shared by `fuzz/` (coverage-guided)
//! and `tests/fuzz_corpus.rs` (replay of the saved corpus on every test run).
//! Each function panics when a property fails.

use crate::csr::VerifiedCsr;
use crate::ocsp::{decode_get_path, parse_request};
use crate::publication::{SegmentBuilder, parse_segment};

/// Our zero-copy parser never panics, and for whatever it accepts, rasn
/// decodes the request list to the same CertIDs. (The requestor name and the
/// contents of a request signature are ignored by policy, so only their
/// outer form is checked; rasn is not asked about them.)
pub fn ocsp_request(data: &[u8]) {
    let Ok(ours) = parse_request(data) else {
        return;
    };
    let list = request_list(data).expect("accepted request has a request list");
    let theirs: Vec<rasn_ocsp::Request> = match rasn::der::decode(list) {
        Ok(t) => t,
        Err(e) => panic!("accepted by us, rejected by rasn: {e}"),
    };
    let first = &theirs.first().expect("rasn saw no request").req_cert;
    assert_eq!(ours.count, theirs.len());
    assert_eq!(ours.first.issuer_name_hash, first.issuer_name_hash.as_ref());
    assert_eq!(ours.first.issuer_key_hash, first.issuer_key_hash.as_ref());
}

/// The complete requestList of an OCSPRequest.
fn request_list(data: &[u8]) -> Option<&[u8]> {
    use crate::der::{Reader, single, tag};
    let outer = single(data, tag::SEQUENCE).ok()?;
    let tbs = Reader::new(outer.value).expect(tag::SEQUENCE).ok()?;
    let mut fields = Reader::new(tbs.value);
    fields.optional(tag::context_constructed(0)).ok()?;
    fields.optional(tag::context_constructed(1)).ok()?;
    Some(fields.expect(tag::SEQUENCE).ok()?.raw)
}

/// GET-path decoding never panics and respects its size bound; what it
/// returns then goes through the request parser.
pub fn ocsp_get_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(der) = decode_get_path(text, 10_000) {
        assert!(der.len() <= 10_000);
        ocsp_request(&der);
    }
}

/// CSR parsing and verification never panic; an accepted CSR's views are
/// slices of well-formed DER.
pub fn csr(data: &[u8]) {
    if let Ok(csr) = VerifiedCsr::from_pem_or_der(data) {
        assert!(crate::der::single(csr.subject(), crate::der::tag::SEQUENCE).is_ok());
        assert!(crate::verify::parse_spki(csr.spki()).is_ok());
    }
}

/// Segment parsing never panics; rebuilding an accepted segment from its
/// entries parses back to the same entries.
pub fn segment(data: &[u8]) {
    let Ok(entries) = parse_segment(data) else {
        return;
    };
    let mut rebuilt = SegmentBuilder::new();
    for e in &entries {
        let der = data.get(e.der.clone()).expect("entry range inside the segment");
        rebuilt.push(e.issuer, e.serial, e.meta, der).expect("an accepted entry re-encodes");
    }
    let bytes = rebuilt.finish();
    let again = parse_segment(&bytes).expect("rebuilt segment parses");
    assert_eq!(again.len(), entries.len());
    for (a, b) in again.iter().zip(&entries) {
        assert_eq!((a.issuer, a.serial, a.meta), (b.issuer, b.serial, b.meta));
        assert_eq!(bytes.get(a.der.clone()), data.get(b.der.clone()));
    }
}

/// Re-sorting the SETs of what a client sent (a CSR's names) never
/// panics, and what it returns is the same size, parses, and is its own
/// canonical form; the cRLNumber reader never panics on any input.
pub fn der_canonical(data: &[u8]) {
    let _ = crate::crl::crl_number(data);
    let _ = crate::crl::CrlView::parse(data);
    let Ok(sorted) = crate::der::encode::sort_sets(data) else {
        return;
    };
    assert_eq!(sorted.len(), data.len(), "sorting moves elements, it never resizes them");
    assert!(crate::der::single(&sorted, sorted.first().copied().unwrap_or_default()).is_ok());
    assert_eq!(crate::der::encode::sort_sets(&sorted).as_ref(), Ok(&sorted), "idempotent");
}

/// TimeStampReq parsing never panics; what it accepts, rasn-cms decodes to
/// the same imprint and nonce.
pub fn tsp_request(data: &[u8]) {
    let Ok(ours) = crate::tsp::parse_request(data) else {
        return;
    };
    // rasn limits OID arcs to 32 bits; DER does not.
    if ours.policy.is_some_and(has_wide_arc) {
        return;
    }
    let theirs: rasn_cms::tsp::TimeStampReq = match rasn::der::decode(data) {
        Ok(t) => t,
        Err(e) => panic!("accepted by us, rejected by rasn: {e}"),
    };
    assert_eq!(ours.hashed_message, theirs.message_imprint.hashed_message.as_ref());
    assert_eq!(ours.cert_req, theirs.cert_req);
    assert_eq!(ours.nonce.is_some(), theirs.nonce.is_some());
    assert_eq!(ours.has_extensions, theirs.extensions.is_some());
}

/// Whether a complete DER OID has an arc that does not fit 32 bits.
fn has_wide_arc(oid: &[u8]) -> bool {
    let mut arc: u64 = 0;
    for &b in oid.get(2..).unwrap_or_default() {
        arc = (arc << 7) | u64::from(b & 0x7f);
        if arc > u64::from(u32::MAX) + 80 {
            return true;
        }
        if b & 0x80 == 0 {
            arc = 0;
        }
    }
    false
}
