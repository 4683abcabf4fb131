//! Scale check for the responder's index (issue 3): publish N pre-signed
//! responses as segments in a local object store, load them the way a
//! responder does, and report load time and RSS against the budget
//! `1.3 x total DER bytes + 40 bytes per entry`.
//!
//!     cargo run --release -p cartorio-benches --bin ocsp-scale -- 10000000 /var/tmp/ocsp-scale
//!
//! Every entry carries a real signed response of realistic size (the
//! delegated responder certificate included); entries share its bytes but
//! not their serials, which is all the index sees.

use arc_swap::ArcSwap;
use bytes::Bytes;
use cartorio_benches::{ocsp_request, serial_contents};
use cartorio_pkix::cert::CertificateView;
use cartorio_pkix::hash::{HashAlg, sha256_hex};
use cartorio_pkix::ocsp::{CertStatus, IssuerHashes, ResponderTemplate, cert_id, sign_response};
use cartorio_pkix::publication::{EntryMeta, MANIFEST_KEY, SegmentBuilder, SegmentRef};
use cartorio_pkix::testing::{ec_key, one_segment_manifest, self_signed};
use cartorio_pkix::{EcCurve, Signer};
use cartorio_platform::ObjectStore;
use cartorio_responder::Index;
use cartorio_responder::loader::Loader;
use std::sync::Arc;
use std::time::Instant;

const PER_SEGMENT: u32 = 1_000_000;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "/var/tmp/ocsp-scale".into()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = ObjectStore::local(&dir);

    // A real issuer, delegated responder and signed response.
    let issuer_key = ec_key(EcCurve::P256);
    let issuer_cert = self_signed(&issuer_key, "Scale Issuer", vec![]);
    let view = CertificateView::parse(&issuer_cert)?;
    let hashes = IssuerHashes::of(&view)?;
    let template = ResponderTemplate::new(&issuer_cert, issuer_key.spki())?;
    let der = sign_response(
        &template,
        &issuer_key,
        &cert_id(&hashes, HashAlg::Sha1, &[1]),
        CertStatus::Good,
        0,
        4_000_000_000,
    )?
    .der;
    let issuer_id: [u8; 32] =
        HashAlg::Sha256.digest(view.spki).try_into().map_err(|_| anyhow::anyhow!("id"))?;

    // Publish: segments of a million entries, then one manifest.
    let started = Instant::now();
    let mut refs = Vec::new();
    let mut serial = 1u32;
    while serial <= n {
        let mut segment = SegmentBuilder::new();
        let end = serial.saturating_add(PER_SEGMENT - 1).min(n);
        for s in serial..=end {
            let meta = EntryMeta {
                this_update: 0,
                next_update: 4_000_000_000,
                revoked: false,
                cert_id_hash: HashAlg::Sha1,
            };
            segment.push(&issuer_id, &serial_contents(s), meta, &der)?;
        }
        let entries = segment.len() as u64;
        let bytes = segment.finish();
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        store.put(&cartorio_pkix::publication::segment_key(&sha256), Bytes::from(bytes)).await?;
        refs.push(SegmentRef { sha256, entries, bytes: size });
        serial = end + 1;
    }
    let (mut manifest, _) = one_segment_manifest(&issuer_cert, &[], 0);
    manifest.segments = refs;
    store.put(MANIFEST_KEY, Bytes::from(manifest.to_json())).await?;
    println!("published {n} responses of {} octets in {:.1} s", der.len(), started.elapsed().as_secs_f64());

    // Load as a responder does.
    let before = rss_bytes();
    let index = Arc::new(ArcSwap::from_pointee(Index::default()));
    let mut loader = Loader::new(store, index.clone());
    let started = Instant::now();
    loader.refresh().await?;
    let load = started.elapsed();
    let rss = rss_bytes().saturating_sub(before);
    let loaded = index.load();
    let total_der = u64::from(n) * der.len() as u64;
    let budget = (1.3 * total_der as f64) as u64 + 40 * u64::from(n);
    println!("loaded {} entries in {:.1} s", loaded.len(), load.as_secs_f64());
    println!(
        "RSS growth {:.2} GiB; total DER {:.2} GiB; budget 1.3 x DER + 40 B/entry = {:.2} GiB; RSS/budget = {:.3}",
        gib(rss),
        gib(total_der),
        gib(budget),
        rss as f64 / budget as f64
    );

    // Lookups against the full index.
    let requests: Vec<Vec<u8>> =
        (0..4096u32).map(|i| ocsp_request(&hashes, 1 + (i * 2_654_435) % n)).collect();
    let started = Instant::now();
    let mut found = 0usize;
    for _ in 0..250 {
        for r in &requests {
            let a = cartorio_responder::respond::answer(r, &loaded, 1, None, Default::default());
            found += usize::from(a.outcome == cartorio_responder::respond::Outcome::Good);
        }
    }
    let per = started.elapsed().as_nanos() as f64 / (250.0 * requests.len() as f64);
    println!("parse + lookup over the loaded index: {per:.0} ns per request ({found} good)");
    drop(loaded);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
