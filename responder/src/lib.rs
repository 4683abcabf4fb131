//! Cartorio's responder: serves pre-signed OCSP responses from an in-memory
//! index that follows the published manifest.
//!
//! ```text
//! object store --(loader: manifest + segments)--> Arc<Index> --(service)--> HTTP
//! ```

mod headers;
pub mod index;
mod instruments;
pub mod loader;
pub mod published;
pub mod readiness;
pub mod respond;
pub mod service;
pub mod tsa;

use arc_swap::ArcSwap;
use cartorio_platform::access_log::{AccessLog, AccessLogged, Listener};
use cartorio_platform::rounds::Reload;
use cartorio_platform::store::StoreConfig;
use cartorio_platform::tls::{LoadedTls, TlsAcceptor};
use cartorio_platform::{Shutdown, http, http3};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub use index::Index;
pub use respond::CachePolicy;
pub use service::{Limits, OcspService};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    pub store: StoreConfig,
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    #[serde(default = "default_max_age_cap")]
    pub max_age_cap_secs: i64,
    /// Serve RFC 3161 time-stamps at `POST /tsa`.
    #[serde(default)]
    pub tsa: Option<tsa::TsaConfig>,
    /// Also serve over TLS (HTTP/2 or HTTP/1.1 by ALPN).
    #[serde(default)]
    pub tls: Option<TlsListen>,
    /// Serving threads per listener; 0 (default) is one per core.
    #[serde(default)]
    pub threads: usize,
    /// Also serve `/metrics` (and `/healthz`) on this address, for a
    /// scraper on a private network.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Access log of the OCSP listeners (plain, TLS, HTTP/3): `refusals`
    /// (default: the hot path logs what went wrong), `all` or `off`.
    #[serde(default = "default_access_log")]
    pub access_log: AccessLog,
}

fn default_access_log() -> AccessLog {
    AccessLog::Refusals
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListen {
    pub listen: SocketAddr,
    #[serde(flatten)]
    pub files: cartorio_platform::tls::TlsFiles,
    /// Also serve HTTP/3 on the same port number over UDP, announced by
    /// `Alt-Svc` on the TLS responses.
    #[serde(default = "default_http3")]
    pub http3: bool,
}

fn default_http3() -> bool {
    true
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_poll_ms() -> u64 {
    1000
}
fn default_max_request_bytes() -> usize {
    10_000
}
fn default_max_age_cap() -> i64 {
    24 * 3600
}

impl ResponderConfig {
    /// The embedded default for `cartorio up`.
    pub fn embedded(store: StoreConfig) -> Self {
        Self {
            listen: default_listen(),
            store,
            poll_interval_ms: default_poll_ms(),
            max_request_bytes: default_max_request_bytes(),
            max_age_cap_secs: default_max_age_cap(),
            tsa: None,
            tls: None,
            threads: 0,
            metrics_listen: None,
            access_log: default_access_log(),
        }
    }
}

/// A responder configuration whose files have been read: the TSA's key and
/// chain and the TLS certificate. Built before any port is bound, so a
/// configuration that cannot be served never logs "listening".
pub struct Checked {
    config: ResponderConfig,
    tsa: Option<Arc<tsa::Tsa>>,
    /// The TLS listener's configuration (taken from `config`) and its files.
    tls: Option<(TlsListen, LoadedTls)>,
}

impl Checked {
    pub fn new(mut config: ResponderConfig) -> anyhow::Result<Self> {
        let tsa = config.tsa.as_ref().map(tsa::TsaConfig::build).transpose()?.map(Arc::new);
        let tls = config.tls.take().map(|tls| tls.files.load().map(|loaded| (tls, loaded))).transpose()?;
        Ok(Self { config, tsa, tls })
    }
}

/// Runs the responder on `listener` until `shutdown`. `reload` makes the
/// loader look at the manifest at once (the control plane pokes it in `up`).
/// With `config.tsa`, `POST /tsa` serves time-stamps.
///
/// `tls_listener` is bound by the caller (so it can report the address) when
/// the configuration has `tls`; `None` binds its `listen` here.
pub async fn run(
    checked: Checked,
    listener: TcpListener,
    tls_listener: Option<TcpListener>,
    reload: Arc<Reload>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let Checked { config, tsa, tls } = checked;
    let index = Arc::new(ArcSwap::from_pointee(Index::default()));
    let status = Arc::new(readiness::LoaderStatus::default());
    let loader = loader::Loader::new(config.store.open(), index.clone(), status.clone());
    let poll = Duration::from_millis(config.poll_interval_ms.max(10));
    let loader_task = tokio::spawn(loader.run(poll, reload, shutdown.clone()));
    if let Some(tsa) = &tsa {
        tokio::spawn(watch_tsa(tsa.clone(), shutdown.clone()));
    }
    let published = Arc::new(published::Published::new(config.store.open()));
    let service = OcspService::new(
        index,
        status,
        Some(published),
        Limits { max_request_bytes: config.max_request_bytes },
        CachePolicy { max_age_cap: config.max_age_cap_secs },
        tsa,
    );
    // Serving threads: one single-threaded runtime per core by default, each
    // accepting its own connections (measured: +12% req/s and half the p99 of
    // one shared multi-threaded runtime under wrk, benches/ocsp_peers.sh).
    let threads = match config.threads {
        0 => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        n => n,
    };
    let tls_task = match tls {
        Some((tls, LoadedTls { certs, acceptor })) => {
            // Renewed certificates are picked up from the files (see
            // `cartorio_platform::tls`), for TCP and QUIC alike.
            tokio::spawn(cartorio_platform::tls::watch(
                certs.clone(),
                Duration::from_secs(5),
                shutdown.clone(),
                "responder-tls",
            ));
            let listener = match tls_listener {
                Some(l) => l,
                None => http::bind(tls.listen, "responder-tls").await?,
            };
            let shutdown = shutdown.clone();
            let task = match tls.http3 {
                true => {
                    let addr = listener.local_addr()?;
                    let endpoint = http3::endpoint(addr, &tls.files, &certs)?;
                    tracing::info!(service = "responder-h3", %addr, "listening (UDP)");
                    let h3 = logged(service.clone(), "responder-h3", config.access_log);
                    tokio::spawn(http3::serve(endpoint, h3, shutdown.clone(), "responder-h3"));
                    let service = http3::AltSvc::new(service.clone(), addr.port());
                    let service = logged(service, "responder-tls", config.access_log);
                    tokio::spawn(serve_tls(listener, acceptor, threads, service, shutdown))
                }
                false => {
                    let service = logged(service.clone(), "responder-tls", config.access_log);
                    tokio::spawn(serve_tls(listener, acceptor, threads, service, shutdown))
                }
            };
            Some(task)
        }
        None => None,
    };
    let tsa_task = match config.tsa.as_ref().and_then(|t| t.listen.map(|addr| (addr, t.access_log))) {
        Some((addr, access_log)) => {
            let listener = http::bind(addr, "tsa").await?;
            let tsa_service = logged(service.tsa_only(), "tsa", access_log);
            let shutdown = shutdown.clone();
            Some(tokio::spawn(async move {
                http::serve_per_core(listener, Default::default(), threads, tsa_service, shutdown, "tsa")
                    .await
            }))
        }
        None => None,
    };
    let service = logged(service, "responder", config.access_log);
    http::serve_per_core(listener, Default::default(), threads, service, shutdown, "responder").await?;
    if let Some(task) = tsa_task {
        task.await??;
    }
    if let Some(task) = tls_task {
        task.await??;
    }
    let _ = loader_task.await;
    Ok(())
}

/// Looks at the TSA's clock every few seconds, so a change is logged and
/// shows in the gauges when it happens, not at the next request; and at its
/// key and chain files, so a renewed certificate signs from then on.
async fn watch_tsa(tsa: Arc<tsa::Tsa>, shutdown: Shutdown) {
    loop {
        tsa.clock.check();
        match tsa.reload() {
            Ok(true) => tracing::info!("TSA certificate reloaded"),
            Ok(false) => {}
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "TSA certificate not reloaded; signing with the current one"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.wait() => return,
        }
    }
}

fn logged<H>(service: H, name: &'static str, mode: AccessLog) -> AccessLogged<H> {
    AccessLogged::new(service, Listener { service: "responder", name }, mode)
}

async fn serve_tls<H: http::Handler>(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    threads: usize,
    service: H,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    http::serve_per_core(
        listener,
        http::Connections::tls(acceptor),
        threads,
        service,
        shutdown,
        "responder-tls",
    )
    .await
}
