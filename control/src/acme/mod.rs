//! The ACME server (RFC 8555; RFC 8737 tls-alpn-01, RFC 8738 IP
//! identifiers, RFC 9773 renewal information, the ACME profiles
//! extension): certbot, lego and any RFC 8555 client get, renew and revoke
//! certificates under the profiles `[acme]` offers.
//!
//! ```text
//! request -> routes (method, path) -> request::authenticate (JWS, URL,
//!   nonce, key) -> account | order | revoke | ari handlers -> Reply
//!                                      |
//!              challenge POST -> validate::Validator (off the request path)
//! ```
//! Every answer carries a fresh Replay-Nonce and the directory link; every
//! error is a problem document with its RFC 8555 type ([`problem`]).

pub mod account;
pub mod ari;
pub mod config;
#[doc(hidden)]
pub mod fuzz;
pub mod identifiers;
pub mod jws;
pub mod objects;
pub mod operator;
pub mod order;
pub mod problem;
pub mod request;
pub mod revoke;
mod routes;
pub mod validate;

pub use config::AcmeConfig;

use crate::Control;
use crate::profile::Profile;
use crate::registry::acme::AcmeStore;
use anyhow::Context;
use cartorio_platform::Shutdown;
use cartorio_platform::access_log::{AccessLogged, Listener};
use cartorio_platform::clock::unix_seconds;
use cartorio_platform::http::{self, Body};
use cartorio_platform::tls::LoadedTls;
use http_body_util::Full;
use objects::Urls;
use problem::{AcmeResult, Problem};
use ring::rand::SecureRandom;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// How long a nonce is good for.
const NONCE_LIFETIME_SECS: i64 = 3600;
/// Nonces are recorded this many at a time (one commit), then handed out.
const NONCE_BATCH: usize = 128;

/// What a handler answers when it succeeds.
pub struct Reply {
    pub status: u16,
    pub body: ReplyBody,
    pub location: Option<String>,
    /// `Link` header values besides the directory's.
    pub links: Vec<String>,
    pub retry_after: Option<u64>,
}

pub enum ReplyBody {
    Json(serde_json::Value),
    Pem(String),
    Empty,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self { status, body: ReplyBody::Json(body), location: None, links: Vec::new(), retry_after: None }
    }

    pub fn located(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }
}

/// The ACME server's state; cheap to clone.
#[derive(Clone)]
pub struct Acme {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    control: Control,
    config: AcmeConfig,
    urls: Urls,
    /// One connection: a pool of four made ACME slower (30 ms instead of
    /// 15 ms per order with one client, 190 instead of 268 orders/s with
    /// 32, `benches/acme_pebble.sh`): its writers waited in SQLite's busy
    /// handler, which sleeps, where this mutex hands over at once.
    store: Arc<Mutex<AcmeStore>>,
    nonces: Mutex<Vec<String>>,
    validator: validate::Validator,
    /// The profiles orders may select, by name.
    profiles: BTreeMap<String, Profile>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A random identifier: `bytes` random octets, base64url.
pub fn random_id(bytes: usize) -> anyhow::Result<String> {
    let mut raw = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut raw).map_err(|_| anyhow::anyhow!("system RNG failed"))?;
    Ok(jws::b64_encode(&raw))
}

impl Acme {
    /// The ACME server of `control` as `config` says, reachable at `base`.
    pub fn open(control: Control, config: AcmeConfig, base: String) -> anyhow::Result<Self> {
        let known: Vec<&str> = control.inner.profiles.names().collect();
        config.validate(&known)?;
        let profiles = config
            .profiles
            .iter()
            .filter_map(|name| control.inner.profiles.get(name).map(|p| (name.clone(), p.clone())))
            .collect();
        let database = crate::registry::Database::select(
            control.inner.config.database_url.as_deref(),
            control.data_dir(),
        )?;
        let store = Arc::new(Mutex::new(
            crate::registry::off_async(move || AcmeStore::open(&database))?
                .context("opening the ACME store")?,
        ));
        let validator = validate::Validator::new(&config.validation)?;
        let urls = Urls::new(base);
        Ok(Self {
            inner: Arc::new(Inner {
                control,
                config,
                urls,
                store,
                nonces: Mutex::new(Vec::new()),
                validator,
                profiles,
            }),
        })
    }

    pub fn urls(&self) -> &Urls {
        &self.inner.urls
    }

    pub(crate) fn config(&self) -> &AcmeConfig {
        &self.inner.config
    }

    pub(crate) fn control(&self) -> &Control {
        &self.inner.control
    }

    pub(crate) fn profile(&self, name: &str) -> Option<&Profile> {
        self.inner.profiles.get(name)
    }

    pub(crate) fn profiles(&self) -> &BTreeMap<String, Profile> {
        &self.inner.profiles
    }

    pub(crate) fn validator(&self) -> &validate::Validator {
        &self.inner.validator
    }

    /// Runs `work` on the ACME store, off the async threads.
    pub(crate) async fn store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut AcmeStore) -> anyhow::Result<T> + Send + 'static,
    ) -> AcmeResult<T> {
        let store = self.inner.store.clone();
        let outcome = tokio::task::spawn_blocking(move || work(&mut lock(&store)))
            .await
            .context("ACME store task failed")
            .and_then(|r| r);
        outcome.map_err(|e| Problem::internal(&e))
    }

    /// Runs `work` on the registry (audited changes), off the async threads.
    pub(crate) async fn registry<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut crate::registry::Registry) -> anyhow::Result<T> + Send + 'static,
    ) -> AcmeResult<T> {
        let outcome = self.inner.control.with_registry(move |r, _| work(r)).await.and_then(|r| r);
        outcome.map_err(|e| Problem::internal(&e))
    }

    /// A fresh nonce: taken from a batch recorded in one commit.
    pub(crate) async fn nonce(&self) -> AcmeResult<String> {
        if let Some(nonce) = lock(&self.inner.nonces).pop() {
            return Ok(nonce);
        }
        let batch = (0..NONCE_BATCH).map(|_| random_id(16)).collect::<anyhow::Result<Vec<_>>>()?;
        let expires_at = unix_seconds() + NONCE_LIFETIME_SECS;
        let recorded = batch.clone();
        self.store(move |s| {
            s.issue_nonces(&recorded, expires_at)?;
            s.purge_nonces(unix_seconds())?;
            Ok(())
        })
        .await?;
        let mut batch = batch;
        let nonce = batch.pop().context("an empty nonce batch")?;
        lock(&self.inner.nonces).extend(batch);
        Ok(nonce)
    }

    /// Serves ACME on `listener` (TLS from the configured files, reloaded
    /// when they change) until `shutdown`; takes up validations a previous
    /// run left unfinished.
    pub async fn serve(self, listener: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
        let files = cartorio_platform::tls::TlsFiles {
            cert: self.inner.config.tls_cert.clone(),
            key: self.inner.config.tls_key.clone(),
            client_ca: None,
        };
        let LoadedTls { certs, acceptor } = files.load()?;
        let interval = std::time::Duration::from_secs(5);
        tokio::spawn(cartorio_platform::tls::watch(certs, interval, shutdown.clone(), "acme"));
        let unfinished =
            self.store(|s| s.processing_challenges()).await.map_err(|p| anyhow::anyhow!(p.detail))?;
        for challenge in unfinished {
            self.inner.validator.start(self.clone(), challenge);
        }
        let mode = self.inner.config.access_log;
        let service = AccessLogged::new(
            routes::AcmeService::new(self),
            Listener { service: "control", name: "acme" },
            mode,
        );
        http::serve_with(listener, http::Connections::tls(acceptor), service, shutdown, "acme").await;
        Ok(())
    }
}

/// Builds the HTTP response for a reply or a problem, with `nonce` and the
/// directory link.
pub(crate) fn respond(
    outcome: AcmeResult<Reply>,
    nonce: Option<String>,
    urls: &Urls,
) -> ::http::Response<Body> {
    let reply = outcome.unwrap_or_else(|problem| Reply {
        status: problem.kind.status(),
        location: problem.location(),
        links: Vec::new(),
        retry_after: problem.retry_after(),
        body: ReplyBody::Json(problem.to_json()),
    });
    let is_problem = reply.status >= 400;
    let (content_type, bytes) = match reply.body {
        ReplyBody::Json(value) if is_problem => ("application/problem+json", value.to_string().into_bytes()),
        ReplyBody::Json(value) => ("application/json", value.to_string().into_bytes()),
        ReplyBody::Pem(text) => ("application/pem-certificate-chain", text.into_bytes()),
        ReplyBody::Empty => ("", Vec::new()),
    };
    let mut builder = ::http::Response::builder()
        .status(reply.status)
        .header("Cache-Control", "no-store")
        .header("Link", format!("<{}>;rel=\"index\"", urls.directory()));
    if !content_type.is_empty() {
        builder = builder.header("Content-Type", content_type);
    }
    for link in &reply.links {
        builder = builder.header("Link", link.as_str());
    }
    if let Some(nonce) = nonce {
        builder = builder.header("Replay-Nonce", nonce);
    }
    if let Some(location) = reply.location {
        builder = builder.header("Location", location);
    }
    if let Some(secs) = reply.retry_after {
        builder = builder.header("Retry-After", secs.to_string());
    }
    builder.body(Full::new(bytes.into())).unwrap_or_else(|_| {
        let mut resp = ::http::Response::new(Full::default());
        *resp.status_mut() = ::http::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}
