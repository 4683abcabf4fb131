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

/// A free loopback port (probed by binding it once), never the same twice
/// in this process: tests run in parallel threads, and two services handed
/// one port would share it (listeners use SO_REUSEPORT).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("addr").port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}
