//! An ACME client for tests and the benchmark: ES256 account keys, JWS
//! requests (RFC 8555 §6.2), CSRs, an http-01 responder, and a blocking
//! HTTPS transport that trusts a given root.

mod http01;
mod transport;

pub use http01::Http01Responder;
pub use transport::{Client, Response};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cartorio_pkix::der::encode::{bit_string, integer_u64, octet_string, seq, set_of, tlv};
use cartorio_pkix::signer::{EcCurve, EcdsaSigner, Signer};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An ES256 account key.
pub struct AccountKey {
    pkcs8: Vec<u8>,
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Default for AccountKey {
    fn default() -> Self {
        Self::generate()
    }
}

impl AccountKey {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("key");
        Self { pkcs8: pkcs8.as_ref().to_vec(), pair, rng }
    }

    /// The same key as a certificate signer (to put it in a CSR).
    pub fn csr_signer(&self) -> EcdsaSigner {
        EcdsaSigner::from_pkcs8(EcCurve::P256, &self.pkcs8).expect("key")
    }

    /// An external account binding (RFC 8555 §7.3.4) of this key by the
    /// HMAC key `hmac_b64` (base64url) called `kid`, for `url` (newAccount).
    pub fn external_account_binding(&self, kid: &str, hmac_b64: &str, url: &str) -> Value {
        let secret = URL_SAFE_NO_PAD.decode(hmac_b64).expect("HMAC key");
        let protected = b64(json!({"alg": "HS256", "kid": kid, "url": url}).to_string().as_bytes());
        let payload = b64(self.jwk().to_string().as_bytes());
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, format!("{protected}.{payload}").as_bytes());
        json!({"protected": protected, "payload": payload, "signature": b64(tag.as_ref())})
    }

    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"crv": "P-256", "kty": "EC", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    /// RFC 7638: the members in lexicographic order, no whitespace.
    pub fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or(""),
            jwk["y"].as_str().unwrap_or("")
        );
        b64(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// The DER SubjectPublicKeyInfo (revocation by certificate key).
    pub fn spki(&self) -> Vec<u8> {
        let point = self.pair.public_key().as_ref();
        seq(&[&seq(&[cartorio_pkix::oid::EC_PUBLIC_KEY, cartorio_pkix::oid::P256]), &bit_string(point)])
    }

    /// A flattened JWS of `payload` under `protected`.
    pub fn sign(&self, protected: &Value, payload: &[u8]) -> Value {
        let protected = b64(protected.to_string().as_bytes());
        let payload = b64(payload);
        let input = format!("{protected}.{payload}");
        let signature = self.pair.sign(&self.rng, input.as_bytes()).expect("sign");
        json!({"protected": protected, "payload": payload, "signature": b64(signature.as_ref())})
    }

    /// `token.thumbprint`.
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.thumbprint())
    }
}

/// A PKCS#10 request for `names` (DNS names, or IP addresses when they
/// parse as one) with a fresh P-256 key, no subject; DER.
pub fn csr(names: &[&str]) -> Vec<u8> {
    csr_with(&crate::pki::ec_key(EcCurve::P256), names)
}

/// As [`csr`], with `key`.
pub fn csr_with(key: &EcdsaSigner, names: &[&str]) -> Vec<u8> {
    let general_names: Vec<Vec<u8>> = names
        .iter()
        .map(|name| match name.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v4)) => tlv(0x87, &[&v4.octets()]),
            Ok(std::net::IpAddr::V6(v6)) => tlv(0x87, &[&v6.octets()]),
            Err(_) => tlv(0x82, &[name.as_bytes()]),
        })
        .collect();
    let refs: Vec<&[u8]> = general_names.iter().map(Vec::as_slice).collect();
    let san = seq(&[cartorio_pkix::oid::SUBJECT_ALT_NAME, &octet_string(&seq(&refs))]);
    let request = seq(&[cartorio_pkix::oid::PKCS9_EXTENSION_REQUEST, &set_of(vec![seq(&[&san])])]);
    let info = seq(&[&integer_u64(0), &seq(&[]), key.spki(), &tlv(0xa0, &[&request])]);
    let signature = key.sign(&info).expect("sign");
    seq(&[&info, key.algorithm(), &bit_string(&signature)])
}

/// A P-256 key for a CSR (when a test needs the key again).
pub fn csr_key() -> EcdsaSigner {
    crate::pki::ec_key(EcCurve::P256)
}
