//! Accounts (RFC 8555 §7.3): creation (with onlyReturnExisting and external
//! account binding), contact updates, deactivation, key roll-over, and the
//! list of an account's orders.

use super::jws::{self, PublicKey};
use super::objects;
use super::problem::{AcmeResult, Kind, Problem};
use super::request::Signed;
use super::{Acme, Reply, random_id};
use crate::registry::acme::{Account, NewAccount};
use cartorio_platform::clock::unix_seconds;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewAccountRequest {
    #[serde(default)]
    contact: Option<Vec<String>>,
    #[serde(default)]
    terms_of_service_agreed: Option<bool>,
    #[serde(default)]
    only_return_existing: Option<bool>,
    #[serde(default)]
    external_account_binding: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AccountUpdate {
    #[serde(default)]
    contact: Option<Vec<String>>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyChange {
    account: String,
    old_key: Value,
}

const MAX_CONTACTS: usize = 10;

/// `mailto:` addresses only (RFC 8555 §7.3): one address each, no header
/// fields, a domain that is a DNS name.
pub fn check_contacts(contacts: &[String]) -> AcmeResult<()> {
    if contacts.len() > MAX_CONTACTS {
        return Err(Problem::new(Kind::InvalidContact, format!("at most {MAX_CONTACTS} contacts")));
    }
    for contact in contacts {
        let Some(address) = contact.strip_prefix("mailto:") else {
            return Err(Problem::new(
                Kind::UnsupportedContact,
                format!("{contact:?}: only mailto: contacts"),
            ));
        };
        let valid = address.len() <= 254
            && !address.contains(['?', ',', ' ', '<', '>'])
            && address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && crate::profile::check::dns_name(&domain.to_ascii_lowercase(), false)
            });
        if !valid {
            return Err(Problem::new(Kind::InvalidContact, format!("{contact:?} is not one e-mail address")));
        }
    }
    Ok(())
}

pub async fn new_account(acme: &Acme, request: Signed) -> AcmeResult<Reply> {
    let key = request.key().clone();
    let body: NewAccountRequest = request.payload()?;
    let thumbprint = key.thumbprint();
    let lookup = thumbprint.clone();
    if let Some(existing) = acme.store(move |s| s.account_by_thumbprint(&lookup)).await? {
        return existing_account(acme, existing);
    }
    if body.only_return_existing == Some(true) {
        return Err(Problem::new(Kind::AccountDoesNotExist, "no account has this key"));
    }
    if acme.config().terms_of_service.is_some() && body.terms_of_service_agreed != Some(true) {
        return Err(Problem::malformed("the terms of service must be agreed to (termsOfServiceAgreed)"));
    }
    let contact = body.contact.unwrap_or_default();
    check_contacts(&contact)?;
    let eab_kid = match body.external_account_binding {
        Some(binding) => Some(check_binding(acme, &binding, &key).await?),
        None if acme.config().external_account_required => {
            return Err(Problem::new(
                Kind::ExternalAccountRequired,
                "this server requires an external account binding (ask the operator for a key)",
            ));
        }
        None => None,
    };
    let now = unix_seconds();
    let account = Account {
        id: random_id(12)?,
        thumbprint,
        jwk: key.to_jwk().to_string(),
        status: "valid".into(),
        contact,
        eab_kid,
        created_at: now,
    };
    let created = account.clone();
    match acme.registry(move |r| r.acme_new_account(&created, now)).await? {
        NewAccount::Created => {
            metrics::counter!("cartorio_acme_accounts_created_total").increment(1);
            tracing::info!(account = account.id, "ACME account created");
            let location = acme.urls().account(&account.id);
            Ok(Reply::json(201, objects::account(&account, acme.urls())).located(location))
        }
        NewAccount::Existing(existing) => existing_account(acme, existing),
        NewAccount::EabRefused => {
            Err(Problem::unauthorized("the external account binding key is unknown or already bound"))
        }
    }
}

fn existing_account(acme: &Acme, account: Account) -> AcmeResult<Reply> {
    if account.status != "valid" {
        return Err(Problem::unauthorized(format!("the account of this key is {}", account.status)));
    }
    let location = acme.urls().account(&account.id);
    Ok(Reply::json(200, objects::account(&account, acme.urls())).located(location))
}

/// Checks an external account binding over `key`; its key id.
async fn check_binding(acme: &Acme, binding: &Value, key: &PublicKey) -> AcmeResult<String> {
    let inner = jws::parse(binding.to_string().as_bytes())
        .map_err(|e| Problem::malformed(format!("the external account binding: {e}")))?;
    let kid = inner
        .header
        .kid
        .clone()
        .ok_or_else(|| Problem::malformed("the external account binding has no kid"))?;
    let lookup = kid.clone();
    let hmac_key = acme.store(move |s| s.eab_key(&lookup)).await?.ok_or_else(|| {
        Problem::unauthorized("the external account binding key is unknown or already bound")
    })?;
    let hmac_key =
        jws::b64(&hmac_key).map_err(|_| Problem::internal(&anyhow::anyhow!("a stored EAB key")))?;
    match inner.eab_kid(&hmac_key, &key.to_jwk(), &acme.urls().new_account()) {
        Ok(kid) => Ok(kid),
        Err(jws::JwsError::BadSignature) => {
            Err(Problem::unauthorized("the external account binding's MAC does not verify"))
        }
        Err(e) => Err(e.into()),
    }
}

/// POST to an account URL: fetch, update contacts, or deactivate.
pub async fn account(acme: &Acme, request: Signed, id: &str) -> AcmeResult<Reply> {
    let mut account = request.account()?.clone();
    if account.id != id {
        return Err(Problem::unauthorized("an account may only see and change itself"));
    }
    if !request.is_post_as_get() {
        let update: AccountUpdate = request.payload()?;
        match update.status.as_deref() {
            None => {}
            Some("deactivated") => account.status = "deactivated".into(),
            Some(other) => return Err(Problem::malformed(format!("an account cannot be set {other:?}"))),
        }
        if let Some(contact) = update.contact {
            check_contacts(&contact)?;
            account.contact = contact;
        }
        let changed = account.clone();
        let now = unix_seconds();
        acme.registry(move |r| r.acme_update_account(&changed, now)).await?;
        if account.status == "deactivated" {
            tracing::info!(account = account.id, "ACME account deactivated");
        }
    }
    Ok(Reply::json(200, objects::account(&account, acme.urls())))
}

/// Orders listed per page.
const ORDERS_PAGE: i64 = 100;

/// POST-as-GET to an account's orders URL (`?page=N`, a Link to the next).
pub async fn orders(acme: &Acme, request: Signed, id: &str, query: &str) -> AcmeResult<Reply> {
    request.expect_post_as_get()?;
    let account = request.account()?;
    if account.id != id {
        return Err(Problem::unauthorized("an account may only list its own orders"));
    }
    let page: i64 = match query.strip_prefix("page=") {
        Some(n) => n.parse().ok().filter(|n| (0..1_000_000).contains(n)).ok_or_else(Problem::not_found)?,
        None if query.is_empty() => 0,
        None => return Err(Problem::not_found()),
    };
    let owner = account.id.clone();
    let ids = acme.store(move |s| s.orders_of(&owner, page * ORDERS_PAGE, ORDERS_PAGE + 1)).await?;
    let more = ids.len() as i64 > ORDERS_PAGE;
    let urls: Vec<String> = ids.iter().take(ORDERS_PAGE as usize).map(|o| acme.urls().order(o)).collect();
    let mut reply = Reply::json(200, json!({"orders": urls}));
    if more {
        let next = format!("{}/orders?page={}", acme.urls().account(id), page + 1);
        reply.links.push(format!("<{next}>;rel=\"next\""));
    }
    Ok(reply)
}

/// Key roll-over (RFC 8555 §7.3.5): the inner JWS, signed by the new key,
/// names the account and its old key.
pub async fn key_change(acme: &Acme, request: Signed, url: &str) -> AcmeResult<Reply> {
    let account = request.account()?.clone();
    let inner = jws::parse(&request.jws.payload)
        .map_err(|e| Problem::malformed(format!("the key change's inner JWS: {e}")))?;
    if inner.header.url != url {
        return Err(Problem::malformed("the inner JWS must name the key-change URL"));
    }
    if inner.header.nonce.is_some() {
        return Err(Problem::malformed("the inner JWS carries no nonce"));
    }
    let jwk = inner
        .header
        .jwk
        .clone()
        .ok_or_else(|| Problem::malformed("the inner JWS carries the new key (jwk)"))?;
    let new_key = PublicKey::from_jwk(&jwk)?;
    inner.verify(&new_key)?;
    let body: KeyChange = serde_json::from_slice(&inner.payload)
        .map_err(|e| Problem::malformed(format!("the key change's payload: {e}")))?;
    if body.account != acme.urls().account(&account.id) {
        return Err(Problem::unauthorized("the key change names another account"));
    }
    if PublicKey::from_jwk(&body.old_key).ok().as_ref() != Some(request.key()) {
        return Err(Problem::unauthorized("oldKey is not the account's key"));
    }
    let (id, thumbprint, stored) = (account.id.clone(), new_key.thumbprint(), new_key.to_jwk().to_string());
    let now = unix_seconds();
    match acme.registry(move |r| r.acme_change_key(&id, &thumbprint, &stored, now)).await? {
        Ok(()) => {
            let mut changed = account;
            changed.jwk = new_key.to_jwk().to_string();
            Ok(Reply::json(200, objects::account(&changed, acme.urls())))
        }
        Err(holder) => Err(Problem::new(Kind::Conflict, "another account already has the new key")
            .with_location(acme.urls().account(&holder.id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_single_mailto_addresses() {
        assert!(check_contacts(&["mailto:ops@example.org".into()]).is_ok());
        let kind = |c: &str| check_contacts(&[c.to_owned()]).unwrap_err().kind;
        assert_eq!(kind("tel:+1555"), Kind::UnsupportedContact);
        assert_eq!(kind("mailto:a@b.example,c@d.example"), Kind::InvalidContact);
        assert_eq!(kind("mailto:ops@example.org?subject=x"), Kind::InvalidContact);
        assert_eq!(kind("mailto:nobody"), Kind::InvalidContact);
        let many: Vec<String> = (0..11).map(|i| format!("mailto:a{i}@example.org")).collect();
        assert_eq!(check_contacts(&many).unwrap_err().kind, Kind::InvalidContact);
    }
}
