//! A small HTTP/1.1 client: the CLI talking to a running `up` (admin API),
//! the gateway forwarding upstream.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection could be made: nothing was sent.
    #[error("cannot connect: {0}")]
    Unreachable(String),
    /// The request may have reached the server.
    #[error("request failed: {0}")]
    Failed(String),
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A pooled HTTP/1.1 client (keep-alive connections are re-used).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self { client: Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>() }
    }
}

impl HttpClient {
    /// Sends one request with `headers` besides the content type and bearer.
    /// `Unreachable` guarantees the server saw nothing.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        bearer: Option<&str>,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut req = Request::builder().method(method).uri(url).header("content-type", content_type);
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(body)).map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let resp = match tokio::time::timeout(Duration::from_secs(30), self.client.request(req)).await {
            Err(_) => return Err(ClientError::Failed("timed out".into())),
            Ok(Err(e)) if e.is_connect() => return Err(ClientError::Unreachable(e.to_string())),
            Ok(Err(e)) => return Err(ClientError::Failed(e.to_string())),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        let body =
            resp.into_body().collect().await.map_err(|e| ClientError::Failed(e.to_string()))?.to_bytes();
        Ok(Reply { status, body })
    }
}

/// Sends one request on a fresh client. `Unreachable` guarantees the server
/// saw nothing.
pub async fn send(
    method: Method,
    url: &str,
    bearer: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Reply, ClientError> {
    HttpClient::default().send(method, url, bearer, content_type, &[], Bytes::from(body)).await
}
