//! The gateway's one connection to Redis (`[ratelimit] backend = "redis"`),
//! shared by what N gateways must count once: rate limits
//! (`shared_limit`), idempotency claims (`idempotency`) and the quarantine
//! quota (`sink`). Every call is bounded by `timeout_ms`; a failure is
//! logged, counted in `cartorio_gateway_ratelimit_backend_errors_total{use,
//! fallback}` and answered as `on_backend_error` says.

use crate::shared_limit::{Backend, OnBackendError, RateLimitConfig};
use std::time::Duration;

pub struct RedisLink {
    client: redis::Client,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    pub on_error: OnBackendError,
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
            client: client(url, config)?,
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
            let connection = self
                .connection
                .get_or_try_init(|| redis::aio::ConnectionManager::new(self.client.clone()))
                .await?;
            let mut connection = connection.clone();
            invocation.invoke_async(&mut connection).await
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    }

    /// Logs and counts a failed call made for `what`.
    pub fn failed(&self, what: &'static str, error: &str) {
        tracing::warn!(%error, what, "shared backend (Redis) unavailable");
        let fallback = match self.on_error {
            OnBackendError::Deny => "deny",
            OnBackendError::Local => "local",
        };
        metrics::counter!("cartorio_gateway_ratelimit_backend_errors_total", "use" => what, "fallback" => fallback)
            .increment(1);
    }
}

/// The client for `url`: TLS (`rediss://`) with the configured CA and client
/// certificate when there are files, else as the URL says.
fn client(url: &str, config: &RateLimitConfig) -> anyhow::Result<redis::Client> {
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
    let tls_files = client_tls.is_some() || config.ca_file.is_some();
    if tls_files && !url.starts_with("rediss://") {
        anyhow::bail!("[ratelimit] ca_file, cert_file and key_file need a rediss:// url");
    }
    let client = match tls_files {
        true => {
            let root_cert = config.ca_file.as_deref().map(read).transpose()?;
            redis::Client::build_with_tls(url, redis::TlsCertificates { client_tls, root_cert })
        }
        false => redis::Client::open(url),
    };
    client.map_err(|e| anyhow::anyhow!("[ratelimit] url: {e}"))
}
