//! Cartorio's sans-IO PKI formats.
//!
//! Pure functions of bytes and time: no sockets, files, clocks or runtimes.
//! Untrusted input goes through the bounds-checked [`der::Reader`]; what we
//! sign is encoded by [`der::encode`]. rasn decodes our output in tests as an
//! independent check.

#![forbid(unsafe_code)]

pub mod cert;
pub mod crl;
pub mod csr;
pub mod der;
pub mod fuzz_checks;
pub mod hash;
pub mod ocsp;
pub mod oid;
pub mod publication;
pub mod signer;
#[cfg(test)]
mod test_keys;
pub mod time;
pub mod tsp;
pub mod verify;

pub use signer::{EcCurve, EcdsaSigner, RsaSigner, SignError, Signer};
