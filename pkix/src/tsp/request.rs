//! TimeStampReq (RFC 3161 §2.4.1):
//!
//! ```text
//! TimeStampReq ::= SEQUENCE {
//!    version         INTEGER { v1(1) },
//!    messageImprint  MessageImprint,
//!    reqPolicy       TSAPolicyId            OPTIONAL,
//!    nonce           INTEGER                OPTIONAL,
//!    certReq         BOOLEAN                DEFAULT FALSE,
//!    extensions      [0] IMPLICIT Extensions OPTIONAL }
//! MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
//! ```

use super::FailInfo;
use crate::der::{self, Reader, tag};
use crate::hash::HashAlg;

/// Longest nonce accepted, in content octets (a 512-bit integer and a sign octet).
const MAX_NONCE_LEN: usize = 65;

/// A parsed request; views into the request bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeStampRequest<'a> {
    pub hash: HashAlg,
    /// The complete MessageImprint, copied verbatim into TSTInfo.
    pub message_imprint: &'a [u8],
    pub hashed_message: &'a [u8],
    /// Complete DER OID of the requested policy.
    pub policy: Option<&'a [u8]>,
    /// Complete DER INTEGER of the nonce, echoed verbatim.
    pub nonce: Option<&'a [u8]>,
    pub cert_req: bool,
    pub has_extensions: bool,
}

/// Parses the DER; every failure is `badDataFormat` except an unknown
/// imprint hash (`badAlg`).
pub fn parse_request(input: &[u8]) -> Result<TimeStampRequest<'_>, FailInfo> {
    let bad = |_| FailInfo::BadDataFormat;
    let outer = der::single(input, tag::SEQUENCE).map_err(bad)?;
    let mut fields = Reader::new(outer.value);
    let version = fields.expect(tag::INTEGER).map_err(bad)?;
    if version.value != [1] {
        return Err(FailInfo::BadDataFormat);
    }
    let imprint = fields.expect(tag::SEQUENCE).map_err(bad)?;
    let policy = match fields.peek_tag() {
        Some(tag::OID) => Some(fields.expect_oid().map_err(bad)?.raw),
        _ => None,
    };
    let nonce = fields.optional(tag::INTEGER).map_err(bad)?;
    let cert_req = match fields.optional(tag::BOOLEAN).map_err(bad)? {
        Some(b) => match b.value {
            [0xff] => true,
            // DER: DEFAULT FALSE is omitted, never encoded; BER clients send it anyway.
            [0x00] => false,
            _ => return Err(FailInfo::BadDataFormat),
        },
        None => false,
    };
    // extensions [0] IMPLICIT Extensions: checked for form, refused by policy.
    let extensions = fields.optional(tag::context_constructed(0)).map_err(bad)?;
    if let Some(exts) = extensions {
        der::parse_extensions(exts.value).map_err(bad)?;
    }
    fields.finish().map_err(bad)?;

    if let Some(n) = nonce {
        der::check_integer(n.value).map_err(bad)?;
        if n.value.len() > MAX_NONCE_LEN {
            return Err(FailInfo::BadDataFormat);
        }
    }
    let mut parts = Reader::new(imprint.value);
    let algorithm = parts.expect(tag::SEQUENCE).map_err(bad)?;
    let hashed_message = parts.expect(tag::OCTET_STRING).map_err(bad)?.value;
    parts.finish().map_err(bad)?;
    let mut alg = Reader::new(algorithm.value);
    let oid = alg.expect_oid().map_err(bad)?.raw;
    alg.optional(tag::NULL).map_err(bad)?;
    alg.finish().map_err(bad)?;
    let hash = HashAlg::from_oid(oid).ok_or(FailInfo::BadAlg)?;

    Ok(TimeStampRequest {
        hash,
        message_imprint: imprint.raw,
        hashed_message,
        policy,
        nonce: nonce.map(|n| n.raw),
        cert_req,
        has_extensions: extensions.is_some(),
    })
}

/// What the TSA accepts beyond well-formed DER.
#[derive(Debug, Clone)]
pub struct RequestPolicy {
    pub allowed_hashes: Vec<HashAlg>,
    /// Complete DER OIDs of the policies a request may name; the first is
    /// the default used when it names none.
    pub policies: Vec<Vec<u8>>,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        Self {
            allowed_hashes: vec![HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512],
            policies: vec![crate::oid::CARTORIO_TSA_POLICY.to_vec()],
        }
    }
}

/// Applies the policy; returns the policy OID the token will carry.
pub fn check_request<'p>(
    req: &TimeStampRequest<'_>,
    policy: &'p RequestPolicy,
) -> Result<&'p [u8], FailInfo> {
    if !policy.allowed_hashes.contains(&req.hash) {
        return Err(FailInfo::BadAlg);
    }
    if req.hashed_message.len() != req.hash.output_len() {
        return Err(FailInfo::BadDataFormat);
    }
    if req.has_extensions {
        return Err(FailInfo::UnacceptedExtension);
    }
    match req.policy {
        None => policy.policies.first().map(Vec::as_slice).ok_or(FailInfo::SystemFailure),
        Some(asked) => policy
            .policies
            .iter()
            .find(|p| p.as_slice() == asked)
            .map(Vec::as_slice)
            .ok_or(FailInfo::UnacceptedPolicy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::encode::{boolean, explicit, integer_u64, null, octet_string, seq};

    fn imprint(hash: HashAlg, len: usize) -> Vec<u8> {
        seq(&[&seq(&[hash.oid(), &null()]), &octet_string(&vec![7; len])])
    }

    fn req(parts: &[&[u8]]) -> Vec<u8> {
        seq(parts)
    }

    #[test]
    fn parses_a_full_request() {
        let im = imprint(HashAlg::Sha256, 32);
        let nonce = integer_u64(0x1234_5678);
        let der = req(&[&integer_u64(1), &im, crate::oid::CARTORIO_TSA_POLICY, &nonce, &boolean(true)]);
        let r = parse_request(&der).expect("parses");
        assert_eq!(r.hash, HashAlg::Sha256);
        assert_eq!(r.message_imprint, im.as_slice());
        assert_eq!(r.nonce, Some(nonce.as_slice()));
        assert!(r.cert_req);
        let policy = RequestPolicy::default();
        assert_eq!(check_request(&r, &policy), Ok(crate::oid::CARTORIO_TSA_POLICY));
    }

    #[test]
    fn each_refusal_has_its_bit() {
        let policy = RequestPolicy::default();
        let check = |der: &[u8]| parse_request(der).and_then(|r| check_request(&r, &policy).map(|_| ()));
        assert_eq!(check(b"junk"), Err(FailInfo::BadDataFormat));
        assert_eq!(
            check(&req(&[&integer_u64(2), &imprint(HashAlg::Sha256, 32)])),
            Err(FailInfo::BadDataFormat)
        );
        assert_eq!(check(&req(&[&integer_u64(1), &imprint(HashAlg::Sha1, 20)])), Err(FailInfo::BadAlg));
        assert_eq!(
            check(&req(&[&integer_u64(1), &imprint(HashAlg::Sha256, 20)])),
            Err(FailInfo::BadDataFormat)
        );
        let md5 = seq(&[
            &seq(&[&[0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05][..]]),
            &octet_string(&[0; 16]),
        ]);
        assert_eq!(check(&req(&[&integer_u64(1), &md5])), Err(FailInfo::BadAlg));
        let other_policy: &[u8] = &[0x06, 0x03, 0x2a, 0x03, 0x04];
        assert_eq!(
            check(&req(&[&integer_u64(1), &imprint(HashAlg::Sha256, 32), other_policy])),
            Err(FailInfo::UnacceptedPolicy)
        );
        // [0] IMPLICIT Extensions holding one well-formed Extension.
        let with_ext = explicit(0, &seq(&[&[0x06, 0x03, 0x55, 0x1d, 0x0f][..], &octet_string(&[0])]));
        assert_eq!(
            check(&req(&[&integer_u64(1), &imprint(HashAlg::Sha256, 32), &with_ext])),
            Err(FailInfo::UnacceptedExtension)
        );
        let trailing = [req(&[&integer_u64(1), &imprint(HashAlg::Sha256, 32)]), vec![0]].concat();
        assert_eq!(check(&trailing), Err(FailInfo::BadDataFormat));
    }
}
