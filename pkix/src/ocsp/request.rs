//! OCSPRequest parsing: zero-copy, bounded, on the hot path.
//!
//! Policy (documented in the README): every CertID must be well formed; the
//! responder answers the first one with its pre-signed response. A nonce is
//! checked for form (RFC 9654: 1..=128 octets) and otherwise ignored, since
//! responses are pre-signed (RFC 5019 §2.1). A request signature is parsed
//! for form and ignored.

use crate::der::{self, DerError, Reader, tag};
use crate::hash::HashAlg;
use crate::oid;
use thiserror::Error;

/// Most CertIDs accepted in one request.
pub const MAX_REQUESTS: usize = 64;
/// Longest nonce accepted (RFC 9654 §2.1).
pub const MAX_NONCE_LEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("malformed DER: {0}")]
    Der(#[from] DerError),
    #[error("unsupported OCSP request version")]
    Version,
    #[error("the request list is empty")]
    NoRequests,
    #[error("more than {MAX_REQUESTS} CertIDs in one request")]
    TooManyRequests,
    #[error("CertID hash algorithm not supported")]
    UnsupportedHash,
    #[error("CertID hash has the wrong length for its algorithm")]
    HashLength,
    #[error("nonce extension malformed, empty or longer than {MAX_NONCE_LEN} octets")]
    Nonce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertId<'a> {
    pub hash: HashAlg,
    pub issuer_name_hash: &'a [u8],
    pub issuer_key_hash: &'a [u8],
    /// Contents of the serialNumber INTEGER.
    pub serial: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspRequest<'a> {
    /// The CertID that is answered.
    pub first: CertId<'a>,
    /// How many CertIDs the request held.
    pub count: usize,
    /// The nonce value (contents of the inner OCTET STRING).
    pub nonce: Option<&'a [u8]>,
    pub signed: bool,
}

pub fn parse_request(input: &[u8]) -> Result<OcspRequest<'_>, RequestError> {
    let outer = der::single(input, tag::SEQUENCE)?;
    let mut top = Reader::new(outer.value);
    let tbs = top.expect(tag::SEQUENCE)?;
    let signature = top.optional(tag::context_constructed(0))?;
    top.finish()?;
    if let Some(sig) = signature {
        // Signature ::= SEQUENCE { algorithm, BIT STRING, [0] certs OPTIONAL }
        let inner = der::single(sig.value, tag::SEQUENCE)?;
        let mut fields = Reader::new(inner.value);
        fields.expect(tag::SEQUENCE)?;
        fields.expect(tag::BIT_STRING)?;
        fields.optional(tag::context_constructed(0))?;
        fields.finish()?;
    }

    let mut fields = Reader::new(tbs.value);
    if let Some(version) = fields.optional(tag::context_constructed(0))?
        && der::single(version.value, tag::INTEGER)?.value != [0]
    {
        return Err(RequestError::Version);
    }
    fields.optional(tag::context_constructed(1))?; // requestorName
    let list = fields.expect(tag::SEQUENCE)?;
    let extensions = fields.optional(tag::context_constructed(2))?;
    fields.finish()?;

    let mut requests = Reader::new(list.value);
    let mut first = None;
    let mut count = 0;
    while !requests.is_empty() {
        count += 1;
        if count > MAX_REQUESTS {
            return Err(RequestError::TooManyRequests);
        }
        let cert_id = parse_single_request(requests.expect(tag::SEQUENCE)?.value)?;
        first.get_or_insert(cert_id);
    }
    let first = first.ok_or(RequestError::NoRequests)?;
    let nonce = match extensions {
        Some(ext) => find_nonce(ext.value)?,
        None => None,
    };
    Ok(OcspRequest { first, count, nonce, signed: signature.is_some() })
}

fn parse_single_request(request: &[u8]) -> Result<CertId<'_>, RequestError> {
    let mut fields = Reader::new(request);
    let cert_id = fields.expect(tag::SEQUENCE)?;
    if let Some(exts) = fields.optional(tag::context_constructed(0))? {
        der::parse_extensions(der::single(exts.value, tag::SEQUENCE)?.value)?;
    }
    fields.finish()?;

    let mut parts = Reader::new(cert_id.value);
    let algorithm = parts.expect(tag::SEQUENCE)?;
    let name_hash = parts.expect(tag::OCTET_STRING)?.value;
    let key_hash = parts.expect(tag::OCTET_STRING)?.value;
    let serial = parts.expect(tag::INTEGER)?.value;
    parts.finish()?;
    der::check_integer(serial)?;

    let mut alg = Reader::new(algorithm.value);
    let hash = HashAlg::from_oid(alg.expect_oid()?.raw).ok_or(RequestError::UnsupportedHash)?;
    // Parameters: absent or NULL (both are seen in the wild).
    alg.optional(tag::NULL)?;
    alg.finish()?;
    if name_hash.len() != hash.output_len() || key_hash.len() != hash.output_len() {
        return Err(RequestError::HashLength);
    }
    Ok(CertId { hash, issuer_name_hash: name_hash, issuer_key_hash: key_hash, serial })
}

/// Extensions ::= SEQUENCE OF Extension; returns the nonce if present.
fn find_nonce(explicit_value: &[u8]) -> Result<Option<&[u8]>, RequestError> {
    let list = der::single(explicit_value, tag::SEQUENCE)?;
    let mut nonce = None;
    for ext in der::parse_extensions(list.value)? {
        if ext.id == oid::OCSP_NONCE {
            let inner = der::single(ext.value, tag::OCTET_STRING).map_err(|_| RequestError::Nonce)?;
            if inner.value.is_empty() || inner.value.len() > MAX_NONCE_LEN {
                return Err(RequestError::Nonce);
            }
            nonce = Some(inner.value);
        }
    }
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::encode::{explicit, null, octet_string, seq, unsigned_integer};

    fn cert_id(hash: HashAlg, serial: &[u8]) -> Vec<u8> {
        let n = hash.output_len();
        seq(&[
            &seq(&[hash.oid(), &null()]),
            &octet_string(&vec![1; n]),
            &octet_string(&vec![2; n]),
            &unsigned_integer(serial),
        ])
    }

    fn request(cert_ids: &[Vec<u8>], extensions: Option<Vec<u8>>) -> Vec<u8> {
        let singles: Vec<Vec<u8>> = cert_ids.iter().map(|c| seq(&[c])).collect();
        let refs: Vec<&[u8]> = singles.iter().map(Vec::as_slice).collect();
        let ext = extensions.map(|e| explicit(2, &e)).unwrap_or_default();
        seq(&[&seq(&[&seq(&refs), &ext])])
    }

    fn nonce_ext(inner: &[u8]) -> Vec<u8> {
        seq(&[&seq(&[oid::OCSP_NONCE, &octet_string(inner)])])
    }

    #[test]
    fn parses_every_hash_algorithm() {
        for hash in HashAlg::ALL {
            let der = request(&[cert_id(hash, &[0x42])], None);
            let parsed = parse_request(&der).expect("parses");
            assert_eq!(parsed.first.hash, hash);
            assert_eq!(parsed.first.serial, &[0x42]);
            assert_eq!(parsed.count, 1);
        }
    }

    #[test]
    fn answers_first_of_several() {
        let der = request(&[cert_id(HashAlg::Sha1, &[1]), cert_id(HashAlg::Sha256, &[2])], None);
        let parsed = parse_request(&der).expect("parses");
        assert_eq!(parsed.first.serial, &[1]);
        assert_eq!(parsed.count, 2);
    }

    #[test]
    fn nonce_bounds() {
        let ok = request(&[cert_id(HashAlg::Sha1, &[1])], Some(nonce_ext(&octet_string(&[9; 16]))));
        assert_eq!(parse_request(&ok).expect("ok").nonce, Some(&[9u8; 16][..]));
        let max = request(&[cert_id(HashAlg::Sha1, &[1])], Some(nonce_ext(&octet_string(&[9; 128]))));
        assert!(parse_request(&max).is_ok());
        for bad in [octet_string(&[]), octet_string(&[9; 129]), vec![1, 2, 3]] {
            let der = request(&[cert_id(HashAlg::Sha1, &[1])], Some(nonce_ext(&bad)));
            assert_eq!(parse_request(&der), Err(RequestError::Nonce));
        }
    }

    #[test]
    fn rejects_bad_requests() {
        assert!(matches!(parse_request(b"garbage"), Err(RequestError::Der(_))));
        assert_eq!(parse_request(&request(&[], None)), Err(RequestError::NoRequests));
        let many: Vec<Vec<u8>> = (0..=MAX_REQUESTS).map(|i| cert_id(HashAlg::Sha1, &[i as u8 + 1])).collect();
        assert_eq!(parse_request(&request(&many, None)), Err(RequestError::TooManyRequests));
        let short = seq(&[
            &seq(&[HashAlg::Sha1.oid()]),
            &octet_string(&[1; 5]),
            &octet_string(&[2; 20]),
            &unsigned_integer(&[1]),
        ]);
        assert_eq!(parse_request(&request(&[short], None)), Err(RequestError::HashLength));
        let md5 = seq(&[
            &seq(&[&[0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05][..]]),
            &octet_string(&[1; 16]),
            &octet_string(&[2; 16]),
            &unsigned_integer(&[1]),
        ]);
        assert_eq!(parse_request(&request(&[md5], None)), Err(RequestError::UnsupportedHash));
    }

    #[test]
    fn agrees_with_rasn() {
        let der = request(&[cert_id(HashAlg::Sha256, &[0x80, 1])], Some(nonce_ext(&octet_string(&[7; 8]))));
        let ours = parse_request(&der).expect("ours");
        let theirs: rasn_ocsp::OcspRequest = rasn::der::decode(&der).expect("rasn");
        let req = &theirs.tbs_request.request_list[0].req_cert;
        assert_eq!(ours.first.issuer_name_hash, req.issuer_name_hash.as_ref());
        assert_eq!(ours.first.issuer_key_hash, req.issuer_key_hash.as_ref());
    }
}
