//! The properties each fuzz target checks, shared by `fuzz/` (coverage-guided)
//! and `tests/fuzz_corpus.rs` (replay of the saved corpus on every test run).
//! Each function panics when a property fails.

use crate::csr::VerifiedCsr;
use crate::ocsp::{decode_get_path, parse_request};
use crate::publication::{SegmentBuilder, parse_segment};

/// Our zero-copy parser never panics, and whatever it accepts rasn decodes
/// to the same first CertID.
pub fn ocsp_request(data: &[u8]) {
    let Ok(ours) = parse_request(data) else {
        return;
    };
    let theirs: rasn_ocsp::OcspRequest = match rasn::der::decode(data) {
        Ok(t) => t,
        Err(e) => panic!("accepted by us, rejected by rasn: {e}"),
    };
    let first = &theirs.tbs_request.request_list.first().expect("rasn saw no request").req_cert;
    assert_eq!(ours.count, theirs.tbs_request.request_list.len());
    assert_eq!(ours.first.issuer_name_hash, first.issuer_name_hash.as_ref());
    assert_eq!(ours.first.issuer_key_hash, first.issuer_key_hash.as_ref());
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

/// TimeStampReq parsing never panics; what it accepts, rasn-cms decodes to
/// the same imprint and nonce.
pub fn tsp_request(data: &[u8]) {
    let Ok(ours) = crate::tsp::parse_request(data) else {
        return;
    };
    let theirs: rasn_cms::tsp::TimeStampReq = match rasn::der::decode(data) {
        Ok(t) => t,
        Err(e) => panic!("accepted by us, rejected by rasn: {e}"),
    };
    assert_eq!(ours.hashed_message, theirs.message_imprint.hashed_message.as_ref());
    assert_eq!(ours.cert_req, theirs.cert_req);
    assert_eq!(ours.nonce.is_some(), theirs.nonce.is_some());
    assert_eq!(ours.has_extensions, theirs.extensions.is_some());
}
