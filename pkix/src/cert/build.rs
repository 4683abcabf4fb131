//! Building and signing certificates from a template.

use crate::der::encode::{
    bit_string, explicit, integer_u64, seq, set_of, unsigned_integer, utf8_string, x509_time,
};
use crate::signer::{SignError, Signer};

/// What goes into a TBSCertificate. Names and the SPKI are complete DER.
#[derive(Debug, Clone)]
pub struct CertificateTemplate {
    /// Serial magnitude, big-endian; at most 20 octets once encoded.
    pub serial: Vec<u8>,
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub spki: Vec<u8>,
    /// Complete DER `Extension`s (see `extensions`).
    pub extensions: Vec<Vec<u8>>,
}

/// Encodes the TBSCertificate, signs it and returns the certificate DER.
pub fn build_certificate(t: &CertificateTemplate, signer: &dyn Signer) -> Result<Vec<u8>, SignError> {
    let ext_refs: Vec<&[u8]> = t.extensions.iter().map(Vec::as_slice).collect();
    // Extensions ::= SEQUENCE SIZE (1..MAX): omit the field when there are none.
    let extensions = if ext_refs.is_empty() { Vec::new() } else { explicit(3, &seq(&ext_refs)) };
    let tbs = seq(&[
        &explicit(0, &integer_u64(2)), // v3
        &unsigned_integer(&t.serial),
        signer.algorithm(),
        &t.issuer,
        &seq(&[&x509_time(t.not_before), &x509_time(t.not_after)]),
        &t.subject,
        &t.spki,
        &extensions,
    ]);
    let signature = signer.sign(&tbs)?;
    Ok(seq(&[&tbs, signer.algorithm(), &bit_string(&signature)]))
}

/// A Name of one RDN per attribute, in order: `name(&[(oid::COMMON_NAME, "x")])`.
pub fn name(attributes: &[(&[u8], &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> =
        attributes.iter().map(|(attr, value)| set_of(vec![seq(&[attr, &utf8_string(value)])])).collect();
    let refs: Vec<&[u8]> = rdns.iter().map(Vec::as_slice).collect();
    seq(&refs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{CertificateView, extensions};
    use crate::oid;
    use crate::signer::{EcCurve, EcdsaSigner};

    #[test]
    fn self_signed_certificate_parses_and_verifies() {
        let pkcs8 = EcdsaSigner::generate_pkcs8(EcCurve::P256).expect("keygen");
        let signer = EcdsaSigner::from_pkcs8(EcCurve::P256, &pkcs8).expect("load");
        let subject = name(&[(oid::COMMON_NAME, "Test Root")]);
        let template = CertificateTemplate {
            serial: vec![0x80, 1, 2],
            issuer: subject.clone(),
            subject,
            not_before: 1_700_000_000,
            not_after: 1_800_000_000,
            spki: signer.spki().to_vec(),
            extensions: vec![extensions::basic_constraints(true, None)],
        };
        let der = build_certificate(&template, &signer).expect("sign");
        let view = CertificateView::parse(&der).expect("parse");
        assert_eq!(view.serial, &[0, 0x80, 1, 2]);
        assert_eq!(view.not_before, 1_700_000_000);
        assert_eq!(view.not_after, 1_800_000_000);
        view.verify_signed_by(signer.spki()).expect("verifies");
        // An independent decoder agrees on the structure.
        let decoded: rasn_pkix::Certificate = rasn::der::decode(&der).expect("rasn decodes");
        assert_eq!(rasn::der::encode(&decoded).expect("re-encode"), der);
    }
}
