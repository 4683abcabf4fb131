//! HTTP/3 over QUIC (quinn + h3) for listeners that also serve TLS over TCP:
//! the same handler, certificate and port number (UDP beside TCP), announced
//! to TCP clients by `Alt-Svc` ([`AltSvc`]).
//!
//! Requests bodies are read here, bounded, before the handler runs; a body
//! over [`MAX_BODY`] gets 413 without reaching it (a handler never sees a
//! truncated body).

use crate::http::{Body, Handler, PeerCertificate, RequestBody, problem};
use crate::shutdown::Shutdown;
use crate::tls::TlsFiles;
use anyhow::Context;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body read over HTTP/3.
pub const MAX_BODY: usize = 1 << 20;
/// How long connections may take to close after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A QUIC endpoint on `addr` (UDP) offering `h3` with the certificate of `tls`.
/// 0-RTT stays off: replayed early data is not worth a round trip here.
pub fn endpoint(
    addr: SocketAddr,
    tls: &TlsFiles,
    certs: &std::sync::Arc<crate::tls::ReloadingCert>,
) -> anyhow::Result<quinn::Endpoint> {
    let mut config = tls.server_config(certs)?;
    config.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(config)
        .context("the TLS configuration cannot serve QUIC")?;
    let server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    quinn::Endpoint::server(server, addr).with_context(|| format!("binding UDP {addr} for HTTP/3"))
}

/// Serves `handler` over HTTP/3 on `endpoint` until `shutdown`.
pub async fn serve<H: Handler>(
    endpoint: quinn::Endpoint,
    handler: H,
    shutdown: Shutdown,
    name: &'static str,
) {
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
            _ = shutdown.wait() => break,
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            if let Err(error) = connection(incoming, handler).await {
                tracing::debug!(service = name, %error, "HTTP/3 connection ended with an error");
            }
        });
    }
    endpoint.close(quinn::VarInt::from_u32(0), b"shutting down");
    if tokio::time::timeout(DRAIN_TIMEOUT, endpoint.wait_idle()).await.is_err() {
        tracing::warn!(service = name, "HTTP/3 connections still open after the drain timeout");
    }
}

async fn connection<H: Handler>(incoming: quinn::Incoming, handler: H) -> anyhow::Result<()> {
    let conn = incoming.await?;
    let peer = conn.remote_address();
    let client_cert = conn
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<rustls_pki_types::CertificateDer<'static>>>().ok())
        .and_then(|chain| PeerCertificate::first_of(Some(&chain)));
    let mut h3 = h3::server::builder().build::<_, Bytes>(h3_quinn::Connection::new(conn)).await?;
    loop {
        match h3.accept().await {
            Ok(Some(resolver)) => {
                let (handler, client_cert) = (handler.clone(), client_cert.clone());
                tokio::spawn(async move {
                    let served = async {
                        let (mut req, stream) = resolver.resolve_request().await?;
                        if let Some(cert) = client_cert {
                            req.extensions_mut().insert(cert);
                        }
                        exchange(req, stream, handler, peer).await
                    };
                    if let Err(error) = served.await {
                        tracing::debug!(%error, "HTTP/3 request failed");
                    }
                });
            }
            Ok(None) => return Ok(()),
            Err(error) if error.is_h3_no_error() => return Ok(()),
            Err(error) => return Err(error.into()),
        }
    }
}

type Stream = h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Reads one request (body bounded), runs the handler, sends its response.
async fn exchange<H: Handler>(
    req: Request<()>,
    mut stream: Stream,
    handler: H,
    peer: SocketAddr,
) -> anyhow::Result<()> {
    let head = req.method() == Method::HEAD;
    let mut body = BytesMut::new();
    let mut too_large = false;
    while let Some(mut chunk) = stream.recv_data().await? {
        if body.len() + chunk.remaining() > MAX_BODY {
            too_large = true;
            break;
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    let resp = match too_large {
        true => problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large"),
        false => {
            let body = RequestBody::Buffered(Full::new(body.freeze()));
            handler.handle(req.map(|()| body), peer).await
        }
    };
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    stream.send_response(Response::from_parts(parts, ())).await?;
    if !head && !bytes.is_empty() {
        stream.send_data(bytes).await?;
    }
    stream.finish().await?;
    Ok(())
}

/// Adds `Alt-Svc: h3=":PORT"` to every response of the inner handler, so
/// TCP clients learn that HTTP/3 is served on the same port.
#[derive(Clone)]
pub struct AltSvc<H> {
    inner: H,
    value: HeaderValue,
}

impl<H> AltSvc<H> {
    pub fn new(inner: H, h3_port: u16) -> Self {
        let value = HeaderValue::from_str(&format!("h3=\":{h3_port}\"; ma=86400"))
            .unwrap_or_else(|_| HeaderValue::from_static("clear"));
        Self { inner, value }
    }
}

impl<H: Handler> Handler for AltSvc<H> {
    async fn handle(&self, req: Request<RequestBody>, peer: SocketAddr) -> Response<Body> {
        let mut resp = self.inner.handle(req, peer).await;
        resp.headers_mut().insert(header::ALT_SVC, self.value.clone());
        resp
    }
}
