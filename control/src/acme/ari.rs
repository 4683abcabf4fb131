//! Renewal information (ARI, RFC 9773): when a client should renew a
//! certificate, and which certificate a new order replaces. A certificate
//! is named by its CA's key identifier and its serial, each base64url.
//! Renewal is suggested two thirds into the validity; at once after a
//! revocation or when the operator asks (`cartorio acme renew-early`).

use super::identifiers;
use super::jws::{b64, b64_encode};
use super::problem::{AcmeResult, Kind, Problem};
use super::{Acme, Reply, objects};
use crate::registry::acme::{Account, Identifier};
use cartorio_platform::clock::unix_seconds;
use serde_json::json;

/// How long a client should wait before asking again (RFC 9773 §4.3: a
/// few hours is usual).
const RETRY_AFTER_SECS: u64 = 6 * 3600;

/// The ARI id of the certificate `serial` (hex) issued by the CA with key
/// identifier `authority_key_id`.
pub fn cert_id(authority_key_id: &[u8], serial_hex: &str) -> Option<String> {
    let mut serial = hex::decode(serial_hex).ok()?;
    // The INTEGER's content: a leading zero keeps it positive.
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        serial.insert(0, 0);
    }
    Some(format!("{}.{}", b64_encode(authority_key_id), b64_encode(&serial)))
}

/// The key identifier and serial (hex, as the registry keys it) an ARI id names.
pub fn parse_cert_id(text: &str) -> AcmeResult<(Vec<u8>, String)> {
    let bad =
        || Problem::malformed(format!("{text:?} is not a certificate id (keyIdentifier.serial, base64url)"));
    let (aki, serial) = text.split_once('.').ok_or_else(bad)?;
    let aki = b64(aki).map_err(|_| bad())?;
    let serial = b64(serial).map_err(|_| bad())?;
    if aki.is_empty() || serial.is_empty() || serial.len() > 20 {
        return Err(bad());
    }
    // The serial is the INTEGER's content: minimal, positive.
    if serial[0] & 0x80 != 0 || (serial.len() > 1 && serial[0] == 0 && serial[1] & 0x80 == 0) {
        return Err(bad());
    }
    Ok((aki, cartorio_pkix::cert::serial_hex(&serial)))
}

/// The window in which a certificate valid from `not_before` to
/// `not_after` should be renewed.
pub fn suggested_window(not_before: i64, not_after: i64) -> (i64, i64) {
    let lifetime = (not_after - not_before).max(1);
    let start = not_before + lifetime * 2 / 3;
    (start, start + lifetime / 6)
}

/// The certificate an ARI id names, if this server issued it: (issued,
/// notBefore, notAfter, revoked).
async fn certificate(acme: &Acme, id: &str) -> AcmeResult<(String, (i64, i64, i64, bool))> {
    let (aki, serial) = parse_cert_id(id)?;
    let lookup = serial.clone();
    let found = acme
        .store(move |s| {
            let Some((_, issuer)) = s.certificate(&lookup)? else { return Ok(None) };
            Ok(s.certificate_times(&lookup)?.map(|times| (issuer, times)))
        })
        .await?;
    let (issuer, times) = found.ok_or_else(Problem::not_found)?;
    let ca = acme.control().inner.ca.issuer(&issuer).cloned().ok_or_else(Problem::not_found)?;
    if ca.key_id != aki {
        return Err(Problem::not_found());
    }
    Ok((serial, times))
}

/// `GET /acme/renewal-info/{id}`.
pub async fn renewal_info(acme: &Acme, id: &str) -> AcmeResult<Reply> {
    let (serial, (issued_at, not_before, not_after, revoked)) = certificate(acme, id).await?;
    let lookup = serial.clone();
    let requested = acme.store(move |s| s.renewal_requested(&lookup, issued_at)).await?;
    let now = unix_seconds();
    let (start, end) = match (revoked, requested) {
        // Renew now: a window that has begun, short.
        (true, _) => (now - 3600, now),
        (false, Some(at)) => (at, at + 3600),
        (false, None) => suggested_window(not_before, not_after),
    };
    let mut body = json!({"suggestedWindow": {"start": objects::time(start), "end": objects::time(end)}});
    if revoked || requested.is_some() {
        body["explanationURL"] = acme.urls().directory().into();
    }
    Ok(Reply { retry_after: Some(RETRY_AFTER_SECS), ..Reply::json(200, body) })
}

/// A new order's `replaces`: a certificate this account got, sharing an
/// identifier with the order, not replaced already.
pub async fn check_replaces(acme: &Acme, account: &Account, id: &str, ids: &[Identifier]) -> AcmeResult<()> {
    let (serial, _) = certificate(acme, id).await?;
    let (lookup, cert_id) = (serial.clone(), id.to_owned());
    let (order, replaced) =
        acme.store(move |s| Ok((s.order_of_serial(&lookup)?, s.replaced(&cert_id)?))).await?;
    let order = order
        .filter(|o| o.account_id == account.id)
        .ok_or_else(|| Problem::unauthorized("the certificate to replace was not issued to this account"))?;
    let shares = order.identifiers.iter().any(|old| ids.contains(old))
        || order.identifiers.iter().any(|old| {
            let (name, _) = identifiers::validated_name(old);
            ids.iter().any(|new| identifiers::validated_name(new).0 == name)
        });
    if !shares {
        return Err(Problem::malformed("the order shares no identifier with the certificate it replaces"));
    }
    if replaced {
        return Err(Problem::new(Kind::AlreadyReplaced, "an order already replaces this certificate"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9773 §4.1's example.
    #[test]
    fn certificate_ids_follow_rfc_9773() {
        let aki = hex::decode("69885b6b87464041e1b37b847ba0ae2cde01c8d4").expect("hex");
        let serial = cartorio_pkix::cert::serial_hex(&[0x00, 0x87, 0x65, 0x43, 0x21]);
        let id = cert_id(&aki, &serial).expect("id");
        assert_eq!(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert_eq!(parse_cert_id(&id).expect("parses"), (aki, serial));
        assert!(parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.h2VDIQ").is_err(), "a negative serial");
        assert!(parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ").is_err());
        assert!(parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE=").is_err(), "padding");
    }

    #[test]
    fn renewal_is_suggested_two_thirds_in() {
        assert_eq!(suggested_window(0, 90), (60, 75));
    }
}
