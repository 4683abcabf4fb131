//! Software keys: ECDSA P-256 in PKCS#8 files of mode 0600 under the data
//! directory (the embedded default; an HSM replaces this behind `Signer`).

use crate::paths::write_private;
use anyhow::Context;
use cartorio_pkix::{EcCurve, EcdsaSigner};
use std::path::Path;

/// Loads the key at `path`, generating it first if it does not exist.
pub fn load_or_generate(path: &Path) -> anyhow::Result<EcdsaSigner> {
    if !path.exists() {
        let pkcs8 = EcdsaSigner::generate_pkcs8(EcCurve::P256)?;
        write_private(path, &pkcs8).with_context(|| format!("writing {}", path.display()))?;
    }
    load(path)
}

pub fn load(path: &Path) -> anyhow::Result<EcdsaSigner> {
    let pkcs8 = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    EcdsaSigner::from_pkcs8(EcCurve::P256, &pkcs8).with_context(|| format!("loading key {}", path.display()))
}
