//! PKCS#11 keys (via `cryptoki`): a token, its session pool, and the
//! signer that uses it through the same `Signer` trait as software keys.
//!
//! ```text
//! Pkcs11Signer::sign --lease--> Token (pool of logged-in sessions, capacity
//!        |                       from the module's limits)
//!        +-- session fault: drop the session, open another, retry
//!        +-- module fault:  finalize, initialize, log in again, retry
//! ```
//!
//! Tested against SoftHSM2 (`scripts/test.sh` creates the token).

mod config;
mod fault;
pub mod keys;
mod module;
mod signer;
mod token;

pub use config::HsmConfig;
pub use fault::Fault;
pub use signer::Pkcs11Signer;
pub use token::Token;
