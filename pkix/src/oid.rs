//! Object identifiers, as complete DER encodings (tag, length, contents), so that
//! building is a copy and matching is a slice comparison.
//! Generated from the dotted forms in the comments; `tests::dotted` checks them.

/// 1.3.14.3.2.26: SHA-1 (CertIDs only; never for signatures)
pub const SHA1: &[u8] = &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a];
/// 2.16.840.1.101.3.4.2.1
pub const SHA256: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// 2.16.840.1.101.3.4.2.2
pub const SHA384: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
/// 2.16.840.1.101.3.4.2.3
pub const SHA512: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
/// 1.2.840.10045.2.1
pub const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7: prime256v1 / secp256r1
pub const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.3.132.0.34: secp384r1
pub const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// 1.2.840.113549.1.1.1
pub const RSA_ENCRYPTION: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.3.101.112
pub const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// 1.2.840.10045.4.3.2
pub const ECDSA_WITH_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// 1.2.840.10045.4.3.3
pub const ECDSA_WITH_SHA384: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
/// 1.2.840.10045.4.3.4
pub const ECDSA_WITH_SHA512: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
/// 1.2.840.113549.1.1.11
pub const SHA256_WITH_RSA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// 1.2.840.113549.1.1.12
pub const SHA384_WITH_RSA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
/// 1.2.840.113549.1.1.13
pub const SHA512_WITH_RSA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
/// 2.5.4.3
pub const COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
/// 2.5.4.10
pub const ORGANIZATION: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0a];
/// 2.5.4.6
pub const COUNTRY: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x06];
/// 2.5.29.14
pub const SUBJECT_KEY_ID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0e];
/// 2.5.29.15
pub const KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0f];
/// 2.5.29.17
pub const SUBJECT_ALT_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
/// 2.5.29.19
pub const BASIC_CONSTRAINTS: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];
/// 2.5.29.20
pub const CRL_NUMBER: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x14];
/// 2.5.29.21
pub const CRL_REASON: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x15];
/// 2.5.29.28
pub const ISSUING_DISTRIBUTION_POINT: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1c];
/// 2.5.29.31
pub const CRL_DISTRIBUTION_POINTS: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1f];
/// 2.5.29.35
pub const AUTHORITY_KEY_ID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x23];
/// 2.5.29.37
pub const EXT_KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x25];
/// 1.3.6.1.5.5.7.1.1
pub const AUTHORITY_INFO_ACCESS: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
/// 1.3.6.1.5.5.7.3.1
pub const KP_SERVER_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// 1.3.6.1.5.5.7.3.2
pub const KP_CLIENT_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
/// 1.3.6.1.5.5.7.3.8
pub const KP_TIME_STAMPING: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];
/// 1.3.6.1.5.5.7.3.9
pub const KP_OCSP_SIGNING: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09];
/// 1.3.6.1.5.5.7.48.1
pub const AD_OCSP: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
/// 1.3.6.1.5.5.7.48.1.1
pub const OCSP_BASIC: &[u8] = &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// 1.3.6.1.5.5.7.48.1.2
pub const OCSP_NONCE: &[u8] = &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];
/// 1.3.6.1.5.5.7.48.1.5
pub const OCSP_NOCHECK: &[u8] = &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x05];
/// 1.2.840.113549.1.9.14
pub const PKCS9_EXTENSION_REQUEST: &[u8] =
    &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e];

/// 1.2.840.113549.1.7.2: CMS id-signedData
pub const SIGNED_DATA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// 1.2.840.113549.1.9.16.1.4: id-ct-TSTInfo
pub const CT_TST_INFO: &[u8] =
    &[0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04];
/// 1.2.840.113549.1.9.3
pub const ATTR_CONTENT_TYPE: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
/// 1.2.840.113549.1.9.4
pub const ATTR_MESSAGE_DIGEST: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
/// 1.2.840.113549.1.9.16.2.47: id-aa-signingCertificateV2 (RFC 5035)
pub const ATTR_SIGNING_CERTIFICATE_V2: &[u8] =
    &[0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f];
/// 1.2.3.4.1: the demo TSA policy, the example OpenSSL's TSA configuration uses;
/// production deployments configure their own.
pub const CARTORIO_TSA_POLICY: &[u8] = &[0x06, 0x04, 0x2a, 0x03, 0x04, 0x01];

/// Encodes a dotted OID (`"1.2.3.4.1"`) as complete DER. Arcs are limited to
/// 32 bits, as many decoders require.
pub fn from_dotted(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u32> = dotted.split('.').map(|a| a.parse().ok()).collect::<Option<_>>()?;
    let (&first, rest) = arcs.split_first()?;
    let (&second, rest) = rest.split_first()?;
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    let mut body = Vec::new();
    for arc in
        std::iter::once(u64::from(first) * 40 + u64::from(second)).chain(rest.iter().map(|a| u64::from(*a)))
    {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            chunk.insert(0, (v & 0x7f) as u8 | 0x80);
            v >>= 7;
        }
        body.extend(chunk);
    }
    Some(crate::der::encode::tlv(crate::der::tag::OID, &[&body]))
}

#[cfg(test)]
mod tests {
    /// Decodes a DER OID back to dotted form.
    fn dotted(der: &[u8]) -> String {
        let body = &der[2..];
        let mut arcs: Vec<u128> = vec![];
        let mut acc = 0u128;
        for b in body {
            acc = (acc << 7) | u128::from(b & 0x7f);
            if b & 0x80 == 0 {
                if arcs.is_empty() {
                    // The first subidentifier packs two arcs: 40 * X + Y.
                    let first = acc.min(80) / 40;
                    arcs.extend([first, acc - 40 * first]);
                } else {
                    arcs.push(acc);
                }
                acc = 0;
            }
        }
        arcs.iter().map(u128::to_string).collect::<Vec<_>>().join(".")
    }

    #[test]
    fn dotted_encoder_round_trips() {
        for d in ["1.2.3.4.1", "2.16.840.1.101.3.4.2.1", "1.3.6.1.5.5.7.48.1.2", "2.999.4294967295"] {
            assert_eq!(dotted(&super::from_dotted(d).expect(d)), d);
        }
        assert_eq!(super::from_dotted("2.16.840.1.101.3.4.2.1").as_deref(), Some(super::SHA256));
        for bad in ["", "1", "3.1", "1.40", "1.2.x", "1.2.4294967296"] {
            assert!(super::from_dotted(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn encodings_match_their_dotted_forms() {
        assert_eq!(dotted(super::SHA1), "1.3.14.3.2.26");
        assert_eq!(dotted(super::SHA256), "2.16.840.1.101.3.4.2.1");
        assert_eq!(dotted(super::SHA384), "2.16.840.1.101.3.4.2.2");
        assert_eq!(dotted(super::SHA512), "2.16.840.1.101.3.4.2.3");
        assert_eq!(dotted(super::EC_PUBLIC_KEY), "1.2.840.10045.2.1");
        assert_eq!(dotted(super::P256), "1.2.840.10045.3.1.7");
        assert_eq!(dotted(super::P384), "1.3.132.0.34");
        assert_eq!(dotted(super::RSA_ENCRYPTION), "1.2.840.113549.1.1.1");
        assert_eq!(dotted(super::ED25519), "1.3.101.112");
        assert_eq!(dotted(super::ECDSA_WITH_SHA256), "1.2.840.10045.4.3.2");
        assert_eq!(dotted(super::ECDSA_WITH_SHA384), "1.2.840.10045.4.3.3");
        assert_eq!(dotted(super::ECDSA_WITH_SHA512), "1.2.840.10045.4.3.4");
        assert_eq!(dotted(super::SHA256_WITH_RSA), "1.2.840.113549.1.1.11");
        assert_eq!(dotted(super::SHA384_WITH_RSA), "1.2.840.113549.1.1.12");
        assert_eq!(dotted(super::SHA512_WITH_RSA), "1.2.840.113549.1.1.13");
        assert_eq!(dotted(super::COMMON_NAME), "2.5.4.3");
        assert_eq!(dotted(super::ORGANIZATION), "2.5.4.10");
        assert_eq!(dotted(super::COUNTRY), "2.5.4.6");
        assert_eq!(dotted(super::SUBJECT_KEY_ID), "2.5.29.14");
        assert_eq!(dotted(super::KEY_USAGE), "2.5.29.15");
        assert_eq!(dotted(super::SUBJECT_ALT_NAME), "2.5.29.17");
        assert_eq!(dotted(super::BASIC_CONSTRAINTS), "2.5.29.19");
        assert_eq!(dotted(super::CRL_NUMBER), "2.5.29.20");
        assert_eq!(dotted(super::CRL_REASON), "2.5.29.21");
        assert_eq!(dotted(super::ISSUING_DISTRIBUTION_POINT), "2.5.29.28");
        assert_eq!(dotted(super::CRL_DISTRIBUTION_POINTS), "2.5.29.31");
        assert_eq!(dotted(super::AUTHORITY_KEY_ID), "2.5.29.35");
        assert_eq!(dotted(super::EXT_KEY_USAGE), "2.5.29.37");
        assert_eq!(dotted(super::AUTHORITY_INFO_ACCESS), "1.3.6.1.5.5.7.1.1");
        assert_eq!(dotted(super::KP_SERVER_AUTH), "1.3.6.1.5.5.7.3.1");
        assert_eq!(dotted(super::KP_CLIENT_AUTH), "1.3.6.1.5.5.7.3.2");
        assert_eq!(dotted(super::KP_TIME_STAMPING), "1.3.6.1.5.5.7.3.8");
        assert_eq!(dotted(super::KP_OCSP_SIGNING), "1.3.6.1.5.5.7.3.9");
        assert_eq!(dotted(super::AD_OCSP), "1.3.6.1.5.5.7.48.1");
        assert_eq!(dotted(super::OCSP_BASIC), "1.3.6.1.5.5.7.48.1.1");
        assert_eq!(dotted(super::OCSP_NONCE), "1.3.6.1.5.5.7.48.1.2");
        assert_eq!(dotted(super::OCSP_NOCHECK), "1.3.6.1.5.5.7.48.1.5");
        assert_eq!(dotted(super::PKCS9_EXTENSION_REQUEST), "1.2.840.113549.1.9.14");
        assert_eq!(dotted(super::SIGNED_DATA), "1.2.840.113549.1.7.2");
        assert_eq!(dotted(super::CT_TST_INFO), "1.2.840.113549.1.9.16.1.4");
        assert_eq!(dotted(super::ATTR_CONTENT_TYPE), "1.2.840.113549.1.9.3");
        assert_eq!(dotted(super::ATTR_MESSAGE_DIGEST), "1.2.840.113549.1.9.4");
        assert_eq!(dotted(super::ATTR_SIGNING_CERTIFICATE_V2), "1.2.840.113549.1.9.16.2.47");
        assert_eq!(dotted(super::CARTORIO_TSA_POLICY), "1.2.3.4.1");
    }
}
