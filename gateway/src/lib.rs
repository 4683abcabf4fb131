//! Cartorio's ingestion gateway: `POST /v1/ingest/{stream}` through
//! identify -> authenticate -> rate-limit -> bounded read -> validate ->
//! sink | quarantine, one module a stage, each deciding without I/O where it
//! can; `service` wires them to HTTP.

pub mod addresses;
pub mod admission;
pub mod auth;
pub mod config;
pub mod ctx;
pub mod envelope;
pub mod forward;
pub mod idempotency;
pub mod identify;
mod instruments;
pub mod intake;
pub mod lease;
pub mod netlist;
pub mod policy;
pub mod quota;
pub mod rate_headers;
pub mod ratelimit;
pub mod read;
pub mod readiness;
pub mod redis_link;
mod refusal;
pub mod service;
pub mod shared_limit;
pub mod sink;
pub mod usage;
pub mod validate;
pub mod waf;

use anyhow::bail;
use arc_swap::ArcSwap;
use cartorio_platform::access_log::{AccessLog, AccessLogged, Listener};
use cartorio_platform::http::{self, Connections};
use cartorio_platform::http3;
use cartorio_platform::tls::LoadedTls;
pub use config::GatewayConfig;
use ipnet::IpNet;
pub use policy::{Policy, Stream, WafMode};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Everything the pipeline needs, built once from the config. The
/// [`Policy`] (streams and API keys) is swapped whole on SIGHUP; the state
/// (limiter, in-flight counts, sink, idempotency claims) stays.
pub struct Gateway {
    pub policy: ArcSwap<Policy>,
    pub trusted_proxies: Vec<IpNet>,
    /// Stage 0: lists and limits by client address.
    pub addresses: addresses::Addresses,
    pub limiter: ratelimit::Limiter,
    /// The per-(key, stream) limits on Redis, when configured.
    pub shared: Option<shared_limit::SharedLimiter>,
    pub in_flight: Arc<ratelimit::InFlight>,
    pub min_body_rate: u64,
    pub sink: sink::Sink,
    pub idempotency: idempotency::Idempotency,
    /// Usage plans' counts, here or on Redis.
    pub usage: usage::Usage,
    /// The connection to Redis all of the above share, when configured.
    pub redis: Option<Arc<redis_link::RedisLink>>,
}

impl Gateway {
    /// Replaces the streams and API keys with those of `config` (its other
    /// settings need a restart); a config that does not build changes nothing.
    pub fn reload(&self, config: &GatewayConfig) -> anyhow::Result<()> {
        let policy = Policy::build(config)?;
        let (streams, keys) = (policy.streams.len(), policy.keys.len());
        self.policy.store(Arc::new(policy));
        tracing::info!(streams, keys, "gateway streams and API keys reloaded");
        Ok(())
    }

    pub fn build(config: &GatewayConfig) -> anyhow::Result<Self> {
        let redis = redis_link::RedisLink::build(&config.ratelimit)?.map(Arc::new);
        let sink = sink::Sink::new(config.store.open(), config.quarantine_quota_bytes, keyring(config)?)
            .with_shared_quota(redis.clone());
        Ok(Self {
            policy: ArcSwap::from_pointee(Policy::build(config)?),
            trusted_proxies: config.trusted_proxies.clone(),
            addresses: addresses::Addresses::build(&config.addresses)?,
            limiter: ratelimit::Limiter::default(),
            shared: redis
                .clone()
                .map(|link| shared_limit::SharedLimiter::new(link, config.ratelimit.lease_ms)),
            in_flight: ratelimit::InFlight::new(config.max_in_flight, config.max_per_client),
            min_body_rate: config.min_body_bytes_per_sec,
            sink,
            idempotency: idempotency::Idempotency::new(redis.clone(), config.idempotency_ttl_secs),
            usage: usage::Usage::new(redis.clone()),
            redis,
        })
    }
}

/// On each SIGHUP, reloads the streams and API keys from `path`; counted
/// in `cartorio_gateway_reloads_total{outcome}`. Connections are untouched:
/// requests in flight finish under the policy they started with.
fn reload_on_sighup(
    gateway: Arc<Gateway>,
    path: std::path::PathBuf,
    shutdown: cartorio_platform::Shutdown,
) -> anyhow::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                got = hangups.recv() => if got.is_none() { return },
                _ = shutdown.wait() => return,
            }
            let loaded = cartorio_platform::config::load_toml::<GatewayConfig>(&path)
                .and_then(|config| gateway.reload(&config));
            let outcome = match loaded {
                Ok(()) => "ok",
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), path = %path.display(), "reload refused; the previous streams and keys stay");
                    "refused"
                }
            };
            metrics::counter!("cartorio_gateway_reloads_total", "outcome" => outcome).increment(1);
        }
    });
    Ok(())
}

/// How often a TLS listener looks for a renewed certificate.
const CERT_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// Binds and serves the TLS listener (and HTTP/3 beside it, announced by
/// `Alt-Svc`).
async fn spawn_tls(
    tls: &config::GatewayTls,
    LoadedTls { certs, acceptor }: LoadedTls,
    proxy_protocol: bool,
    access_log: AccessLog,
    service: service::GatewayService,
    shutdown: cartorio_platform::Shutdown,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = http::bind(tls.listen, "gateway-tls").await?;
    let connections = Connections { tls: Some(acceptor), proxy_protocol, ..Default::default() };
    tokio::spawn(cartorio_platform::tls::watch(certs.clone(), CERT_POLL, shutdown.clone(), "gateway-tls"));
    if !tls.http3 {
        let service = logged(service, "gateway-tls", access_log);
        return Ok(tokio::spawn(http::serve_with(listener, connections, service, shutdown, "gateway-tls")));
    }
    let addr = listener.local_addr()?;
    let endpoint = http3::endpoint(addr, &tls.files, &certs)?;
    let h3 = logged(service.clone(), "gateway-h3", access_log);
    tokio::spawn(http3::serve(endpoint, h3, shutdown.clone(), "gateway-h3"));
    let service = logged(http3::AltSvc::new(service, addr.port()), "gateway-tls", access_log);
    Ok(tokio::spawn(http::serve_with(listener, connections, service, shutdown, "gateway-tls")))
}

fn logged<H>(service: H, name: &'static str, mode: AccessLog) -> AccessLogged<H> {
    AccessLogged::new(service, Listener { service: "gateway", name }, mode)
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
    Ok(Some(Arc::new(envelope::Keyring::with_older_files(current, &encryption.old_kek_files)?)))
}

/// Whether the ingest listeners on `addrs` answer `/metrics`: as configured,
/// else only when all are on loopback (a public gateway does not tell the
/// world its traffic).
fn exposes_metrics<'a>(configured: Option<bool>, mut addrs: impl Iterator<Item = &'a SocketAddr>) -> bool {
    configured.unwrap_or_else(|| addrs.all(|a| a.ip().is_loopback()))
}

/// Every 2 s, swaps in network list files changed on disk; every 10 s,
/// drops idle rate-limit keys.
async fn housekeeping(gateway: Arc<Gateway>, shutdown: cartorio_platform::Shutdown) {
    for tick in 1u64.. {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.wait() => return,
        }
        gateway.addresses.lists.reload();
        for stream in gateway.policy.load().streams.values() {
            stream.lists.reload();
        }
        if tick.is_multiple_of(5) {
            let now =
                u64::try_from(cartorio_platform::clock::unix_micros()).unwrap_or(0).saturating_mul(1000);
            gateway.limiter.sweep(now);
            if let Some(shared) = &gateway.shared {
                shared.sweep(now);
            }
            gateway.addresses.sweep(now);
        }
    }
}

/// A gateway built from its configuration, with its TLS certificate read.
/// Built before any port is bound, so a configuration that cannot be served
/// never logs "listening".
pub struct Checked {
    config: GatewayConfig,
    gateway: Gateway,
    /// The TLS listener's configuration (taken from `config`) and its files.
    tls: Option<(config::GatewayTls, LoadedTls)>,
}

impl Checked {
    pub fn new(mut config: GatewayConfig) -> anyhow::Result<Self> {
        let tls = config.tls.take().map(|tls| tls.files.load().map(|loaded| (tls, loaded))).transpose()?;
        Ok(Self { gateway: Gateway::build(&config)?, config, tls })
    }
}

/// Serves the `checked` gateway on `listener` until `shutdown`, with
/// [`housekeeping`].
pub async fn run(
    checked: Checked,
    listener: TcpListener,
    shutdown: cartorio_platform::Shutdown,
) -> anyhow::Result<()> {
    let Checked { config, gateway, tls } = checked;
    let gateway = Arc::new(gateway);
    if let Some(path) = &config.reload_from {
        reload_on_sighup(gateway.clone(), path.clone(), shutdown.clone())?;
    }
    let sweeper = tokio::spawn(housekeeping(gateway.clone(), shutdown.clone()));
    if let Some(link) = gateway.redis.clone() {
        // Connects before the first request rather than within its budget.
        tokio::spawn(async move {
            if let Err(error) = link.ping(readiness::PROBE_TIMEOUT).await {
                tracing::warn!(%error, "shared backend (Redis) not reachable at start");
            }
        });
    }
    let ingest_addrs = [listener.local_addr().ok(), tls.as_ref().map(|(t, _)| t.listen)];
    let expose_metrics = exposes_metrics(config.expose_metrics, ingest_addrs.iter().flatten());
    let metrics_task = match config.metrics_listen {
        Some(addr) => {
            let listener = http::bind(addr, "gateway-metrics").await?;
            Some(tokio::spawn(http::serve_metrics(listener, shutdown.clone())))
        }
        None => None,
    };
    let service = service::GatewayService::new(gateway, expose_metrics);
    let tls_task = match tls {
        Some((tls, files)) => Some(
            spawn_tls(
                &tls,
                files,
                config.proxy_protocol,
                config.access_log,
                service.clone(),
                shutdown.clone(),
            )
            .await?,
        ),
        None => None,
    };
    let connections = Connections { proxy_protocol: config.proxy_protocol, ..Default::default() };
    let service = logged(service, "gateway", config.access_log);
    // One single-threaded runtime per core, as the responders: a request
    // never crosses cores. On the multi-threaded runtime the gateway spent a
    // quarter of its CPU waking threads (perf under benches/gateway_peers.sh);
    // per core it served 1.5 to 2 times the requests under the same load.
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    http::serve_per_core(listener, connections, threads, service, shutdown, "gateway").await?;
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
