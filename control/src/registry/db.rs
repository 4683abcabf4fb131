//! The two SQL engines behind the registry, behind one small interface:
//! SQLite (rusqlite; the embedded default, a file in the data directory)
//! and PostgreSQL (the synchronous `postgres` client; the scale-out
//! backend). SQL is written once, in SQLite's spelling with numbered
//! parameters (`?1`); the PostgreSQL side rewrites them to `$1` once per
//! statement, when it prepares and caches it.
//!
//! The `postgres` client blocks on a runtime of its own, which tokio
//! forbids on a thread that runs async tasks: the registry is used from
//! `spawn_blocking`, from plain threads, or through [`off_async`].

use anyhow::Context;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{GenericClient, NoTls, Statement};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the registry lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (WAL, synchronous=FULL).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user@host:port/dbname`); may hold a
    /// password, so it is never printed as is (see [`Database::describe`]).
    Postgres(String),
}

impl Database {
    /// `url` when given (a `postgres://` or `postgresql://` URL), else the
    /// SQLite file of the data directory.
    pub fn select(url: Option<&str>, data_dir: &crate::paths::DataDir) -> anyhow::Result<Self> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Self::Sqlite(data_dir.registry())),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(url.to_owned()))
            }
            Some(_) => {
                anyhow::bail!("database_url must be a postgres:// URL (absent: SQLite in the data directory)")
            }
        }
    }

    /// For messages and logs: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => match url.parse::<postgres::Config>() {
                Ok(config) => {
                    let host = match config.get_hosts().first() {
                        Some(postgres::config::Host::Tcp(host)) => host.clone(),
                        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
                        None => "localhost".into(),
                    };
                    let port = config.get_ports().first().copied().unwrap_or(5432);
                    let user = config.get_user().unwrap_or("");
                    let db = config.get_dbname().unwrap_or("");
                    format!("postgres://{user}@{host}:{port}/{db}")
                }
                Err(_) => "postgres://(unparsable URL)".into(),
            },
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Runs `work` on a thread of its own when called from async code (see
/// the module doc); the thread is joined, so `work` may borrow.
pub fn off_async<T: Send>(work: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    std::thread::scope(|scope| scope.spawn(work).join())
        .map_err(|_| anyhow::anyhow!("a registry thread panicked"))
}

/// A statement parameter, for either engine.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<u8> for Value<'_> {
    fn from(v: u8) -> Self {
        Self::Int(v.into())
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Self::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Self::Blob(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// `params![a, b]`: a slice of [`Value`]s.
#[macro_export]
macro_rules! sql_params {
    ($($value:expr),* $(,)?) => { &[$($crate::registry::db::Value::from($value)),*][..] };
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Self::Null => ValueRef::Null,
            Self::Int(v) => ValueRef::Integer(v),
            Self::Text(v) => ValueRef::Text(v.as_bytes()),
            Self::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(v) => v.to_sql_checked(ty, out),
            Self::Text(v) => v.to_sql_checked(ty, out),
            Self::Blob(v) => v.to_sql_checked(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <&str as ToSql>::accepts(ty) || <&[u8] as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// A column type both engines read: i64, String, `Vec<u8>`, and their `Option`s.
pub trait Column: rusqlite::types::FromSql + for<'r> postgres::types::FromSql<'r> {}
impl<T: rusqlite::types::FromSql + for<'r> postgres::types::FromSql<'r>> Column for T {}

/// A result row, for either engine.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    pub fn get<T: Column>(&self, index: usize) -> anyhow::Result<T> {
        Ok(match self {
            Self::Sqlite(row) => row.get(index)?,
            Self::Postgres(row) => row.try_get(index)?,
        })
    }
}

/// Which spelling a migration needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A PostgreSQL client or transaction, as one type (`GenericClient` is
/// not object safe).
trait PgSession {
    fn prepare_sql(&mut self, sql: &str) -> Result<Statement, postgres::Error>;
    fn batch(&mut self, sql: &str) -> Result<(), postgres::Error>;
    fn run(&mut self, statement: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<u64, postgres::Error>;
    fn rows(
        &mut self,
        statement: &Statement,
        params: Vec<&(dyn ToSql + Sync)>,
    ) -> Result<postgres::RowIter<'_>, postgres::Error>;
}

impl<G: GenericClient> PgSession for G {
    fn prepare_sql(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        self.prepare(sql)
    }

    fn batch(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.batch_execute(sql)
    }

    fn run(&mut self, statement: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<u64, postgres::Error> {
        self.execute(statement, params)
    }

    fn rows(
        &mut self,
        statement: &Statement,
        params: Vec<&(dyn ToSql + Sync)>,
    ) -> Result<postgres::RowIter<'_>, postgres::Error> {
        self.query_raw(statement, params)
    }
}

/// Prepared statements by their SQLite-spelled text (PostgreSQL keeps
/// them per session, through commits and rollbacks).
type Statements = HashMap<String, Statement>;

/// Where statements run: a connection or a transaction, of either engine.
pub struct Session<'s>(SessionKind<'s>);

enum SessionKind<'s> {
    Sqlite(&'s rusqlite::Connection),
    Postgres(&'s mut dyn PgSession, &'s mut Statements),
}

/// `?N` → `$N`: our SQL never holds `?` otherwise.
fn postgres_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

fn pg_statement(
    client: &mut dyn PgSession,
    statements: &mut Statements,
    sql: &str,
) -> anyhow::Result<Statement> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare_sql(&postgres_placeholders(sql))?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

fn pg_params<'v>(params: &'v [Value<'_>]) -> Vec<&'v (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// Runs SQL on a connection or in a transaction.
pub trait Sql {
    fn dialect(&self) -> Dialect;

    fn session(&mut self) -> anyhow::Result<Session<'_>>;

    /// Several statements, no parameters (migrations).
    fn execute_batch(&mut self, sql: &str) -> anyhow::Result<()> {
        match self.session()?.0 {
            SessionKind::Sqlite(conn) => conn.execute_batch(sql)?,
            SessionKind::Postgres(client, _) => client.batch(sql)?,
        }
        Ok(())
    }

    /// One statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> anyhow::Result<u64> {
        Ok(match self.session()?.0 {
            SessionKind::Sqlite(conn) => {
                conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params))? as u64
            }
            SessionKind::Postgres(client, statements) => {
                let statement = pg_statement(client, statements, sql)?;
                client.run(&statement, &pg_params(params))?
            }
        })
    }

    /// Calls `each` on every row, streamed (not collected first).
    fn for_each(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match self.session()?.0 {
            SessionKind::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                while let Some(row) = rows.next()? {
                    each(&Row::Sqlite(row))?;
                }
            }
            SessionKind::Postgres(client, statements) => {
                let statement = pg_statement(client, statements, sql)?;
                let mut rows = client.rows(&statement, pg_params(params))?;
                while let Some(row) = rows.next()? {
                    each(&Row::Postgres(&row))?;
                }
            }
        }
        Ok(())
    }

    fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        mut map: impl FnMut(&Row<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>>
    where
        Self: Sized,
    {
        let mut out = Vec::new();
        self.for_each(sql, params, &mut |row| {
            out.push(map(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        map: impl FnMut(&Row<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<Option<T>>
    where
        Self: Sized,
    {
        Ok(self.query(sql, params, map)?.into_iter().next())
    }
}

/// A PostgreSQL session and its prepared statements.
pub struct Postgres {
    /// Always `Some` but while being dropped (see `Drop`).
    client: Option<postgres::Client>,
    statements: Statements,
}

impl Drop for Postgres {
    /// Closing the session blocks on the client's runtime: off async threads.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = off_async(move || drop(client));
        }
    }
}

/// An open registry database.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Postgres>),
}

impl Db {
    pub fn open(database: &Database) -> anyhow::Result<Self> {
        let context = || format!("opening the registry {}", database.describe());
        match database {
            Database::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).with_context(context)?;
                // Another process (the CLI, a second `up`) may hold the write lock briefly.
                conn.busy_timeout(Duration::from_secs(10))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                // FULL: a committed transaction survives power loss, not just a crash.
                conn.pragma_update(None, "synchronous", "FULL")?;
                conn.pragma_update(None, "foreign_keys", "ON")?;
                Ok(Self::Sqlite(conn))
            }
            Database::Postgres(url) => {
                let mut config: postgres::Config = url.parse().with_context(context)?;
                config.connect_timeout(Duration::from_secs(10));
                // Loopback or a trusted network: no TLS (see the README).
                let client = config.connect(NoTls).with_context(context)?;
                Ok(Self::Postgres(Box::new(Postgres { client: Some(client), statements: Statements::new() })))
            }
        }
    }

    /// A transaction that holds the registry's write lock from its start,
    /// so audit appends (which read the chain head) never race:
    /// SQLite's BEGIN IMMEDIATE, and on PostgreSQL a lock on `audit_log`
    /// that only one writer holds at a time (readers pass), across every
    /// control node sharing the database.
    pub fn write_transaction(&mut self) -> anyhow::Result<Tx<'_>> {
        self.transaction(Some("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
    }

    /// A transaction for writes that are not audited (ACME orders and
    /// challenges): no lock beyond the rows it touches on PostgreSQL;
    /// SQLite's writer lock as always.
    pub fn plain_transaction(&mut self) -> anyhow::Result<Tx<'_>> {
        self.transaction(None)
    }

    /// Commits on this connection stop waiting for the disk: SQLite
    /// `synchronous=NORMAL` in WAL mode, PostgreSQL `synchronous_commit =
    /// off`. A crash loses at most the last moments of its writes, never
    /// corrupts; for data a loss of which is harmless (ACME nonces: a
    /// nonce lost is one the client retries; one recorded used and lost
    /// could be replayed only across a power loss).
    pub fn relax_durability(&mut self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(conn) => conn.pragma_update(None, "synchronous", "NORMAL")?,
            Self::Postgres(_) => self.execute_batch("SET synchronous_commit = off")?,
        }
        Ok(())
    }

    /// A transaction for migrations: the schema may not exist yet, so
    /// PostgreSQL writers serialise on an advisory lock instead.
    pub fn migration_transaction(&mut self) -> anyhow::Result<Tx<'_>> {
        // Any fixed key: "cartorio" in ASCII.
        self.transaction(Some("SELECT pg_advisory_xact_lock(7161132939587625327)"))
    }

    fn transaction(&mut self, postgres_lock: Option<&str>) -> anyhow::Result<Tx<'_>> {
        match self {
            Self::Sqlite(conn) => {
                Ok(Tx::Sqlite(rusqlite::Transaction::new(conn, rusqlite::TransactionBehavior::Immediate)?))
            }
            Self::Postgres(pg) => {
                let client = pg.client.as_mut().context("the PostgreSQL session is closed")?;
                let mut tx = client.transaction()?;
                if let Some(lock) = postgres_lock {
                    tx.batch_execute(lock)?;
                }
                Ok(Tx::Postgres(tx, &mut pg.statements))
            }
        }
    }
}

impl Sql for Db {
    fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    fn session(&mut self) -> anyhow::Result<Session<'_>> {
        Ok(Session(match self {
            Self::Sqlite(conn) => SessionKind::Sqlite(conn),
            Self::Postgres(pg) => {
                let Postgres { client, statements } = &mut **pg;
                let client = client.as_mut().context("the PostgreSQL session is closed")?;
                SessionKind::Postgres(client, statements)
            }
        }))
    }
}

/// An open transaction; rolled back when dropped without [`Tx::commit`].
pub enum Tx<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres(postgres::Transaction<'c>, &'c mut Statements),
}

impl Tx<'_> {
    pub fn commit(self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(tx) => tx.commit()?,
            Self::Postgres(tx, _) => tx.commit()?,
        }
        Ok(())
    }
}

impl Sql for Tx<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(..) => Dialect::Postgres,
        }
    }

    fn session(&mut self) -> anyhow::Result<Session<'_>> {
        Ok(Session(match self {
            Self::Sqlite(tx) => SessionKind::Sqlite(tx),
            Self::Postgres(tx, statements) => SessionKind::Postgres(tx, statements),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_show_the_password() {
        let db = Database::Postgres("postgres://carto:s3cret@db.internal:6543/reg".into());
        assert_eq!(db.describe(), "postgres://carto@db.internal:6543/reg");
        assert!(!format!("{db:?}").contains("s3cret"));
    }

    #[test]
    fn placeholders_are_renumbered_for_postgres() {
        assert_eq!(postgres_placeholders("WHERE a = ?2 AND b = ?10"), "WHERE a = $2 AND b = $10");
    }
}
