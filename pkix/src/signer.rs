//! The `Signer` trait and its software implementation (ring).
//!
//! Everything that signs (certificates, OCSP responses, CRLs) goes through
//! this trait so that an HSM backend can replace the software key.

use crate::der::encode::{bit_string, seq, unsigned_integer};
use crate::hash::HashAlg;
use crate::oid;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SignError {
    #[error("the private key could not be read: {0}")]
    BadKey(String),
    #[error("the signing backend failed: {0}")]
    Backend(String),
}

pub trait Signer: Send + Sync {
    /// DER `AlgorithmIdentifier` of the signatures this signer makes.
    fn algorithm(&self) -> &[u8];
    /// DER `SubjectPublicKeyInfo` of the public key.
    fn spki(&self) -> &[u8];
    /// The hash the signature algorithm applies (CMS digestAlgorithm).
    fn digest(&self) -> HashAlg;
    /// Signs `message` (hashing included), returning the signature as it goes
    /// into a BIT STRING (DER `Ecdsa-Sig-Value` for ECDSA).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    P256,
    P384,
}

impl EcCurve {
    /// The curve named by a DER OID (PKCS#11 `CKA_EC_PARAMS`).
    pub fn from_oid(der: &[u8]) -> Option<Self> {
        match der {
            d if d == oid::P256 => Some(Self::P256),
            d if d == oid::P384 => Some(Self::P384),
            _ => None,
        }
    }

    /// The DER OID naming the curve.
    pub fn oid(self) -> &'static [u8] {
        self.curve_oid()
    }

    /// The octets of one coordinate (and of `r` and `s` in a signature).
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// The hash its ECDSA signatures apply.
    pub fn digest(self) -> HashAlg {
        match self {
            Self::P256 => HashAlg::Sha256,
            Self::P384 => HashAlg::Sha384,
        }
    }

    /// ring's verifier for ASN.1 (DER) signatures on this curve.
    pub fn verification(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1,
        }
    }

    /// DER `SubjectPublicKeyInfo` of an uncompressed point on this curve.
    pub fn spki(self, point: &[u8]) -> Vec<u8> {
        seq(&[&seq(&[oid::EC_PUBLIC_KEY, self.curve_oid()]), &bit_string(point)])
    }

    /// DER `AlgorithmIdentifier` of ECDSA with this curve's hash; RFC 5758:
    /// ecdsa-with-SHA* identifiers have absent parameters.
    pub fn signature_algorithm(self) -> Vec<u8> {
        seq(&[self.signature_oid()])
    }

    fn signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }

    fn curve_oid(self) -> &'static [u8] {
        match self {
            Self::P256 => oid::P256,
            Self::P384 => oid::P384,
        }
    }

    fn signature_oid(self) -> &'static [u8] {
        match self {
            Self::P256 => oid::ECDSA_WITH_SHA256,
            Self::P384 => oid::ECDSA_WITH_SHA384,
        }
    }
}

/// An ECDSA key held in memory, loaded from PKCS#8.
pub struct EcdsaSigner {
    curve: EcCurve,
    key: EcdsaKeyPair,
    algorithm: Vec<u8>,
    spki: Vec<u8>,
    rng: SystemRandom,
}

impl EcdsaSigner {
    /// Generates a new key, returned as a PKCS#8 document.
    pub fn generate_pkcs8(curve: EcCurve) -> Result<Vec<u8>, SignError> {
        let rng = SystemRandom::new();
        EcdsaKeyPair::generate_pkcs8(curve.signing(), &rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| SignError::Backend("key generation failed".into()))
    }

    pub fn from_pkcs8(curve: EcCurve, pkcs8: &[u8]) -> Result<Self, SignError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(curve.signing(), pkcs8, &rng)
            .map_err(|e| SignError::BadKey(e.to_string()))?;
        let spki = curve.spki(key.public_key().as_ref());
        let algorithm = curve.signature_algorithm();
        Ok(Self { curve, key, algorithm, spki, rng })
    }
}

impl Signer for EcdsaSigner {
    fn algorithm(&self) -> &[u8] {
        &self.algorithm
    }

    fn spki(&self) -> &[u8] {
        &self.spki
    }

    fn digest(&self) -> HashAlg {
        self.curve.digest()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key
            .sign(&self.rng, message)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| SignError::Backend("ECDSA signing failed".into()))
    }
}

/// Re-encodes a PKCS#11 ECDSA signature (`r || s`, each `field_len`
/// octets) as the DER `Ecdsa-Sig-Value` X.509 and CMS carry.
pub fn ecdsa_sig_value(curve: EcCurve, raw: &[u8]) -> Result<Vec<u8>, SignError> {
    if raw.len() != 2 * curve.field_len() {
        return Err(SignError::Backend(format!("ECDSA signature of {} octets", raw.len())));
    }
    let (r, s) = raw.split_at(curve.field_len());
    Ok(seq(&[&unsigned_integer(r), &unsigned_integer(s)]))
}

/// An RSA key (PKCS#1 v1.5 with SHA-256) loaded from PKCS#8. ring cannot
/// generate RSA keys: the operator brings one (e.g. `openssl genpkey`).
pub struct RsaSigner {
    key: signature::RsaKeyPair,
    algorithm: Vec<u8>,
    spki: Vec<u8>,
    rng: SystemRandom,
}

impl RsaSigner {
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, SignError> {
        let key = signature::RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| SignError::BadKey(e.to_string()))?;
        let null = crate::der::encode::null();
        let spki = seq(&[&seq(&[oid::RSA_ENCRYPTION, &null]), &bit_string(key.public().as_ref())]);
        // RFC 4055: sha256WithRSAEncryption carries NULL parameters.
        let algorithm = seq(&[oid::SHA256_WITH_RSA, &null]);
        Ok(Self { key, algorithm, spki, rng: SystemRandom::new() })
    }
}

impl Signer for RsaSigner {
    fn algorithm(&self) -> &[u8] {
        &self.algorithm
    }

    fn spki(&self) -> &[u8] {
        &self.spki
    }

    fn digest(&self) -> HashAlg {
        HashAlg::Sha256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| SignError::Backend("RSA signing failed".into()))?;
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::UnparsedPublicKey;

    #[test]
    fn fixed_ecdsa_signatures_re_encode_to_verifiable_der() {
        let rng = SystemRandom::new();
        for (curve, fixed) in [
            (EcCurve::P256, &signature::ECDSA_P256_SHA256_FIXED_SIGNING),
            (EcCurve::P384, &signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        ] {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(fixed, &rng).expect("keygen");
            let key = EcdsaKeyPair::from_pkcs8(fixed, pkcs8.as_ref(), &rng).expect("load");
            // Enough signatures that some r or s has a high bit or leading zero.
            for i in 0..64u8 {
                let raw = key.sign(&rng, &[i]).expect("sign");
                let der = ecdsa_sig_value(curve, raw.as_ref()).expect("re-encode");
                UnparsedPublicKey::new(curve.verification(), key.public_key().as_ref())
                    .verify(&[i], &der)
                    .expect("DER signature verifies");
            }
        }
    }

    #[test]
    fn a_raw_signature_of_the_wrong_length_is_refused() {
        assert!(ecdsa_sig_value(EcCurve::P256, &[1; 63]).is_err());
        assert!(ecdsa_sig_value(EcCurve::P384, &[1; 64]).is_err());
    }

    #[test]
    fn curves_round_trip_through_their_oids() {
        for curve in [EcCurve::P256, EcCurve::P384] {
            assert_eq!(EcCurve::from_oid(curve.oid()), Some(curve));
        }
        assert_eq!(EcCurve::from_oid(oid::RSA_ENCRYPTION), None);
    }
}
