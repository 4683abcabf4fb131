//! Throwaway PostgreSQL databases for tests and benches. `scripts/test.sh`
//! starts a cluster on loopback and names it in `CARTORIO_TEST_POSTGRES_URL`
//! (`postgres://postgres@127.0.0.1:PORT/postgres`); each test creates a
//! database of its own there, so tests run in parallel, and drops it after.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the test cluster (a URL whose user may create databases).
pub const POSTGRES_URL_VAR: &str = "CARTORIO_TEST_POSTGRES_URL";

/// A database of its own on the test cluster; dropped with this value.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of this database.
    pub url: String,
}

impl TestDatabase {
    /// A fresh database on the cluster [`POSTGRES_URL_VAR`] names; `None`,
    /// said on stderr past the test harness's capture, when it is unset.
    pub fn from_env(test: &str) -> Option<Self> {
        let Some(admin_url) = std::env::var(POSTGRES_URL_VAR).ok().filter(|u| !u.is_empty()) else {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (PostgreSQL): {test}: {POSTGRES_URL_VAR} is not set; scripts/test.sh sets it"
            );
            return None;
        };
        match Self::create(&admin_url, test) {
            Ok(db) => Some(db),
            Err(error) => panic!("creating a test database on {POSTGRES_URL_VAR}: {error:#}"),
        }
    }

    /// Creates a database on the cluster of `admin_url`, named after `label`.
    pub fn create(admin_url: &str, label: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let label: String =
            label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(30).collect();
        let name = format!(
            "cartorio_{}_{}_{}",
            label.to_ascii_lowercase(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(admin_url, &format!("CREATE DATABASE {name}"))?;
        // The cluster's URL with this database as its path.
        let after_scheme = admin_url.find("://").map_or(0, |i| i + 3);
        let base = match admin_url[after_scheme..].find('/') {
            Some(slash) => &admin_url[..after_scheme + slash],
            None => admin_url,
        };
        let url = format!("{base}/{name}");
        Ok(Self { admin_url: admin_url.to_owned(), name, url })
    }
}

/// Runs `sql` on its own thread: the synchronous client refuses to run on
/// an async runtime's thread, where tests may call this from.
fn admin(url: &str, sql: &str) -> anyhow::Result<()> {
    let run = || -> anyhow::Result<()> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        client.batch_execute(sql)?;
        Ok(())
    };
    std::thread::scope(|scope| scope.spawn(run).join())
        .map_err(|_| anyhow::anyhow!("a PostgreSQL admin thread panicked"))?
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE: a process that still holds a session (a killed server) does not keep it.
        let _ = admin(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}
