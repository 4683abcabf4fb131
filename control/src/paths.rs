//! The data directory layout (DESIGN.md, "Interfaces").

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn pki(&self) -> PathBuf {
        self.root.join("pki")
    }

    pub fn registry(&self) -> PathBuf {
        self.root.join("registry.db")
    }

    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The demo admin credential (mode 0600), readable by the local CLI.
    pub fn admin_token(&self) -> PathBuf {
        self.root.join("control").join("admin-token")
    }

    /// Written by a running `up`: where its listeners are.
    pub fn endpoints(&self) -> PathBuf {
        self.root.join("run").join("endpoints.json")
    }
}

/// Writes a secret file readable only by its owner (created with mode 0600,
/// never world-readable even for an instant).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Writes a public file atomically.
pub fn write_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    cartorio_platform::store::write_atomic(path, bytes)
}

impl DataDir {
    /// The TSA signing key (PKCS#8) and its chain (TSA certificate first).
    pub fn tsa_key(&self) -> PathBuf {
        self.pki().join("tsa-key.pk8")
    }

    pub fn tsa_chain(&self) -> PathBuf {
        self.pki().join("tsa-chain.pem")
    }

    /// The responder's TLS certificate chain and key.
    pub fn responder_tls_chain(&self) -> PathBuf {
        self.pki().join("responder-tls-chain.pem")
    }

    pub fn responder_tls_key(&self) -> PathBuf {
        self.pki().join("responder-tls-key.pk8")
    }

    /// The append-only log of issued time-stamp tokens.
    pub fn tsa_log(&self) -> PathBuf {
        self.root.join("tsa").join("issued.log")
    }
}
