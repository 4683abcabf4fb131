//! ACME state in the registry. Who may enroll (accounts, their keys,
//! external account binding keys, early-renewal requests) changes through
//! [`Registry`], audited, durable. Order bookkeeping (orders,
//! authorizations, challenges, nonces) goes through an [`AcmeStore`]: a
//! connection of its own whose commits do not wait for the disk, since a
//! lost order is one the client places again, and an fsync per request
//! would bound ACME by the disk. What an order leads to (a certificate) is
//! recorded durably and audited with the order's completion, in one
//! transaction ([`complete_order`]).

use super::Registry;
use super::db::{Db, Row, Sql};
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

/// ACME's order bookkeeping, on a connection of its own (see the module
/// documentation); shared by every control node of the registry, so a
/// nonce is good once on any of them.
pub struct AcmeStore {
    db: Db,
}

impl AcmeStore {
    pub fn open(database: &super::Database) -> anyhow::Result<Self> {
        let mut db = Db::open(database)?;
        db.relax_durability()?;
        Ok(Self { db })
    }

    /// Records nonces about to be handed out, in one commit.
    pub fn issue_nonces(&mut self, nonces: &[String], expires_at: i64) -> anyhow::Result<()> {
        let mut tx = self.db.plain_transaction()?;
        for nonce in nonces {
            tx.execute(
                "INSERT INTO acme_nonces (nonce, expires_at) VALUES (?1, ?2)",
                sql_params![nonce.as_str(), expires_at],
            )?;
        }
        tx.commit()
    }

    /// Whether `nonce` was issued, unexpired and unused; it is used now.
    pub fn consume_nonce(&mut self, nonce: &str, now: i64) -> anyhow::Result<bool> {
        let used = self.db.execute(
            "DELETE FROM acme_nonces WHERE nonce = ?1 AND expires_at > ?2",
            sql_params![nonce, now],
        )?;
        Ok(used == 1)
    }

    /// Forgets nonces past their expiry.
    pub fn purge_nonces(&mut self, now: i64) -> anyhow::Result<u64> {
        self.db.execute("DELETE FROM acme_nonces WHERE expires_at <= ?1", sql_params![now])
    }

    pub fn account(&mut self, id: &str) -> anyhow::Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = ?1");
        self.db.query_opt(&sql, sql_params![id], account)
    }

    pub fn account_by_thumbprint(&mut self, thumbprint: &str) -> anyhow::Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE thumbprint = ?1");
        self.db.query_opt(&sql, sql_params![thumbprint], account)
    }

    /// An EAB key (base64url) not bound yet.
    pub fn eab_key(&mut self, kid: &str) -> anyhow::Result<Option<String>> {
        self.db.query_opt(
            "SELECT hmac_key FROM acme_eab_keys WHERE kid = ?1 AND account_id IS NULL",
            sql_params![kid],
            |r| r.get(0),
        )
    }

    /// Stores a new order with its authorizations and their challenges.
    pub fn create_order(&mut self, o: &Order, authzs: &[(Authz, Vec<Challenge>)]) -> anyhow::Result<()> {
        let identifiers = serde_json::to_string(&o.identifiers)?;
        let mut tx = self.db.plain_transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO acme_orders ({ORDER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            sql_params![
                &o.id,
                &o.account_id,
                &o.status,
                o.expires_at,
                identifiers.as_str(),
                &o.profile,
                o.error.as_deref(),
                o.serial.as_deref(),
                o.replaces.as_deref(),
                o.created_at
            ],
        )?;
        for (a, challenges) in authzs {
            tx.execute(
                &format!("INSERT INTO acme_authzs ({AUTHZ_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                sql_params![
                    &a.id,
                    &a.order_id,
                    &a.account_id,
                    &a.identifier.kind,
                    &a.identifier.value,
                    i64::from(a.wildcard),
                    &a.status,
                    a.expires_at
                ],
            )?;
            for c in challenges {
                tx.execute(
                    &format!("INSERT INTO acme_challenges ({CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL)"),
                    sql_params![&c.id, &c.authz_id, &c.kind, &c.token, &c.status],
                )?;
            }
        }
        tx.commit()
    }

    /// An order, expired first if its time is up.
    pub fn order(&mut self, id: &str, now: i64) -> anyhow::Result<Option<Order>> {
        self.db.execute(
            r#"UPDATE acme_orders SET status = 'invalid',
                 error = '{"type":"urn:ietf:params:acme:error:malformed","detail":"the order expired"}'
               WHERE id = ?1 AND status IN ('pending', 'ready') AND expires_at <= ?2"#,
            sql_params![id, now],
        )?;
        let sql = format!("SELECT {ORDER_COLUMNS} FROM acme_orders WHERE id = ?1");
        self.db.query_opt(&sql, sql_params![id], order)
    }

    /// A page of an account's order ids, newest first.
    pub fn orders_of(&mut self, account_id: &str, offset: i64, limit: i64) -> anyhow::Result<Vec<String>> {
        self.db.query(
            "SELECT id FROM acme_orders WHERE account_id = ?1 AND status <> 'invalid'
               ORDER BY created_at DESC, id LIMIT ?2 OFFSET ?3",
            sql_params![account_id, limit, offset],
            |r| r.get(0),
        )
    }

    pub fn order_authzs(&mut self, order_id: &str) -> anyhow::Result<Vec<Authz>> {
        let sql = format!("SELECT {AUTHZ_COLUMNS} FROM acme_authzs WHERE order_id = ?1 ORDER BY id");
        self.db.query(&sql, sql_params![order_id], authz)
    }

    /// An authorization, expired first if its time is up.
    pub fn authz(&mut self, id: &str, now: i64) -> anyhow::Result<Option<Authz>> {
        self.db.execute(
            "UPDATE acme_authzs SET status = 'expired' WHERE id = ?1 AND status IN ('pending', 'valid') AND expires_at <= ?2",
            sql_params![id, now],
        )?;
        let sql = format!("SELECT {AUTHZ_COLUMNS} FROM acme_authzs WHERE id = ?1");
        self.db.query_opt(&sql, sql_params![id], authz)
    }

    pub fn challenges(&mut self, authz_id: &str) -> anyhow::Result<Vec<Challenge>> {
        let sql =
            format!("SELECT {CHALLENGE_COLUMNS} FROM acme_challenges WHERE authz_id = ?1 ORDER BY kind");
        self.db.query(&sql, sql_params![authz_id], challenge)
    }

    pub fn challenge(&mut self, id: &str) -> anyhow::Result<Option<Challenge>> {
        let sql = format!("SELECT {CHALLENGE_COLUMNS} FROM acme_challenges WHERE id = ?1");
        self.db.query_opt(&sql, sql_params![id], challenge)
    }

    /// A pending challenge of a pending, unexpired authorization starts
    /// being validated; `false` if it was not (validated once only).
    pub fn challenge_processing(&mut self, id: &str, now: i64) -> anyhow::Result<bool> {
        let moved = self.db.execute(
            "UPDATE acme_challenges SET status = 'processing' WHERE id = ?1 AND status = 'pending'
               AND authz_id IN (SELECT id FROM acme_authzs WHERE status = 'pending' AND expires_at > ?2)",
            sql_params![id, now],
        )?;
        Ok(moved == 1)
    }

    /// Challenges being validated (to take up again after a restart).
    pub fn processing_challenges(&mut self) -> anyhow::Result<Vec<String>> {
        self.db
            .query("SELECT id FROM acme_challenges WHERE status = 'processing'", sql_params![], |r| r.get(0))
    }

    /// Records a validation's result: the challenge, its authorization,
    /// and the order (`ready` once every authorization is valid, `invalid`
    /// as soon as one is).
    pub fn challenge_result(&mut self, id: &str, error: Option<&str>, now: i64) -> anyhow::Result<()> {
        let mut tx = self.db.plain_transaction()?;
        let status = if error.is_none() { "valid" } else { "invalid" };
        let moved = tx.execute(
            "UPDATE acme_challenges SET status = ?2, validated_at = ?3, error = ?4 WHERE id = ?1 AND status = 'processing'",
            sql_params![id, status, now, error],
        )?;
        let ids = tx.query_opt(
            "SELECT a.id, a.order_id FROM acme_authzs a JOIN acme_challenges c ON c.authz_id = a.id WHERE c.id = ?1",
            sql_params![id],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
        )?;
        if let (1, Some((authz_id, order_id))) = (moved, ids) {
            tx.execute(
                "UPDATE acme_authzs SET status = ?2 WHERE id = ?1 AND status = 'pending'",
                sql_params![authz_id.as_str(), status],
            )?;
            if error.is_some() {
                tx.execute(
                    "UPDATE acme_orders SET status = 'invalid', error = ?2 WHERE id = ?1 AND status IN ('pending', 'ready')",
                    sql_params![order_id.as_str(), error],
                )?;
            } else {
                tx.execute(
                    "UPDATE acme_orders SET status = 'ready' WHERE id = ?1 AND status = 'pending'
                       AND NOT EXISTS (SELECT 1 FROM acme_authzs WHERE order_id = ?1 AND status <> 'valid')",
                    sql_params![order_id.as_str()],
                )?;
            }
        }
        tx.commit()
    }

    /// The client gives up an authorization: it and its unfinished order end.
    pub fn deactivate_authz(&mut self, id: &str) -> anyhow::Result<()> {
        let mut tx = self.db.plain_transaction()?;
        tx.execute(
            "UPDATE acme_authzs SET status = 'deactivated' WHERE id = ?1 AND status IN ('pending', 'valid')",
            sql_params![id],
        )?;
        tx.execute(
            r#"UPDATE acme_orders SET status = 'invalid',
                 error = '{"type":"urn:ietf:params:acme:error:unauthorized","detail":"an authorization was deactivated"}'
               WHERE status IN ('pending', 'ready') AND id = (SELECT order_id FROM acme_authzs WHERE id = ?1)"#,
            sql_params![id],
        )?;
        tx.commit()
    }

    /// A ready order starts being finalized; `false` if it was not ready.
    pub fn order_processing(&mut self, id: &str) -> anyhow::Result<bool> {
        let moved = self.db.execute(
            "UPDATE acme_orders SET status = 'processing' WHERE id = ?1 AND status = 'ready'",
            sql_params![id],
        )?;
        Ok(moved == 1)
    }

    /// An order that could not be finalized (`error`: a problem document).
    pub fn order_failed(&mut self, id: &str, error: &str) -> anyhow::Result<()> {
        self.db.execute(
            "UPDATE acme_orders SET status = 'invalid', error = ?2 WHERE id = ?1 AND status IN ('ready', 'processing')",
            sql_params![id, error],
        )?;
        Ok(())
    }

    /// Orders an account created since `since` (rate limits).
    pub fn orders_since(&mut self, account_id: &str, since: i64) -> anyhow::Result<i64> {
        let count = self.db.query_opt(
            "SELECT COUNT(*) FROM acme_orders WHERE account_id = ?1 AND created_at >= ?2",
            sql_params![account_id, since],
            |r| r.get::<i64>(0),
        )?;
        Ok(count.unwrap_or(0))
    }

    /// Certificates issued since `since` for names under the registered
    /// domain `domain` (rate limits).
    pub fn issued_since(&mut self, domain: &str, since: i64) -> anyhow::Result<i64> {
        let count = self.db.query_opt(
            "SELECT COUNT(*) FROM acme_issued WHERE domain = ?1 AND issued_at >= ?2",
            sql_params![domain, since],
            |r| r.get::<i64>(0),
        )?;
        Ok(count.unwrap_or(0))
    }

    /// The DER and issuer name of an issued certificate.
    pub fn certificate(&mut self, serial: &str) -> anyhow::Result<Option<(Vec<u8>, String)>> {
        self.db.query_opt(
            "SELECT c.der, i.name FROM certificates c JOIN issuers i ON i.id = c.issuer_id WHERE c.serial = ?1",
            sql_params![serial],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The ACME order (and so the account) a certificate came from.
    pub fn order_of_serial(&mut self, serial: &str) -> anyhow::Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM acme_orders WHERE serial = ?1");
        self.db.query_opt(&sql, sql_params![serial], order)
    }

    /// Whether `account_id` holds a valid, unexpired authorization for `value`.
    pub fn authorized_for(&mut self, account_id: &str, value: &str, now: i64) -> anyhow::Result<bool> {
        let found = self.db.query_opt(
            "SELECT 1 FROM acme_authzs WHERE account_id = ?1 AND value = ?2 AND status = 'valid' AND expires_at > ?3 LIMIT 1",
            sql_params![account_id, value, now],
            |r| r.get::<i64>(0),
        )?;
        Ok(found.is_some())
    }

    /// Whether an order other than an invalid one already replaces `cert_id`.
    pub fn replaced(&mut self, cert_id: &str) -> anyhow::Result<bool> {
        let found = self.db.query_opt(
            "SELECT 1 FROM acme_orders WHERE replaces = ?1 AND status <> 'invalid' LIMIT 1",
            sql_params![cert_id],
            |r| r.get::<i64>(0),
        )?;
        Ok(found.is_some())
    }

    /// The latest early-renewal request covering a certificate of `serial`
    /// issued at `issued_at`, if one came after it.
    pub fn renewal_requested(&mut self, serial: &str, issued_at: i64) -> anyhow::Result<Option<i64>> {
        let latest = self.db.query_opt(
            "SELECT MAX(requested_at) FROM acme_renewal_requests WHERE (serial = ?1 OR serial = '*') AND requested_at >= ?2",
            sql_params![serial, issued_at],
            |r| r.get::<Option<i64>>(0),
        )?;
        Ok(latest.flatten())
    }

    /// Certificate facts ARI needs: issued, notBefore, notAfter, revoked.
    pub fn certificate_times(&mut self, serial: &str) -> anyhow::Result<Option<(i64, i64, i64, bool)>> {
        self.db.query_opt(
            "SELECT issued_at, not_before, not_after, revoked_at FROM certificates WHERE serial = ?1",
            sql_params![serial],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<Option<i64>>(3)?.is_some())),
        )
    }
}
