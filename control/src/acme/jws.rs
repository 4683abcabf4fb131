//! ACME's JSON Web Signatures (RFC 8555 §6.2, RFC 7515 flattened JSON): the
//! envelope parsed strictly, the signature checked with the key the
//! request names (`jwk`, for new accounts and revocation by certificate
//! key; `kid`, an account URL, otherwise), and JWK thumbprints (RFC 7638)
//! for key authorizations. ES256, ES384, RS256 (2048 to 4096 bits) and
//! EdDSA (Ed25519); HS256 for external account binding (RFC 8555 §7.3.4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

/// Why a request's JWS was refused; each maps to an ACME error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    BadSignatureAlgorithm(String),
    #[error("the JWS signature does not verify")]
    BadSignature,
    #[error("{0}")]
    BadPublicKey(String),
}

fn malformed(what: impl Into<String>) -> JwsError {
    JwsError::Malformed(what.into())
}

/// Base64url without padding, strictly (RFC 7515 §2).
pub fn b64(text: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| malformed("not base64url without padding"))
}

pub fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The flattened JWS JSON serialization, nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    protected: String,
    payload: String,
    signature: String,
}

/// The protected header of a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub nonce: Option<String>,
    pub url: String,
    #[serde(default)]
    pub jwk: Option<Value>,
    #[serde(default)]
    pub kid: Option<String>,
}

/// A request whose envelope parsed; its signature is not checked yet.
#[derive(Debug, Clone)]
pub struct Jws {
    pub header: Header,
    /// The decoded payload: empty for POST-as-GET.
    pub payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// Parses a request body as a flattened JWS (bounded by the caller).
pub fn parse(body: &[u8]) -> Result<Jws, JwsError> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the body is not a flattened JWS: {e}")))?;
    let header_json = b64(&envelope.protected)?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|e| malformed(format!("the protected header is not valid: {e}")))?;
    if header.jwk.is_some() == header.kid.is_some() {
        return Err(malformed("the protected header must carry exactly one of jwk and kid"));
    }
    let payload = b64(&envelope.payload)?;
    let signature = b64(&envelope.signature)?;
    let signing_input = format!("{}.{}", envelope.protected, envelope.payload).into_bytes();
    Ok(Jws { header, payload, signing_input, signature })
}

/// A public key an ACME request may be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Uncompressed point.
    P256(Vec<u8>),
    P384(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

fn member<'a>(jwk: &'a Value, name: &str) -> Result<&'a str, JwsError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| JwsError::BadPublicKey(format!("the JWK has no {name}")))
}

impl PublicKey {
    /// The key a JWK describes (RFC 7517, RFC 7518 §6, RFC 8037).
    pub fn from_jwk(jwk: &Value) -> Result<Self, JwsError> {
        let coordinate = |name, len: usize| -> Result<Vec<u8>, JwsError> {
            let bytes = b64(member(jwk, name)?)?;
            if bytes.len() != len {
                return Err(JwsError::BadPublicKey(format!("the JWK's {name} is not {len} octets")));
            }
            Ok(bytes)
        };
        match (member(jwk, "kty")?, jwk.get("crv").and_then(Value::as_str)) {
            ("EC", Some("P-256")) => {
                Ok(Self::P256([vec![4], coordinate("x", 32)?, coordinate("y", 32)?].concat()))
            }
            ("EC", Some("P-384")) => {
                Ok(Self::P384([vec![4], coordinate("x", 48)?, coordinate("y", 48)?].concat()))
            }
            ("OKP", Some("Ed25519")) => Ok(Self::Ed25519(coordinate("x", 32)?)),
            ("RSA", _) => {
                let n = b64(member(jwk, "n")?)?;
                let e = b64(member(jwk, "e")?)?;
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if !(2048..=4096).contains(&bits) {
                    return Err(JwsError::BadPublicKey("RSA account keys are 2048 to 4096 bits".into()));
                }
                Ok(Self::Rsa { n, e })
            }
            (kty, crv) => {
                Err(JwsError::BadPublicKey(format!("unsupported key type {kty} {}", crv.unwrap_or(""))))
            }
        }
    }

    /// The JWK (its required members only), as stored with an account.
    pub fn to_jwk(&self) -> Value {
        match self {
            Self::P256(point) | Self::P384(point) => {
                let (crv, half) = if matches!(self, Self::P256(_)) { ("P-256", 32) } else { ("P-384", 48) };
                let (x, y) =
                    point.get(1..).unwrap_or_default().split_at(half.min(point.len().saturating_sub(1)));
                serde_json::json!({"kty": "EC", "crv": crv, "x": b64_encode(x), "y": b64_encode(y)})
            }
            Self::Rsa { n, e } => serde_json::json!({"kty": "RSA", "n": b64_encode(n), "e": b64_encode(e)}),
            Self::Ed25519(x) => serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64_encode(x)}),
        }
    }

    /// The JWK thumbprint (RFC 7638): SHA-256 over the required members in
    /// lexicographic order, no whitespace; base64url.
    pub fn thumbprint(&self) -> String {
        let canonical = match self.to_jwk() {
            Value::Object(members) => {
                let mut keys: Vec<&String> = members.keys().collect();
                keys.sort();
                let parts: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        format!(
                            "{}:{}",
                            Value::String((*k).clone()),
                            members.get(*k).cloned().unwrap_or_default()
                        )
                    })
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            _ => String::new(),
        };
        b64_encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// The DER SubjectPublicKeyInfo of the same key (to compare with a
    /// certificate's, for revocation by certificate key).
    pub fn spki(&self) -> Vec<u8> {
        use cartorio_pkix::der::encode::{bit_string, null, seq, tlv, unsigned_integer};
        use cartorio_pkix::oid;
        match self {
            Self::P256(point) => seq(&[&seq(&[oid::EC_PUBLIC_KEY, oid::P256]), &bit_string(point)]),
            Self::P384(point) => seq(&[&seq(&[oid::EC_PUBLIC_KEY, oid::P384]), &bit_string(point)]),
            Self::Rsa { n, e } => {
                let key = seq(&[&unsigned_integer(n), &unsigned_integer(e)]);
                seq(&[&seq(&[oid::RSA_ENCRYPTION, &null()]), &bit_string(&key)])
            }
            Self::Ed25519(x) => seq(&[&seq(&[oid::ED25519]), &tlv(0x03, &[&[0], x])]),
        }
    }

    fn verify(&self, alg: &str, message: &[u8], signature: &[u8]) -> Result<(), JwsError> {
        let checked = match (alg, self) {
            ("ES256", Self::P256(point)) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, signature)
            }
            ("ES384", Self::P384(point)) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point).verify(message, signature)
            }
            ("RS256", Self::Rsa { n, e }) => signature::RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
            ("EdDSA", Self::Ed25519(x)) => {
                UnparsedPublicKey::new(&signature::ED25519, x).verify(message, signature)
            }
            ("ES256" | "ES384" | "RS256" | "EdDSA", _) => {
                return Err(JwsError::BadSignatureAlgorithm(format!("{alg} does not fit the key")));
            }
            _ => {
                return Err(JwsError::BadSignatureAlgorithm(format!(
                    "{alg} is not accepted (ES256, ES384, RS256, EdDSA)"
                )));
            }
        };
        checked.map_err(|_| JwsError::BadSignature)
    }
}

/// The algorithms accepted for requests, as the directory and
/// badSignatureAlgorithm problems list them.
pub const ALGORITHMS: [&str; 4] = ["ES256", "ES384", "RS256", "EdDSA"];

impl Jws {
    /// Checks the signature with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), JwsError> {
        key.verify(&self.header.alg, &self.signing_input, &self.signature)
    }

    /// The payload as JSON (strictly: one value, nothing after it);
    /// `None` for POST-as-GET (an empty payload).
    pub fn json(&self) -> Result<Option<Value>, JwsError> {
        if self.payload.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&self.payload)
            .map(Some)
            .map_err(|e| malformed(format!("the payload is not JSON: {e}")))
    }

    /// Checks an external account binding (RFC 8555 §7.3.4): an HS256 JWS
    /// by the EAB key `hmac_key`, over the account key, for `url`; returns
    /// its `kid`.
    pub fn eab_kid(&self, hmac_key: &[u8], account_jwk: &Value, url: &str) -> Result<String, JwsError> {
        if self.header.alg != "HS256" {
            return Err(JwsError::BadSignatureAlgorithm("external account binding takes HS256".into()));
        }
        if self.header.nonce.is_some() || self.header.url != url || self.header.jwk.is_some() {
            return Err(malformed(
                "the external account binding must name the newAccount URL, no nonce, no jwk",
            ));
        }
        let kid =
            self.header.kid.clone().ok_or_else(|| malformed("the external account binding has no kid"))?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, hmac_key);
        ring::hmac::verify(&key, &self.signing_input, &self.signature).map_err(|_| JwsError::BadSignature)?;
        let bound: Value =
            serde_json::from_slice(&self.payload).map_err(|_| malformed("the bound key is not JSON"))?;
        let same = PublicKey::from_jwk(&bound).ok() == PublicKey::from_jwk(account_jwk).ok();
        if !same {
            return Err(malformed("the external account binding binds another key"));
        }
        Ok(kid)
    }
}

/// A key authorization: `token.thumbprint` (RFC 8555 §8.1).
pub fn key_authorization(token: &str, key: &PublicKey) -> String {
    format!("{token}.{}", key.thumbprint())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    fn envelope(header: &Value, payload: &[u8], sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
        let protected = b64_encode(header.to_string().as_bytes());
        let payload = b64_encode(payload);
        let signature = sign(format!("{protected}.{payload}").as_bytes());
        serde_json::json!({"protected": protected, "payload": payload, "signature": b64_encode(&signature)})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn es256_and_eddsa_requests_verify_and_tampering_does_not() {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key");
        let public = PublicKey::P256(key.public_key().as_ref().to_vec());
        let jwk = public.to_jwk();
        assert_eq!(PublicKey::from_jwk(&jwk).as_ref(), Ok(&public), "JWK round trip");
        let header = serde_json::json!({"alg": "ES256", "nonce": "n", "url": "https://x/acme/new-account", "jwk": jwk});
        let sign = |m: &[u8]| key.sign(&rng, m).expect("sign").as_ref().to_vec();
        let body = envelope(&header, br#"{"termsOfServiceAgreed":true}"#, sign);
        let jws = parse(&body).expect("parses");
        assert_eq!(jws.verify(&public), Ok(()));
        assert_eq!(jws.json().expect("json"), Some(serde_json::json!({"termsOfServiceAgreed": true})));
        let mut other = jws.clone();
        other.payload = b"{}".to_vec();
        other.signing_input.push(b'x');
        assert_eq!(other.verify(&public), Err(JwsError::BadSignature));

        let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
        let ed = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).expect("key");
        let ed_public = PublicKey::Ed25519(ed.public_key().as_ref().to_vec());
        let header =
            serde_json::json!({"alg": "EdDSA", "nonce": "n", "url": "u", "kid": "https://x/acme/acct/1"});
        let body = envelope(&header, b"", |m| ed.sign(m).as_ref().to_vec());
        let jws = parse(&body).expect("parses");
        assert_eq!(jws.verify(&ed_public), Ok(()));
        assert_eq!(jws.json().expect("POST-as-GET"), None);
        assert!(
            matches!(jws.verify(&public), Err(JwsError::BadSignatureAlgorithm(_))),
            "EdDSA with a P-256 key"
        );
    }

    #[test]
    fn envelopes_are_strict() {
        let ok = serde_json::json!({"alg": "ES256", "nonce": "n", "url": "u", "kid": "k"});
        let enc = |v: &Value| b64_encode(v.to_string().as_bytes());
        let body =
            |protected: String| format!(r#"{{"protected":"{protected}","payload":"","signature":"AA"}}"#);
        assert!(parse(body(enc(&ok)).as_bytes()).is_ok());
        let both = serde_json::json!({"alg": "ES256", "nonce": "n", "url": "u", "kid": "k", "jwk": {}});
        assert!(parse(body(enc(&both)).as_bytes()).is_err(), "jwk and kid");
        let extra = serde_json::json!({"alg": "ES256", "nonce": "n", "url": "u", "kid": "k", "b64": false});
        assert!(parse(body(enc(&extra)).as_bytes()).is_err(), "unknown header member");
        assert!(parse(body(format!("{}=", enc(&ok))).as_bytes()).is_err(), "padding");
        assert!(
            parse(br#"{"protected":"","payload":"","signature":"","header":{}}"#).is_err(),
            "unprotected header"
        );
        assert!(parse(b"eyJ.eyJ.sig").is_err(), "compact serialization");
    }

    /// RFC 7638 §3.1's example thumbprint.
    #[test]
    fn thumbprints_follow_rfc_7638() {
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = PublicKey::from_jwk(&jwk).expect("key");
        assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
