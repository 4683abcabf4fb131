//! What every AWS SDK client here (S3, KMS) shares: the HTTP client (rustls
//! with the ring provider) and the SDK's default credential chain, so a
//! deployment gives credentials the way it does to any AWS tool: the
//! environment, a shared profile (`AWS_PROFILE`, `~/.aws/credentials`,
//! `credential_process`, SSO), web identity (EKS service accounts), the
//! container endpoint (ECS) or instance metadata (EC2), in that order.

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_s3::config::Region;
use std::sync::Arc;

/// The HTTP client AWS SDK clients use here: rustls with the ring provider.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// The default credential chain for clients in `region`. Credentials are
/// looked up at the first request, not here (building the chain is async;
/// clients are built in sync code), and cached by the client until they
/// expire. None found: the request fails, naming each source tried.
pub fn credentials(region: &str) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(DefaultChain {
        region: Region::new(region.to_owned()),
        chain: Arc::new(tokio::sync::OnceCell::new()),
    })
}

#[derive(Clone)]
struct DefaultChain {
    region: Region,
    chain: Arc<tokio::sync::OnceCell<DefaultCredentialsChain>>,
}

impl std::fmt::Debug for DefaultChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultChain").field("region", &self.region).finish_non_exhaustive()
    }
}

impl ProvideCredentials for DefaultChain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let chain = self
                .chain
                .get_or_init(|| async {
                    let config = ProviderConfig::default()
                        .with_http_client(http_client())
                        .with_region(Some(self.region.clone()));
                    DefaultCredentialsChain::builder().configure(config).build().await
                })
                .await;
            chain.provide_credentials().await
        })
    }
}
