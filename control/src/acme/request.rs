//! An ACME POST, phase by phase (RFC 8555 §6.2–6.5): the body parsed as a
//! flattened JWS, its `url` held to the resource it was sent to, its nonce
//! used up, its key found (`jwk` or the account `kid` names) and its
//! signature checked. A handler only ever sees a [`Signed`] request.

use super::Acme;
use super::jws::{self, Jws, PublicKey};
use super::problem::{AcmeResult, Kind, Problem};
use crate::registry::acme::Account;
use cartorio_platform::clock::unix_seconds;
use serde::de::DeserializeOwned;

/// Which key a resource accepts (RFC 8555 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// newAccount: the key is the account to be.
    Jwk,
    /// Everything an account does.
    Kid,
    /// revokeCert: the account, or the certificate's own key.
    Either,
}

/// Who signed a request.
#[derive(Debug, Clone)]
pub enum Signer {
    Account(Account, PublicKey),
    Key(PublicKey),
}

/// A request whose signature, URL and nonce were checked.
#[derive(Debug, Clone)]
pub struct Signed {
    pub jws: Jws,
    pub signer: Signer,
}

impl Signed {
    /// The signing account (a `kid` request).
    pub fn account(&self) -> AcmeResult<&Account> {
        match &self.signer {
            Signer::Account(account, _) => Ok(account),
            Signer::Key(_) => Err(Problem::malformed("this request must be signed by an account (kid)")),
        }
    }

    pub fn key(&self) -> &PublicKey {
        match &self.signer {
            Signer::Account(_, key) | Signer::Key(key) => key,
        }
    }

    /// Whether this is a POST-as-GET (an empty payload).
    pub fn is_post_as_get(&self) -> bool {
        self.jws.payload.is_empty()
    }

    /// The payload as `T`: one JSON object of the right shape (duplicate
    /// members refused), nothing after it.
    pub fn payload<T: DeserializeOwned>(&self) -> AcmeResult<T> {
        if self.jws.payload.is_empty() {
            return Err(Problem::malformed("this request needs a payload (it is not a POST-as-GET)"));
        }
        serde_json::from_slice(&self.jws.payload)
            .map_err(|e| Problem::malformed(format!("the payload is not a valid request: {e}")))
    }

    /// A POST-as-GET, or the empty object `{}` some resources take.
    pub fn expect_post_as_get(&self) -> AcmeResult<()> {
        if self.is_post_as_get() {
            return Ok(());
        }
        Err(Problem::malformed("this resource is fetched with a POST-as-GET (empty payload)"))
    }
}

/// Checks `body`, sent to `url`, as `rule` wants.
pub async fn authenticate(acme: &Acme, url: &str, body: &[u8], rule: KeyRule) -> AcmeResult<Signed> {
    let jws = jws::parse(body)?;
    if jws.header.url != url {
        return Err(Problem::unauthorized(format!(
            "the JWS url {:?} is not the URL the request was sent to ({url})",
            jws.header.url
        )));
    }
    if !jws::ALGORITHMS.contains(&jws.header.alg.as_str()) {
        return Err(jws::JwsError::BadSignatureAlgorithm(format!(
            "{} is not accepted (ES256, ES384, RS256, EdDSA)",
            jws.header.alg
        ))
        .into());
    }
    let nonce =
        jws.header.nonce.clone().ok_or_else(|| Problem::new(Kind::BadNonce, "the JWS has no nonce"))?;
    // A nonce is base64url of 16 octets: anything else was never ours.
    let plausible = nonce.len() == 22 && jws::b64(&nonce).is_ok();
    // The nonce is used up and the signing account read in one trip to the
    // store: as two trips, they were 16 of the ~32 thread hops an order took.
    // `None`: the kid is not an account URL of this server (or no kid).
    let account_id = match (&jws.header.kid, rule) {
        (Some(kid), KeyRule::Kid | KeyRule::Either) => acme.urls().account_id(kid).map(str::to_owned),
        _ => None,
    };
    let now = unix_seconds();
    let (fresh, account) = if plausible {
        acme.store(move |s| {
            let fresh = s.consume_nonce(&nonce, now)?;
            let account = match account_id {
                Some(id) if fresh => Some(s.account(&id)?),
                _ => None,
            };
            Ok((fresh, account))
        })
        .await?
    } else {
        (false, None)
    };
    if !fresh {
        return Err(Problem::new(
            Kind::BadNonce,
            "the nonce is unknown, used or expired; use the one in this response",
        ));
    }
    let signer = match (&jws.header.jwk, &jws.header.kid, rule) {
        (Some(jwk), None, KeyRule::Jwk | KeyRule::Either) => Signer::Key(PublicKey::from_jwk(jwk)?),
        (None, Some(kid), KeyRule::Kid | KeyRule::Either) => {
            let account = valid_account(kid, account)?;
            let key = stored_key(&account)?;
            Signer::Account(account, key)
        }
        (Some(_), _, KeyRule::Kid) => {
            return Err(Problem::malformed("this request must name its account (kid), not carry a jwk"));
        }
        (_, Some(_), KeyRule::Jwk) => {
            return Err(Problem::malformed("a new account's request carries its key (jwk), not a kid"));
        }
        _ => return Err(Problem::malformed("the protected header must carry exactly one of jwk and kid")),
    };
    let key = match &signer {
        Signer::Account(_, key) | Signer::Key(key) => key,
    };
    jws.verify(key)?;
    Ok(Signed { jws, signer })
}

/// The account a `kid` names; only a valid one may act. `found`: `None` if
/// the kid is not an account URL of this server, else what the store holds
/// under the id it carries.
fn valid_account(kid: &str, found: Option<Option<Account>>) -> AcmeResult<Account> {
    let Some(found) = found else {
        return Err(Problem::new(
            Kind::AccountDoesNotExist,
            format!("{kid:?} is not an account URL of this server"),
        ));
    };
    let account =
        found.ok_or_else(|| Problem::new(Kind::AccountDoesNotExist, format!("no account {kid}")))?;
    if account.status != "valid" {
        return Err(Problem::unauthorized(format!("the account is {}", account.status)));
    }
    Ok(account)
}

/// An account's key, as stored.
pub fn stored_key(account: &Account) -> AcmeResult<PublicKey> {
    let jwk: serde_json::Value =
        serde_json::from_str(&account.jwk).map_err(|e| Problem::internal(&anyhow::Error::from(e)))?;
    PublicKey::from_jwk(&jwk).map_err(|e| Problem::internal(&anyhow::anyhow!("a stored account key: {e}")))
}
