//! Scale check for the responder's index (issue 3): publish N pre-signed
//! responses as segments in a local object store, load them the way a
//! responder does, and report load time and RSS against the budget
//! `1.3 x total DER bytes + 40 bytes per entry`.
//!
//!     cargo run --release -p cartorio-benches --bin ocsp-scale -- 10000000 /var/tmp/ocsp-scale [SEGMENTS]
//!
//! SEGMENTS (default 1, what the publisher's compaction leaves) splits the
//! responses over that many segments, i.e. index layers, each probed by a
//! lookup that misses the newer ones.
//!
//! Every entry carries a real signed response of realistic size (the
//! delegated responder certificate included); entries share its bytes but
//! not their serials, which is all the index sees.

use arc_swap::ArcSwap;
use bytes::Bytes;
use cartorio_benches::{SignedFixture, ocsp_request, rss_bytes};
use cartorio_pkix::publication::MANIFEST_KEY;
use cartorio_platform::ObjectStore;
use cartorio_responder::Index;
use cartorio_responder::loader::Loader;
use std::sync::Arc;
use std::time::Instant;

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "/var/tmp/ocsp-scale".into()));
    let segments: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1).clamp(1, n.max(1));
    let per_segment = n.div_ceil(segments);
    let _ = std::fs::remove_dir_all(&dir);
    let store = ObjectStore::local(&dir);

    let fixture = SignedFixture::new()?;
    let started = Instant::now();
    let mut refs = Vec::new();
    let mut first = 1u32;
    while first <= n {
        let last = first.saturating_add(per_segment - 1).min(n);
        refs.push(fixture.put_segment(&store, first..=last, false).await?);
        first = last + 1;
    }
    store.put(MANIFEST_KEY, Bytes::from(fixture.manifest(1, refs).to_json())).await?;
    let der = &fixture.good;
    let hashes = &fixture.hashes;
    println!(
        "published {n} responses of {} octets in {segments} segment(s) in {:.1} s",
        der.len(),
        started.elapsed().as_secs_f64()
    );

    // Load as a responder does.
    let before = rss_bytes();
    let index = Arc::new(ArcSwap::from_pointee(Index::default()));
    let mut loader = Loader::new(store, index.clone(), Default::default());
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
        (0..4096u32).map(|i| ocsp_request(hashes, 1 + (i * 2_654_435) % n)).collect();
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
