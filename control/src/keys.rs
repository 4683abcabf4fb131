//! Where the control plane's keys live: ECDSA P-256 PKCS#8 files of mode
//! 0600 under `DIR/pki` (the embedded default), or key pairs on a PKCS#11
//! token for the stems that `DIR/pki/hsm.toml` binds to token labels (the
//! ceremony writes it). Either way a key is an `Arc<dyn Signer>`.

use crate::hsm::{HsmConfig, Pkcs11Signer, Token};
use crate::paths::{DataDir, write_private};
use anyhow::Context;
use cartorio_pkix::{EcCurve, EcdsaSigner, Signer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the key named `stem` lives in software: `DIR/pki/{stem}-key.pk8`.
pub fn key_path(dir: &DataDir, stem: &str) -> PathBuf {
    dir.pki().join(format!("{stem}-key.pk8"))
}

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

/// `DIR/pki/hsm.toml`: the token, and which key stems live on it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HsmBinding {
    pub hsm: HsmConfig,
    /// Key stem (`root`, `issuer`, `ocsp`, ...) -> token label.
    pub keys: BTreeMap<String, String>,
}

impl HsmBinding {
    pub fn path(dir: &DataDir) -> PathBuf {
        dir.pki().join("hsm.toml")
    }

    pub fn read(dir: &DataDir) -> anyhow::Result<Option<Self>> {
        let path = Self::path(dir);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display())).map(Some)
    }
}

/// The keys of one data directory.
pub struct Keyring {
    dir: DataDir,
    hsm: Option<(Arc<Token>, BTreeMap<String, String>)>,
}

impl Keyring {
    pub fn open(dir: &DataDir) -> anyhow::Result<Self> {
        let hsm = match HsmBinding::read(dir)? {
            Some(binding) => {
                let label = binding.hsm.token_label.clone();
                let token = Token::open(binding.hsm)
                    .with_context(|| format!("opening the PKCS#11 token {label:?}"))?;
                Some((Arc::new(token), binding.keys))
            }
            None => None,
        };
        Ok(Self { dir: dir.clone(), hsm })
    }

    /// The token label `stem` is bound to, if it lives on the token.
    pub fn label(&self, stem: &str) -> Option<&str> {
        self.hsm.as_ref().and_then(|(_, keys)| keys.get(stem)).map(String::as_str)
    }

    /// Whether the key `stem` exists (a file, or a binding to the token).
    pub fn exists(&self, stem: &str) -> bool {
        self.label(stem).is_some() || key_path(&self.dir, stem).exists()
    }

    /// The signer for `stem`; a software key is generated on first use, a
    /// token key must exist (keys are made on the token by the ceremony or
    /// `cartorio keys generate`, never implicitly).
    pub fn signer(&self, stem: &str) -> anyhow::Result<Arc<dyn Signer>> {
        if let Some((token, keys)) = &self.hsm
            && let Some(label) = keys.get(stem)
        {
            return Ok(Arc::new(Pkcs11Signer::open(token.clone(), label)?));
        }
        Ok(Arc::new(load_or_generate(&key_path(&self.dir, stem))?))
    }

    /// A new software key for `stem`, replacing the old one (atomically:
    /// a reader sees one or the other); `None` for a key on the token, which
    /// is never replaced implicitly.
    pub fn rotate(&self, stem: &str) -> anyhow::Result<Option<Arc<dyn Signer>>> {
        if self.label(stem).is_some() {
            return Ok(None);
        }
        let path = key_path(&self.dir, stem);
        let pkcs8 = EcdsaSigner::generate_pkcs8(EcCurve::P256)?;
        write_private(&path, &pkcs8).with_context(|| format!("writing {}", path.display()))?;
        Ok(Some(Arc::new(load(&path)?)))
    }

    /// Where `stem` is kept, for the audit log: `software` or `pkcs11:LABEL`.
    pub fn store(&self, stem: &str) -> String {
        self.label(stem).map_or_else(|| "software".to_owned(), |label| format!("pkcs11:{label}"))
    }
}
