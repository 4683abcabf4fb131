//! A small HTTP/1.1 client for the CLI talking to a running `up` (admin API).

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

/// Sends one request. `Unreachable` guarantees the server saw nothing.
pub async fn send(
    method: Method,
    url: &str,
    bearer: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Reply, ClientError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url).header("content-type", content_type);
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(|e| ClientError::Unreachable(e.to_string()))?;
    let resp = match tokio::time::timeout(Duration::from_secs(30), client.request(req)).await {
        Err(_) => return Err(ClientError::Failed("timed out".into())),
        Ok(Err(e)) if e.is_connect() => return Err(ClientError::Unreachable(e.to_string())),
        Ok(Err(e)) => return Err(ClientError::Failed(e.to_string())),
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| ClientError::Failed(e.to_string()))?.to_bytes();
    Ok(Reply { status, body })
}
