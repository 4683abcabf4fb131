//! The gateway's TOML: listener, store, trusted proxies, global limits, API
//! keys and streams. Checked once at start; the pipeline only sees the
//! compiled form ([`crate::Gateway`]).

use cartorio_platform::access_log::AccessLog;
use cartorio_platform::store::StoreConfig;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The TOML this was read from: SIGHUP reloads its streams and API keys
    /// (set by `cartorio gateway --config`, not written in the file).
    #[serde(skip)]
    pub reload_from: Option<PathBuf>,
    pub store: StoreConfig,
    /// Every connection starts with a PROXY protocol header (v1 or v2)
    /// naming the client; connections without one are closed.
    #[serde(default)]
    pub proxy_protocol: bool,
    /// Networks whose `X-Forwarded-For` is believed (the load balancers).
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// Requests in flight over all clients; beyond, 503 (load shedding).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Requests in flight per client.
    #[serde(default = "default_max_per_client")]
    pub max_per_client: u32,
    /// Slowest accepted body upload, in bytes per second (after a 5 s grace).
    #[serde(default = "default_min_body_rate")]
    pub min_body_bytes_per_sec: u64,
    /// Bytes the quarantine may take per UTC day (over all gateways when
    /// `[ratelimit] backend = "redis"`).
    #[serde(default = "default_quarantine_quota")]
    pub quarantine_quota_bytes: u64,
    /// How long an Idempotency-Key is remembered (its result replayed, another
    /// body under it refused).
    #[serde(default = "default_idempotency_ttl")]
    pub idempotency_ttl_secs: u64,
    /// A TLS listener too (HTTP/2 or HTTP/1.1 by ALPN, HTTP/3 on the same
    /// port over UDP), with client certificates when `client_ca` is set.
    #[serde(default)]
    pub tls: Option<GatewayTls>,
    /// Seal stored payloads (envelope encryption) under this KEK.
    #[serde(default)]
    pub encryption: Option<EncryptionConfig>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    /// Usage plans (quotas per key per day and month) API keys may name.
    #[serde(default)]
    pub plans: Vec<crate::usage::PlanConfig>,
    pub streams: Vec<StreamConfig>,
    /// Serve `/metrics` on the ingest listeners too. Default: only when
    /// every ingest listener is on a loopback address (as under `up`); a
    /// public gateway keeps its metrics to `metrics_listen`.
    #[serde(default)]
    pub expose_metrics: Option<bool>,
    /// A listener of its own for `/metrics` and `/healthz`, e.g.
    /// `127.0.0.1:9464` or an address only the monitoring network reaches.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Where per-(key, stream) rate limits are counted: this process
    /// (default) or Redis, shared by every gateway.
    #[serde(default)]
    pub ratelimit: crate::shared_limit::RateLimitConfig,
    /// Per-address limits and network lists, applied before authentication.
    #[serde(default)]
    pub addresses: crate::addresses::AddressConfig,
    /// Access log of the ingest listeners: `all` (default), `refusals` or `off`.
    #[serde(default = "default_access_log")]
    pub access_log: AccessLog,
}

fn default_access_log() -> AccessLog {
    AccessLog::All
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayTls {
    pub listen: SocketAddr,
    #[serde(flatten)]
    pub files: cartorio_platform::tls::TlsFiles,
    #[serde(default = "default_true")]
    pub http3: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// A local key-encryption key: 32 octets, raw or 64 hex digits.
    #[serde(default)]
    pub kek_file: Option<PathBuf>,
    /// Or a key in AWS KMS (`[encryption.kms] key_id = "..."`).
    #[serde(default)]
    pub kms: Option<crate::envelope::KmsConfig>,
    /// Local KEKs from before a rotation: they open the objects they
    /// sealed (until `cartorio gateway rewrap`), never seal new ones.
    #[serde(default)]
    pub old_kek_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The identity the key stands for (logged, rate-limited, stored).
    pub id: String,
    /// Hex SHA-256 of the key: the key itself is never configured.
    pub sha256: String,
    /// Streams the key may post to.
    pub streams: Vec<String>,
    /// The `[[plans]]` entry whose quotas apply to the key.
    #[serde(default)]
    pub plan: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// `[a-z0-9_-]{1,64}`: it names a path segment and an object-store prefix.
    pub name: String,
    /// Sustained requests per second per client.
    pub rate_per_sec: f64,
    /// Requests a client may send at once above the sustained rate.
    pub burst: u32,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Accepted media types (`application/json`, `text/plain`, ...).
    pub content_types: Vec<String>,
    /// JSON Schema (draft 2020-12) for JSON payloads.
    #[serde(default)]
    pub schema_file: Option<PathBuf>,
    /// Recorded with each object, to tell which schema accepted it.
    #[serde(default = "default_schema_version")]
    pub schema_version: String,
    #[serde(default)]
    pub waf: WafConfig,
    /// Client certificate subject CNs accepted without an API key (needs
    /// `[tls] client_ca`).
    #[serde(default)]
    pub mtls_identities: Vec<String>,
    /// Forward accepted payloads here instead of storing them.
    #[serde(default)]
    pub upstream: Option<UpstreamConfig>,
    /// Networks that may post to this stream (one per line); absent: any.
    #[serde(default)]
    pub allow_file: Option<PathBuf>,
    /// Networks that may not post to this stream; wins over `allow_file`.
    #[serde(default)]
    pub deny_file: Option<PathBuf>,
    /// Whether a 403 for attack signatures names the rules that fired
    /// (default: only an incident id, which the access log line carries
    /// with the rule ids, so clients cannot probe the rules one by one).
    #[serde(default)]
    pub expose_rules: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `http://host:port/path` receiving a POST per accepted payload.
    pub url: String,
    /// A file holding the bearer token to send (kept out of the config).
    #[serde(default)]
    pub bearer_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafConfig {
    /// Anomaly score at which a request is blocked.
    #[serde(default = "default_waf_threshold")]
    pub threshold: u32,
    /// `block` (default), `detect` (count and log, store anyway) or `off`.
    #[serde(default = "default_waf_mode")]
    pub mode: String,
    /// Caps on inspection work; absent, every value the body limit lets in
    /// is inspected. A request beyond one is refused as uninspectable (in
    /// `block` mode), never passed with part of it unread.
    #[serde(default)]
    pub max_values: Option<usize>,
    #[serde(default)]
    pub max_value_bytes: Option<usize>,
    #[serde(default)]
    pub max_total_bytes: Option<usize>,
    /// JSON nesting followed (at most serde_json's 128).
    #[serde(default = "default_waf_depth")]
    pub max_depth: usize,
    /// What the stream's fields may carry that rules would flag: see
    /// [`crate::waf::exclusions`].
    #[serde(default)]
    pub exclusions: Vec<WafExclusionConfig>,
}

/// `[[streams.waf.exclusions]]`: findings of `rules` or `classes` (none:
/// every rule) on values under `fields` (none: every field) in `locations`
/// (none: all) do not count.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafExclusionConfig {
    #[serde(default)]
    pub fields: Vec<String>,
    /// `path`, `query`, `body`, `header`, `filename`.
    #[serde(default)]
    pub locations: Vec<String>,
    #[serde(default)]
    pub rules: Vec<u32>,
    /// `sqli`, `nosql`, `ldap`, `xss`, `rce`, `lfi`, `rfi`, `php`, `java`,
    /// `template`, `protocol`, `ssrf`, `generic`.
    #[serde(default)]
    pub classes: Vec<String>,
}

impl Default for WafConfig {
    fn default() -> Self {
        Self {
            threshold: default_waf_threshold(),
            mode: default_waf_mode(),
            max_values: None,
            max_value_bytes: None,
            max_total_bytes: None,
            max_depth: default_waf_depth(),
            exclusions: Vec::new(),
        }
    }
}

impl WafConfig {
    pub fn limits(&self) -> crate::waf::extract::InspectionLimits {
        crate::waf::extract::InspectionLimits {
            max_values: self.max_values,
            max_value_bytes: self.max_value_bytes,
            max_total_bytes: self.max_total_bytes,
            max_depth: self.max_depth,
        }
    }

    /// The exclusions, checked: names of locations and classes, rule ids.
    pub fn exclusions(&self) -> Result<crate::waf::exclusions::Exclusions, String> {
        use crate::waf::exclusions::{Exclusion, Exclusions, class_named, location_named};
        let mut list = Vec::with_capacity(self.exclusions.len());
        for (i, e) in self.exclusions.iter().enumerate() {
            let locations = e
                .locations
                .iter()
                .map(|l| location_named(l).ok_or_else(|| format!("exclusion {i}: no location {l:?}")))
                .collect::<Result<_, _>>()?;
            let classes = e
                .classes
                .iter()
                .map(|c| class_named(c).ok_or_else(|| format!("exclusion {i}: no class {c:?}")))
                .collect::<Result<_, _>>()?;
            list.push(Exclusion { fields: e.fields.clone(), locations, rules: e.rules.clone(), classes });
        }
        Exclusions::new(list)
    }
}

fn default_waf_depth() -> usize {
    crate::waf::extract::JSON_NESTING
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8090))
}
fn default_max_in_flight() -> usize {
    4096
}
fn default_max_per_client() -> u32 {
    64
}
fn default_min_body_rate() -> u64 {
    1024
}
fn default_quarantine_quota() -> u64 {
    1 << 30
}
fn default_idempotency_ttl() -> u64 {
    24 * 3600
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_schema_version() -> String {
    "1".into()
}
fn default_waf_threshold() -> u32 {
    crate::waf::DEFAULT_THRESHOLD
}
fn default_waf_mode() -> String {
    "block".into()
}

/// Whether `name` may name a stream.
pub fn valid_stream_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The demo stream's schema: an event record and nothing else.
pub const DEMO_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Cartorio demo event",
  "type": "object",
  "required": ["id", "ts", "source", "message"],
  "additionalProperties": false,
  "properties": {
    "id": { "type": "string", "minLength": 1, "maxLength": 64 },
    "ts": { "type": "string", "format": "date-time" },
    "source": { "type": "string", "minLength": 1, "maxLength": 128 },
    "message": { "type": "string", "maxLength": 65536 },
    "attributes": { "type": "object", "additionalProperties": { "type": "string" } }
  }
}"#;

impl GatewayConfig {
    /// What `cartorio up` runs: one `demo` stream taking JSON event records
    /// from the holder of the demo key (`key_sha256`), generous limits,
    /// payloads sealed under the KEK in `kek_file`.
    pub fn demo(
        store: StoreConfig,
        key_sha256: String,
        schema_file: PathBuf,
        kek_file: PathBuf,
        old_kek_files: Vec<PathBuf>,
    ) -> Self {
        Self {
            listen: default_listen(),
            reload_from: None,
            store,
            proxy_protocol: false,
            tls: None,
            trusted_proxies: Vec::new(),
            max_in_flight: default_max_in_flight(),
            max_per_client: 256,
            min_body_bytes_per_sec: default_min_body_rate(),
            quarantine_quota_bytes: default_quarantine_quota(),
            idempotency_ttl_secs: default_idempotency_ttl(),
            encryption: Some(EncryptionConfig { kek_file: Some(kek_file), kms: None, old_kek_files }),
            api_keys: vec![ApiKeyConfig {
                id: "demo".into(),
                sha256: key_sha256,
                streams: vec!["demo".into()],
                plan: None,
            }],
            plans: Vec::new(),
            streams: vec![StreamConfig {
                name: "demo".into(),
                rate_per_sec: 5000.0,
                burst: 10_000,
                max_body_bytes: 256 * 1024,
                content_types: vec!["application/json".into()],
                schema_file: Some(schema_file),
                schema_version: "demo-event-1".into(),
                waf: WafConfig::default(),
                mtls_identities: Vec::new(),
                upstream: None,
                allow_file: None,
                deny_file: None,
                expose_rules: false,
            }],
            expose_metrics: None,
            metrics_listen: None,
            addresses: Default::default(),
            ratelimit: Default::default(),
            access_log: default_access_log(),
        }
    }
}
