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
    both(
        r#"
-- The pre-signer's queue moves out of the certificates into a narrow table
-- of its own, keyed (and, in SQLite, stored) in serial order, holding what
-- a response says and when it is due. Recording 50,000 published responses
-- used to rewrite 50,000 scattered certificate rows (each with its DER, a
-- page apiece); here it rewrites a run of small rows, in order, and the
-- pre-signer's queries never touch the certificates.
CREATE TABLE ocsp_state (
    serial            TEXT PRIMARY KEY REFERENCES certificates(serial),
    issuer_id         TEXT NOT NULL,
    issued_at         INTEGER NOT NULL,   -- issuances are signed in this order
    not_after         INTEGER NOT NULL,   -- expired certificates are not refreshed
    revoked_at        INTEGER,            -- as in certificates, set in the same transaction
    revocation_reason INTEGER,
    status_version    INTEGER NOT NULL,   -- bumped by every status change
    pending           INTEGER NOT NULL,   -- 1: status_version has no published response yet
    next_update       INTEGER             -- of the published response; NULL before the first
) WITHOUT ROWID;
INSERT INTO ocsp_state (serial, issuer_id, issued_at, not_after, revoked_at, revocation_reason,
                        status_version, pending, next_update)
    SELECT serial, issuer_id, issued_at, not_after, revoked_at, revocation_reason,
           status_version, ocsp_pending, ocsp_next_update
    FROM certificates;
CREATE INDEX ocsp_state_pending ON ocsp_state((revoked_at IS NULL), issued_at, serial) WHERE pending = 1;
CREATE INDEX ocsp_state_refresh ON ocsp_state(next_update, serial) WHERE pending = 0;
DROP INDEX certificates_pending_order;
DROP INDEX certificates_refresh;
ALTER TABLE certificates DROP COLUMN status_version;
ALTER TABLE certificates DROP COLUMN ocsp_pending;
ALTER TABLE certificates DROP COLUMN ocsp_next_update;
"#,
    ),
    both(
        r#"
-- Each checkpoint keeps the right edge of its Merkle tree (the roots of
-- its perfect subtrees, 32 octets each, largest first) so the next one
-- hashes only the entries appended since. NULL on older checkpoints: the
-- next checkpoint after them hashes the whole log once.
ALTER TABLE audit_checkpoints ADD COLUMN frontier BLOB;
"#,
    ),
    both(
        r#"
-- The audit sequence number of a certificate's last status change (its
-- revocation). A publisher asks which certificates changed after the
-- point its batch was read at, and drops their now stale responses
-- rather than publish them over the change (see presigner.rs).
ALTER TABLE ocsp_state ADD COLUMN changed_seq INTEGER;
CREATE INDEX ocsp_state_changed ON ocsp_state(changed_seq) WHERE changed_seq IS NOT NULL;
"#,
    ),
    both(
        r#"
-- ACME (RFC 8555): accounts by key thumbprint, external account binding
-- keys, orders with their authorizations and challenges, the nonces in
-- flight (shared by control nodes: a nonce is good once, on any node), and
-- the registered domains certificates were issued for (rate limits).
CREATE TABLE acme_accounts (
    id          TEXT PRIMARY KEY,
    thumbprint  TEXT NOT NULL UNIQUE,
    jwk         TEXT NOT NULL,
    status      TEXT NOT NULL,
    contact     TEXT NOT NULL,
    eab_kid     TEXT,
    created_at  INTEGER NOT NULL
);
CREATE TABLE acme_eab_keys (
    kid         TEXT PRIMARY KEY,
    hmac_key    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    account_id  TEXT
);
CREATE TABLE acme_orders (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    identifiers TEXT NOT NULL,
    profile     TEXT NOT NULL,
    error       TEXT,
    serial      TEXT,
    replaces    TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders(account_id, created_at);
CREATE TABLE acme_authzs (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    wildcard    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX acme_authzs_order ON acme_authzs(order_id);
CREATE TABLE acme_challenges (
    id           TEXT PRIMARY KEY,
    authz_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    token        TEXT NOT NULL,
    status       TEXT NOT NULL,
    validated_at INTEGER,
    error        TEXT
);
CREATE INDEX acme_challenges_authz ON acme_challenges(authz_id);
CREATE TABLE acme_nonces (
    nonce       TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX acme_nonces_expiry ON acme_nonces(expires_at);
CREATE TABLE acme_issued (
    domain      TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    serial      TEXT NOT NULL
);
CREATE INDEX acme_issued_domain ON acme_issued(domain, issued_at);
CREATE INDEX acme_orders_serial ON acme_orders(serial);
CREATE INDEX acme_authzs_account ON acme_authzs(account_id, value);
-- An operator asks for early renewal (ARI, RFC 9773): of one certificate
-- (serial) or of every one issued before requested_at (serial '*').
CREATE TABLE acme_renewal_requests (
    serial       TEXT NOT NULL,
    requested_at INTEGER NOT NULL
);
"#,
    ),
    both(
        r#"
-- Admin tokens expire (NULL: when revoked) and are revoked by the operator.
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE admin_tokens ADD COLUMN revoked_at INTEGER;
"#,
    ),
    both(
        r#"
-- The publication epoch (Registry::publication_epoch) without a scan of the log.
CREATE INDEX audit_log_epochs ON audit_log(at) WHERE kind IN ('registry.restored', 'ocsp.refresh_all');
"#,
    ),
];

/// PostgreSQL's spelling of what the migrations say in SQLite's: `INTEGER`
/// is SQLite's 64-bit integer, `BLOB` its byte string, and `WITHOUT ROWID`
/// (store the table in its primary key's order) has no PostgreSQL
/// counterpart to ask for: its tables are heaps beside their key's index.
pub fn postgres_types(sql: &str) -> String {
    let sql = sql.replace(") WITHOUT ROWID;", ");");
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
            assert!(!pg.contains("BLOB") && !pg.contains(" INTEGER") && !pg.contains("ROWID"), "{pg}");
        }
    }
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;
    use crate::registry::db::Database;

    /// Index of the migration that moved the pre-signer's state into `ocsp_state`.
    const OCSP_STATE: usize = 4;

    #[test]
    fn the_ocsp_state_moves_out_of_existing_certificates_intact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = Database::Sqlite(dir.path().join("registry.db"));
        let mut db = Db::open(&database).expect("open");
        // A registry as the version before wrote it.
        db.execute_batch(&SCHEMA_VERSION.text(Dialect::Sqlite)).expect("schema_version");
        for (index, migration) in MIGRATIONS.iter().enumerate().take(OCSP_STATE) {
            db.execute_batch(&migration.text(Dialect::Sqlite)).expect("old migration");
            db.execute("INSERT INTO schema_version VALUES (?1, 0)", crate::sql_params![index as i64 + 1])
                .expect("version");
        }
        db.execute_batch(
            "INSERT INTO issuers VALUES ('i1', 'CA', x'00', 0);
             INSERT INTO certificates (serial, issuer_id, profile, not_before, not_after, der, issued_at,
                                       revoked_at, revocation_reason, status_version, ocsp_pending, ocsp_next_update)
             VALUES ('01', 'i1', 'server', 0, 900, x'30', 10, NULL, NULL, 1, 0, 500),
                    ('02', 'i1', 'server', 0, 900, x'30', 20, 30, 1, 2, 1, 500),
                    ('03', 'i1', 'server', 0, 900, x'30', 40, NULL, NULL, 1, 1, NULL);",
        )
        .expect("old rows");
        migrate(&mut db, 0).expect("upgrade");
        let rows = db
            .query(
                "SELECT serial, issuer_id, issued_at, revoked_at, status_version, pending, next_update
                 FROM ocsp_state ORDER BY serial",
                &[],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<i64>(2)?,
                        r.get::<Option<i64>>(3)?,
                        r.get::<i64>(4)?,
                        r.get::<i64>(5)?,
                        r.get::<Option<i64>>(6)?,
                    ))
                },
            )
            .expect("ocsp_state");
        let row = |s: &str, at, revoked, version, pending, next| {
            (s.to_owned(), "i1".to_owned(), at, revoked, version, pending, next)
        };
        assert_eq!(
            rows,
            [
                row("01", 10, None, 1, 0, Some(500)),
                row("02", 20, Some(30), 2, 1, Some(500)),
                row("03", 40, None, 1, 1, None)
            ]
        );
    }
}
