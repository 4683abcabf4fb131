//! Challenge validation, off the request path: a bounded pool of tasks,
//! each with a deadline, connecting only to addresses the deny-list allows
//! (by default never link-local, where cloud metadata services answer).
//! http-01 (RFC 8555 §8.3), tls-alpn-01 (RFC 8737), dns-01 (RFC 8555 §8.4).

mod dns01;
mod http01;
mod tls;
mod tls_alpn01;

use super::Acme;
use super::config::ValidationConfig;
use super::jws::key_authorization;
use super::problem::{Kind, Problem};
use super::request::stored_key;
use crate::registry::acme::Identifier;
use cartorio_platform::clock::unix_seconds;
use hickory_resolver::TokioResolver;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// What to connect to: a DNS name (resolved) or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Dns(String),
    Ip(IpAddr),
}

impl Host {
    pub fn of(id: &Identifier) -> Self {
        match id.value.parse::<IpAddr>() {
            Ok(ip) if id.kind == "ip" => Self::Ip(ip),
            _ => Self::Dns(id.value.clone()),
        }
    }

    /// As the Host header and URLs write it.
    pub fn authority(&self, port: u16, default_port: u16) -> String {
        let host = match self {
            Self::Dns(name) => name.clone(),
            Self::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            Self::Ip(ip) => ip.to_string(),
        };
        if port == default_port { host } else { format!("{host}:{port}") }
    }
}

pub struct Validator {
    config: ValidationConfig,
    permits: Arc<Semaphore>,
    /// None when no DNS configuration could be read (DNS lookups then fail).
    resolver: Option<TokioResolver>,
}

fn connection(detail: impl Into<String>) -> Problem {
    Problem::new(Kind::Connection, detail)
}

impl Validator {
    pub fn new(config: &ValidationConfig) -> anyhow::Result<Self> {
        let resolver = match dns01::resolver(config.dns_server) {
            Ok(resolver) => Some(resolver),
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "no DNS resolver: DNS lookups in validations will fail"
                );
                None
            }
        };
        Ok(Self { config: config.clone(), permits: Arc::new(Semaphore::new(config.workers)), resolver })
    }

    /// Validates challenge `id` in the background, recording the outcome.
    pub fn start(&self, acme: Acme, id: String) {
        let permits = self.permits.clone();
        let deadline = Duration::from_secs(self.config.timeout_secs);
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else { return };
            let started = std::time::Instant::now();
            let outcome = match tokio::time::timeout(deadline, validate(&acme, &id)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(connection(format!("the validation took longer than {}s", deadline.as_secs()))),
            };
            let error = outcome.as_ref().err().map(|p| p.to_json().to_string());
            metrics::counter!("cartorio_acme_validations_total", "result" => if error.is_none() { "valid" } else { "invalid" })
                .increment(1);
            metrics::histogram!("cartorio_acme_validation_seconds").record(started.elapsed().as_secs_f64());
            if let Err(problem) = &outcome {
                tracing::info!(challenge = id, detail = problem.detail, "ACME validation failed");
            }
            let now = unix_seconds();
            if let Err(problem) = acme.store(move |s| s.challenge_result(&id, error.as_deref(), now)).await {
                tracing::error!(detail = problem.detail, "an ACME validation result was not recorded");
            }
        });
    }

    /// The addresses validation may connect to for `host`, deny-list applied.
    async fn addresses(&self, host: &Host) -> Result<Vec<IpAddr>, Problem> {
        let candidates = match (host, self.config.resolve) {
            (Host::Ip(ip), _) => vec![*ip],
            (Host::Dns(_), Some(ip)) => vec![ip],
            (Host::Dns(name), None) => dns01::addresses(self.resolver.as_ref(), name).await?,
        };
        let allowed: Vec<IpAddr> = candidates
            .iter()
            .copied()
            .filter(|ip| !self.config.deny.iter().any(|net| net.contains(ip)))
            .collect();
        if allowed.is_empty() {
            return Err(connection(format!(
                "{} resolves only to addresses validation never connects to",
                host.authority(0, 0)
            )));
        }
        Ok(allowed)
    }

    /// A TCP connection to the first of `host`'s addresses that answers on `port`.
    async fn connect(&self, host: &Host, port: u16) -> Result<tokio::net::TcpStream, Problem> {
        let mut last = None;
        for ip in self.addresses(host).await? {
            match tokio::net::TcpStream::connect(SocketAddr::new(ip, port)).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last = Some(format!("{ip}:{port}: {error}")),
            }
        }
        Err(connection(format!(
            "could not connect to {}: {}",
            host.authority(port, 0),
            last.unwrap_or_default()
        )))
    }
}

/// Validates one challenge.
async fn validate(acme: &Acme, id: &str) -> Result<(), Problem> {
    let lookup = id.to_owned();
    let found = acme
        .store(move |s| {
            let Some(challenge) = s.challenge(&lookup)? else { return Ok(None) };
            let Some(authz) = s.authz(&challenge.authz_id, unix_seconds())? else { return Ok(None) };
            let account = s.account(&authz.account_id)?;
            Ok(account.map(|a| (challenge, authz, a)))
        })
        .await?;
    let (challenge, authz, account) =
        found.ok_or_else(|| Problem::malformed("the challenge, its authorization or its account is gone"))?;
    let key = stored_key(&account)?;
    let key_authorization = key_authorization(&challenge.token, &key);
    let validator = acme.validator();
    let host = Host::of(&authz.identifier);
    match challenge.kind.as_str() {
        "http-01" => http01::validate(validator, &host, &challenge.token, &key_authorization).await?,
        "tls-alpn-01" => tls_alpn01::validate(validator, &host, &key_authorization).await?,
        "dns-01" => {
            dns01::validate(validator.resolver.as_ref(), &authz.identifier.value, &key_authorization).await?
        }
        other => return Err(Problem::malformed(format!("unknown challenge type {other}"))),
    }
    Ok(())
}
