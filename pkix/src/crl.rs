//! Certificate revocation lists (RFC 5280 §5): a v2 CertificateList with
//! the authorityKeyIdentifier and cRLNumber extensions, one entry per
//! revoked certificate with its reasonCode (left out for `unspecified`, as
//! §5.3.1 recommends).

use crate::der::encode::{
    bit_string, enumerated, explicit, integer_u64, octet_string, seq, unsigned_integer, x509_time,
};
use crate::oid;
use crate::signer::{SignError, Signer};

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial magnitude, big-endian.
    pub serial: Vec<u8>,
    pub revoked_at: i64,
    /// RFC 5280 CRLReason code.
    pub reason: u8,
}

/// What goes into one CRL.
#[derive(Debug, Clone)]
pub struct CrlTemplate<'a> {
    /// Complete DER of the issuer's subject Name.
    pub issuer: &'a [u8],
    /// The issuer's subject key identifier.
    pub issuer_key_id: &'a [u8],
    pub this_update: i64,
    pub next_update: i64,
    /// Strictly increasing per issuer.
    pub number: u64,
    pub revoked: &'a [RevokedEntry],
    /// A shard's URL: the CRL then carries a critical issuingDistributionPoint
    /// naming it, with onlyContainsUserCerts (RFC 5280 §5.2.5; Baseline
    /// Requirements §7.2.2 for partitioned CRLs). `None`: a full CRL.
    pub distribution_point: Option<&'a str>,
}

fn entry(e: &RevokedEntry) -> Vec<u8> {
    let reason = match e.reason {
        0 => Vec::new(),
        code => seq(&[&seq(&[oid::CRL_REASON, &octet_string(&enumerated(code))])]),
    };
    seq(&[&unsigned_integer(&e.serial), &x509_time(e.revoked_at), &reason])
}

/// Encodes the TBSCertList, signs it and returns the CRL DER.
pub fn build_crl(t: &CrlTemplate<'_>, signer: &dyn Signer) -> Result<Vec<u8>, SignError> {
    let entries: Vec<Vec<u8>> = t.revoked.iter().map(entry).collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    // revokedCertificates is absent, not empty, when nothing is revoked.
    let revoked = if refs.is_empty() { Vec::new() } else { seq(&refs) };
    let aki = crate::cert::extensions::authority_key_id(t.issuer_key_id);
    let number = seq(&[oid::CRL_NUMBER, &octet_string(&integer_u64(t.number))]);
    let idp = t.distribution_point.map(|url| {
        // onlyContainsUserCerts [1] IMPLICIT BOOLEAN TRUE
        let value = seq(&[&crate::cert::extensions::distribution_point_name(url), &[0x81, 0x01, 0xff]]);
        crate::cert::extensions::extension(oid::ISSUING_DISTRIBUTION_POINT, true, &value)
    });
    let tbs = seq(&[
        &integer_u64(1), // v2
        signer.algorithm(),
        t.issuer,
        &x509_time(t.this_update),
        &x509_time(t.next_update),
        &revoked,
        &explicit(0, &seq(&[&aki, &number, &idp.unwrap_or_default()])),
    ]);
    let signature = signer.sign(&tbs)?;
    Ok(seq(&[&tbs, signer.algorithm(), &bit_string(&signature)]))
}

/// What readers of a published CRL need of it (without its entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlView {
    pub this_update: i64,
    pub next_update: Option<i64>,
    /// The cRLNumber, when it fits 64 bits.
    pub number: Option<u64>,
}

impl CrlView {
    /// Reads a CRL's times and number; `None` when it is not a CRL.
    pub fn parse(der: &[u8]) -> Option<Self> {
        use crate::der::{Reader, parse_extensions, single, tag};
        let list = single(der, tag::SEQUENCE).ok()?;
        let tbs = Reader::new(list.value).expect(tag::SEQUENCE).ok()?;
        let mut fields = Reader::new(tbs.value);
        fields.optional(tag::INTEGER).ok()?; // version
        fields.expect(tag::SEQUENCE).ok()?; // signature
        fields.expect(tag::SEQUENCE).ok()?; // issuer
        let time = |t: crate::der::Tlv<'_>| crate::time::parse_x509_time(t.tag, t.value);
        let this_update = time(fields.read().ok()?)?;
        let next_update = match fields.peek_tag() {
            Some(0x17 | 0x18) => Some(time(fields.read().ok()?)?),
            _ => None,
        };
        fields.optional(tag::SEQUENCE).ok()?; // revokedCertificates
        let number = (|| {
            let extensions = fields.expect(tag::context_constructed(0)).ok()?;
            let list = single(extensions.value, tag::SEQUENCE).ok()?;
            let number = parse_extensions(list.value).ok()?.into_iter().find(|e| e.id == oid::CRL_NUMBER)?;
            let integer = single(number.value, tag::INTEGER).ok()?;
            let magnitude = integer.value.strip_prefix(&[0]).unwrap_or(integer.value);
            (magnitude.len() <= 8 && integer.value.first().is_some_and(|b| b & 0x80 == 0))
                .then(|| magnitude.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
        })();
        Some(Self { this_update, next_update, number })
    }
}

/// The cRLNumber of a CRL (DER), if it has one that fits 64 bits: two
/// publishers compare it so an older CRL never replaces a newer one.
pub fn crl_number(der: &[u8]) -> Option<u64> {
    CrlView::parse(der)?.number
}

/// PEM (`X509 CRL`) of a CRL.
pub fn to_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("X509 CRL", der.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::EcCurve;

    #[test]
    fn a_crl_parses_with_an_independent_decoder() {
        let signer = crate::test_keys::ec_key(EcCurve::P256);
        let issuer = crate::cert::name(&[(oid::COMMON_NAME, "Issuer")]);
        let revoked = [
            RevokedEntry { serial: vec![0x01, 0x02], revoked_at: 1_700_000_000, reason: 1 },
            RevokedEntry { serial: vec![0x80], revoked_at: 1_700_000_100, reason: 0 },
        ];
        let t = CrlTemplate {
            issuer: &issuer,
            issuer_key_id: &[7; 20],
            this_update: 1_700_000_200,
            next_update: 1_700_600_000,
            number: 42,
            revoked: &revoked,
            distribution_point: None,
        };
        let der = build_crl(&t, &signer).expect("crl");
        let crl: rasn_pkix::CertificateList = rasn::der::decode(&der).expect("decodes");
        let list = crl.tbs_cert_list.revoked_certificates;
        assert_eq!(list.len(), 2);
        assert!(list[0].crl_entry_extensions.is_some(), "keyCompromise carried");
        assert!(list[1].crl_entry_extensions.is_none(), "unspecified left out");
        assert_eq!(crl.tbs_cert_list.version, rasn_pkix::Version::V2);
        let empty = build_crl(&CrlTemplate { revoked: &[], ..t }, &signer).expect("crl");
        let crl: rasn_pkix::CertificateList = rasn::der::decode(&empty).expect("decodes");
        assert!(crl.tbs_cert_list.revoked_certificates.is_empty());
        let url = "http://crl.example.test/abc/3.crl";
        let shard = build_crl(&CrlTemplate { distribution_point: Some(url), ..t }, &signer).expect("crl");
        let crl: rasn_pkix::CertificateList = rasn::der::decode(&shard).expect("decodes");
        let extensions = crl.tbs_cert_list.crl_extensions.expect("extensions");
        let idp = extensions.iter().find(|e| e.extn_id.to_string() == "2.5.29.28").expect("IDP");
        assert!(idp.critical);
        let value: rasn_pkix::IssuingDistributionPoint =
            rasn::der::decode(&idp.extn_value).expect("IDP decodes");
        assert!(value.only_contains_user_certs);
        assert!(value.distribution_point.is_some(), "names the shard");
        assert!(idp.extn_value.windows(url.len()).any(|w| w == url.as_bytes()), "with its URL");
        for (crl, entries) in [(&der, 2), (&empty, 0), (&shard, 0)] {
            assert_eq!(crl_number(crl), Some(42), "{entries} entries");
            let view = CrlView::parse(crl).expect("a CRL");
            assert_eq!((view.this_update, view.next_update), (1_700_000_200, Some(1_700_600_000)));
        }
        let big = build_crl(&CrlTemplate { number: u64::MAX, ..t }, &signer).expect("crl");
        assert_eq!(crl_number(&big), Some(u64::MAX), "a leading zero octet");
        assert_eq!(crl_number(b"not a crl"), None);
    }
}
