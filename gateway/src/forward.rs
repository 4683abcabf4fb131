//! Stage 6, the other sink: accepted payloads forwarded to an upstream URL
//! (another gateway, a collector). The 202 is sent only once the upstream
//! answered 2xx, so what we acknowledge, it has taken; anything else is a
//! 503 with `Retry-After` and nothing acknowledged.

use bytes::Bytes;
use cartorio_platform::client::HttpClient;
use http::Method;

pub struct Upstream {
    url: String,
    bearer: Option<String>,
}

thread_local! {
    /// One connection pool per serving thread. The gateway serves on a
    /// single-threaded runtime per core (`http::serve_per_core`), and a
    /// pooled connection is driven by a task on the runtime that opened it:
    /// shared, a request on one core would wake the other core for each
    /// upstream exchange, and a core's runtime ending at shutdown would close
    /// connections the other still drains through.
    static CLIENT: HttpClient = HttpClient::default();
}

/// Why a forward was not acknowledged.
#[derive(Debug)]
pub struct NotTaken(pub String);

impl Upstream {
    pub fn new(config: &crate::config::UpstreamConfig) -> anyhow::Result<Self> {
        let bearer = match &config.bearer_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            None => None,
        };
        anyhow::ensure!(
            config.url.starts_with("http://"),
            "upstream URLs are http:// (got {:?})",
            config.url
        );
        Ok(Self { url: config.url.clone(), bearer })
    }

    /// POSTs the payload with its receipt as headers; Ok once the upstream took it.
    pub async fn forward(
        &self,
        payload: Bytes,
        content_type: &str,
        receipt: &[(&str, &str)],
    ) -> Result<(), NotTaken> {
        let client = CLIENT.with(HttpClient::clone);
        let reply = client
            .send(Method::POST, &self.url, self.bearer.as_deref(), content_type, receipt, payload)
            .await
            .map_err(|e| NotTaken(e.to_string()))?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(NotTaken(format!("upstream answered {}", reply.status)))
        }
    }
}
