//! Test support for Cartorio's crates and end-to-end tests. Only ever a
//! dev-dependency: nothing here compiles into a production crate.
//!
//! - [`der`]: a strict DER checker, an implementation of its own (not
//!   `cartorio-pkix`'s reader), run over everything Cartorio emits.
//! - [`moto`]: a real S3/KMS API server (moto) on loopback, and boto3.
//! - [`redis`]: a throwaway `redis-server` on loopback.
//! - [`acme`]: an ACME client (JWS, CSRs, an http-01 responder) for the
//!   protocol tests and the ACME benchmark.
//! - [`pki`]: throwaway keys, certificates and manifests.
//! - [`corpus`]: fuzz corpora replayed by `cargo test`.
//! - [`postgres`]: a database of its own per test on the test cluster.
//! - [`free_port`]: loopback ports for the servers tests start.

pub mod acme;
pub mod corpus;
pub mod der;
pub mod moto;
pub mod pki;
pub mod postgres;
pub mod redis;

/// A free loopback port (probed by binding it, TCP and UDP), never the
/// same twice in this process: tests run in parallel threads, and two
/// services handed one port would share it (listeners use SO_REUSEPORT).
///
/// Drawn below the kernel's ephemeral range: a port from `bind(0)` is free
/// only until another process's `bind(0)` or outgoing connection is handed
/// it, and a server then started on it shares it (SO_REUSEPORT) or loses it.
/// Where the range starts too low to leave room, `bind(0)` it is.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    const FLOOR: u16 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(FLOOR);
    let random = std::collections::hash_map::RandomState::new();
    for attempt in 0u32.. {
        let port = match span {
            0..1_000 => {
                std::net::TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("addr").port()
            }
            _ => FLOOR + (random.hash_one(attempt) % u64::from(span)) as u16,
        };
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        let free = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
        if free && !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    unreachable!("the loop above returns")
}
