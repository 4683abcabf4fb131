//! The registry at scale: issuance rate through the real issuance path, and
//! the queries the control plane makes, timed with a million certificates
//! in the registry, with the engine's plan for each (index or scan).
//!
//!     cargo run --release -p cartorio-benches --bin registry-scale -- \
//!         [--certs N] [--batch B] [--single M] [--clients C] [--postgres URL] [--skip-sqlite]
//!
//! or `benches/registry_scale.sh [N]`, which starts a throwaway PostgreSQL
//! cluster (durable settings: fsync on) and runs both engines.
//!
//! For each engine (SQLite in a temporary data directory; PostgreSQL in a
//! fresh database on the cluster of URL, whose user may create databases,
//! dropped afterwards): M issuances one at a time (`Control::issue`, the
//! admin API's path: one commit each; default 2,000), M more from C
//! concurrent clients (default 16; concurrent issuances share commits,
//! see `issuance::GroupCommit`), then the registry filled to N (default
//! 1,000,000) with `Control::issue_batch`, B per commit (default 500).
//! Both verify the CSR, sign the certificate with the software issuing key
//! and insert it with its audit entry in the same transaction. Then, at N:
//! lookups by serial, revocations (a commit each), the CRL's list of
//! revoked certificates, the pre-signer's `signing_work` and
//! `mark_published` for a batch of 10,000, and `audit verify`.

use cartorio_control::paths::DataDir;
use cartorio_control::registry::{self, Database, Registry};
use cartorio_control::{Control, ControlConfig};
use cartorio_testkit::postgres::TestDatabase;
use std::time::{Duration, Instant};

struct Options {
    certs: usize,
    batch: usize,
    single: usize,
    clients: usize,
    postgres: Option<String>,
    sqlite: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut o =
        Options { certs: 1_000_000, batch: 500, single: 2_000, clients: 16, postgres: None, sqlite: true };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--certs" => o.certs = value()?.parse()?,
            "--batch" => o.batch = value()?.parse()?,
            "--single" => o.single = value()?.parse()?,
            "--clients" => o.clients = value()?.parse()?,
            "--postgres" => o.postgres = Some(value()?),
            "--skip-sqlite" => o.sqlite = false,
            other => anyhow::bail!("unknown argument {other:?} (see the header of registry_scale.rs)"),
        }
    }
    anyhow::ensure!(
        o.batch > 0 && o.clients > 0 && 2 * o.single <= o.certs,
        "need --batch > 0, --clients > 0 and 2 x --single <= --certs"
    );
    Ok(o)
}

/// A P-256 CSR from openssl, reused for every certificate (each gets a
/// serial of its own; the CSR is still parsed and verified each time).
fn csr(dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join("bench.csr");
    let status = std::process::Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout"])
        .arg(dir.join("bench.key"))
        .arg("-out")
        .arg(&path)
        .args(["-subj", "/CN=bench.example.test", "-addext", "subjectAltName=DNS:bench.example.test"])
        .stderr(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "openssl req failed");
    Ok(std::fs::read(path)?)
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// Fills the registry; returns every serial issued.
async fn fill(control: &Control, csr: &[u8], o: &Options) -> anyhow::Result<Vec<String>> {
    let mut serials = Vec::with_capacity(o.certs);
    let start = Instant::now();
    for _ in 0..o.single {
        serials.push(control.issue(csr.to_vec(), "server".into(), None).await?.serial);
    }
    if o.single > 0 {
        println!(
            "  issue, one client, one commit each: {} certs, {:.0} certs/s",
            o.single,
            rate(o.single, start.elapsed())
        );
        let start = Instant::now();
        let clients: Vec<_> = (0..o.clients)
            .map(|client| {
                let (control, csr) = (control.clone(), csr.to_vec());
                let n = o.single / o.clients + usize::from(client < o.single % o.clients);
                tokio::spawn(async move {
                    let mut serials = Vec::with_capacity(n);
                    for _ in 0..n {
                        serials.push(control.issue(csr.clone(), "server".into(), None).await?.serial);
                    }
                    anyhow::Ok(serials)
                })
            })
            .collect();
        for client in clients {
            serials.extend(client.await??);
        }
        println!(
            "  issue, {} concurrent clients (group commit): {} certs, {:.0} certs/s",
            o.clients,
            o.single,
            rate(o.single, start.elapsed())
        );
    }
    let (start, mut reported) = (Instant::now(), Instant::now());
    let batched = o.certs - serials.len();
    while serials.len() < o.certs {
        let n = o.batch.min(o.certs - serials.len());
        let issued = control.issue_batch(vec![csr.to_vec(); n], "server".into()).await?;
        serials.extend(issued.into_iter().map(|i| i.serial));
        if reported.elapsed() > Duration::from_secs(30) {
            let done = serials.len() - 2 * o.single;
            println!("    ... {} certs, {:.0} certs/s so far", serials.len(), rate(done, start.elapsed()));
            reported = Instant::now();
        }
    }
    if batched > 0 {
        let elapsed = start.elapsed();
        println!(
            "  issue_batch, {} per commit: {batched} certs in {:.1} s, {:.0} certs/s",
            o.batch,
            elapsed.as_secs_f64(),
            rate(batched, elapsed)
        );
    }
    Ok(serials)
}

/// Mean and 99th percentile of `samples`.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    let p99 = samples.get(samples.len() * 99 / 100).copied().unwrap_or_default();
    format!("mean {mean:.2?}, p99 {p99:.2?} ({} samples)", samples.len())
}

fn plan(registry: &mut Registry, sql: &str, params: &[registry::db::Value<'_>]) -> anyhow::Result<()> {
    for line in registry.explain(sql, params)? {
        println!("      plan: {line}");
    }
    Ok(())
}

/// A deterministic spread of indexes into the serials.
fn sample(len: usize, count: usize, seed: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed)) % len.max(1))
}

fn queries(database: &Database, serials: &[String]) -> anyhow::Result<()> {
    let mut registry = Registry::open(database)?;
    let now = cartorio_platform::clock::unix_seconds();
    let issuer = registry.issuers()?.first().map(|(id, _, _)| id.clone()).unwrap_or_default();
    println!("  at {} certificates:", serials.len());

    let lookups: Vec<Duration> = sample(serials.len(), 1_000, 7)
        .map(|i| {
            let start = Instant::now();
            let found = registry.certificate(&serials[i]).map(|r| r.is_some());
            (start.elapsed(), found)
        })
        .map(|(elapsed, found)| found.map(|_| elapsed))
        .collect::<anyhow::Result<_>>()?;
    println!("    lookup by serial: {}", summary(lookups));
    plan(&mut registry, &registry::BY_SERIAL_SQL, cartorio_control::sql_params![serials[0].as_str()])?;

    let mut revocations = Vec::new();
    for i in sample(serials.len(), 1_000, 11) {
        let start = Instant::now();
        registry.revoke(&serials[i], now, 1)?;
        revocations.push(start.elapsed());
    }
    println!("    revoke (a commit each, audited): {}", summary(revocations));

    let start = Instant::now();
    let revoked = registry.revoked(&issuer, now)?;
    println!("    CRL list of revoked: {} entries in {:.2?}", revoked.len(), start.elapsed());
    plan(&mut registry, registry::REVOKED_SQL, cartorio_control::sql_params![issuer.as_str(), now])?;

    // As a bulk run (`cartorio presign`) does first.
    let start = Instant::now();
    registry.refresh_statistics()?;
    println!("    planner statistics refreshed in {:.2?}", start.elapsed());
    let start = Instant::now();
    let work = registry.signing_work(now + 3600, now, 10_000)?;
    println!("    signing_work, batch of 10,000: {} in {:.2?}", work.len(), start.elapsed());
    plan(&mut registry, &registry::PENDING_SQL, cartorio_control::sql_params![10_000i64])?;
    plan(&mut registry, &registry::REFRESH_SQL, cartorio_control::sql_params![now + 3600, now, 10_000i64])?;

    let published: Vec<(String, i64, i64)> =
        work.iter().map(|w| (w.serial.clone(), w.status_version, now + 4 * 86_400)).collect();
    let start = Instant::now();
    registry.mark_published(&published, now)?;
    println!("    mark_published, batch of {}: {:.2?}", published.len(), start.elapsed());
    let start = Instant::now();
    let work = registry.signing_work(now + 3600, now, 10_000)?;
    println!("    signing_work, the next batch: {} in {:.2?}", work.len(), start.elapsed());

    let start = Instant::now();
    // No checkpoint was signed (no pre-signer ran): any key will do.
    let key = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
    let key = cartorio_control::audit::AuditKey::from_spki(cartorio_pkix::Signer::spki(&key))?;
    let verdict = registry.verify_audit(&key, &[])?;
    let entries = verdict.as_ref().map(|i| i.entries).unwrap_or(-1);
    println!("    audit verify: {entries} entries in {:.2?} (intact: {})", start.elapsed(), verdict.is_ok());
    Ok(())
}

async fn run(name: &str, database_url: Option<String>, o: &Options) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = DataDir::new(tmp.path().join("data"));
    let config = ControlConfig { database_url, ..ControlConfig::embedded(dir.clone()) };
    let database = Database::select(config.database_url.as_deref(), &dir)?;
    println!("{name} ({}):", database.describe());
    let control = Control::open(config, true)?;
    let csr = csr(tmp.path())?;
    let serials = fill(&control, &csr, o).await?;
    drop(control);
    tokio::task::spawn_blocking(move || queries(&database, &serials)).await?
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if o.sqlite {
        runtime.block_on(run("SQLite", None, &o))?;
    }
    if let Some(admin_url) = &o.postgres {
        let db = TestDatabase::create(admin_url, "registry_scale")?;
        runtime.block_on(run("PostgreSQL", Some(db.url.clone()), &o))?;
    }
    Ok(())
}
