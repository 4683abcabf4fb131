//! Stage 2, authenticate: an API key from `Authorization: Bearer` or
//! `X-Api-Key`, looked up by its SHA-256 (keys are stored hashed) and
//! compared in constant time, then checked against the stream; without a
//! key, the client certificate verified by TLS (mTLS), by its subject CN,
//! against the stream's list. Any doubt is a refusal: no credential or an
//! unknown key is 401, a credential not allowed on the stream 403.

use http::HeaderMap;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug)]
pub struct KeyEntry {
    pub id: String,
    sha256: [u8; 32],
    streams: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No key, or not one we know (401).
    Unauthenticated,
    /// A known key, not allowed on this stream (403).
    Forbidden,
}

#[derive(Debug, Default)]
pub struct ApiKeys {
    /// By the first 8 octets of the key's hash; the whole hash is then
    /// compared in constant time.
    by_prefix: HashMap<[u8; 8], Vec<Arc<KeyEntry>>>,
}

impl ApiKeys {
    pub fn new(keys: &[crate::config::ApiKeyConfig]) -> anyhow::Result<Self> {
        let mut by_prefix: HashMap<[u8; 8], Vec<Arc<KeyEntry>>> = HashMap::new();
        for key in keys {
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(key.sha256.trim(), &mut sha256)
                .map_err(|_| anyhow::anyhow!("API key {:?}: sha256 must be 64 hex digits", key.id))?;
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&sha256[..8]);
            let entry = KeyEntry { id: key.id.clone(), sha256, streams: key.streams.clone() };
            by_prefix.entry(prefix).or_default().push(Arc::new(entry));
        }
        Ok(Self { by_prefix })
    }

    /// How many keys are configured.
    pub fn len(&self) -> usize {
        self.by_prefix.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }

    /// The client's identity: its key's id (`key:ID`... as configured), or
    /// `mtls:CN` for a certificate the stream accepts. Keys win when both
    /// are presented, as identification ranks them.
    pub fn identify(
        &self,
        headers: &HeaderMap,
        client_cert: Option<&[u8]>,
        stream: &str,
        mtls_identities: &[String],
    ) -> Result<String, AuthError> {
        if presented_key(headers).is_some() || headers.contains_key(http::header::AUTHORIZATION) {
            return self.authenticate(headers, stream).map(|key| key.id.clone());
        }
        let cert = client_cert.ok_or(AuthError::Unauthenticated)?;
        let cn = certificate_cn(cert).ok_or(AuthError::Unauthenticated)?;
        if mtls_identities.contains(&cn) { Ok(format!("mtls:{cn}")) } else { Err(AuthError::Forbidden) }
    }

    pub fn authenticate(&self, headers: &HeaderMap, stream: &str) -> Result<Arc<KeyEntry>, AuthError> {
        let presented = presented_key(headers).ok_or(AuthError::Unauthenticated)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, presented.as_bytes());
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&digest.as_ref()[..8]);
        let candidates = self.by_prefix.get(&prefix).ok_or(AuthError::Unauthenticated)?;
        let entry = candidates
            .iter()
            .find(|e| constant_time_eq(&e.sha256, digest.as_ref()))
            .ok_or(AuthError::Unauthenticated)?;
        if entry.streams.iter().any(|s| s == stream) { Ok(entry.clone()) } else { Err(AuthError::Forbidden) }
    }
}

/// The key a request presents, if exactly one well-formed one.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let header = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
    match (bearer, header) {
        (Some(a), Some(b)) if a != b => None,
        (Some(k), _) | (None, Some(k)) if !k.is_empty() && k.len() <= 256 => Some(k),
        _ => None,
    }
}

/// The subject common name of a (TLS-verified) client certificate.
fn certificate_cn(der: &[u8]) -> Option<String> {
    cartorio_pkix::cert::CertificateView::parse(der).ok()?.subject_common_name()
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// Hex SHA-256 of an API key, as configured.
pub fn key_sha256(key: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    fn keys() -> ApiKeys {
        ApiKeys::new(&[ApiKeyConfig {
            id: "alice".into(),
            sha256: key_sha256("s3cret"),
            streams: vec!["a".into()],
            plan: None,
        }])
        .expect("keys")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn keys_are_checked_per_stream_and_never_fail_open() {
        let k = keys();
        let ok = k.authenticate(&headers(&[("authorization", "Bearer s3cret")]), "a").expect("ok");
        assert_eq!(ok.id, "alice");
        assert!(k.authenticate(&headers(&[("x-api-key", "s3cret")]), "a").is_ok());
        assert_eq!(
            k.authenticate(&headers(&[("x-api-key", "s3cret")]), "b").err(),
            Some(AuthError::Forbidden)
        );
        for bad in [
            headers(&[]),
            headers(&[("x-api-key", "wrong")]),
            headers(&[("authorization", "Basic czNjcmV0")]),
            headers(&[("authorization", "Bearer s3cret"), ("x-api-key", "other")]),
            headers(&[("x-api-key", "")]),
        ] {
            assert_eq!(k.authenticate(&bad, "a").err(), Some(AuthError::Unauthenticated), "{bad:?}");
        }
    }

    #[test]
    fn client_certificates_identify_when_no_key_is_presented() {
        let k = keys();
        let signer = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
        let cert = cartorio_testkit::pki::self_signed(&signer, "sensor-7", vec![]);
        let allowed = ["sensor-7".to_owned()];
        assert_eq!(k.identify(&headers(&[]), Some(&cert), "a", &allowed), Ok("mtls:sensor-7".into()));
        assert_eq!(k.identify(&headers(&[]), Some(&cert), "a", &[]), Err(AuthError::Forbidden));
        assert_eq!(k.identify(&headers(&[]), None, "a", &allowed), Err(AuthError::Unauthenticated));
        let with_key = headers(&[("x-api-key", "s3cret")]);
        assert_eq!(k.identify(&with_key, Some(&cert), "a", &allowed), Ok("alice".into()), "keys rank first");
        let bad_key = headers(&[("x-api-key", "wrong")]);
        assert_eq!(k.identify(&bad_key, Some(&cert), "a", &allowed), Err(AuthError::Unauthenticated));
    }

    #[test]
    fn malformed_configured_hashes_are_refused() {
        let bad = ApiKeyConfig { id: "x".into(), sha256: "abc".into(), streams: vec![], plan: None };
        assert!(ApiKeys::new(&[bad]).is_err());
    }
}
