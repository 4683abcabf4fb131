//! TLS for listeners: rustls with the ring provider; ALPN h2 then http/1.1
//! over TCP, h3 over QUIC (`http3`).

use anyhow::Context;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
pub use tokio_rustls::TlsAcceptor;

/// A certificate chain (PEM, leaf first) and its private key (PEM or DER PKCS#8).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// PEM bundle of CAs whose client certificates are accepted (mTLS).
    /// Presenting one stays optional at the TLS layer; services decide what
    /// an unauthenticated client may do.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.first() == Some(&0x30) {
        return Ok(PrivateKeyDer::Pkcs8(bytes.into()));
    }
    PrivateKeyDer::from_pem_slice(&bytes).with_context(|| format!("{} holds no private key", path.display()))
}

impl TlsFiles {
    /// A TLS-over-TCP acceptor offering HTTP/2 then HTTP/1.1 by ALPN.
    pub fn acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        let mut config = self.server_config()?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// The rustls configuration (ring provider, safe defaults), ALPN unset.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .with_context(|| format!("reading {}", self.cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("parsing {}", self.cert.display()))?;
        anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", self.cert.display());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder =
            ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(path)
                    .with_context(|| format!("reading {}", path.display()))?
                {
                    roots.add(cert.with_context(|| format!("parsing {}", path.display()))?)?;
                }
                let verifier =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .context("building the client certificate verifier")?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        builder
            .with_single_cert(chain, load_key(&self.key)?)
            .context("the TLS certificate does not match its key")
    }
}
