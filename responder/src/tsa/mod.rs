//! The RFC 3161 Time-Stamp Authority served at `POST /tsa`.
//!
//! Per request: bounded read, parse, policy checks, clock check, serial,
//! token, durable log record, reply. Every refusal is a TimeStampResp with
//! status `rejection` and its failInfo bit, with HTTP 200.

mod clock_state;
mod issuance_log;
mod serial;

pub use clock_state::{ClockPolicy, ClockState, ClockWatch};
pub use issuance_log::IssuanceLog;
pub use serial::SerialAllocator;

use crate::instruments::TsaMetrics;
use arc_swap::ArcSwap;
use cartorio_pkix::tsp::{
    FailInfo, GenTime, RequestPolicy, TimeStampRequest, TokenTemplate, check_request, parse_request,
    rejection,
};
use cartorio_platform::clock;
use std::time::Instant;

pub struct Tsa {
    /// Swapped when the key or chain files change (a renewed certificate).
    template: ArcSwap<TokenTemplate>,
    files: TemplateFiles,
    pub policy: RequestPolicy,
    pub clock: ClockWatch,
    pub serials: SerialAllocator,
    pub log: IssuanceLog,
    pub metrics: TsaMetrics,
}

/// Outcome label for metrics: `granted` or the failInfo name.
use cartorio_platform::access_log::AccessLog;

pub type OutcomeLabel = &'static str;

impl Tsa {
    fn accept<'r>(&self, body: &'r [u8]) -> Result<(TimeStampRequest<'r>, &[u8]), FailInfo> {
        let req = parse_request(body)?;
        let policy = check_request(&req, &self.policy)?;
        if !self.clock.check().issuing() {
            return Err(FailInfo::TimeNotAvailable);
        }
        Ok((req, policy))
    }

    /// The complete TimeStampResp for a request body (`None` when the body
    /// was over the size limit); the outcome is counted.
    /// The reply's DER and its outcome label (`granted` or a failInfo's).
    pub async fn answer(&self, body: Option<&[u8]>) -> (Vec<u8>, OutcomeLabel) {
        let (der, outcome) = self.respond(body).await;
        self.metrics.outcome(outcome);
        (der, outcome)
    }

    async fn respond(&self, body: Option<&[u8]>) -> (Vec<u8>, OutcomeLabel) {
        let Some(body) = body else {
            return refuse(FailInfo::BadDataFormat);
        };
        let (req, policy) = match self.accept(body) {
            Ok(accepted) => accepted,
            Err(fail) => return refuse(fail),
        };
        let serial = self.serials.next();
        let gen_time = GenTime { unix_micros: clock::unix_micros() };
        let started = Instant::now();
        let token = match self.template.load().issue(&req, policy, &serial, gen_time) {
            Ok(token) => token,
            Err(error) => {
                tracing::error!(%error, "time-stamp signing failed");
                return refuse(FailInfo::SystemFailure);
            }
        };
        self.metrics.signing(started.elapsed().as_secs_f64());
        let record =
            issuance_log::record(&serial, gen_time.unix_micros, req.hash.name(), req.hashed_message, policy);
        if let Err(error) = self.log.append(record).await {
            // Not recorded means not issued.
            tracing::error!(%error, "issuance log append failed; token withheld");
            return refuse(FailInfo::SystemFailure);
        }
        (token, "granted")
    }
}

fn refuse(fail: FailInfo) -> (Vec<u8>, OutcomeLabel) {
    (rejection(fail), fail.label())
}

impl Tsa {
    /// Reads the key and chain files again; returns whether a new
    /// certificate (or key) signs from now on. A key that does not match
    /// the chain's certificate (a renewal caught half-written) is not
    /// taken: the current template signs until the next look.
    pub fn reload(&self) -> anyhow::Result<bool> {
        match self.files.load()? {
            Some(template) => {
                self.template.store(std::sync::Arc::new(template));
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Where a TSA's key and chain come from, and what the template states.
struct TemplateFiles {
    key: std::path::PathBuf,
    chain: std::path::PathBuf,
    key_type: String,
    precision: cartorio_pkix::tsp::TimePrecision,
    accuracy_us: u64,
    /// The bytes of both files last turned into a template.
    loaded: std::sync::Mutex<(Vec<u8>, Vec<u8>)>,
}

impl TemplateFiles {
    /// A template from the files, or `None` when they have not changed.
    fn load(&self) -> anyhow::Result<Option<TokenTemplate>> {
        use anyhow::Context;
        use cartorio_pkix::{EcCurve, EcdsaSigner, RsaSigner, Signer};
        let pkcs8 = std::fs::read(&self.key).with_context(|| format!("reading {}", self.key.display()))?;
        let pem = std::fs::read(&self.chain).with_context(|| format!("reading {}", self.chain.display()))?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.0 == pkcs8 && loaded.1 == pem {
            return Ok(None);
        }
        let signer: std::sync::Arc<dyn Signer> = match self.key_type.as_str() {
            "p256" => std::sync::Arc::new(EcdsaSigner::from_pkcs8(EcCurve::P256, &pkcs8)?),
            "p384" => std::sync::Arc::new(EcdsaSigner::from_pkcs8(EcCurve::P384, &pkcs8)?),
            "rsa" => std::sync::Arc::new(RsaSigner::from_pkcs8(&pkcs8)?),
            other => anyhow::bail!("unsupported TSA key_type {other:?} (p256, p384, rsa)"),
        };
        let chain = cartorio_pkix::cert::from_pem_chain(&String::from_utf8_lossy(&pem));
        let leaf = chain.first().context("the TSA chain holds no certificate")?;
        let view =
            cartorio_pkix::cert::CertificateView::parse(leaf).context("the TSA certificate is malformed")?;
        anyhow::ensure!(view.spki == signer.spki(), "the TSA certificate does not match the key");
        let template = TokenTemplate::new(signer, &chain, self.precision, self.accuracy_us)
            .context("building the token template")?;
        *loaded = (pkcs8, pem);
        Ok(Some(template))
    }
}

/// `[tsa]` in the responder's TOML (and what `up` builds for itself).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsaConfig {
    /// PKCS#8 signing key.
    pub key: std::path::PathBuf,
    /// `p256` (default), `p384` or `rsa` (PKCS#1 v1.5, SHA-256; 3072 bits advised).
    #[serde(default = "default_curve")]
    pub key_type: String,
    /// PEM chain: the TSA certificate first, then its issuers.
    pub chain: std::path::PathBuf,
    /// The append-only issuance log.
    pub log: std::path::PathBuf,
    /// Sync the log to disk before answering (else only to the OS).
    #[serde(default = "default_true")]
    pub log_sync: bool,
    /// Accuracy the tokens state; the clock must be within it.
    #[serde(default = "default_accuracy_ms")]
    pub accuracy_ms: u64,
    /// `seconds`, `millis` (default) or `micros`.
    #[serde(default = "default_precision")]
    pub precision: String,
    /// Accepted policy OIDs (dotted); the first is the default.
    #[serde(default = "default_policies")]
    pub policies: Vec<String>,
    /// See [`ClockPolicy::DangerTrustSystemClock`].
    #[serde(default)]
    pub danger_trust_system_clock: bool,
    /// A listener of the TSA's own, answering `POST /` and `POST /tsa` with
    /// time-stamps only (beside `/tsa` on the responder's listeners).
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// Access log of that listener: `refusals` (default), `all` or `off`.
    #[serde(default = "default_access_log")]
    pub access_log: AccessLog,
}

fn default_access_log() -> AccessLog {
    AccessLog::Refusals
}

fn default_policies() -> Vec<String> {
    vec!["1.2.3.4.1".into()]
}

fn default_curve() -> String {
    "p256".into()
}
fn default_true() -> bool {
    true
}
fn default_accuracy_ms() -> u64 {
    1000
}
fn default_precision() -> String {
    "millis".into()
}

impl TsaConfig {
    pub fn new(key: std::path::PathBuf, chain: std::path::PathBuf, log: std::path::PathBuf) -> Self {
        Self {
            key,
            key_type: default_curve(),
            chain,
            log,
            log_sync: true,
            accuracy_ms: default_accuracy_ms(),
            precision: default_precision(),
            policies: default_policies(),
            danger_trust_system_clock: false,
            listen: None,
            access_log: default_access_log(),
        }
    }

    pub fn build(&self) -> anyhow::Result<Tsa> {
        use anyhow::Context;
        use cartorio_pkix::tsp::TimePrecision;
        let precision = match self.precision.as_str() {
            "seconds" => TimePrecision::Seconds,
            "millis" => TimePrecision::Millis,
            "micros" => TimePrecision::Micros,
            other => anyhow::bail!("unsupported TSA precision {other:?}"),
        };
        let files = TemplateFiles {
            key: self.key.clone(),
            chain: self.chain.clone(),
            key_type: self.key_type.clone(),
            precision,
            accuracy_us: self.accuracy_ms.saturating_mul(1000),
            loaded: Default::default(),
        };
        let template = files.load()?.context("the TSA key and chain")?;
        let clock = ClockWatch::new(ClockPolicy::new(self.accuracy_ms, self.danger_trust_system_clock));
        // Said at start, whatever it is: the first request may be far off.
        clock.check();
        let policies = self
            .policies
            .iter()
            .map(|d| cartorio_pkix::oid::from_dotted(d).with_context(|| format!("invalid policy OID {d:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!policies.is_empty(), "the TSA needs at least one policy OID");
        Ok(Tsa {
            template: ArcSwap::from_pointee(template),
            files,
            policy: RequestPolicy { policies, ..RequestPolicy::default() },
            clock,
            serials: SerialAllocator::new()?,
            log: IssuanceLog::open(&self.log, self.log_sync).context("opening the TSA issuance log")?,
            metrics: TsaMetrics::register(),
        })
    }
}
