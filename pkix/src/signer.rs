//! The `Signer` trait and its software implementation (ring).
//!
//! Everything that signs (certificates, OCSP responses, CRLs) goes through
//! this trait so that an HSM backend can replace the software key.

use crate::der::encode::{bit_string, seq};
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
        let spki =
            seq(&[&seq(&[oid::EC_PUBLIC_KEY, curve.curve_oid()]), &bit_string(key.public_key().as_ref())]);
        // RFC 5758: ecdsa-with-SHA* identifiers have absent parameters.
        let algorithm = seq(&[curve.signature_oid()]);
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
        match self.curve {
            EcCurve::P256 => HashAlg::Sha256,
            EcCurve::P384 => HashAlg::Sha384,
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key
            .sign(&self.rng, message)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| SignError::Backend("ECDSA signing failed".into()))
    }
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
