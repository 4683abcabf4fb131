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
    client: HttpClient,
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
        Ok(Self { url: config.url.clone(), bearer, client: HttpClient::default() })
    }

    /// POSTs the payload with its receipt as headers; Ok once the upstream took it.
    pub async fn forward(
        &self,
        payload: Bytes,
        content_type: &str,
        receipt: &[(&str, &str)],
    ) -> Result<(), NotTaken> {
        let reply = self
            .client
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
