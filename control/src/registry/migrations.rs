//! The registry's schema: one ordered list of migrations for both engines,
//! each applied once, in its own transaction with the record of it in
//! `schema_version`. Written in SQLite's spelling; PostgreSQL gets the
//! same text with its names for the column types (see [`postgres_types`]),
//! or a text of its own where a migration sets one.

use super::db::{Db, Dialect, Sql};
use anyhow::Context;

pub struct Migration {
    pub sql: &'static str,
    /// Set only where PostgreSQL cannot take `sql` with its types renamed.
    pub postgres: Option<&'static str>,
}

const fn both(sql: &'static str) -> Migration {
    Migration { sql, postgres: None }
}

pub const MIGRATIONS: &[Migration] = &[
    both(
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
    ),
    both(
        r#"
-- CRLs list the revoked, unexpired certificates of an issuer.
CREATE INDEX certificates_revoked ON certificates(issuer_id, not_after) WHERE revoked_at IS NOT NULL;
"#,
    ),
    both(
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
    ),
    both(
        r#"
-- The pre-signer takes pending work in this order; with a million
-- certificates pending (a bulk issuance) sorting them all per batch was
-- the cost, the index hands them over in order.
CREATE INDEX certificates_pending_order ON certificates((revoked_at IS NULL), issued_at) WHERE ocsp_pending = 1;
DROP INDEX certificates_pending;
"#,
    ),
];

/// PostgreSQL's names for the column types the migrations use: `INTEGER`
/// is SQLite's 64-bit integer, `BLOB` its byte string.
pub fn postgres_types(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut word = String::new();
    for c in sql.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        out.push_str(match word.as_str() {
            "INTEGER" => "BIGINT",
            "BLOB" => "BYTEA",
            other => other,
        });
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

impl Migration {
    fn text(&self, dialect: Dialect) -> String {
        match (dialect, self.postgres) {
            (Dialect::Sqlite, _) => self.sql.to_owned(),
            (Dialect::Postgres, Some(sql)) => sql.to_owned(),
            (Dialect::Postgres, None) => postgres_types(self.sql),
        }
    }
}

const SCHEMA_VERSION: Migration = both(
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
);

/// Applies the migrations this database has not seen, in order.
pub fn migrate(db: &mut Db, now: i64) -> anyhow::Result<()> {
    let mut tx = db.migration_transaction()?;
    let dialect = tx.dialect();
    tx.execute_batch(&SCHEMA_VERSION.text(dialect))?;
    let recorded: Option<i64> =
        tx.query_opt("SELECT MAX(version) FROM schema_version", &[], |r| r.get(0))?.flatten();
    let applied = match (recorded, dialect) {
        (Some(version), _) => version,
        // Registries made before `schema_version` counted in user_version.
        (None, Dialect::Sqlite) => {
            tx.query_opt("PRAGMA user_version", &[], |r| r.get::<i64>(0))?.unwrap_or(0)
        }
        (None, Dialect::Postgres) => 0,
    };
    let applied = usize::try_from(applied).context("negative schema version")?;
    anyhow::ensure!(
        applied <= MIGRATIONS.len(),
        "the registry's schema (version {applied}) is newer than this program's ({})",
        MIGRATIONS.len()
    );
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index as i64 + 1;
        tx.execute_batch(&migration.text(dialect))
            .with_context(|| format!("registry migration {version}"))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            crate::sql_params![version, now],
        )?;
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_its_type_names_and_nothing_else_changes() {
        assert_eq!(
            postgres_types("a INTEGER NOT NULL, b BLOB, c INTEGER_X, -- INTEGERS\n"),
            "a BIGINT NOT NULL, b BYTEA, c INTEGER_X, -- INTEGERS\n"
        );
        for migration in MIGRATIONS {
            let pg = migration.text(Dialect::Postgres);
            assert!(!pg.contains("BLOB") && !pg.contains(" INTEGER"), "{pg}");
        }
    }
}
