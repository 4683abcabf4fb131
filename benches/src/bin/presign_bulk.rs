//! Bulk OCSP pre-signing against the raw signing rate of the same backend,
//! measured in the same run.
//!
//!     cargo run --release -p cartorio-benches --bin presign-bulk -- [N] [software|softhsm]
//!
//! or `bash benches/presign_bulk.sh [N]`, which makes a throwaway SoftHSM2
//! token and runs both backends. For the backend: a CA is set up (software
//! keys, or a ceremony with the OCSP responder's key on the token), N
//! certificates (default 1,000,000) are put in the registry as published long
//! ago (every response due), and the pre-signer re-signs and publishes them
//! all (the bulk refresh, timed). The
//! raw rate is `Signer::sign` of the OCSP key on as many threads as the
//! pre-signer uses, over the same kind of message, before and after; the
//! higher of the two is the reference.
//!
//! Ratio = responses signed per second in the bulk refresh / raw rate.

use cartorio_control::ceremony::{CaKey, CeremonyConfig, DelegatedSigner};
use cartorio_control::hsm::HsmConfig;
use cartorio_control::keys::Keyring;
use cartorio_control::paths::DataDir;
use cartorio_control::registry::{Database, NewCertificate, Registry};
use cartorio_control::{Control, ControlConfig};
use cartorio_pkix::Signer;
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::hash::sha256_hex;
use ring::rand::SecureRandom;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator `cartorio presign` runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows per registry commit while filling.
const FILL_BATCH: usize = 20_000;
/// Stands in for a certificate's DER: the size of a typical TLS server
/// certificate, so the registry's rows (and their updates) are full size.
const PLACEHOLDER_DER: [u8; 900] = [0x30; 900];

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.replace('_', "").parse()).transpose()?.unwrap_or(1_000_000);
    let backend = args.next().unwrap_or_else(|| "software".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tmp = tempfile::tempdir()?;
    let dir = DataDir::new(tmp.path().join("data"));
    match backend.as_str() {
        "software" => {}
        "softhsm" => ceremony(&dir)?,
        other => anyhow::bail!("unknown backend {other:?}: software or softhsm"),
    }
    let control = Control::open(ControlConfig::embedded(dir.clone()), true)?;
    let signer = Keyring::open(&dir)?.signer("ocsp")?;
    let threads = cartorio_control::presigner::OcspPolicy::default().signing_threads;
    println!("backend {backend}, {n} certificates, {threads} signing threads");

    let raw_before = raw_rate(&signer, threads, Duration::from_secs(5));
    println!("raw signing rate (before): {raw_before:.0}/s");

    let started = Instant::now();
    fill(&dir, n)?;
    println!("registry filled: {n} certificates, all due, in {:.1} s", started.elapsed().as_secs_f64());

    let hashes = cartorio_control::presigner::OcspPolicy::default().cert_id_hashes.len();
    let refresh = runtime.block_on(drain(&control))?;
    let rate = refresh.0 as f64 * hashes as f64 / refresh.1;
    println!(
        "bulk refresh: {} certificates, {} responses in {:.1} s: {rate:.0} responses/s",
        refresh.0,
        refresh.0 as usize * hashes,
        refresh.1
    );
    anyhow::ensure!(refresh.0 as usize == n, "the refresh signed {} of {n} certificates", refresh.0);

    let raw_after = raw_rate(&signer, threads, Duration::from_secs(5));
    println!("raw signing rate (after): {raw_after:.0}/s");
    let raw = raw_before.max(raw_after);
    println!("RATIO bulk refresh / raw signing ({backend}): {:.2}", rate / raw);
    Ok(())
}

/// Signs and publishes until nothing is due; (certificates, seconds).
async fn drain(control: &Control) -> anyhow::Result<(u64, f64)> {
    let mut presigner = control.presigner(Arc::default()).await?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let done = presigner
        .drain(|done, total| {
            if last_report.elapsed() > Duration::from_secs(10) {
                println!("  {done}/{total}");
                last_report = Instant::now();
            }
        })
        .await?;
    Ok((done, started.elapsed().as_secs_f64()))
}

/// `Signer::sign` on `threads` threads for `duration`; signatures per second.
fn raw_rate(signer: &Arc<dyn Signer>, threads: usize, duration: Duration) -> f64 {
    // About the size of an OCSP ResponseData.
    let message = [0x5au8; 180];
    let started = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0u64;
                    while started.elapsed() < duration {
                        if signer.sign(&message).is_ok() {
                            count += 1;
                        }
                    }
                    count
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().unwrap_or(0)).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// N certificates of the issuing CA with random serials. The pre-signer
/// reads only serial, issuer and status, so the DER is a placeholder of
/// realistic size.
fn fill(dir: &DataDir, n: usize) -> anyhow::Result<()> {
    let issuer_pem = std::fs::read_to_string(dir.pki().join("issuer.pem"))?;
    let issuer_der = cartorio_pkix::cert::from_pem_chain(&issuer_pem)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no issuer certificate"))?;
    let issuer_id = sha256_hex(CertificateView::parse(&issuer_der)?.spki);
    let mut registry = Registry::open(&Database::select(None, dir)?)?;
    let rng = ring::rand::SystemRandom::new();
    let now = cartorio_platform::clock::unix_seconds();
    let mut done = 0;
    while done < n {
        let count = FILL_BATCH.min(n - done);
        let mut serials = Vec::with_capacity(count);
        for _ in 0..count {
            let mut serial = [0u8; 16];
            rng.fill(&mut serial).map_err(|_| anyhow::anyhow!("no randomness"))?;
            serial[0] = (serial[0] & 0x7f).max(1);
            serials.push(hex::encode(serial));
        }
        let rows: Vec<NewCertificate<'_>> = serials
            .iter()
            .map(|serial| NewCertificate {
                serial,
                issuer_id: &issuer_id,
                profile: "server",
                subject: None,
                not_before: now - 60,
                not_after: now + 90 * 24 * 3600,
                der: &PLACEHOLDER_DER,
                issued_at: now,
                acme: None,
            })
            .collect();
        registry.insert_certificates(&rows)?;
        // As if their first responses were published long ago: all due.
        let published: Vec<(String, i64, i64)> = serials.iter().map(|s| (s.clone(), 1, 0)).collect();
        registry.mark_published(&published, now)?;
        done += count;
    }
    Ok(())
}

/// A ceremony on the token named by the environment (see
/// benches/presign_bulk.sh), with the OCSP responder's key on the token.
fn ceremony(dir: &DataDir) -> anyhow::Result<()> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set: run benches/presign_bulk.sh"))
    };
    let suffix = std::process::id();
    let config = CeremonyConfig {
        data_dir: dir.root().to_path_buf(),
        database_url: None,
        organization: "Cartorio Bench".into(),
        hsm: HsmConfig {
            module: var("CARTORIO_TEST_PKCS11_MODULE")?.into(),
            token_label: var("CARTORIO_TEST_HSM_TOKEN")?,
            pin_file: None,
            pin_env: Some("CARTORIO_TEST_HSM_PIN".into()),
            sessions: None,
        },
        root: CaKey {
            key_label: format!("bench-root-{suffix}"),
            curve: "p256".into(),
            common_name: "Bench Root".into(),
            lifetime_days: 3650,
        },
        issuer: Some(CaKey {
            key_label: format!("bench-issuer-{suffix}"),
            curve: "p256".into(),
            common_name: "Bench Issuing CA".into(),
            lifetime_days: 1825,
        }),
        ocsp: Some(DelegatedSigner {
            common_name: "Bench OCSP".into(),
            lifetime_days: 365,
            key_label: Some(format!("bench-ocsp-{suffix}")),
        }),
        issuers: Default::default(),
        tsa: DelegatedSigner { common_name: "Bench TSA".into(), lifetime_days: 365, key_label: None },
    };
    cartorio_control::ceremony::run(&config, cartorio_platform::clock::unix_seconds())?;
    Ok(())
}
