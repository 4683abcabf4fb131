//! ACME state in the registry. Who may enroll (accounts, their keys,
//! external account binding keys, early-renewal requests) changes through
//! [`Registry`], audited, durable. Order bookkeeping (orders,
//! authorizations, challenges, nonces) goes through an [`AcmeStore`]: a
//! connection of its own whose commits do not wait for the disk, since a
//! lost order is one the client places again, and an fsync per request
//! would bound ACME by the disk. What an order leads to (a certificate) is
//! recorded durably and audited with the order's completion, in one
//! transaction ([`complete_order`]).

mod store;

pub use store::AcmeStore;

use super::Registry;
use super::db::{Row, Sql};
use crate::audit;
use crate::sql_params;
use serde::{Deserialize, Serialize};

/// An identifier an order names (RFC 8555 §9.7.7: `dns`, and `ip` by
/// RFC 8738).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub thumbprint: String,
    /// The account key as a JWK (JSON text).
    pub jwk: String,
    /// `valid`, `deactivated` or `revoked`.
    pub status: String,
    pub contact: Vec<String>,
    pub eab_kid: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub account_id: String,
    /// `pending`, `ready`, `processing`, `valid` or `invalid`.
    pub status: String,
    pub expires_at: i64,
    pub identifiers: Vec<Identifier>,
    pub profile: String,
    /// A problem document (JSON) when invalid.
    pub error: Option<String>,
    /// The certificate's serial once valid.
    pub serial: Option<String>,
    /// The ARI certificate id the order replaces.
    pub replaces: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authz {
    pub id: String,
    pub order_id: String,
    pub account_id: String,
    pub identifier: Identifier,
    pub wildcard: bool,
    /// `pending`, `valid`, `invalid`, `deactivated` or `expired`.
    pub status: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: String,
    pub authz_id: String,
    /// `http-01`, `tls-alpn-01` or `dns-01`.
    pub kind: String,
    pub token: String,
    /// `pending`, `processing`, `valid` or `invalid`.
    pub status: String,
    pub validated_at: Option<i64>,
    /// A problem document (JSON) when invalid.
    pub error: Option<String>,
}

const ACCOUNT_COLUMNS: &str = "id, thumbprint, jwk, status, contact, eab_kid, created_at";
const ORDER_COLUMNS: &str =
    "id, account_id, status, expires_at, identifiers, profile, error, serial, replaces, created_at";
const AUTHZ_COLUMNS: &str = "id, order_id, account_id, kind, value, wildcard, status, expires_at";
const CHALLENGE_COLUMNS: &str = "id, authz_id, kind, token, status, validated_at, error";

fn account(r: &Row<'_>) -> anyhow::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        thumbprint: r.get(1)?,
        jwk: r.get(2)?,
        status: r.get(3)?,
        contact: serde_json::from_str(&r.get::<String>(4)?)?,
        eab_kid: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn order(r: &Row<'_>) -> anyhow::Result<Order> {
    Ok(Order {
        id: r.get(0)?,
        account_id: r.get(1)?,
        status: r.get(2)?,
        expires_at: r.get(3)?,
        identifiers: serde_json::from_str(&r.get::<String>(4)?)?,
        profile: r.get(5)?,
        error: r.get(6)?,
        serial: r.get(7)?,
        replaces: r.get(8)?,
        created_at: r.get(9)?,
    })
}

fn authz(r: &Row<'_>) -> anyhow::Result<Authz> {
    Ok(Authz {
        id: r.get(0)?,
        order_id: r.get(1)?,
        account_id: r.get(2)?,
        identifier: Identifier { kind: r.get(3)?, value: r.get(4)? },
        wildcard: r.get::<i64>(5)? != 0,
        status: r.get(6)?,
        expires_at: r.get(7)?,
    })
}

fn challenge(r: &Row<'_>) -> anyhow::Result<Challenge> {
    Ok(Challenge {
        id: r.get(0)?,
        authz_id: r.get(1)?,
        kind: r.get(2)?,
        token: r.get(3)?,
        status: r.get(4)?,
        validated_at: r.get(5)?,
        error: r.get(6)?,
    })
}

/// The outcome of a newAccount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewAccount {
    Created,
    /// The key already has an account (returned instead).
    Existing(Account),
    /// The external account binding key is unknown or already bound.
    EabRefused,
}

/// Rolls an audited transaction back without an error of the registry's.
#[derive(Debug, thiserror::Error)]
#[error("the external account binding key is unknown or already bound")]
struct EabTaken;

impl Registry {
    /// Creates an account (audited), binding `eab_kid` to it when given.
    pub fn acme_new_account(&mut self, a: &Account, at: i64) -> anyhow::Result<NewAccount> {
        if let Some(existing) = self.acme_account_by_thumbprint(&a.thumbprint)? {
            return Ok(NewAccount::Existing(existing));
        }
        let event = audit::Event {
            kind: "acme.account.create",
            actor: "acme",
            detail: serde_json::json!({"account": a.id, "thumbprint": a.thumbprint, "eab_kid": a.eab_kid}),
        };
        let contact = serde_json::to_string(&a.contact)?;
        let created = self.audited(&event, at, |tx| {
            if let Some(kid) = &a.eab_kid {
                let bound = tx.execute(
                    "UPDATE acme_eab_keys SET account_id = ?2 WHERE kid = ?1 AND account_id IS NULL",
                    sql_params![kid, &a.id],
                )?;
                if bound != 1 {
                    return Err(EabTaken.into());
                }
            }
            tx.execute(
                &format!("INSERT INTO acme_accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                sql_params![
                    &a.id,
                    &a.thumbprint,
                    &a.jwk,
                    &a.status,
                    contact.as_str(),
                    a.eab_kid.as_deref(),
                    a.created_at
                ],
            )?;
            Ok(())
        });
        match created {
            Ok(()) => Ok(NewAccount::Created),
            Err(e) if e.is::<EabTaken>() => Ok(NewAccount::EabRefused),
            // The same key registered at the same moment elsewhere.
            Err(e) => match self.acme_account_by_thumbprint(&a.thumbprint)? {
                Some(existing) => Ok(NewAccount::Existing(existing)),
                None => Err(e),
            },
        }
    }

    pub fn acme_account_by_thumbprint(&mut self, thumbprint: &str) -> anyhow::Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE thumbprint = ?1");
        self.db.query_opt(&sql, sql_params![thumbprint], account)
    }

    /// Updates an account's contacts and status (audited).
    pub fn acme_update_account(&mut self, a: &Account, at: i64) -> anyhow::Result<()> {
        let event = audit::Event {
            kind: "acme.account.update",
            actor: "acme",
            detail: serde_json::json!({"account": a.id, "status": a.status, "contacts": a.contact.len()}),
        };
        let contact = serde_json::to_string(&a.contact)?;
        self.audited(&event, at, |tx| {
            tx.execute(
                "UPDATE acme_accounts SET contact = ?2, status = ?3 WHERE id = ?1",
                sql_params![&a.id, contact.as_str(), &a.status],
            )?;
            Ok(())
        })
    }

    /// Moves an account to a new key (audited); the account that already
    /// holds that key, if one does.
    pub fn acme_change_key(
        &mut self,
        id: &str,
        thumbprint: &str,
        jwk: &str,
        at: i64,
    ) -> anyhow::Result<Result<(), Account>> {
        if let Some(holder) = self.acme_account_by_thumbprint(thumbprint)? {
            return Ok(Err(holder));
        }
        let event = audit::Event {
            kind: "acme.account.key_change",
            actor: "acme",
            detail: serde_json::json!({"account": id, "thumbprint": thumbprint}),
        };
        self.audited(&event, at, |tx| {
            tx.execute(
                "UPDATE acme_accounts SET thumbprint = ?2, jwk = ?3 WHERE id = ?1",
                sql_params![id, thumbprint, jwk],
            )?;
            Ok(())
        })?;
        Ok(Ok(()))
    }

    /// Records an external account binding key (audited; never the key).
    pub fn acme_add_eab_key(&mut self, kid: &str, hmac_key: &str, at: i64) -> anyhow::Result<()> {
        let event =
            audit::Event { kind: "acme.eab.create", actor: "cli", detail: serde_json::json!({"kid": kid}) };
        self.audited(&event, at, |tx| {
            tx.execute(
                "INSERT INTO acme_eab_keys (kid, hmac_key, created_at) VALUES (?1, ?2, ?3)",
                sql_params![kid, hmac_key, at],
            )?;
            Ok(())
        })
    }

    /// Asks ACME clients (ARI) to renew `serial` now, or with `None` every
    /// certificate issued until now (audited).
    pub fn acme_request_renewal(&mut self, serial: Option<&str>, at: i64) -> anyhow::Result<()> {
        let serial = serial.unwrap_or("*");
        let event = audit::Event {
            kind: "acme.renewal.request",
            actor: "cli",
            detail: serde_json::json!({"serial": serial}),
        };
        self.audited(&event, at, |tx| {
            tx.execute(
                "INSERT INTO acme_renewal_requests (serial, requested_at) VALUES (?1, ?2)",
                sql_params![serial, at],
            )?;
            Ok(())
        })
    }
}

/// In the transaction recording the certificate: its order becomes
/// `valid`, and its registered domains count against the rate limits.
pub(super) fn complete_order(
    tx: &mut impl Sql,
    acme: &super::AcmeIssue,
    serial: &str,
    at: i64,
) -> anyhow::Result<()> {
    let completed = tx.execute(
        "UPDATE acme_orders SET status = 'valid', serial = ?2 WHERE id = ?1 AND status = 'processing'",
        sql_params![&acme.order, serial],
    )?;
    anyhow::ensure!(completed == 1, "ACME order {} is no longer being finalized", acme.order);
    for domain in &acme.domains {
        tx.execute(
            "INSERT INTO acme_issued (domain, issued_at, serial) VALUES (?1, ?2, ?3)",
            sql_params![domain.as_str(), at, serial],
        )?;
    }
    Ok(())
}
