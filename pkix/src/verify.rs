//! Signature verification over raw DER pieces (ring): CSRs, and our own
//! certificates and responses in tests.

use crate::der::{self, DerError, Reader, tag};
use crate::oid;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("malformed key or signature encoding: {0}")]
    Der(#[from] DerError),
    #[error("unsupported signature algorithm or key type")]
    Unsupported,
    #[error("the signature does not verify")]
    BadSignature,
}

/// The parts of a `SubjectPublicKeyInfo` verification needs.
#[derive(Debug, Clone, Copy)]
pub struct PublicKeyInfo<'a> {
    /// The key algorithm OID (complete DER).
    pub algorithm: &'a [u8],
    /// The curve OID for EC keys.
    pub parameters: Option<&'a [u8]>,
    /// The subjectPublicKey bits (without the unused-bits octet).
    pub key: &'a [u8],
}

pub fn parse_spki(spki: &[u8]) -> Result<PublicKeyInfo<'_>, DerError> {
    let outer = der::single(spki, tag::SEQUENCE)?;
    let mut fields = Reader::new(outer.value);
    let alg = fields.expect(tag::SEQUENCE)?;
    let bits = fields.expect(tag::BIT_STRING)?;
    fields.finish()?;
    let mut alg_fields = Reader::new(alg.value);
    let algorithm = alg_fields.expect(tag::OID)?.raw;
    let parameters = match alg_fields.peek_tag() {
        Some(tag::OID) => Some(alg_fields.read()?.raw),
        _ => None,
    };
    Ok(PublicKeyInfo { algorithm, parameters, key: unpadded_bits(bits.value)? })
}

/// The signature AlgorithmIdentifier (DER) our signers use with a key of
/// this SubjectPublicKeyInfo: ECDSA with the curve's hash, RSA PKCS#1 v1.5
/// with SHA-256. For checking signatures when only the public key is kept.
pub fn signature_algorithm_for(spki: &[u8]) -> Result<Vec<u8>, VerifyError> {
    use crate::der::encode::{null, seq};
    let key = parse_spki(spki)?;
    match (key.algorithm, key.parameters) {
        (a, Some(c)) if a == oid::EC_PUBLIC_KEY && c == oid::P256 => Ok(seq(&[oid::ECDSA_WITH_SHA256])),
        (a, Some(c)) if a == oid::EC_PUBLIC_KEY && c == oid::P384 => Ok(seq(&[oid::ECDSA_WITH_SHA384])),
        (a, _) if a == oid::RSA_ENCRYPTION => Ok(seq(&[oid::SHA256_WITH_RSA, &null()])),
        _ => Err(VerifyError::Unsupported),
    }
}

/// The signature OID of a DER `AlgorithmIdentifier`.
pub fn algorithm_oid(algorithm_identifier: &[u8]) -> Result<&[u8], DerError> {
    let alg = der::single(algorithm_identifier, tag::SEQUENCE)?;
    Ok(Reader::new(alg.value).expect(tag::OID)?.raw)
}

fn ring_algorithm(
    signature_oid: &[u8],
    key: &PublicKeyInfo<'_>,
) -> Option<&'static dyn VerificationAlgorithm> {
    let curve = key.parameters;
    let alg: &'static dyn VerificationAlgorithm = if key.algorithm == oid::EC_PUBLIC_KEY {
        match (signature_oid, curve) {
            (o, Some(c)) if o == oid::ECDSA_WITH_SHA256 && c == oid::P256 => {
                &signature::ECDSA_P256_SHA256_ASN1
            }
            (o, Some(c)) if o == oid::ECDSA_WITH_SHA384 && c == oid::P256 => {
                &signature::ECDSA_P256_SHA384_ASN1
            }
            (o, Some(c)) if o == oid::ECDSA_WITH_SHA256 && c == oid::P384 => {
                &signature::ECDSA_P384_SHA256_ASN1
            }
            (o, Some(c)) if o == oid::ECDSA_WITH_SHA384 && c == oid::P384 => {
                &signature::ECDSA_P384_SHA384_ASN1
            }
            _ => return None,
        }
    } else if key.algorithm == oid::RSA_ENCRYPTION {
        match signature_oid {
            o if o == oid::SHA256_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA256,
            o if o == oid::SHA384_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA384,
            o if o == oid::SHA512_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return None,
        }
    } else if key.algorithm == oid::ED25519 && signature_oid == oid::ED25519 {
        &signature::ED25519
    } else {
        return None;
    };
    Some(alg)
}

/// Verifies `signature` over `message` with the key in `spki`, using the
/// algorithm named by the DER `AlgorithmIdentifier` `signature_algorithm`.
pub fn verify(
    spki: &[u8],
    signature_algorithm: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let key = parse_spki(spki)?;
    let sig_oid = algorithm_oid(signature_algorithm)?;
    let alg = ring_algorithm(sig_oid, &key).ok_or(VerifyError::Unsupported)?;
    UnparsedPublicKey::new(alg, key.key).verify(message, signature).map_err(|_| VerifyError::BadSignature)
}

/// The octets of a BIT STRING value that has no unused bits (signatures,
/// subjectPublicKey).
pub fn unpadded_bits(bit_string_value: &[u8]) -> Result<&[u8], DerError> {
    match bit_string_value.split_first() {
        Some((0, bits)) => Ok(bits),
        _ => Err(DerError::BadValue),
    }
}
