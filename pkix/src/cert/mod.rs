//! X.509 certificates: the fields we read from DER, and building new ones.

mod build;
pub mod extensions;

pub use build::{CertificateTemplate, build_certificate, name};

use crate::der::{self, DerError, Reader, tag};
use crate::hash::HashAlg;
use crate::verify::{self, VerifyError};

/// Borrowed views of the parts of a certificate the CA and responder use.
#[derive(Debug, Clone, Copy)]
pub struct CertificateView<'a> {
    pub der: &'a [u8],
    pub tbs: &'a [u8],
    pub signature_algorithm: &'a [u8],
    pub signature: &'a [u8],
    /// Contents of the serialNumber INTEGER (DER, minimal two's complement).
    pub serial: &'a [u8],
    /// Complete DER of the issuer Name.
    pub issuer: &'a [u8],
    /// Complete DER of the subject Name.
    pub subject: &'a [u8],
    /// Complete DER of the SubjectPublicKeyInfo.
    pub spki: &'a [u8],
    pub not_before: i64,
    pub not_after: i64,
}

impl<'a> CertificateView<'a> {
    pub fn parse(der: &'a [u8]) -> Result<Self, DerError> {
        let cert = der::single(der, tag::SEQUENCE)?;
        let mut parts = Reader::new(cert.value);
        let tbs = parts.expect(tag::SEQUENCE)?;
        let signature_algorithm = parts.expect(tag::SEQUENCE)?.raw;
        let signature = verify::unpadded_bits(parts.expect(tag::BIT_STRING)?.value)?;
        parts.finish()?;

        let mut fields = Reader::new(tbs.value);
        fields.optional(tag::context_constructed(0))?;
        let serial = fields.expect(tag::INTEGER)?.value;
        fields.expect(tag::SEQUENCE)?;
        let issuer = fields.expect(tag::SEQUENCE)?.raw;
        let validity = fields.expect(tag::SEQUENCE)?;
        let subject = fields.expect(tag::SEQUENCE)?.raw;
        let spki = fields.expect(tag::SEQUENCE)?.raw;

        let mut times = Reader::new(validity.value);
        let (not_before, not_after) = (times.read()?, times.read()?);
        times.finish()?;
        let time = |t: der::Tlv<'_>| crate::time::parse_x509_time(t.tag, t.value).ok_or(DerError::BadValue);
        Ok(Self {
            der,
            tbs: tbs.raw,
            signature_algorithm,
            signature,
            serial,
            issuer,
            subject,
            spki,
            not_before: time(not_before)?,
            not_after: time(not_after)?,
        })
    }

    /// The subjectPublicKey bits, as hashed into CertID.issuerKeyHash and key ids.
    pub fn public_key_bits(&self) -> Result<&'a [u8], DerError> {
        Ok(verify::parse_spki(self.spki)?.key)
    }

    /// Verifies this certificate's signature with the issuer's SPKI.
    pub fn verify_signed_by(&self, issuer_spki: &[u8]) -> Result<(), VerifyError> {
        verify::verify(issuer_spki, self.signature_algorithm, self.tbs, self.signature)
    }

    /// The serial as lowercase hex without leading zero octets.
    pub fn serial_hex(&self) -> String {
        serial_hex(self.serial)
    }

    /// The subject's common name, if it has one.
    pub fn subject_common_name(&self) -> Option<String> {
        crate::csr::common_name(self.subject)
    }
}

/// Lowercase hex of an INTEGER's contents, leading zero octets dropped.
pub fn serial_hex(serial: &[u8]) -> String {
    let skip = serial.iter().take_while(|b| **b == 0).count().min(serial.len().saturating_sub(1));
    hex::encode(serial.get(skip..).unwrap_or_default())
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. Used for
/// subject/authority key ids and the OCSP ResponderID byKey.
pub fn key_id(spki: &[u8]) -> Result<Vec<u8>, DerError> {
    Ok(HashAlg::Sha1.digest(verify::parse_spki(spki)?.key))
}

/// PEM armour for one certificate.
pub fn to_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

/// PEM (`PUBLIC KEY`) of a SubjectPublicKeyInfo, as openssl writes it.
pub fn public_key_pem(spki: &[u8]) -> String {
    pem::encode(&pem::Pem::new("PUBLIC KEY", spki.to_vec()))
}

/// The SubjectPublicKeyInfo of the first `PUBLIC KEY` block of a PEM file.
pub fn public_key_from_pem(text: &str) -> Option<Vec<u8>> {
    pem::parse_many(text).ok()?.into_iter().find(|p| p.tag() == "PUBLIC KEY").map(pem::Pem::into_contents)
}

/// All CERTIFICATE blocks of a PEM file, as DER.
pub fn from_pem_chain(text: &str) -> Vec<Vec<u8>> {
    pem::parse_many(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect()
}
