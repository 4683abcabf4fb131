//! Swap under load (issue 3): a responder serves N pre-signed responses over
//! HTTP/1.1 keep-alive GET to C client connections; mid-run a new manifest
//! generation adding a revocation burst (a segment of B revoked responses)
//! is published and the responder picks it up, five times over. Reports failed requests over
//! the whole run and p50/p99 latency in the steady state before the swap and
//! in the swap window (manifest written -> new index served), and checks the
//! revoked serials are served revoked afterwards.
//!
//!     cargo run --release -p cartorio-benches --bin ocsp-swap -- [N] [B] [DIR]
//!
//! Defaults: N = 1,000,000, B = 100,000, DIR = /var/tmp/ocsp-swap. The
//! server runs as `cartorio up` runs it (one serving thread per core); the
//! load generator is one more thread in this process, on the same cores.

use arc_swap::ArcSwap;
use base64::Engine;
use bytes::Bytes;
use cartorio_benches::{SignedFixture, ocsp_request};
use cartorio_pkix::publication::MANIFEST_KEY;
use cartorio_platform::http::{bind, serve_per_core};
use cartorio_platform::rounds::Reload;
use cartorio_platform::{ObjectStore, Shutdown};
use cartorio_responder::loader::Loader;
use cartorio_responder::respond::{CachePolicy, Outcome, answer};
use cartorio_responder::{Index, Limits, OcspService};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 32;
const WARMUP: Duration = Duration::from_secs(2);
/// Swaps per run: each publishes one more burst (a new generation).
const ROUNDS: u32 = 5;
/// Steady state before each swap.
const STEADY: Duration = Duration::from_secs(3);
/// What follows a swap is counted with it for this long.
const SETTLE: Duration = Duration::from_secs(1);

/// One request: when it started (since the run began) and how long it took.
struct Sample {
    at: Duration,
    took: Duration,
}

#[derive(Default)]
struct ConnectionLog {
    samples: Vec<Sample>,
    failures: u64,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let burst: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000).min(n);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "/var/tmp/ocsp-swap".into()));
    let _ = std::fs::remove_dir_all(&dir);
    let result =
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(run(n, burst, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(n: u32, burst: u32, dir: &std::path::Path) -> anyhow::Result<()> {
    let store = ObjectStore::local(dir);
    let fixture = SignedFixture::new()?;
    let base = fixture.put_segment(&store, 1..=n, false).await?;
    store.put(MANIFEST_KEY, Bytes::from(fixture.manifest(1, vec![base.clone()]).to_json())).await?;
    // The bursts' segments are written ahead, as a publisher elsewhere
    // would; a swap starts when a manifest naming one more appears.
    let step = (n / burst).max(1);
    let mut bursts = Vec::new();
    for round in 0..ROUNDS {
        let revoked: Vec<u32> = (0..burst).map(|i| 1 + (i * step + round) % n).collect();
        bursts.push((fixture.put_segment(&store, revoked.iter().copied(), true).await?, revoked));
    }

    let index = Arc::new(ArcSwap::from_pointee(Index::default()));
    let mut loader = Loader::new(store.clone(), index.clone(), Default::default());
    let started = Instant::now();
    loader.refresh().await?;
    println!("loaded {} responses in {:.2} s", index.load().len(), started.elapsed().as_secs_f64());
    let reload = Arc::new(Reload::default());
    let shutdown = Shutdown::new();
    let loader_task = tokio::spawn(loader.run(Duration::from_secs(3600), reload.clone(), shutdown.clone()));
    let service = OcspService::new(
        index.clone(),
        Default::default(),
        None,
        Limits { max_request_bytes: 10_000 },
        CachePolicy { max_age_cap: 3600 },
        None,
    );
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)), "responder").await?;
    let addr = listener.local_addr()?;
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let server = tokio::spawn(serve_per_core(
        listener,
        Default::default(),
        threads,
        service,
        shutdown.clone(),
        "responder",
    ));

    // Load: CONNECTIONS keep-alive connections over every serial's GET path.
    let paths: Arc<Vec<String>> = Arc::new(
        (0..65_536u32)
            .map(|i| {
                let serial = 1 + (i.wrapping_mul(2_654_435_761) % n);
                let der = ocsp_request(&fixture.hashes, serial);
                format!("/{}", base64::engine::general_purpose::STANDARD.encode(der))
            })
            .collect(),
    );
    let run_started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // The load generator has a thread of its own, as wrk would.
    let (load_stop, load_paths) = (stop.clone(), paths.clone());
    let load = std::thread::spawn(move || -> anyhow::Result<Vec<ConnectionLog>> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|c| tokio::spawn(client(addr, load_paths.clone(), c, run_started, load_stop.clone())))
                .collect();
            let mut logs = Vec::new();
            for c in clients {
                logs.push(c.await?);
            }
            Ok(logs)
        })
    });

    tokio::time::sleep(WARMUP).await;
    let mut swaps = Vec::new();
    let mut segments = vec![base];
    for (round, (segment, _)) in bursts.iter().enumerate() {
        tokio::time::sleep(STEADY).await;
        segments.push(segment.clone());
        let generation = 2 + round as u64;
        let started = run_started.elapsed();
        store
            .put(MANIFEST_KEY, Bytes::from(fixture.manifest(generation, segments.clone()).to_json()))
            .await?;
        reload.wake.notify_one();
        while index.load().generation < generation {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        swaps.push((started, run_started.elapsed()));
        tokio::time::sleep(SETTLE).await;
    }
    stop.store(true, Ordering::Relaxed);
    let logs = tokio::task::spawn_blocking(move || load.join())
        .await?
        .map_err(|_| anyhow::anyhow!("load panicked"))??;
    shutdown.trigger();
    server.await??;
    let _ = loader_task.await;

    let served = index.load();
    let still_good = bursts
        .iter()
        .flat_map(|(_, revoked)| revoked)
        .filter(|&&s| {
            answer(&ocsp_request(&fixture.hashes, s), &served, 1, None, CachePolicy::default()).outcome
                != Outcome::Revoked
        })
        .count();
    report(&logs, &swaps, burst, still_good);
    anyhow::ensure!(still_good == 0, "{still_good} revoked serials not served revoked");
    Ok(())
}

async fn client(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    seed: usize,
    run_started: Instant,
    stop: Arc<AtomicBool>,
) -> ConnectionLog {
    let mut log = ConnectionLog::default();
    let mut i = seed.wrapping_mul(7919);
    'connect: while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
            log.failures += 1;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
            log.failures += 1;
            continue;
        };
        tokio::spawn(conn);
        while !stop.load(Ordering::Relaxed) {
            i = (i + 1) % paths.len();
            let req = get(&paths[i]);
            let at = run_started.elapsed();
            let ok = match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                    status == 200 && body.is_ok_and(|b| !b.is_empty())
                }
                Err(_) => false,
            };
            let took = run_started.elapsed().saturating_sub(at);
            if !ok {
                log.failures += 1;
                continue 'connect;
            }
            log.samples.push(Sample { at, took });
        }
    }
    log
}

fn get(path: &str) -> http::Request<Empty<Bytes>> {
    http::Request::get(path)
        .header(http::header::HOST, "127.0.0.1")
        .body(Empty::new())
        .unwrap_or_else(|_| http::Request::new(Empty::new()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
    sorted.get(i).copied().unwrap_or_default()
}

/// Latencies of the requests started inside any of `windows`, sorted.
fn latencies(logs: &[ConnectionLog], windows: &[(Duration, Duration)], inside: bool) -> Vec<Duration> {
    let mut took: Vec<Duration> = logs
        .iter()
        .flat_map(|l| &l.samples)
        .filter(|s| s.at >= WARMUP && windows.iter().any(|&(from, to)| s.at >= from && s.at < to) == inside)
        .map(|s| s.took)
        .collect();
    took.sort_unstable();
    took
}

fn report(logs: &[ConnectionLog], swaps: &[(Duration, Duration)], burst: u32, still_good: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let failures: u64 = logs.iter().map(|l| l.failures).sum();
    let total: usize = logs.iter().map(|l| l.samples.len()).sum();
    let settling: Vec<_> = swaps.iter().map(|&(from, to)| (from, to + SETTLE)).collect();
    let steady = latencies(logs, &settling, false);
    let swapping = latencies(logs, swaps, true);
    let settled = latencies(logs, &settling, true);
    println!("requests: {total} ok, {failures} failed ({CONNECTIONS} connections)");
    let took: Vec<String> = swaps.iter().map(|&(from, to)| format!("{:.0}", ms(to - from))).collect();
    println!(
        "{} swaps, each adding {burst} revocations, took [{}] ms under load",
        swaps.len(),
        took.join(", ")
    );
    let p99 = |w: &[Duration]| ms(percentile(w, 0.99));
    println!(
        "steady state:        {:>8} requests, p50 {:.3} ms, p99 {:.3} ms",
        steady.len(),
        ms(percentile(&steady, 0.5)),
        p99(&steady)
    );
    for (name, w) in [("during the swaps:", &swapping), ("swaps + 1 s after:", &settled)] {
        println!(
            "{name:<20} {:>8} requests, p50 {:.3} ms, p99 {:.3} ms, p99 ratio to steady {:.2} (goal <= 2)",
            w.len(),
            ms(percentile(w, 0.5)),
            p99(w),
            p99(w) / p99(&steady).max(1e-9)
        );
    }
    let total_revoked = burst as usize * swaps.len();
    println!(
        "revoked serials served revoked after the swaps: {} of {total_revoked}",
        total_revoked - still_good
    );
}
