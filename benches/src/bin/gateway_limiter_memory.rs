//! Memory of the gateway's rate limiter (issue 5): one million distinct
//! client keys must not grow RSS by more than 200 MB, and idle keys expire.
//!
//!     cargo run --release -p cartorio-benches --bin gateway-limiter-memory

use cartorio_benches::rss_bytes;
use cartorio_gateway::ratelimit::{Decision, Gcra, Limiter};
use std::time::Instant;

const KEYS: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;

fn main() {
    let gcra = Gcra::new(2000.0, 4000);
    let limiter = Limiter::default();
    let before = rss_bytes();
    let started = Instant::now();
    let now = 1_000 * SECOND;
    let admitted = (0..KEYS)
        .filter(|i| {
            matches!(limiter.check(&(format!("client-{i}"), "demo"), &gcra, now), Decision::Allow { .. })
        })
        .count();
    let took = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{admitted} of {KEYS} distinct keys admitted in {:.2} s ({:.0} ns each); {} keys held",
        took.as_secs_f64(),
        took.as_nanos() as f64 / KEYS as f64,
        limiter.len()
    );
    println!("RSS growth {:.1} MB (goal < 200 MB)", grown as f64 / 1e6);
    // The burst refills in 2 s: after that every key is idle and swept.
    limiter.sweep(now + 3 * SECOND);
    println!("after the idle sweep: {} keys held", limiter.len());
}
