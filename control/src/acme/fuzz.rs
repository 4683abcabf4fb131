//! The property the `acme_request` fuzz target checks (and `cargo test`
//! replays its corpus through): any bytes a client could send as an ACME
//! request body or path never panic the parsers, and a key read from a
//! JWK reads back the same from the JWK written for it.

use super::jws::{self, PublicKey};
use super::{account, ari, identifiers, order, revoke, routes};
use crate::registry::acme::Identifier;

fn shapes(payload: &[u8]) {
    let _ = serde_json::from_slice::<account::NewAccountRequest>(payload);
    let _ = serde_json::from_slice::<account::AccountUpdate>(payload);
    let _ = serde_json::from_slice::<account::KeyChange>(payload);
    let _ = serde_json::from_slice::<order::NewOrderRequest>(payload);
    let _ = serde_json::from_slice::<order::FinalizeRequest>(payload);
    let _ = serde_json::from_slice::<order::AuthzUpdate>(payload);
    let _ = serde_json::from_slice::<revoke::RevokeRequest>(payload);
}

fn key_round_trip(jwk: &serde_json::Value) -> Option<PublicKey> {
    let key = PublicKey::from_jwk(jwk).ok()?;
    assert_eq!(PublicKey::from_jwk(&key.to_jwk()).ok().as_ref(), Some(&key), "a JWK reads back as written");
    let _ = (key.thumbprint(), key.spki());
    Some(key)
}

pub fn fuzz_request(data: &[u8]) {
    if let Ok(request) = jws::parse(data) {
        let key = request.header.jwk.as_ref().and_then(key_round_trip);
        if let Some(key) = &key {
            let _ = request.verify(key);
            let _ = request.eab_kid(b"fuzz", &key.to_jwk(), &request.header.url);
        }
        let _ = request.json();
        shapes(&request.payload);
        // A key change or an external account binding nests a JWS.
        if let Ok(inner) = jws::parse(&request.payload)
            && let Some(jwk) = &inner.header.jwk
        {
            key_round_trip(jwk);
        }
    }
    shapes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ari::parse_cert_id(text);
        let _ = routes::resource(text);
        for kind in ["dns", "ip"] {
            if let Ok(id) = identifiers::canonical(&Identifier { kind: kind.into(), value: text.into() }) {
                assert_eq!(
                    identifiers::canonical(&id).ok().as_ref(),
                    Some(&id),
                    "canonical forms are fixed points"
                );
            }
        }
    }
}
