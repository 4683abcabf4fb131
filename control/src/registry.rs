//! The registry of issued certificates (SQLite, WAL, synchronous=FULL).
//!
//! Every state change marks the certificate `ocsp_pending` in the same
//! transaction, and bumps `status_version`; the pre-signer clears the mark
//! only for the version it signed. So a crash or a race never leaves a
//! change without a response to be signed.

use crate::audit;
use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::Duration;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE issuers (
    id          TEXT PRIMARY KEY,       -- hex SHA-256 of the SubjectPublicKeyInfo
    name        TEXT NOT NULL,
    cert_der    BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE certificates (
    serial            TEXT PRIMARY KEY, -- lowercase hex, no leading zero octets
    issuer_id         TEXT NOT NULL REFERENCES issuers(id),
    profile           TEXT NOT NULL,
    subject           TEXT,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    der               BLOB NOT NULL,
    issued_at         INTEGER NOT NULL,
    revoked_at        INTEGER,
    revocation_reason INTEGER,
    status_version    INTEGER NOT NULL DEFAULT 1,
    ocsp_pending      INTEGER NOT NULL DEFAULT 1,
    ocsp_next_update  INTEGER
);
CREATE INDEX certificates_pending ON certificates(ocsp_pending) WHERE ocsp_pending = 1;
CREATE INDEX certificates_refresh ON certificates(ocsp_next_update);
CREATE TABLE admin_tokens (
    hash        TEXT PRIMARY KEY,       -- hex SHA-256 of the bearer token
    role        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
"#,
    r#"
-- CRLs list the revoked, unexpired certificates of an issuer.
CREATE INDEX certificates_revoked ON certificates(issuer_id, not_after) WHERE revoked_at IS NOT NULL;
"#,
    r#"
-- The tamper-evident audit log (see audit.rs) and its signed checkpoints.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    leaf_hash   BLOB NOT NULL,
    chain_hash  BLOB NOT NULL
);
CREATE TABLE audit_checkpoints (
    size        INTEGER PRIMARY KEY,
    root        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    signature   TEXT NOT NULL
);
"#,
];

pub struct Registry {
    conn: Connection,
}

/// Locks the shared registry. A panic while it was held cannot leave SQLite
/// half-written (transactions roll back), so a poisoned lock is still usable.
pub fn lock(registry: &std::sync::Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A certificate row as the CA and pre-signer need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub serial: String,
    pub issuer_id: String,
    pub profile: String,
    pub subject: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<u8>,
    pub status_version: i64,
}

pub struct NewCertificate<'a> {
    pub serial: &'a str,
    pub issuer_id: &'a str,
    pub profile: &'a str,
    pub subject: Option<&'a str>,
    pub not_before: i64,
    pub not_after: i64,
    pub der: &'a [u8],
    pub issued_at: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    AlreadyRevoked,
    NotFound,
}

const RECORD_COLUMNS: &str = "serial, issuer_id, profile, subject, not_before, not_after, issued_at, \
     revoked_at, revocation_reason, status_version";

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<CertificateRecord> {
    Ok(CertificateRecord {
        serial: row.get(0)?,
        issuer_id: row.get(1)?,
        profile: row.get(2)?,
        subject: row.get(3)?,
        not_before: row.get(4)?,
        not_after: row.get(5)?,
        issued_at: row.get(6)?,
        revoked_at: row.get(7)?,
        revocation_reason: row.get(8)?,
        status_version: row.get(9)?,
    })
}

impl Registry {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path).with_context(|| format!("opening registry {}", path.display()))?;
        // Another process (the CLI, a second `up`) may hold the write lock briefly.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed transaction survives power loss, not just a crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut registry = Self { conn };
        registry.migrate()?;
        Ok(registry)
    }

    fn migrate(&mut self) -> anyhow::Result<()> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql).with_context(|| format!("registry migration {}", i + 1))?;
            tx.pragma_update(None, "user_version", i + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn upsert_issuer(&self, id: &str, name: &str, cert_der: &[u8], now: i64) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO issuers (id, name, cert_der, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, cert_der = excluded.cert_der",
            params![id, name, cert_der, now],
        )?;
        Ok(())
    }

    /// (id, certificate DER) of every issuer.
    pub fn issuers(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let mut stmt = self.conn.prepare("SELECT id, cert_der FROM issuers ORDER BY created_at, id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A transaction that takes the write lock at once (BEGIN IMMEDIATE):
    /// the audit append reads the last entry, and a deferred transaction
    /// could find another process's append committed in between (the CLI
    /// beside a running `up`) and fail instead of waiting its turn.
    fn write_transaction(&self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
    }

    /// Runs `action` and appends `event` to the audit log in one
    /// transaction: both are committed, or neither.
    pub fn audited<T>(
        &self,
        event: &audit::Event<'_>,
        at: i64,
        action: impl FnOnce(&Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let tx = self.write_transaction()?;
        let out = action(&tx)?;
        audit::append(&tx, at, event)?;
        tx.commit()?;
        Ok(out)
    }

    /// Records an issued certificate (audited); durable when this returns.
    pub fn insert_certificate(&self, c: &NewCertificate<'_>) -> anyhow::Result<()> {
        let event = audit::Event {
            kind: "certificate.issue",
            actor: "control",
            detail: serde_json::json!({"serial": c.serial, "profile": c.profile, "subject": c.subject, "issuer": c.issuer_id}),
        };
        self.audited(&event, c.issued_at, |conn| {
            conn.execute(
                "INSERT INTO certificates (serial, issuer_id, profile, subject, not_before, not_after, der, issued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![c.serial, c.issuer_id, c.profile, c.subject, c.not_before, c.not_after, c.der, c.issued_at],
            )?;
            Ok(())
        })
    }

    /// The audit log's checks over this registry (see [`audit::verify`]).
    pub fn verify_audit(
        &self,
        spki: &[u8],
        algorithm: &[u8],
    ) -> anyhow::Result<Result<audit::Intact, audit::Broken>> {
        audit::verify(&self.conn, spki, algorithm)
    }

    /// Signs a checkpoint over the audit log when it grew (see [`audit::checkpoint`]).
    pub fn audit_checkpoint(
        &self,
        signer: &dyn cartorio_pkix::Signer,
        at: i64,
    ) -> anyhow::Result<Option<audit::Checkpoint>> {
        audit::checkpoint(&self.conn, signer, at)
    }

    pub fn certificate(&self, serial: &str) -> anyhow::Result<Option<CertificateRecord>> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM certificates WHERE serial = ?1");
        Ok(self.conn.query_row(&sql, [serial], record).optional()?)
    }

    pub fn revoke(&self, serial: &str, at: i64, reason: u8) -> anyhow::Result<RevokeOutcome> {
        let event = audit::Event {
            kind: "certificate.revoke",
            actor: "control",
            detail: serde_json::json!({"serial": serial, "reason": reason}),
        };
        // The UPDATE and its audit entry commit together; a no-op is not audited.
        let tx = self.write_transaction()?;
        let changed = tx.execute(
            "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3,
                 status_version = status_version + 1, ocsp_pending = 1
             WHERE serial = ?1 AND revoked_at IS NULL",
            params![serial, at, reason],
        )?;
        if changed == 1 {
            audit::append(&tx, at, &event)?;
        }
        tx.commit()?;
        if changed == 1 {
            return Ok(RevokeOutcome::Revoked);
        }
        Ok(match self.certificate(serial)? {
            Some(_) => RevokeOutcome::AlreadyRevoked,
            None => RevokeOutcome::NotFound,
        })
    }

    /// The revoked certificates of `issuer_id` still unexpired at `now`:
    /// (hex serial, revocation time, reason), oldest revocation first.
    pub fn revoked(&self, issuer_id: &str, now: i64) -> anyhow::Result<Vec<(String, i64, u8)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT serial, revoked_at, revocation_reason FROM certificates
             WHERE issuer_id = ?1 AND revoked_at IS NOT NULL AND not_after > ?2
             ORDER BY revoked_at, serial",
        )?;
        let rows = stmt.query_map(params![issuer_id, now], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<u8>>(2)?.unwrap_or(0)))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Certificates whose response must be signed now: revocations first,
    /// then new issuances, then responses due for refresh before `refresh_before`.
    pub fn signing_work(
        &self,
        refresh_before: i64,
        now: i64,
        limit: usize,
    ) -> anyhow::Result<Vec<CertificateRecord>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM certificates WHERE ocsp_pending = 1
             ORDER BY revoked_at IS NULL, issued_at LIMIT ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut work: Vec<CertificateRecord> =
            stmt.query_map([limit as i64], record)?.collect::<Result<_, _>>()?;
        if work.len() < limit {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM certificates
                 WHERE ocsp_pending = 0 AND ocsp_next_update < ?1 AND not_after > ?2
                 ORDER BY ocsp_next_update LIMIT ?3"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rest = (limit - work.len()) as i64;
            work.extend(
                stmt.query_map(params![refresh_before, now, rest], record)?.collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(work)
    }

    /// Records published responses: clears the pending mark unless the
    /// certificate changed again since `status_version` was read.
    pub fn mark_published(&mut self, published: &[(String, i64, i64)], at: i64) -> anyhow::Result<()> {
        let event = audit::Event {
            kind: "ocsp.sign_batch",
            actor: "presigner",
            detail: serde_json::json!({"responses": published.len(),
                "first": published.first().map(|p| &p.0), "last": published.last().map(|p| &p.0)}),
        };
        let tx = self.write_transaction()?;
        audit::append(&tx, at, &event)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE certificates SET ocsp_next_update = ?3,
                     ocsp_pending = CASE WHEN status_version = ?2 THEN 0 ELSE ocsp_pending END
                 WHERE serial = ?1",
            )?;
            for (serial, version, next_update) in published {
                stmt.execute(params![serial, version, next_update])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn add_admin_token(&self, hash: &str, role: &str, now: i64) -> anyhow::Result<()> {
        let event = audit::Event {
            kind: "admin.token_add",
            actor: "control",
            detail: serde_json::json!({"role": role, "token_sha256_prefix": hash.get(..12)}),
        };
        self.audited(&event, now, |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO admin_tokens (hash, role, created_at) VALUES (?1, ?2, ?3)",
                params![hash, role, now],
            )?;
            Ok(())
        })
    }

    /// The role of the token with this hash; the attempt is audited,
    /// successful or not (only a prefix of the hash is recorded).
    pub fn admin_login(&self, hash: &str, now: i64) -> anyhow::Result<Option<String>> {
        let role: Option<String> = self
            .conn
            .query_row("SELECT role FROM admin_tokens WHERE hash = ?1", [hash], |r| r.get(0))
            .optional()?;
        let event = audit::Event {
            kind: "admin.login",
            actor: role.as_deref().unwrap_or("unknown"),
            detail: serde_json::json!({"ok": role.is_some(), "token_sha256_prefix": hash.get(..12)}),
        };
        self.audited(&event, now, |_| Ok(()))?;
        Ok(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_cert<'a>(serial: &'a str, issued_at: i64) -> NewCertificate<'a> {
        NewCertificate {
            serial,
            issuer_id: "i1",
            profile: "server",
            subject: Some("example.test"),
            not_before: 0,
            not_after: 10_000,
            der: b"der",
            issued_at,
        }
    }

    #[test]
    fn pending_work_orders_revocations_first_and_survives_races() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut reg = Registry::open(&dir.path().join("r.db")).expect("open");
        reg.upsert_issuer("i1", "Issuer", b"cert", 0).expect("issuer");
        reg.insert_certificate(&new_cert("01", 1)).expect("insert");
        reg.insert_certificate(&new_cert("02", 2)).expect("insert");
        reg.mark_published(&[("01".into(), 1, 500), ("02".into(), 1, 500)], 100).expect("mark");
        assert!(reg.signing_work(100, 0, 10).expect("work").is_empty());

        assert_eq!(reg.revoke("02", 50, 1).expect("revoke"), RevokeOutcome::Revoked);
        assert_eq!(reg.revoke("02", 51, 1).expect("again"), RevokeOutcome::AlreadyRevoked);
        assert_eq!(reg.revoke("ff", 51, 1).expect("none"), RevokeOutcome::NotFound);
        reg.insert_certificate(&new_cert("03", 3)).expect("insert");
        let work = reg.signing_work(100, 0, 10).expect("work");
        let serials: Vec<_> = work.iter().map(|w| w.serial.as_str()).collect();
        assert_eq!(serials, ["02", "03"]);

        // A response signed for version 1 of "03" does not clear a later change.
        reg.conn.execute("UPDATE certificates SET status_version = 2 WHERE serial = '03'", []).expect("bump");
        reg.mark_published(&[("02".into(), 2, 600), ("03".into(), 1, 600)], 100).expect("mark");
        let work = reg.signing_work(100, 0, 10).expect("work");
        assert_eq!(work.iter().map(|w| w.serial.as_str()).collect::<Vec<_>>(), ["03"]);

        // Refresh: due once nextUpdate is before the horizon.
        let due = reg.signing_work(550, 0, 10).expect("work");
        assert!(due.iter().any(|w| w.serial == "01"));
    }
}
