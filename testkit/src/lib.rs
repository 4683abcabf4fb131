//! Test support for Cartorio's crates and end-to-end tests. Only ever a
//! dev-dependency: nothing here compiles into a production crate.
//!
//! - [`der`]: a strict DER checker, an implementation of its own (not
//!   `cartorio-pkix`'s reader), run over everything Cartorio emits.
//! - [`moto`]: a real S3/KMS API server (moto) on loopback, and boto3.
//! - [`redis`]: a throwaway `redis-server` on loopback.
//! - [`acme`]: an ACME client (JWS, CSRs, an http-01 responder) for the
//!   protocol tests and the ACME benchmark.

pub mod acme;
pub mod der;
pub mod moto;
pub mod redis;
