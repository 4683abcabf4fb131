//! Cartorio's control plane: the registry, the CA, revocation, the OCSP
//! pre-signer and publisher, and the admin API that drives them.
//!
//! ```text
//! admin API / CLI --> Control::{issue, revoke} --> registry (commit, pending mark)
//!                                  |  wake
//!                                  v
//!                  pre-signer --> publisher --> object store --> responders
//! ```

pub mod acme;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod ca;
pub mod ceremony;
pub mod cli;
pub mod config;
pub mod crl;
pub mod hsm;
pub mod issuance;
pub mod keys;
pub mod paths;
pub mod presigner;
pub mod profile;
pub mod publisher;
pub mod readiness;
pub mod registry;
pub mod renewal;
pub mod revocation;
pub mod roles;

use anyhow::Context;
use cartorio_pkix::csr::VerifiedCsr;
use cartorio_platform::access_log::{AccessLogged, Listener};
use cartorio_platform::clock::unix_seconds;
use cartorio_platform::rounds::Reload;
use cartorio_platform::{ObjectStore, Shutdown, http};
pub use config::{ControlConfig, ControlFile};
use issuance::{IssueError, Issued};
use paths::DataDir;
use presigner::PreSigner;
use registry::{Registry, RevokeOutcome};
use ring::rand::SecureRandom;
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Longest the admin API waits for an issuance's or a revocation's OCSP
/// response to be published before it answers (a cycle takes tens of
/// milliseconds; a backlog of refreshes, a batch more).
pub const PUBLISH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, Error)]
pub enum RevokeError {
    #[error("{0}")]
    BadReason(String),
    #[error("no certificate with that serial")]
    NotFound,
    #[error("the certificate is already revoked")]
    AlreadyRevoked,
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The control plane's shared state; cheap to clone.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

struct Inner {
    config: ControlConfig,
    registry: Arc<Mutex<Registry>>,
    ca: Arc<ca::Hierarchy>,
    profiles: profile::Profiles,
    urls: issuance::Urls,
    /// Wakes the pre-signer after a change.
    presign: Arc<Notify>,
    /// How far the pre-signer running here has got.
    presign_progress: Arc<cartorio_platform::rounds::Rounds>,
    /// Issuances waiting to share a registry commit.
    commits: issuance::GroupCommit,
    keyring: keys::Keyring,
}

/// Normalises a serial as typed by a person: optional `0x`, any case,
/// `:` separators, leading zeros.
pub fn normalize_serial(text: &str) -> Option<String> {
    let hex: String = text.trim().trim_start_matches("0x").chars().filter(|c| *c != ':').collect();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let padded = if hex.len() % 2 == 1 { format!("0{hex}") } else { hex };
    let bytes = ::hex::decode(padded.to_ascii_lowercase()).ok()?;
    Some(cartorio_pkix::cert::serial_hex(&bytes))
}

impl Control {
    /// Opens the control plane on `data_dir`, creating the CA, registry and
    /// demo admin token on first start when `create` is set. Safe to call
    /// from async code: the registry work runs on a thread of its own.
    pub fn open(config: ControlConfig, create: bool) -> anyhow::Result<Self> {
        registry::off_async(move || Self::open_blocking(config, create))?
    }

    fn open_blocking(config: ControlConfig, create: bool) -> anyhow::Result<Self> {
        let dir = &config.data_dir;
        if !create {
            anyhow::ensure!(
                dir.pki().join("issuer.pem").exists(),
                "{} has no CA yet: run `cartorio up --data-dir {}` once first",
                dir.root().display(),
                dir.root().display()
            );
        }
        std::fs::create_dir_all(dir.root())?;
        let now = unix_seconds();
        let keyring = keys::Keyring::open(dir)?;
        config.ocsp.validate()?;
        if let Some(sharding) = &config.crl_sharding {
            anyhow::ensure!(sharding.shards >= 1, "[crl] shards must be at least 1");
        }
        // A ceremony's directory holds the CAs it made; `up` makes its own.
        let plan = match dir.pki().join("ceremony.json").exists() {
            true => Vec::new(),
            false => ca::default_plan(),
        };
        let names = ca::issuer_names(dir, &plan);
        let stems = ca::key_stems(&names.iter().map(String::as_str).collect::<Vec<_>>());
        let missing: Vec<&String> = stems.iter().filter(|k| !keyring.exists(k)).collect();
        let (hierarchy, renewed) = ca::bootstrap(dir, &keyring, &plan, &config.own_certificates, now)?;
        let ca = hierarchy;
        let profiles = profile::Profiles::compile(&config.profiles, &ca.names())?;
        // What bootstrap generated (a root key is not made once the CA exists).
        let new_keys: Vec<&String> = missing.into_iter().filter(|k| keyring.exists(k)).collect();
        let database = registry::Database::select(config.database_url.as_deref(), dir)?;
        let mut registry = Registry::open(&database)?;
        tracing::info!(registry = database.describe(), "registry open");
        for stem in new_keys {
            let event = audit::Event {
                kind: "key.generate",
                actor: "control",
                detail: serde_json::json!({"key": stem, "algorithm": "ECDSA P-256", "store": keyring.store(stem)}),
            };
            registry.audited(&event, now, |_| Ok(()))?;
        }
        for r in renewed.iter().filter(|r| r.reason != "missing") {
            registry.audited(&renewal::audit_event(r), now, |_| Ok(()))?;
        }
        let event = audit::Event {
            kind: "config.load",
            actor: "control",
            detail: serde_json::json!({"ocsp_url": config.ocsp_url, "ocsp_validity_secs": config.ocsp.validity_secs,
                "issuers": ca.names(), "profiles": profiles.names().collect::<Vec<_>>()}),
        };
        registry.audited(&event, now, |_| Ok(()))?;
        for issuer in &ca.issuers {
            registry.upsert_issuer(&issuer.id, &issuer.name, &issuer.cert, now)?;
        }
        if create && !dir.admin_token().exists() {
            let mut raw = [0u8; 32];
            ring::rand::SystemRandom::new()
                .fill(&mut raw)
                .map_err(|_| anyhow::anyhow!("system RNG failed"))?;
            let token = ::hex::encode(raw);
            // The walk-through's token, readable only by the data
            // directory's owner; operators make expiring ones.
            registry.add_admin_token(
                &cartorio_pkix::hash::sha256_hex(token.as_bytes()),
                "admin",
                now,
                None,
            )?;
            paths::write_private(&dir.admin_token(), token.as_bytes())?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                urls: config.urls(),
                config,
                registry: Arc::new(Mutex::new(registry)),
                ca: Arc::new(ca),
                profiles,
                presign: Arc::new(Notify::new()),
                presign_progress: Arc::default(),
                commits: issuance::GroupCommit::default(),
                keyring,
            }),
        })
    }

    /// The ACME server `[acme]` configures, bound to `listener`; `None`
    /// without one.
    pub fn acme(&self, bound: std::net::SocketAddr) -> anyhow::Result<Option<acme::Acme>> {
        let Some(config) = self.inner.config.acme.clone() else { return Ok(None) };
        let base = config.base(bound);
        acme::Acme::open(self.clone(), config, base).map(Some)
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.inner.config.data_dir
    }

    async fn with_registry<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Registry, &ca::Hierarchy) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut registry::lock(&inner.registry), &inner.ca))
            .await
            .context("registry task failed")
    }

    /// The issuing CA called `name` (`None`: the default one).
    fn issuing_ca(&self, name: Option<&str>) -> Result<Arc<ca::IssuingCa>, IssueError> {
        let name = name.unwrap_or(ca::DEFAULT_ISSUER);
        self.inner.ca.issuer(name).cloned().ok_or_else(|| {
            IssueError::Unknown(format!(
                "no issuing CA {name:?} (there are {})",
                self.inner.ca.names().join(", ")
            ))
        })
    }

    /// An issuing CA's full CRL now.
    pub async fn crl(&self, issuer: Option<String>) -> anyhow::Result<crl::IssuedCrl> {
        let ca = self.issuing_ca(issuer.as_deref())?;
        let now = cartorio_platform::clock::unix_micros();
        self.with_registry(move |registry, _| crl::issue(registry, &ca, now)).await?
    }

    /// One shard's CRL now, under `sharding`.
    pub async fn crl_shard(
        &self,
        issuer: Option<String>,
        sharding: crl::CrlSharding,
        shard: u32,
    ) -> anyhow::Result<crl::IssuedCrl> {
        let ca = self.issuing_ca(issuer.as_deref())?;
        let now = cartorio_platform::clock::unix_micros();
        self.with_registry(move |registry, _| crl::issue_shard(registry, &ca, &sharding, shard, now)).await?
    }

    /// The role of the token, if it is one we issued. Looked up by hash: the
    /// comparison never touches the secret itself. An attempt that cannot
    /// be audited is refused.
    pub async fn authenticate(&self, token: String) -> Option<roles::Role> {
        let hash = cartorio_pkix::hash::sha256_hex(token.as_bytes());
        match self.with_registry(move |r, _| r.admin_login(&hash, unix_seconds())).await {
            Ok(Ok(Some(role))) => roles::Role::parse(&role),
            _ => None,
        }
    }

    /// Records a login by client certificate (`role`: what its CN maps to).
    /// Returns whether it was recorded: an attempt that cannot be audited
    /// must not be let in.
    pub async fn audit_certificate_login(&self, subject: String, role: Option<roles::Role>) -> bool {
        let outcome = self
            .with_registry(move |r, _| {
                let event = audit::Event {
                    kind: "admin.login",
                    actor: role.map_or("unknown", roles::Role::name),
                    detail: serde_json::json!({"method": "mtls", "subject": subject, "ok": role.is_some()}),
                };
                r.audited(&event, unix_seconds(), |_| Ok(()))
            })
            .await;
        matches!(outcome, Ok(Ok(())))
    }

    /// Creates a bearer token for `role`, valid for `valid_for` seconds
    /// (`None`: until revoked); returns the token (shown once, stored only
    /// as its hash).
    pub async fn add_token(&self, role: roles::Role, valid_for: Option<i64>) -> anyhow::Result<String> {
        let mut raw = [0u8; 32];
        ring::rand::SystemRandom::new().fill(&mut raw).map_err(|_| anyhow::anyhow!("system RNG failed"))?;
        let token = ::hex::encode(raw);
        let hash = cartorio_pkix::hash::sha256_hex(token.as_bytes());
        let now = unix_seconds();
        let expires_at = valid_for.map(|secs| now.saturating_add(secs));
        self.with_registry(move |r, _| r.add_admin_token(&hash, role.name(), now, expires_at)).await??;
        Ok(token)
    }

    /// Every admin token (by a prefix of its hash), oldest first.
    pub async fn admin_tokens(&self) -> anyhow::Result<Vec<registry::AdminToken>> {
        self.with_registry(|r, _| r.admin_tokens()).await?
    }

    /// Revokes the admin token whose hash starts with `prefix`.
    pub async fn revoke_admin_token(&self, prefix: String) -> anyhow::Result<registry::TokenRevocation> {
        self.with_registry(move |r, _| r.revoke_admin_token(&prefix, unix_seconds())).await?
    }

    /// `cartorio audit verify` over this control plane's registry and the
    /// checkpoints it exported.
    pub async fn audit_verify(&self) -> anyhow::Result<Result<String, String>> {
        let dir = self.data_dir().clone();
        let database = registry::Database::select(self.inner.config.database_url.as_deref(), &dir)?;
        cli::audit_verify_with(&dir, &database, &self.store(), &cli::AuditSources::default()).await
    }

    /// Where this control plane publishes.
    fn store(&self) -> ObjectStore {
        match &self.inner.config.store {
            Some(config) => config.open(),
            None => ObjectStore::local(self.data_dir().store()),
        }
    }

    /// The profile called `name` and the CA that signs under it (the
    /// profile's, or `issuer` when given).
    pub(crate) fn order_parts(
        &self,
        name: &str,
        issuer: Option<&str>,
    ) -> Result<(profile::Profile, Arc<ca::IssuingCa>), IssueError> {
        let profile = self.inner.profiles.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.inner.profiles.names().collect();
            IssueError::Unknown(format!("unknown profile {name:?} (known: {})", known.join(", ")))
        })?;
        let ca = self.issuing_ca(Some(issuer.unwrap_or(&profile.issuer)))?;
        Ok((profile, ca))
    }

    /// Records a request refused by its profile (the rule it broke).
    pub(crate) async fn audit_refusal(&self, refusal: &profile::Refusal) {
        let refusal = refusal.clone();
        let recorded = self
            .with_registry(move |r, _| {
                let event = audit::Event {
                    kind: "certificate.refuse",
                    actor: "control",
                    detail: serde_json::json!({"profile": refusal.profile, "rule": refusal.rule,
                        "detail": refusal.detail.chars().take(300).collect::<String>()}),
                };
                r.audited(&event, unix_seconds(), |_| Ok(()))
            })
            .await;
        if !matches!(recorded, Ok(Ok(()))) {
            tracing::error!("a refused request could not be audited");
        }
        metrics::counter!("cartorio_certificates_refused_total").increment(1);
    }

    /// Verifies `csr`, holds it to `profile`, issues it from the profile's
    /// CA (or `issuer`), commits, wakes the pre-signer.
    pub async fn issue(
        &self,
        csr: Vec<u8>,
        profile: String,
        issuer: Option<String>,
    ) -> Result<Issued, IssueError> {
        let (profile, ca) = self.order_parts(&profile, issuer.as_deref())?;
        let csr = VerifiedCsr::from_pem_or_der(&csr).map_err(|e| IssueError::BadRequest(e.to_string()))?;
        self.sign_and_commit(csr, profile, ca, None).await
    }

    /// Issues a verified `csr` under `profile` from `ca`; for an ACME order
    /// when `acme` names one (completed in the same commit).
    pub(crate) async fn sign_and_commit(
        &self,
        csr: VerifiedCsr,
        profile: profile::Profile,
        ca: Arc<ca::IssuingCa>,
        acme: Option<registry::AcmeIssue>,
    ) -> Result<Issued, IssueError> {
        let inner = self.inner.clone();
        let name = profile.name.clone();
        let issued = tokio::task::spawn_blocking(move || {
            let order = issuance::Order {
                ca: &ca,
                profile: &profile,
                urls: &inner.urls,
                sharding: inner.config.crl_sharding.as_ref(),
                acme: acme.as_ref(),
            };
            inner.commits.issue(&order, &inner.registry, &csr, unix_seconds())
        })
        .await
        .map_err(|e| IssueError::Internal(e.into()))?;
        let issued = match issued {
            Err(IssueError::Refused(refusal)) => {
                self.audit_refusal(&refusal).await;
                return Err(IssueError::Refused(refusal));
            }
            other => other?,
        };
        tracing::info!(serial = issued.serial, profile = name, issuer = issued.issuer, "issued");
        self.inner.presign.notify_one();
        Ok(issued)
    }

    /// Verifies every CSR and issues them all under `profile` in one
    /// registry commit (an audit entry each; all or none): bulk issuance.
    pub async fn issue_batch(&self, csrs: Vec<Vec<u8>>, profile: String) -> Result<Vec<Issued>, IssueError> {
        let (profile, ca) = self.order_parts(&profile, None)?;
        let csrs = csrs
            .iter()
            .map(|csr| VerifiedCsr::from_pem_or_der(csr).map_err(|e| IssueError::BadRequest(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let (urls, sharding) = (self.inner.urls.clone(), self.inner.config.crl_sharding.clone());
        let issued = self
            .with_registry(move |r, _| {
                let order = issuance::Order {
                    ca: &ca,
                    profile: &profile,
                    urls: &urls,
                    sharding: sharding.as_ref(),
                    acme: None,
                };
                issuance::issue_batch(&order, r, &csrs.iter().collect::<Vec<_>>(), unix_seconds())
            })
            .await
            .map_err(IssueError::Internal)?;
        let issued = match issued {
            Err(IssueError::Refused(refusal)) => {
                self.audit_refusal(&refusal).await;
                return Err(IssueError::Refused(refusal));
            }
            other => other?,
        };
        self.inner.presign.notify_one();
        Ok(issued)
    }

    pub async fn revoke(&self, serial: String, reason: String) -> Result<serde_json::Value, RevokeError> {
        let code = revocation::parse_reason(&reason).ok_or_else(|| {
            RevokeError::BadReason(format!("unknown reason {reason:?}; one of: {}", revocation::names()))
        })?;
        let serial = normalize_serial(&serial).ok_or(RevokeError::NotFound)?;
        self.revoke_code(serial, code, None).await
    }

    /// Revokes `serial` (normalised) for reason `code`, audited as asked by
    /// `acme_account` when given.
    pub(crate) async fn revoke_code(
        &self,
        serial: String,
        code: u8,
        acme_account: Option<String>,
    ) -> Result<serde_json::Value, RevokeError> {
        let at = unix_seconds();
        let key = serial.clone();
        let outcome =
            self.with_registry(move |r, _| r.revoke_as(&key, at, code, acme_account.as_deref())).await??;
        match outcome {
            RevokeOutcome::Revoked => {
                metrics::counter!("cartorio_certificates_revoked_total").increment(1);
                tracing::info!(serial, reason = revocation::reason_name(code), "revoked");
                self.inner.presign.notify_one();
                Ok(serde_json::json!({
                    "serial": serial,
                    "revoked_at": at,
                    "reason": revocation::reason_name(code),
                }))
            }
            RevokeOutcome::AlreadyRevoked => Err(RevokeError::AlreadyRevoked),
            RevokeOutcome::NotFound => Err(RevokeError::NotFound),
        }
    }

    pub async fn status(&self, serial: String) -> anyhow::Result<Option<serde_json::Value>> {
        let Some(serial) = normalize_serial(&serial) else {
            return Ok(None);
        };
        let record = self.with_registry(move |r, _| r.certificate(&serial)).await??;
        Ok(record.map(|c| {
            serde_json::json!({
                "serial": c.serial,
                "profile": c.profile,
                "subject": c.subject,
                "not_before": c.not_before,
                "not_after": c.not_after,
                "status": if c.revoked_at.is_some() { "revoked" } else { "good" },
                "revoked_at": c.revoked_at,
                "reason": c.revocation_reason.map(revocation::reason_name),
            })
        }))
    }

    /// A pre-signer publishing to this data directory's store, under the
    /// registry's publication epoch.
    pub async fn presigner(&self, on_publish: Arc<Reload>) -> anyhow::Result<PreSigner> {
        let store = self.store();
        let epoch = self.with_registry(|r, _| r.publication_epoch()).await??;
        let mut publisher =
            publisher::Publisher::open(store, self.inner.config.ocsp.cert_id_hashes.clone()).await?;
        publisher.set_epoch(epoch);
        Ok(PreSigner {
            registry: self.inner.registry.clone(),
            ca: self.inner.ca.clone(),
            publisher,
            policy: self.inner.config.ocsp.clone(),
            crl_sharding: self.inner.config.crl_sharding.clone(),
            on_publish,
            progress: self.inner.presign_progress.clone(),
            crl_published_at: 0,
            checkpoint_at: 0,
        })
    }

    /// Waits until what was committed before this call is published by the
    /// pre-signer running in this process (a response signed, the manifest
    /// naming it written), at most [`PUBLISH_WAIT`]; `false` when none runs
    /// here (the offline CLI) or it took longer.
    pub async fn published_since_now(&self) -> bool {
        self.inner.presign_progress.ended_since_now(PUBLISH_WAIT).await
    }

    /// Makes every unexpired certificate due for a fresh response now.
    pub async fn refresh_all(&self) -> anyhow::Result<u64> {
        self.with_registry(|r, _| r.refresh_all(unix_seconds())).await?
    }

    /// Runs the admin API and the pre-signer until shutdown. `on_publish` is
    /// asked for a reload after every publication (see [`PreSigner`]).
    pub async fn run(
        &self,
        listener: TcpListener,
        on_publish: Arc<Reload>,
        shutdown: Shutdown,
    ) -> anyhow::Result<()> {
        // TLS and roles first: a bad [admin_tls] stops the start.
        let (mut connections, roles) = match &self.inner.config.admin_tls {
            Some(tls) => {
                let (files, roles) = (tls.files(), tls.roles()?);
                let certs = files.certs()?;
                let interval = std::time::Duration::from_secs(5);
                tokio::spawn(cartorio_platform::tls::watch(
                    certs.clone(),
                    interval,
                    shutdown.clone(),
                    "control",
                ));
                (http::Connections::tls(files.acceptor(&certs)?), roles)
            }
            None => (http::Connections::default(), Default::default()),
        };
        // Reachable for operators while a public port is flooded.
        connections.slots = cartorio_platform::conn_limits::ConnectionSlots::operators();
        let service = admin::AdminService::new(self.clone(), roles);
        let listener_name = Listener { service: "control", name: "control" };
        let service = AccessLogged::new(service, listener_name, self.inner.config.access_log);
        let presigner = self.presigner(on_publish).await?;
        let presign_task = tokio::spawn(presigner.run(self.inner.presign.clone(), shutdown.clone()));
        tokio::spawn(self.clone().renew_own_certificates(shutdown.clone()));
        http::serve_with(listener, connections, service, shutdown, "control").await;
        let _ = presign_task.await;
        Ok(())
    }
}
