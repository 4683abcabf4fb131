//! The gateway's one connection to Redis (`[ratelimit] backend = "redis"`),
//! shared by what N gateways must count once: rate limits
//! (`shared_limit`), idempotency claims (`idempotency`) and the quarantine
//! quota (`sink`). Every call is bounded by `timeout_ms`; a failure is
//! logged, counted in `cartorio_gateway_ratelimit_backend_errors_total{use,
//! fallback}` and answered as `on_backend_error` says.

use crate::shared_limit::{Backend, OnBackendError, RateLimitConfig};
use std::time::Duration;

pub struct RedisLink {
    client: Client,
    connection: tokio::sync::OnceCell<Connection>,
    on_error: OnBackendError,
    pub timeout: Duration,
}

impl RedisLink {
    /// `None` for the local backend.
    pub fn build(config: &RateLimitConfig) -> anyhow::Result<Option<Self>> {
        if config.backend == Backend::Local {
            return Ok(None);
        }
        let url = config
            .url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("[ratelimit] backend = \"redis\" needs url"))?;
        Ok(Some(Self {
            client: match config.cluster {
                true => Client::Cluster(cluster_client(url, config)?),
                false => Client::Single(client(url, config)?),
            },
            connection: tokio::sync::OnceCell::new(),
            on_error: config.on_backend_error,
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
        }))
    }

    /// Runs a script invocation (`script.key(..).arg(..)`) within the timeout.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, String> {
        let call = async {
            match self.connection().await? {
                Connection::Single(mut single) => invocation.invoke_async(&mut single).await,
                Connection::Cluster(mut cluster) => invocation.invoke_async(&mut cluster).await,
            }
        };
        bounded(self.timeout, call).await
    }

    /// Whether Redis answers a PING within `within`, connecting first if
    /// need be. The readiness probe and the start-up warm-up call it with a
    /// longer bound than a request's: connecting (a TLS handshake, a
    /// cluster's slot map) may not fit in `timeout` on a loaded machine,
    /// and a connection cut short by a request's timeout starts over.
    pub async fn ping(&self, within: std::time::Duration) -> Result<(), String> {
        let call = async {
            let ping = redis::cmd("PING");
            match self.connection().await? {
                Connection::Single(mut single) => ping.query_async::<()>(&mut single).await,
                Connection::Cluster(mut cluster) => ping.query_async::<()>(&mut cluster).await,
            }
        };
        bounded(within, call).await
    }

    /// Whether a request refused for want of Redis is refused (`deny`).
    pub fn denies_without_backend(&self) -> bool {
        self.on_error == OnBackendError::Deny
    }

    async fn connection(&self) -> redis::RedisResult<Connection> {
        self.connection.get_or_try_init(|| self.client.connect()).await.cloned()
    }

    /// Logs and counts a failed call made for `what`; what the caller falls
    /// back to (`on_backend_error`): refuse, or decide in this process.
    pub fn failed(&self, what: &'static str, error: &str) -> OnBackendError {
        tracing::warn!(%error, what, "shared backend (Redis) unavailable");
        let fallback = match self.on_error {
            OnBackendError::Deny => "deny",
            OnBackendError::Local => "local",
        };
        metrics::counter!("cartorio_gateway_ratelimit_backend_errors_total", "use" => what, "fallback" => fallback)
            .increment(1);
        self.on_error
    }
}

async fn bounded<T>(
    within: Duration,
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(within, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// What stands for `id` (an API key id, a client) in Redis key names: the
/// first 16 octets of its SHA-256 in hex, the same in every gateway process,
/// so no identity is stored in Redis in the clear.
pub fn key_tag(id: &str) -> String {
    hex::encode(&ring::digest::digest(&ring::digest::SHA256, id.as_bytes()).as_ref()[..16])
}

/// One server, or a Redis Cluster found from a seed node. Every script
/// names keys of one hash tag, so a cluster runs it on a single slot.
#[allow(clippy::large_enum_variant)] // One per process, built once.
enum Client {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

/// Connections that reconnect by themselves (a cluster's follows its slots).
#[derive(Clone)]
enum Connection {
    Single(redis::aio::ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Client {
    async fn connect(&self) -> redis::RedisResult<Connection> {
        Ok(match self {
            Client::Single(client) => {
                Connection::Single(redis::aio::ConnectionManager::new(client.clone()).await?)
            }
            Client::Cluster(client) => Connection::Cluster(client.get_async_connection().await?),
        })
    }
}

/// The TLS files of a `rediss://` url: the CA and the client certificate,
/// when configured (else the system's roots, and no client certificate).
fn tls_files(url: &str, config: &RateLimitConfig) -> anyhow::Result<Option<redis::TlsCertificates>> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| anyhow::anyhow!("[ratelimit] {}: {e}", path.display()))
    };
    let client_tls = match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => {
            Some(redis::ClientTlsConfig { client_cert: read(cert)?, client_key: read(key)? })
        }
        (None, None) => None,
        _ => anyhow::bail!("[ratelimit] cert_file and key_file go together"),
    };
    if (client_tls.is_some() || config.ca_file.is_some()) && !url.starts_with("rediss://") {
        anyhow::bail!("[ratelimit] ca_file, cert_file and key_file need a rediss:// url");
    }
    let root_cert = config.ca_file.as_deref().map(read).transpose()?;
    Ok((root_cert.is_some() || client_tls.is_some())
        .then_some(redis::TlsCertificates { client_tls, root_cert }))
}

fn client(url: &str, config: &RateLimitConfig) -> anyhow::Result<redis::Client> {
    let client = match tls_files(url, config)? {
        Some(certificates) => redis::Client::build_with_tls(url, certificates),
        None => redis::Client::open(url),
    };
    client.map_err(|e| anyhow::anyhow!("[ratelimit] url: {e}"))
}

/// A cluster client seeded by `url` (the other nodes are discovered).
fn cluster_client(url: &str, config: &RateLimitConfig) -> anyhow::Result<redis::cluster::ClusterClient> {
    let mut builder = redis::cluster::ClusterClientBuilder::new([url]);
    if let Some(certificates) = tls_files(url, config)? {
        builder = builder.certs(certificates);
    }
    builder.build().map_err(|e| anyhow::anyhow!("[ratelimit] url: {e}"))
}
