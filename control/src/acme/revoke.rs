//! revokeCert (RFC 8555 §7.6): by the account that got the certificate, by
//! an account holding valid authorizations for all its names, or by the
//! certificate's own key (a `jwk` request). Audited with the account.

use super::problem::{AcmeResult, Kind, Problem};
use super::request::{Signed, Signer};
use super::{Acme, Reply, ReplyBody};
use crate::RevokeError;
use crate::registry::acme::Identifier;
use cartorio_pkix::cert::CertificateView;
use cartorio_platform::clock::unix_seconds;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeRequest {
    certificate: String,
    #[serde(default)]
    reason: Option<u8>,
}

/// Reasons a subscriber may give (RFC 5280 §5.3.1): unspecified,
/// keyCompromise, affiliationChanged, superseded, cessationOfOperation.
/// The others are the CA's to state.
const SUBSCRIBER_REASONS: [u8; 5] = [0, 1, 3, 4, 5];

pub async fn revoke_cert(acme: &Acme, request: Signed) -> AcmeResult<Reply> {
    let body: RevokeRequest = request.payload()?;
    let der = super::jws::b64(&body.certificate)
        .map_err(|_| Problem::malformed("the certificate is not base64url"))?;
    let view =
        CertificateView::parse(&der).map_err(|e| Problem::malformed(format!("not a certificate: {e}")))?;
    let serial = view.serial_hex();
    let reason = body.reason.unwrap_or(0);
    if !SUBSCRIBER_REASONS.contains(&reason) {
        return Err(Problem::new(
            Kind::BadRevocationReason,
            format!("reason {reason}: a subscriber may give 0, 1, 3, 4 or 5"),
        ));
    }
    let lookup = serial.clone();
    let (stored, order) =
        acme.store(move |s| Ok((s.certificate(&lookup)?, s.order_of_serial(&lookup)?))).await?;
    if stored.map(|(d, _)| d) != Some(der.clone()) {
        return Err(Problem::new(Kind::NotFound, "this CA did not issue that certificate"));
    }
    let account = match &request.signer {
        Signer::Key(key) => {
            if key.spki() != view.spki {
                return Err(Problem::unauthorized("the request is not signed by the certificate's key"));
            }
            None
        }
        Signer::Account(account, _) => {
            let issued_to_it = order.is_some_and(|o| o.account_id == account.id);
            if !issued_to_it
                && !authorized_for_all(acme, &account.id, &super::identifiers::of_certificate(&der)).await?
            {
                return Err(Problem::unauthorized(
                    "the account neither got this certificate nor holds authorizations for all its names",
                ));
            }
            Some(account.id.clone())
        }
    };
    match acme.control().revoke_code(serial.clone(), reason, account.clone()).await {
        Ok(_) => {
            metrics::counter!("cartorio_acme_revocations_total").increment(1);
            tracing::info!(
                serial,
                account = account.as_deref().unwrap_or("certificate key"),
                "ACME revocation"
            );
            Ok(Reply { body: ReplyBody::Empty, ..Reply::json(200, serde_json::Value::Null) })
        }
        Err(RevokeError::AlreadyRevoked) => {
            Err(Problem::new(Kind::AlreadyRevoked, "the certificate is already revoked"))
        }
        Err(RevokeError::NotFound) => {
            Err(Problem::new(Kind::NotFound, "this CA did not issue that certificate"))
        }
        Err(RevokeError::BadReason(detail)) => Err(Problem::new(Kind::BadRevocationReason, detail)),
        Err(RevokeError::Internal(e)) => Err(Problem::internal(&e)),
    }
}

async fn authorized_for_all(acme: &Acme, account: &str, names: &[Identifier]) -> AcmeResult<bool> {
    if names.is_empty() {
        return Ok(false);
    }
    let (account, names, now) = (account.to_owned(), names.to_vec(), unix_seconds());
    acme.store(move |s| {
        for name in &names {
            let (value, _) = super::identifiers::validated_name(name);
            if !s.authorized_for(&account, value, now)? {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await
}
