//! The registry of issued certificates: SQLite (WAL, synchronous=FULL) by
//! default, PostgreSQL when a database URL says so (see [`db`]); one schema
//! and one list of migrations for both (see [`migrations`]).
//!
//! Each certificate has a row in `ocsp_state`, the pre-signer's queue.
//! Every state change marks it `pending` in the same transaction, and bumps
//! `status_version`; the pre-signer clears the mark only for the version it
//! signed. So a crash or a race never leaves a change without a response
//! to be signed.

pub mod acme;
mod admin_tokens;
pub mod db;
pub mod migrations;

pub use admin_tokens::{AdminToken, TOKEN_PREFIX_LEN, TokenRevocation};

use crate::audit;
use crate::sql_params;
pub use db::{Database, off_async};
use db::{Db, Sql, Tx};

pub struct Registry {
    db: Db,
}

/// Locks the shared registry. A panic while it was held cannot leave the
/// database half-written (transactions roll back), so a poisoned lock is
/// still usable.
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

/// A certificate whose OCSP response is to be signed: what the response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspWork {
    pub serial: String,
    pub issuer_id: String,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<u8>,
    /// The status change the response answers (see `mark_published`).
    pub status_version: i64,
}

const OCSP_WORK_COLUMNS: &str = "serial, issuer_id, revoked_at, revocation_reason, status_version";

fn ocsp_work(row: &db::Row<'_>) -> anyhow::Result<OcspWork> {
    Ok(OcspWork {
        serial: row.get(0)?,
        issuer_id: row.get(1)?,
        revoked_at: row.get(2)?,
        revocation_reason: reason(row.get(3)?)?,
        status_version: row.get(4)?,
    })
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
    /// Issued to an ACME order (audited with the account; the order is
    /// completed in the same transaction).
    pub acme: Option<&'a AcmeIssue>,
}

/// An ACME order a certificate completes.
#[derive(Debug, Clone)]
pub struct AcmeIssue {
    pub account: String,
    pub order: String,
    /// The registered domains of its names (rate limits).
    pub domains: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    AlreadyRevoked,
    NotFound,
}

/// [`CertificateRecord`]'s columns, from `RECORD_FROM`.
const RECORD_COLUMNS: &str = "c.serial, c.issuer_id, c.profile, c.subject, c.not_before, c.not_after, \
     c.issued_at, c.revoked_at, c.revocation_reason, s.status_version";
const RECORD_FROM: &str = "certificates c JOIN ocsp_state s ON s.serial = c.serial";

fn reason(code: Option<i64>) -> anyhow::Result<Option<u8>> {
    code.map(|c| u8::try_from(c).map_err(|_| anyhow::anyhow!("revocation reason {c} out of range")))
        .transpose()
}

fn record(row: &db::Row<'_>) -> anyhow::Result<CertificateRecord> {
    Ok(CertificateRecord {
        serial: row.get(0)?,
        issuer_id: row.get(1)?,
        profile: row.get(2)?,
        subject: row.get(3)?,
        not_before: row.get(4)?,
        not_after: row.get(5)?,
        issued_at: row.get(6)?,
        revoked_at: row.get(7)?,
        revocation_reason: reason(row.get(8)?)?,
        status_version: row.get(9)?,
    })
}

impl Registry {
    /// Opens (creating the schema, or bringing it up to date) the registry
    /// in `database`. With PostgreSQL, call it off async threads (see [`db`]).
    pub fn open(database: &Database) -> anyhow::Result<Self> {
        let mut db = Db::open(database)?;
        migrations::migrate(&mut db, cartorio_platform::clock::unix_seconds())?;
        Ok(Self { db })
    }

    /// Which engine this registry runs on.
    pub fn dialect(&self) -> db::Dialect {
        self.db.dialect()
    }

    pub fn upsert_issuer(&mut self, id: &str, name: &str, cert_der: &[u8], now: i64) -> anyhow::Result<()> {
        self.db.execute(
            "INSERT INTO issuers (id, name, cert_der, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, cert_der = excluded.cert_der",
            sql_params![id, name, cert_der, now],
        )?;
        Ok(())
    }

    /// (id, name, certificate DER) of every issuer.
    /// Whether the database answers a query (`/readyz`).
    pub fn ping(&mut self) -> anyhow::Result<()> {
        // BIGINT: PostgreSQL types a bare 1 as int4, which is no i64.
        let answered: Vec<i64> = self.db.query("SELECT CAST(1 AS BIGINT)", &[], |r| r.get(0))?;
        anyhow::ensure!(answered == [1], "the registry answered {answered:?} to SELECT 1");
        Ok(())
    }

    pub fn issuers(&mut self) -> anyhow::Result<Vec<(String, String, Vec<u8>)>> {
        self.db.query("SELECT id, name, cert_der FROM issuers ORDER BY created_at, id", &[], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    }

    /// Runs `action` and appends `event` to the audit log in one
    /// transaction: both are committed, or neither.
    pub fn audited<T>(
        &mut self,
        event: &audit::Event<'_>,
        at: i64,
        action: impl FnOnce(&mut Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut tx = self.db.write_transaction()?;
        let out = action(&mut tx)?;
        audit::append(&mut tx, at, event)?;
        tx.commit()?;
        Ok(out)
    }

    /// Records an issued certificate (audited); durable when this returns.
    pub fn insert_certificate(&mut self, certificate: &NewCertificate<'_>) -> anyhow::Result<()> {
        self.insert_certificates(std::slice::from_ref(certificate))
    }

    /// Records issued certificates, each with its audit entry, in one
    /// transaction: all are committed, or none. One commit (one fsync)
    /// for the batch is what lets bulk issuance outrun the disk.
    pub fn insert_certificates(&mut self, certificates: &[NewCertificate<'_>]) -> anyhow::Result<()> {
        let mut tx = self.db.write_transaction()?;
        let mut chain = audit::ChainHead::read(&mut tx)?;
        for c in certificates {
            tx.execute(
                "INSERT INTO certificates (serial, issuer_id, profile, subject, not_before, not_after, der, issued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                sql_params![c.serial, c.issuer_id, c.profile, c.subject, c.not_before, c.not_after, c.der, c.issued_at],
            )?;
            tx.execute(
                "INSERT INTO ocsp_state (serial, issuer_id, issued_at, not_after, status_version, pending)
                 VALUES (?1, ?2, ?3, ?4, 1, 1)",
                sql_params![c.serial, c.issuer_id, c.issued_at, c.not_after],
            )?;
            let mut detail = serde_json::json!({"serial": c.serial, "profile": c.profile, "subject": c.subject, "issuer": c.issuer_id});
            if let Some(acme) = c.acme {
                detail["account"] = acme.account.as_str().into();
                detail["order"] = acme.order.as_str().into();
                acme::complete_order(&mut tx, acme, c.serial, c.issued_at)?;
            }
            let actor = if c.acme.is_some() { "acme" } else { "control" };
            let event = audit::Event { kind: "certificate.issue", actor, detail };
            chain.append(&mut tx, c.issued_at, &event)?;
        }
        tx.commit()
    }

    /// The audit log's checks over this registry, with the audit public
    /// key, against its own checkpoints and `external` ones (see
    /// [`audit::verify`]).
    pub fn verify_audit(
        &mut self,
        key: &audit::AuditKey,
        external: &[audit::Sourced],
    ) -> anyhow::Result<Result<audit::Intact, audit::Broken>> {
        audit::verify(&mut self.db, key, external)
    }

    /// Signs a checkpoint over the audit log when it grew (see [`audit::checkpoint`]).
    pub fn audit_checkpoint(
        &mut self,
        signer: &dyn cartorio_pkix::Signer,
        at: i64,
    ) -> anyhow::Result<Option<audit::Checkpoint>> {
        // Under the write lock: two nodes never sign the same size twice.
        let mut tx = self.db.write_transaction()?;
        let checkpoint = audit::checkpoint(&mut tx, signer, at)?;
        tx.commit()?;
        Ok(checkpoint)
    }

    pub fn certificate(&mut self, serial: &str) -> anyhow::Result<Option<CertificateRecord>> {
        self.db.query_opt(&BY_SERIAL_SQL, sql_params![serial], record)
    }

    pub fn revoke(&mut self, serial: &str, at: i64, reason: u8) -> anyhow::Result<RevokeOutcome> {
        self.revoke_as(serial, at, reason, None)
    }

    /// [`Registry::revoke`], audited as asked by an ACME account when one is given.
    pub fn revoke_as(
        &mut self,
        serial: &str,
        at: i64,
        reason: u8,
        acme_account: Option<&str>,
    ) -> anyhow::Result<RevokeOutcome> {
        let mut detail = serde_json::json!({"serial": serial, "reason": reason});
        if let Some(account) = acme_account {
            detail["account"] = account.into();
        }
        let actor = if acme_account.is_some() { "acme" } else { "control" };
        let event = audit::Event { kind: "certificate.revoke", actor, detail };
        // The UPDATE and its audit entry commit together; a no-op is not audited.
        let mut tx = self.db.write_transaction()?;
        let changed = tx.execute(
            "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3
             WHERE serial = ?1 AND revoked_at IS NULL",
            sql_params![serial, at, reason],
        )?;
        if changed == 1 {
            let seq = audit::append(&mut tx, at, &event)?;
            tx.execute(
                "UPDATE ocsp_state SET revoked_at = ?2, revocation_reason = ?3,
                     status_version = status_version + 1, pending = 1, changed_seq = ?4
                 WHERE serial = ?1",
                sql_params![serial, at, reason, seq],
            )?;
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
    pub fn revoked(&mut self, issuer_id: &str, now: i64) -> anyhow::Result<Vec<(String, i64, u8)>> {
        self.db.query(REVOKED_SQL, sql_params![issuer_id, now], |r| {
            Ok((r.get(0)?, r.get(1)?, reason(r.get(2)?)?.unwrap_or(0)))
        })
    }

    /// Certificates whose response must be signed now: revocations first,
    /// then new issuances, then responses due for refresh before `refresh_before`.
    pub fn signing_work(
        &mut self,
        refresh_before: i64,
        now: i64,
        limit: usize,
    ) -> anyhow::Result<Vec<OcspWork>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut work = self.db.query(&PENDING_SQL, sql_params![limit], ocsp_work)?;
        let rest = limit - work.len() as i64;
        if rest > 0 {
            work.extend(self.db.query(&REFRESH_SQL, sql_params![refresh_before, now, rest], ocsp_work)?);
        }
        Ok(work)
    }

    /// A point in the registry's history (the audit log's last sequence
    /// number): status changes committed later have a `changed_seq` above
    /// it. Read before the signing work, so a batch can be checked against
    /// what changed after it was read ([`Registry::changed_since`]).
    pub fn change_mark(&mut self) -> anyhow::Result<i64> {
        Ok(self.db.query_opt("SELECT COALESCE(MAX(seq), 0) FROM audit_log", &[], |r| r.get(0))?.unwrap_or(0))
    }

    /// The certificates whose status changed after `mark`, with the
    /// status version each is at now.
    pub fn changed_since(&mut self, mark: i64) -> anyhow::Result<std::collections::HashMap<String, i64>> {
        let rows = self.db.query(
            "SELECT serial, status_version FROM ocsp_state WHERE changed_seq > ?1",
            sql_params![mark],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
        )?;
        Ok(rows.into_iter().collect())
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
        self.audited(&event, at, |tx| {
            for (serial, version, next_update) in published {
                tx.execute(
                    "UPDATE ocsp_state SET next_update = ?3,
                         pending = CASE WHEN status_version = ?2 THEN 0 ELSE pending END
                     WHERE serial = ?1",
                    sql_params![serial, *version, *next_update],
                )?;
            }
            Ok(())
        })
    }

    /// Brings the planner's statistics on the pre-signer's queue up to
    /// date. PostgreSQL plans `signing_work` from them: right after a bulk
    /// issuance, before autovacuum's first ANALYZE, it takes a million
    /// pending rows for a few hundred and sorts them all for every batch.
    /// SQLite's plans here do not depend on statistics.
    pub fn refresh_statistics(&mut self) -> anyhow::Result<()> {
        if self.db.dialect() == db::Dialect::Postgres {
            self.db.execute_batch("ANALYZE ocsp_state")?;
        }
        Ok(())
    }

    /// How many certificates [`Registry::signing_work`] has to hand out
    /// in all (a bulk run's progress total).
    pub fn signing_backlog(&mut self, refresh_before: i64, now: i64) -> anyhow::Result<u64> {
        let counts = self.db.query(
            "SELECT COUNT(*) FROM ocsp_state WHERE pending = 1
             UNION ALL
             SELECT COUNT(*) FROM ocsp_state WHERE pending = 0 AND next_update < ?1 AND not_after > ?2",
            sql_params![refresh_before, now],
            |r| r.get::<i64>(0),
        )?;
        Ok(counts.into_iter().map(|n| u64::try_from(n).unwrap_or(0)).sum())
    }

    /// Makes every unexpired certificate's response due for refresh now
    /// (audited): after a responder key change, or to re-sign everything.
    pub fn refresh_all(&mut self, now: i64) -> anyhow::Result<u64> {
        let event = audit::Event { kind: "ocsp.refresh_all", actor: "cli", detail: serde_json::json!({}) };
        self.refresh_all_with(&event, now)
    }

    /// The epoch manifests are published under (see
    /// `cartorio_pkix::publication::Manifest::epoch`): when this registry
    /// was last restored or had every response re-signed (the step that
    /// follows restoring a PostgreSQL registry, see docs/runbook.md); 0 if
    /// never. Read once per publisher: a restore restarts the nodes.
    pub fn publication_epoch(&mut self) -> anyhow::Result<i64> {
        let latest = self.db.query(PUBLICATION_EPOCH, sql_params![], |r| r.get::<i64>(0))?;
        Ok(latest.into_iter().next().unwrap_or(0))
    }

    /// Records that this registry was restored from the backup made at
    /// `backup_created_at`, and makes every response due: the store's
    /// manifest may predate the registry snapshot.
    pub fn restored(&mut self, backup_created_at: &str, now: i64) -> anyhow::Result<u64> {
        let event = audit::Event {
            kind: "registry.restored",
            actor: "cli",
            detail: serde_json::json!({"backup_created_at": backup_created_at}),
        };
        self.refresh_all_with(&event, now)
    }

    fn refresh_all_with(&mut self, event: &audit::Event<'_>, now: i64) -> anyhow::Result<u64> {
        self.audited(event, now, |tx| {
            tx.execute(
                "UPDATE ocsp_state SET next_update = 0 WHERE pending = 0 AND not_after > ?1",
                sql_params![now],
            )
        })
    }

    /// The engine's plan for `sql` (EXPLAIN QUERY PLAN / EXPLAIN), one line
    /// a row: how the benches show that the queries above use their indexes.
    pub fn explain(&mut self, sql: &str, params: &[db::Value<'_>]) -> anyhow::Result<Vec<String>> {
        match self.db.dialect() {
            db::Dialect::Sqlite => self.db.query(&format!("EXPLAIN QUERY PLAN {sql}"), params, |r| r.get(3)),
            db::Dialect::Postgres => self.db.query(&format!("EXPLAIN {sql}"), params, |r| r.get(0)),
        }
    }
}

/// [`Registry::publication_epoch`]'s query, answered from the partial index
/// `audit_log_epochs`.
pub const PUBLICATION_EPOCH: &str = "SELECT CAST(COALESCE(MAX(at), 0) AS BIGINT) FROM audit_log \
     WHERE kind IN ('registry.restored', 'ocsp.refresh_all')";

/// The CRL's query (see [`Registry::revoked`]).
pub const REVOKED_SQL: &str = "SELECT serial, revoked_at, revocation_reason FROM certificates
     WHERE issuer_id = ?1 AND revoked_at IS NOT NULL AND not_after > ?2
     ORDER BY revoked_at, serial";

/// The pre-signer's queries (see [`Registry::signing_work`]): each order
/// is an index's (`ocsp_state_pending`, `ocsp_state_refresh`). Refreshes
/// come in serial order, so recording a batch walks `ocsp_state` in order.
pub static PENDING_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {OCSP_WORK_COLUMNS} FROM ocsp_state WHERE pending = 1
         ORDER BY revoked_at IS NULL, issued_at, serial LIMIT ?1"
    )
});
pub static REFRESH_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {OCSP_WORK_COLUMNS} FROM ocsp_state
         WHERE pending = 0 AND next_update < ?1 AND not_after > ?2
         ORDER BY next_update, serial LIMIT ?3"
    )
});
/// A lookup by serial (see [`Registry::certificate`]).
pub static BY_SERIAL_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("SELECT {RECORD_COLUMNS} FROM {RECORD_FROM} WHERE c.serial = ?1"));
