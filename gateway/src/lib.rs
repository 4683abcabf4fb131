//! Cartorio's ingestion gateway: `POST /v1/ingest/{stream}` through
//! identify -> authenticate -> rate-limit -> bounded read -> validate ->
//! sink | quarantine, one module a stage, each deciding without I/O where it
//! can; `service` wires them to HTTP.

pub mod auth;
pub mod config;
pub mod envelope;
pub mod forward;
pub mod idempotency;
pub mod identify;
mod instruments;
pub mod ratelimit;
pub mod read;
pub mod readiness;
pub mod service;
pub mod sink;
pub mod validate;
pub mod waf;

use anyhow::{Context, bail};
use cartorio_platform::http::{self, Connections};
use cartorio_platform::http3;
pub use config::GatewayConfig;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WafMode {
    Block,
    DetectOnly,
    Off,
}

/// A stream, compiled from its config.
pub struct Stream {
    pub name: String,
    pub gcra: ratelimit::Gcra,
    pub max_body_bytes: usize,
    pub content_types: Vec<String>,
    pub schema: Option<validate::Schema>,
    pub schema_version: String,
    pub waf_mode: WafMode,
    pub waf_threshold: u32,
    pub waf_limits: waf::extract::InspectionLimits,
    pub mtls_identities: Vec<String>,
    /// Forward accepted payloads here instead of storing them.
    pub upstream: Option<forward::Upstream>,
    metrics: instruments::StreamMetrics,
}

/// Everything the pipeline needs, built once from the config.
pub struct Gateway {
    pub streams: HashMap<String, Stream>,
    pub keys: auth::ApiKeys,
    pub trusted_proxies: Vec<IpNet>,
    pub limiter: ratelimit::Limiter,
    pub in_flight: Arc<ratelimit::InFlight>,
    pub min_body_rate: u64,
    pub sink: sink::Sink,
    pub idempotency: idempotency::Idempotency,
}

impl Gateway {
    pub fn build(config: &GatewayConfig) -> anyhow::Result<Self> {
        waf::compile_rules();
        let mut streams = HashMap::new();
        for s in &config.streams {
            if !config::valid_stream_name(&s.name) {
                bail!("stream name {:?} must be 1 to 64 of a-z 0-9 _ -", s.name);
            }
            if s.rate_per_sec.is_nan() || s.rate_per_sec <= 0.0 || s.burst == 0 {
                bail!("stream {}: rate_per_sec and burst must be positive", s.name);
            }
            let schema = match &s.schema_file {
                Some(path) => {
                    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                    let json = serde_json::from_slice(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?;
                    Some(validate::Schema::compile(&json).with_context(|| format!("stream {}", s.name))?)
                }
                None => None,
            };
            let waf_mode = match s.waf.mode.as_str() {
                "block" => WafMode::Block,
                "detect" => WafMode::DetectOnly,
                "off" => WafMode::Off,
                other => bail!("stream {}: waf mode {other:?} (block, detect, off)", s.name),
            };
            if !(1..=waf::extract::JSON_NESTING).contains(&s.waf.max_depth) {
                bail!("stream {}: waf max_depth must be 1 to {}", s.name, waf::extract::JSON_NESTING);
            }
            let stream = Stream {
                name: s.name.clone(),
                gcra: ratelimit::Gcra::new(s.rate_per_sec, s.burst),
                max_body_bytes: s.max_body_bytes,
                content_types: s.content_types.iter().map(|t| validate::media_type(t)).collect(),
                schema,
                schema_version: s.schema_version.clone(),
                waf_mode,
                waf_threshold: s.waf.threshold,
                waf_limits: s.waf.limits(),
                mtls_identities: s.mtls_identities.clone(),
                upstream: s.upstream.as_ref().map(forward::Upstream::new).transpose()?,
                metrics: instruments::StreamMetrics::register(&s.name),
            };
            if streams.insert(s.name.clone(), stream).is_some() {
                bail!("stream {} is configured twice", s.name);
            }
        }
        for key in &config.api_keys {
            if let Some(unknown) = key.streams.iter().find(|s| !streams.contains_key(*s)) {
                bail!("API key {:?} names an unknown stream {unknown:?}", key.id);
            }
        }
        Ok(Self {
            streams,
            keys: auth::ApiKeys::new(&config.api_keys)?,
            trusted_proxies: config.trusted_proxies.clone(),
            limiter: ratelimit::Limiter::default(),
            in_flight: ratelimit::InFlight::new(config.max_in_flight, config.max_per_client),
            min_body_rate: config.min_body_bytes_per_sec,
            sink: sink::Sink::new(config.store.open(), config.quarantine_quota_bytes, keyring(config)?),
            idempotency: idempotency::Idempotency::default(),
        })
    }
}

/// How often a TLS listener looks for a renewed certificate.
const CERT_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// Binds and serves the TLS listener (and HTTP/3 beside it, announced by
/// `Alt-Svc`).
async fn spawn_tls(
    tls: &config::GatewayTls,
    proxy_protocol: bool,
    service: service::GatewayService,
    shutdown: cartorio_platform::Shutdown,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = http::bind(tls.listen, "gateway-tls").await?;
    let certs = tls.files.certs()?;
    let connections = Connections { tls: Some(tls.files.acceptor(&certs)?), proxy_protocol };
    tokio::spawn(cartorio_platform::tls::watch(certs.clone(), CERT_POLL, shutdown.clone(), "gateway-tls"));
    if !tls.http3 {
        return Ok(tokio::spawn(http::serve_with(listener, connections, service, shutdown, "gateway-tls")));
    }
    let addr = listener.local_addr()?;
    let endpoint = http3::endpoint(addr, &tls.files, &certs)?;
    tokio::spawn(http3::serve(endpoint, service.clone(), shutdown.clone(), "gateway-h3"));
    let service = http3::AltSvc::new(service, addr.port());
    Ok(tokio::spawn(http::serve_with(listener, connections, service, shutdown, "gateway-tls")))
}

/// The keyring of `config`, when payloads are to be sealed: the current
/// KEK (`kek_file` or `[encryption.kms]`) and the older `old_kek_files`.
pub fn keyring(config: &GatewayConfig) -> anyhow::Result<Option<Arc<envelope::Keyring>>> {
    let Some(encryption) = &config.encryption else { return Ok(None) };
    let current = match (&encryption.kek_file, &encryption.kms) {
        (Some(file), None) => envelope::Kek::from_file(file)?,
        (None, Some(kms)) => envelope::Kek::kms(kms),
        _ => bail!("[encryption] takes one of kek_file or [encryption.kms]"),
    };
    let older = encryption
        .old_kek_files
        .iter()
        .map(|f| envelope::Kek::from_file(f))
        .collect::<anyhow::Result<_>>()?;
    Ok(Some(Arc::new(envelope::Keyring::new(current, older))))
}

/// Whether the ingest listeners on `addrs` answer `/metrics`: as configured,
/// else only when all are on loopback (a public gateway does not tell the
/// world its traffic).
fn exposes_metrics<'a>(configured: Option<bool>, mut addrs: impl Iterator<Item = &'a SocketAddr>) -> bool {
    configured.unwrap_or_else(|| addrs.all(|a| a.ip().is_loopback()))
}

/// Serves the gateway on `listener` until `shutdown`, sweeping idle
/// rate-limit keys every 10 seconds.
pub async fn run(
    config: &GatewayConfig,
    listener: TcpListener,
    shutdown: cartorio_platform::Shutdown,
) -> anyhow::Result<()> {
    let gateway = Arc::new(Gateway::build(config)?);
    let sweeper = {
        let (gateway, shutdown) = (gateway.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
                    _ = shutdown.wait() => return,
                }
                let now =
                    u64::try_from(cartorio_platform::clock::unix_micros()).unwrap_or(0).saturating_mul(1000);
                gateway.limiter.sweep(now);
            }
        })
    };
    let ingest_addrs = [listener.local_addr().ok(), config.tls.as_ref().map(|t| t.listen)];
    let expose_metrics = exposes_metrics(config.expose_metrics, ingest_addrs.iter().flatten());
    let metrics_task = match config.metrics_listen {
        Some(addr) => {
            let listener = http::bind(addr, "gateway-metrics").await?;
            Some(tokio::spawn(http::serve_metrics(listener, shutdown.clone())))
        }
        None => None,
    };
    let service = service::GatewayService::new(gateway, expose_metrics);
    let tls_task = match &config.tls {
        Some(tls) => Some(spawn_tls(tls, config.proxy_protocol, service.clone(), shutdown.clone()).await?),
        None => None,
    };
    let connections = Connections { tls: None, proxy_protocol: config.proxy_protocol };
    http::serve_with(listener, connections, service, shutdown, "gateway").await;
    if let Some(task) = tls_task {
        let _ = task.await;
    }
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    let _ = sweeper.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::exposes_metrics;
    use std::net::SocketAddr;

    #[test]
    fn metrics_stay_off_public_ingest_listeners_unless_configured() {
        let addr = |s: &str| s.parse::<SocketAddr>().expect("address");
        let (local, public, any) = (addr("127.0.0.1:8090"), addr("192.0.2.7:8090"), addr("0.0.0.0:8090"));
        assert!(exposes_metrics(None, [local, addr("[::1]:8443")].iter()));
        assert!(!exposes_metrics(None, [public].iter()));
        assert!(!exposes_metrics(None, [local, any].iter()), "a TLS listener on every address");
        assert!(exposes_metrics(Some(true), [public].iter()));
        assert!(!exposes_metrics(Some(false), [local].iter()));
    }
}
