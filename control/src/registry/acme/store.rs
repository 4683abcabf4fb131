//! [`AcmeStore`]: ACME's order bookkeeping (orders, authorizations,
//! challenges, nonces, the lookups rate limits and ARI need), on a
//! connection whose commits do not wait for the disk (see the parent
//! module).

use super::super::db::{Db, Sql};
use super::{
    ACCOUNT_COLUMNS, AUTHZ_COLUMNS, Account, Authz, CHALLENGE_COLUMNS, Challenge, ORDER_COLUMNS, Order,
};
use super::{account, authz, challenge, order};
use crate::sql_params;

/// ACME's order bookkeeping, on a connection of its own (see the module
/// documentation); shared by every control node of the registry, so a
/// nonce is good once on any of them.
pub struct AcmeStore {
    db: Db,
}

impl AcmeStore {
    pub fn open(database: &super::super::Database) -> anyhow::Result<Self> {
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
