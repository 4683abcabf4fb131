//! Building OCSP responses: signed BasicOCSPResponses for the pre-signer and
//! the constant unsigned error responses for the responder.

use crate::cert::{CertificateView, key_id};
use crate::der::DerError;
use crate::der::encode::{
    enumerated, explicit, generalized_time, header, null, octet_string, seq, tlv, tlv_size, unsigned_integer,
};
use crate::der::tag;
use crate::hash::HashAlg;
use crate::ocsp::CertId;
use crate::oid;
use crate::signer::{SignError, Signer};

/// OCSPResponseStatus (RFC 6960 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

/// The complete, unsigned OCSPResponse for an error status.
pub fn status_response(status: ResponseStatus) -> &'static [u8] {
    match status {
        ResponseStatus::Successful => &[0x30, 0x03, 0x0a, 0x01, 0x00],
        ResponseStatus::MalformedRequest => &[0x30, 0x03, 0x0a, 0x01, 0x01],
        ResponseStatus::InternalError => &[0x30, 0x03, 0x0a, 0x01, 0x02],
        ResponseStatus::TryLater => &[0x30, 0x03, 0x0a, 0x01, 0x03],
        ResponseStatus::SigRequired => &[0x30, 0x03, 0x0a, 0x01, 0x05],
        ResponseStatus::Unauthorized => &[0x30, 0x03, 0x0a, 0x01, 0x06],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    /// `reason` is a CRLReason code (RFC 5280 §5.3.1).
    Revoked {
        at: i64,
        reason: Option<u8>,
    },
}

/// An issuer's name and key hashes under every CertID hash algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerHashes {
    by_alg: Vec<(HashAlg, Vec<u8>, Vec<u8>)>,
}

impl IssuerHashes {
    pub fn of(issuer: &CertificateView<'_>) -> Result<Self, DerError> {
        let key = issuer.public_key_bits()?;
        let by_alg =
            HashAlg::ALL.into_iter().map(|alg| (alg, alg.digest(issuer.subject), alg.digest(key))).collect();
        Ok(Self { by_alg })
    }

    pub fn hashes(&self, alg: HashAlg) -> Option<(&[u8], &[u8])> {
        self.by_alg.iter().find(|(a, _, _)| *a == alg).map(|(_, name, key)| (name.as_slice(), key.as_slice()))
    }

    /// Both the name hash and the key hash must match.
    pub fn matches(&self, id: &CertId<'_>) -> bool {
        self.hashes(id.hash)
            .is_some_and(|(name, key)| name == id.issuer_name_hash && key == id.issuer_key_hash)
    }
}

/// DER CertID hashed with `hash`, for a serial given as INTEGER contents.
/// Clients match a SingleResponse by its whole CertID, hash algorithm
/// included, so a response answers only requests made with the same hash.
pub fn cert_id(issuer: &IssuerHashes, hash: HashAlg, serial: &[u8]) -> Vec<u8> {
    let (name, key) = issuer.hashes(hash).unwrap_or_default();
    seq(&[
        &seq(&[hash.oid(), &null()]),
        &octet_string(name),
        &octet_string(key),
        &crate::der::encode::tlv(crate::der::tag::INTEGER, &[serial]),
    ])
}

/// The parts of every response that depend only on the responder: its
/// ResponderID (by key) and the certificate chain it includes.
#[derive(Debug, Clone)]
pub struct ResponderTemplate {
    responder_id: Vec<u8>,
    certs: Vec<u8>,
}

impl ResponderTemplate {
    /// `responder_cert` is included in responses (delegated responder).
    pub fn new(responder_cert: &[u8], responder_spki: &[u8]) -> Result<Self, DerError> {
        let responder_id = explicit(2, &octet_string(&key_id(responder_spki)?));
        let certs = explicit(0, &seq(&[responder_cert]));
        Ok(Self { responder_id, certs })
    }
}

/// One signed response and the validity it states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedResponse {
    /// The complete OCSPResponse DER.
    pub der: Vec<u8>,
    pub this_update: i64,
    pub next_update: i64,
}

/// Builds and signs one OCSPResponse (status successful, basic response,
/// one SingleResponse).
pub fn sign_response(
    template: &ResponderTemplate,
    signer: &dyn Signer,
    cert_id: &[u8],
    status: CertStatus,
    this_update: i64,
    next_update: i64,
) -> Result<SignedResponse, SignError> {
    let cert_status = match status {
        CertStatus::Good => vec![0x80, 0x00],
        CertStatus::Revoked { at, reason } => {
            let reason = reason.map(|r| explicit(0, &enumerated(r))).unwrap_or_default();
            tlv(0xa1, &[&generalized_time(at), &reason])
        }
    };
    let single = seq(&[
        cert_id,
        &cert_status,
        &generalized_time(this_update),
        &explicit(0, &generalized_time(next_update)),
    ]);
    let tbs = seq(&[&template.responder_id, &generalized_time(this_update), &seq(&[&single])]);
    let signature = signer.sign(&tbs)?;
    let der = successful_response(&tbs, signer.algorithm(), &signature, &template.certs);
    Ok(SignedResponse { der, this_update, next_update })
}

/// OCSPResponse { successful, [0] ResponseBytes { id-pkix-ocsp-basic,
/// OCTET STRING { BasicOCSPResponse { tbs, algorithm, BIT STRING signature,
/// [0] certs } } } }, written outside in with each part copied once: the
/// pre-signer builds millions, and nesting element by element copied the
/// certificate-sized inner part five times over.
fn successful_response(tbs: &[u8], algorithm: &[u8], signature: &[u8], certs: &[u8]) -> Vec<u8> {
    let status = [tag::ENUMERATED, 1, ResponseStatus::Successful as u8];
    let signature_bits = 1 + signature.len();
    let basic = tbs.len() + algorithm.len() + tlv_size(signature_bits) + certs.len();
    let octets = tlv_size(basic);
    let response_bytes = oid::OCSP_BASIC.len() + tlv_size(octets);
    let explicit_bytes = tlv_size(response_bytes);
    let outer = status.len() + tlv_size(explicit_bytes);
    let mut out = Vec::with_capacity(tlv_size(outer));
    header(tag::SEQUENCE, outer, &mut out);
    out.extend_from_slice(&status);
    header(tag::context_constructed(0), explicit_bytes, &mut out);
    header(tag::SEQUENCE, response_bytes, &mut out);
    out.extend_from_slice(oid::OCSP_BASIC);
    header(tag::OCTET_STRING, octets, &mut out);
    header(tag::SEQUENCE, basic, &mut out);
    out.extend_from_slice(tbs);
    out.extend_from_slice(algorithm);
    header(tag::BIT_STRING, signature_bits, &mut out);
    out.push(0); // no unused bits
    out.extend_from_slice(signature);
    out.extend_from_slice(certs);
    out
}

/// A non-negative serial magnitude as INTEGER contents (what CertIDs carry).
pub fn serial_integer_contents(magnitude: &[u8]) -> Vec<u8> {
    let encoded = unsigned_integer(magnitude);
    encoded.get(2..).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::EcCurve;

    #[test]
    fn the_response_written_outside_in_is_the_nested_encoding() {
        use crate::der::encode::bit_string;
        let certs = explicit(0, &seq(&[&[0x30; 300]]));
        for (tbs, signature) in [(vec![0x30, 0x00], vec![7u8; 72]), (vec![0x30; 200], vec![1u8; 104])] {
            let nested = seq(&[
                &enumerated(ResponseStatus::Successful as u8),
                &explicit(
                    0,
                    &seq(&[
                        oid::OCSP_BASIC,
                        &octet_string(&seq(&[&tbs, oid::ECDSA_WITH_SHA256, &bit_string(&signature), &certs])),
                    ]),
                ),
            ]);
            assert_eq!(successful_response(&tbs, oid::ECDSA_WITH_SHA256, &signature, &certs), nested);
        }
    }

    #[test]
    fn signed_response_decodes_with_rasn_and_verifies() {
        let signer = crate::test_keys::ec_key(EcCurve::P256);
        let cert = crate::test_keys::self_signed(&signer, "Issuer", vec![]);
        let view = CertificateView::parse(&cert).expect("view");
        let issuer = IssuerHashes::of(&view).expect("hashes");
        let template = ResponderTemplate::new(&cert, signer.spki()).expect("template");
        let id = cert_id(&issuer, HashAlg::Sha1, &serial_integer_contents(&[0x99, 1]));
        let revoked = CertStatus::Revoked { at: 1_000, reason: Some(1) };
        let resp = sign_response(&template, &signer, &id, revoked, 2_000, 3_000).expect("sign");

        let decoded: rasn_ocsp::OcspResponse = rasn::der::decode(&resp.der).expect("rasn decodes");
        assert_eq!(decoded.status, rasn_ocsp::OcspResponseStatus::Successful);
        let bytes = decoded.bytes.expect("bytes");
        let basic: rasn_ocsp::BasicOcspResponse = rasn::der::decode(&bytes.response).expect("basic");
        let single = &basic.tbs_response_data.responses[0];
        assert!(matches!(single.cert_status, rasn_ocsp::CertStatus::Revoked(_)));
        let tbs = rasn::der::encode(&basic.tbs_response_data).expect("encode");
        crate::verify::verify(signer.spki(), signer.algorithm(), &tbs, basic.signature.as_raw_slice())
            .expect("signature verifies");
    }

    #[test]
    fn status_responses_decode() {
        let decoded: rasn_ocsp::OcspResponse =
            rasn::der::decode(status_response(ResponseStatus::Unauthorized)).expect("decode");
        assert_eq!(decoded.status, rasn_ocsp::OcspResponseStatus::Unauthorized);
        assert!(decoded.bytes.is_none());
    }
}
