//! Memory of the gateway's admission by address (issue 20): one million
//! distinct client addresses, each also charged to its /24, must grow RSS
//! by less than 200 MB per process, and idle entries must leave.
//!
//!     cargo run --release -p cartorio-benches --bin gateway-address-memory

use cartorio_benches::rss_bytes;
use cartorio_gateway::addresses::{AddressConfig, Addresses};
use std::net::IpAddr;
use std::time::Instant;

const ADDRESSES: u32 = 1_000_000;
const SECOND: u64 = 1_000_000_000;

fn main() -> anyhow::Result<()> {
    let config = AddressConfig {
        rate_per_sec: Some(50.0),
        burst: 100,
        prefix_rate_per_sec: Some(500.0),
        prefix_burst: 1000,
        ..AddressConfig::default()
    };
    let addresses = Addresses::build(&config)?;
    let before = rss_bytes();
    let started = Instant::now();
    let now = 1_000 * SECOND;
    // Spread over the whole IPv4 space (a multiplicative hash of the index),
    // so the /24 entries number in the hundreds of thousands too.
    let admitted = (0..ADDRESSES)
        .filter(|n| addresses.admit(IpAddr::from(n.wrapping_mul(2_654_435_761).to_be_bytes()), now).is_ok())
        .count();
    let took = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{admitted} of {ADDRESSES} distinct addresses admitted in {:.2} s ({:.0} ns each); {} entries held (addresses and /24s)",
        took.as_secs_f64(),
        took.as_nanos() as f64 / f64::from(ADDRESSES),
        addresses.keys()
    );
    println!("RSS growth {:.1} MB (goal < 200 MB)", grown as f64 / 1e6);
    addresses.sweep(now + 10 * SECOND);
    println!("after the idle sweep: {} entries held", addresses.keys());
    Ok(())
}
