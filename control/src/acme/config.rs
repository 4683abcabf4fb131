//! `[acme]`: where the ACME server listens, what it offers, how it
//! validates, and its limits. `up` fills it from its flags.

use cartorio_platform::access_log::AccessLog;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Access log of the ACME listener: `all` (default), `refusals` or `off`.
    #[serde(default = "all_requests")]
    pub access_log: AccessLog,
    /// The URL clients reach the server at (`https://{listen}` by default);
    /// every URL the server hands out and checks in requests is under it.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The server's TLS certificate chain and key (PEM); reloaded when the
    /// files change.
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Accounts must come with an external account binding (keys made by
    /// `cartorio acme eab create`).
    #[serde(default)]
    pub external_account_required: bool,
    /// The profiles orders may select (ACME profiles extension); the
    /// directory lists them.
    #[serde(default = "default_profiles")]
    pub profiles: Vec<String>,
    /// The profile of an order that names none.
    #[serde(default = "default_profile")]
    pub default_profile: String,
    #[serde(default)]
    pub terms_of_service: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub caa_identities: Vec<String>,
    #[serde(default = "default_order_lifetime")]
    pub order_lifetime_secs: i64,
    #[serde(default = "default_authz_lifetime")]
    pub authz_lifetime_secs: i64,
    #[serde(default)]
    pub validation: ValidationConfig,
    #[serde(default)]
    pub limits: Limits,
}

/// How challenges are validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Validate every name against this address instead of DNS (tests,
    /// local try-outs).
    #[serde(default)]
    pub resolve: Option<IpAddr>,
    /// The DNS server for A/AAAA and TXT lookups (the system's otherwise).
    #[serde(default)]
    pub dns_server: Option<SocketAddr>,
    /// The port http-01 connects to (and redirects may use).
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    /// The port tls-alpn-01 connects to (and https redirects may use).
    #[serde(default = "default_tls_port")]
    pub tls_port: u16,
    /// Addresses never connected to, whatever a name resolves to.
    #[serde(default = "default_deny")]
    pub deny: Vec<ipnet::IpNet>,
    /// Validations running at once.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Seconds one validation may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            resolve: None,
            dns_server: None,
            http_port: default_http_port(),
            tls_port: default_tls_port(),
            deny: default_deny(),
            workers: default_workers(),
            timeout_secs: default_timeout(),
        }
    }
}

/// Rate limits, counted in the registry so they hold across control nodes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_orders_per_hour")]
    pub orders_per_account_per_hour: i64,
    /// Per registered domain (the public suffix list's eTLD+1).
    #[serde(default = "default_certificates_per_week")]
    pub certificates_per_domain_per_week: i64,
    #[serde(default = "default_identifiers_per_order")]
    pub identifiers_per_order: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            orders_per_account_per_hour: default_orders_per_hour(),
            certificates_per_domain_per_week: default_certificates_per_week(),
            identifiers_per_order: default_identifiers_per_order(),
        }
    }
}

impl AcmeConfig {
    /// The configuration `up` starts with: the given TLS files, the rest
    /// defaults.
    pub fn embedded(listen: SocketAddr, tls_cert: PathBuf, tls_key: PathBuf) -> Self {
        Self {
            listen,
            base_url: None,
            tls_cert,
            tls_key,
            external_account_required: false,
            profiles: default_profiles(),
            default_profile: default_profile(),
            terms_of_service: None,
            website: None,
            caa_identities: Vec::new(),
            order_lifetime_secs: default_order_lifetime(),
            authz_lifetime_secs: default_authz_lifetime(),
            validation: ValidationConfig::default(),
            limits: Limits::default(),
            access_log: AccessLog::All,
        }
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self, bound: SocketAddr) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{bound}"),
        }
    }

    /// Refuses a configuration that cannot work.
    pub fn validate(&self, known_profiles: &[&str]) -> anyhow::Result<()> {
        for name in self.profiles.iter().chain(std::iter::once(&self.default_profile)) {
            anyhow::ensure!(
                known_profiles.contains(&name.as_str()),
                "[acme] profile {name:?} is not one of the profiles ({})",
                known_profiles.join(", ")
            );
        }
        anyhow::ensure!(
            self.profiles.contains(&self.default_profile),
            "[acme] default_profile {:?} must be one of [acme] profiles",
            self.default_profile
        );
        anyhow::ensure!(self.validation.workers >= 1, "[acme.validation] workers must be at least 1");
        anyhow::ensure!(self.order_lifetime_secs >= 1, "[acme] order_lifetime_secs must be at least 1");
        anyhow::ensure!(
            self.authz_lifetime_secs >= self.order_lifetime_secs,
            "[acme] authz_lifetime_secs must be at least order_lifetime_secs"
        );
        Ok(())
    }
}

fn all_requests() -> AccessLog {
    AccessLog::All
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8444))
}
fn default_profiles() -> Vec<String> {
    vec!["server".into(), "short-lived".into()]
}
fn default_profile() -> String {
    "server".into()
}
fn default_order_lifetime() -> i64 {
    7 * 24 * 3600
}
fn default_authz_lifetime() -> i64 {
    30 * 24 * 3600
}
fn default_http_port() -> u16 {
    80
}
fn default_tls_port() -> u16 {
    443
}
/// Link-local (where cloud metadata services live: 169.254.169.254,
/// fd00:ec2::254) and the unspecified addresses.
fn default_deny() -> Vec<ipnet::IpNet> {
    ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/32", "::/128"]
        .iter()
        .filter_map(|net| net.parse().ok())
        .collect()
}
fn default_workers() -> usize {
    64
}
fn default_timeout() -> u64 {
    10
}
fn default_orders_per_hour() -> i64 {
    300
}
fn default_certificates_per_week() -> i64 {
    50
}
fn default_identifiers_per_order() -> usize {
    100
}
