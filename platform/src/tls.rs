//! TLS for listeners: rustls with the ring provider; ALPN h2 then http/1.1
//! over TCP, h3 over QUIC (`http3`).
//!
//! A listener's certificate is re-read when its files change
//! ([`ReloadingCert`], polled by [`watch`]): a renewed certificate is served
//! from the next handshake on, with no restart and no connection dropped.

use anyhow::Context;
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
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

fn parse_key(path: &Path, bytes: &[u8]) -> anyhow::Result<PrivateKeyDer<'static>> {
    if bytes.first() == Some(&0x30) {
        return Ok(PrivateKeyDer::Pkcs8(bytes.to_vec().into()));
    }
    PrivateKeyDer::from_pem_slice(bytes).with_context(|| format!("{} holds no private key", path.display()))
}

/// A listener's certificate and key, swapped for the ones in its files
/// when those change ([`ReloadingCert::reload`]). A pair whose key does not
/// match its certificate (a renewal caught half-written) is not taken: the
/// current one is served until the next look.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// The bytes of both files last loaded.
    loaded: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl ReloadingCert {
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Self>> {
        let (chain_bytes, key_bytes) = read_pair(cert, key)?;
        let certified = certified_key(cert, &chain_bytes, key, &key_bytes)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: ArcSwap::from_pointee(certified),
            loaded: Mutex::new((chain_bytes, key_bytes)),
        }))
    }

    /// Re-reads the files; returns whether a new certificate is served now.
    pub fn reload(&self) -> anyhow::Result<bool> {
        let (chain_bytes, key_bytes) = read_pair(&self.cert, &self.key)?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.0 == chain_bytes && loaded.1 == key_bytes {
            return Ok(false);
        }
        let certified = certified_key(&self.cert, &chain_bytes, &self.key, &key_bytes)?;
        self.current.store(Arc::new(certified));
        *loaded = (chain_bytes, key_bytes);
        Ok(true)
    }

    /// The leaf certificate served now (DER).
    pub fn leaf(&self) -> Option<Vec<u8>> {
        self.current.load().cert.first().map(|c| c.to_vec())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn read_pair(cert: &Path, key: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let chain = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
    let key_bytes = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    Ok((chain, key_bytes))
}

fn certified_key(
    cert: &Path,
    chain_bytes: &[u8],
    key: &Path,
    key_bytes: &[u8],
) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(chain_bytes)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key_der = parse_key(key, key_bytes)?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key_der, &provider)
        .with_context(|| format!("{} does not match its key {}", cert.display(), key.display()))
}

/// Looks at the files of `certs` every `interval` until `shutdown`,
/// serving what they hold once it changed.
pub async fn watch(
    certs: Arc<ReloadingCert>,
    interval: Duration,
    shutdown: crate::Shutdown,
    name: &'static str,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
        match certs.reload() {
            Ok(true) => {
                tracing::info!(service = name, certificate = %certs.cert.display(), "TLS certificate reloaded")
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(
                service = name,
                error = format!("{error:#}"),
                "TLS certificate not reloaded; serving the current one"
            ),
        }
    }
}

/// TLS files read and an acceptor built from them: what a service checks
/// before it binds its port.
pub struct LoadedTls {
    pub certs: Arc<ReloadingCert>,
    pub acceptor: TlsAcceptor,
}

impl TlsFiles {
    /// The certificate of these files and a TLS-over-TCP acceptor serving it.
    pub fn load(&self) -> anyhow::Result<LoadedTls> {
        let certs = self.certs()?;
        Ok(LoadedTls { acceptor: self.acceptor(&certs)?, certs })
    }

    /// A TLS-over-TCP acceptor offering HTTP/2 then HTTP/1.1 by ALPN,
    /// serving the certificate `certs` holds.
    pub fn acceptor(&self, certs: &Arc<ReloadingCert>) -> anyhow::Result<TlsAcceptor> {
        let mut config = self.server_config(certs)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// The certificate and key of these files, reloadable.
    pub fn certs(&self) -> anyhow::Result<Arc<ReloadingCert>> {
        ReloadingCert::load(&self.cert, &self.key)
    }

    /// The rustls configuration (ring provider, safe defaults), ALPN unset.
    pub fn server_config(&self, certs: &Arc<ReloadingCert>) -> anyhow::Result<ServerConfig> {
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
        Ok(builder.with_cert_resolver(certs.clone()))
    }
}
