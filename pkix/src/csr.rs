//! PKCS#10 certification requests (RFC 2986): parse, verify, extract what
//! issuance uses.

use crate::der::{self, DerError, Reader, tag};
use crate::oid;
use crate::verify::{self, VerifyError};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CsrError {
    #[error("the CSR is not valid PEM or DER: {0}")]
    Encoding(String),
    #[error("the CSR is malformed: {0}")]
    Der(#[from] DerError),
    #[error("the CSR version is not 0 (v1)")]
    Version,
    #[error("the CSR signature is invalid: {0}")]
    Signature(#[from] VerifyError),
}

/// A CSR whose signature has been checked; views into its DER.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    der: Vec<u8>,
    subject: (usize, usize),
    spki: (usize, usize),
    san: Option<(usize, usize)>,
}

impl VerifiedCsr {
    /// Accepts PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) or DER.
    pub fn from_pem_or_der(input: &[u8]) -> Result<Self, CsrError> {
        let der = if input.first() == Some(&tag::SEQUENCE) {
            input.to_vec()
        } else {
            let parsed = pem::parse(input).map_err(|e| CsrError::Encoding(e.to_string()))?;
            if !parsed.tag().ends_with("CERTIFICATE REQUEST") {
                return Err(CsrError::Encoding(format!("unexpected PEM label {}", parsed.tag())));
            }
            parsed.into_contents()
        };
        Self::from_der(der)
    }

    pub fn from_der(der: Vec<u8>) -> Result<Self, CsrError> {
        let (subject, spki, san) = {
            let parts = parse(&der)?;
            verify::verify(parts.spki, parts.signature_algorithm, parts.info, parts.signature)?;
            let offset = |s: &[u8]| (s.as_ptr() as usize - der.as_ptr() as usize, s.len());
            (offset(parts.subject), offset(parts.spki), parts.san.map(offset))
        };
        Ok(Self { der, subject, spki, san })
    }

    fn slice(&self, (start, len): (usize, usize)) -> &[u8] {
        self.der.get(start..start + len).unwrap_or_default()
    }

    /// Complete DER of the subject Name.
    pub fn subject(&self) -> &[u8] {
        self.slice(self.subject)
    }

    /// Complete DER of the SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        self.slice(self.spki)
    }

    /// The requested subjectAltName value (DER GeneralNames), if any.
    pub fn requested_san(&self) -> Option<&[u8]> {
        self.san.map(|s| self.slice(s))
    }

    /// The subject Name as a certificate carries it: multi-valued RDNs
    /// sorted as DER requires (see [`der::encode::sort_sets`]).
    pub fn canonical_subject(&self) -> Result<Vec<u8>, DerError> {
        der::encode::sort_sets(self.subject())
    }

    /// The requested subjectAltName as a certificate carries it (a
    /// directoryName's RDNs sorted), if any.
    pub fn canonical_san(&self) -> Option<Result<Vec<u8>, DerError>> {
        self.requested_san().map(der::encode::sort_sets)
    }

    /// The first commonName of the subject, if it is a UTF8/Printable/IA5 string.
    pub fn common_name(&self) -> Option<String> {
        common_name(self.subject())
    }
}

struct Parts<'a> {
    info: &'a [u8],
    signature_algorithm: &'a [u8],
    signature: &'a [u8],
    subject: &'a [u8],
    spki: &'a [u8],
    san: Option<&'a [u8]>,
}

fn parse(der: &[u8]) -> Result<Parts<'_>, CsrError> {
    let outer = der::single(der, tag::SEQUENCE)?;
    let mut parts = Reader::new(outer.value);
    let info = parts.expect(tag::SEQUENCE)?;
    let signature_algorithm = parts.expect(tag::SEQUENCE)?.raw;
    let signature = verify::unpadded_bits(parts.expect(tag::BIT_STRING)?.value)?;
    parts.finish()?;

    let mut fields = Reader::new(info.value);
    if fields.expect(tag::INTEGER)?.value != [0] {
        return Err(CsrError::Version);
    }
    let subject = fields.expect(tag::SEQUENCE)?.raw;
    let spki = fields.expect(tag::SEQUENCE)?.raw;
    let attributes = fields.optional(0xa0)?;
    fields.finish()?;
    let san = match attributes {
        Some(attrs) => requested_san(attrs.value)?,
        None => None,
    };
    Ok(Parts { info: info.raw, signature_algorithm, signature, subject, spki, san })
}

/// Finds subjectAltName inside the extensionRequest attribute.
fn requested_san(attributes: &[u8]) -> Result<Option<&[u8]>, DerError> {
    let mut attrs = Reader::new(attributes);
    while !attrs.is_empty() {
        let attr = attrs.expect(tag::SEQUENCE)?;
        let mut fields = Reader::new(attr.value);
        if fields.expect(tag::OID)?.raw != oid::PKCS9_EXTENSION_REQUEST {
            continue;
        }
        let values = fields.expect(tag::SET)?;
        let extensions = Reader::new(values.value).expect(tag::SEQUENCE)?;
        let mut exts = Reader::new(extensions.value);
        while !exts.is_empty() {
            let ext = exts.expect(tag::SEQUENCE)?;
            let mut ext_fields = Reader::new(ext.value);
            let id = ext_fields.expect(tag::OID)?.raw;
            ext_fields.optional(tag::BOOLEAN)?;
            let value = ext_fields.expect(tag::OCTET_STRING)?.value;
            if id == oid::SUBJECT_ALT_NAME {
                der::single(value, tag::SEQUENCE)?;
                return Ok(Some(value));
            }
        }
    }
    Ok(None)
}

/// The first commonName in a Name.
pub fn common_name(name: &[u8]) -> Option<String> {
    let outer = der::single(name, tag::SEQUENCE).ok()?;
    let mut rdns = Reader::new(outer.value);
    while let Ok(rdn) = rdns.expect(tag::SET) {
        let mut atvs = Reader::new(rdn.value);
        while let Ok(atv) = atvs.expect(tag::SEQUENCE) {
            let mut fields = Reader::new(atv.value);
            if fields.expect(tag::OID).ok()?.raw == oid::COMMON_NAME {
                let value = fields.read().ok()?;
                if matches!(value.tag, 0x0c | 0x13 | 0x16) {
                    return std::str::from_utf8(value.value).ok().map(str::to_owned);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::encode::{bit_string, integer_u64, seq, set_of, tlv, utf8_string};
    use crate::signer::Signer;

    /// A CSR signed by a fresh key for the subject `name`, built here so a
    /// test can send what openssl never would.
    fn csr_for(name: &[u8]) -> Vec<u8> {
        let key = crate::test_keys::ec_key(crate::EcCurve::P256);
        let info = seq(&[&integer_u64(0), name, key.spki(), &[0xa0, 0x00]]);
        let signature = key.sign(&info).expect("sign");
        seq(&[&info, key.algorithm(), &bit_string(&signature)])
    }

    #[test]
    fn a_multi_valued_rdn_out_of_order_is_sorted_for_the_certificate() {
        let atv = |oid: &[u8], v: &str| seq(&[oid, &utf8_string(v)]);
        let (cn, org) = (atv(oid::COMMON_NAME, "x.example.test"), atv(oid::ORGANIZATION, "Example Org Inc."));
        let unsorted = seq(&[&tlv(tag::SET, &[&org, &cn])]);
        let csr = VerifiedCsr::from_der(csr_for(&unsorted)).expect("a valid CSR");
        assert_eq!(csr.subject(), unsorted.as_slice(), "kept as sent");
        let sorted = csr.canonical_subject().expect("canonical");
        assert_eq!(sorted, seq(&[&set_of(vec![cn, org])]));
        assert_eq!(csr.common_name().as_deref(), Some("x.example.test"));
    }
}
