//! HTTP serving: one accept loop for every listener, HTTP/1.1 and HTTP/2
//! (prior knowledge) on the same port, graceful shutdown that lets requests
//! in flight finish.

use crate::access_log::AccessNote;
use crate::conn_limits::{Activity, ConnectionSlots, Ended, Watched, serve_while_asked};
use crate::proxy_protocol::{self, ProxyError};
use crate::shutdown::Shutdown;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;

pub type Body = Full<Bytes>;

/// A request body: streamed by hyper (HTTP/1.1, HTTP/2), or already read in
/// full by the HTTP/3 driver (bounded there).
pub enum RequestBody {
    Streamed(Incoming),
    Buffered(Full<Bytes>),
}

impl hyper::body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            RequestBody::Streamed(body) => std::pin::Pin::new(body).poll_frame(cx),
            RequestBody::Buffered(body) => std::pin::Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|r| r.map_err(|never| match never {}))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Streamed(body) => body.is_end_stream(),
            RequestBody::Buffered(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            RequestBody::Streamed(body) => body.size_hint(),
            RequestBody::Buffered(body) => body.size_hint(),
        }
    }
}

/// How long requests in flight may take to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A client must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with nothing in flight is closed after this time (nginx's
/// `keepalive_timeout` is 75 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A service's request handler. Handlers never fail: every error is already
/// a protocol answer by the time it leaves them.
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(
        &self,
        req: Request<RequestBody>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response<Body>> + Send;
}

/// Binds `addr`, logging the address actually bound (port 0 picks one).
/// The socket has SO_REUSEPORT, so [`serve_per_core`] can give each serving
/// thread a socket of its own on the same address.
pub async fn bind(addr: SocketAddr, name: &str) -> std::io::Result<TcpListener> {
    // SO_REUSEPORT would let a second instance (same user) silently share a
    // port with a forgotten first one: a plain bind first, so that fails.
    if addr.port() != 0 {
        drop(std::net::TcpListener::bind(addr)?);
    }
    let listener = TcpListener::from_std(reuse_port_listener(addr)?)?;
    tracing::info!(service = name, addr = %listener.local_addr()?, "listening");
    Ok(listener)
}

/// A non-blocking listening socket on `addr` with SO_REUSEPORT (and
/// SO_REUSEADDR, for restarts over connections in TIME_WAIT).
fn reuse_port_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Serves `handler` on `listener` until `shutdown`, then drains.
pub async fn serve<H: Handler>(listener: TcpListener, handler: H, shutdown: Shutdown, name: &'static str) {
    serve_with(listener, Connections::default(), handler, shutdown, name).await
}

/// A TLS handshake must finish within this time.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client certificate (DER) a TLS or QUIC client authenticated with,
/// verified against the listener's `client_ca`; in request extensions.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Bytes);

impl PeerCertificate {
    pub fn first_of(chain: Option<&[rustls_pki_types::CertificateDer<'_>]>) -> Option<Self> {
        chain.and_then(|c| c.first()).map(|c| Self(Bytes::copy_from_slice(c.as_ref())))
    }
}

/// What a listener expects before HTTP on each connection.
#[derive(Clone)]
pub struct Connections {
    /// TLS (HTTP/2 or HTTP/1.1 chosen by ALPN).
    pub tls: Option<TlsAcceptor>,
    /// A PROXY protocol header (v1 or v2) from the load balancer, naming the
    /// client; a connection without a valid one is closed.
    pub proxy_protocol: bool,
    /// A connection whose first request head has not arrived within this
    /// time (from accept, TLS and PROXY header included) is closed.
    pub first_request_timeout: Duration,
    /// A connection with no request in flight and no byte moving for this
    /// time (up to twice it) is closed; HTTP/1.1's keep-alive ends sooner,
    /// at [`HEADER_READ_TIMEOUT`].
    pub idle_timeout: Duration,
    /// Connections held at once, with the process's other listeners.
    pub slots: ConnectionSlots,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            tls: None,
            proxy_protocol: false,
            first_request_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            slots: ConnectionSlots::process(),
        }
    }
}

impl Connections {
    pub fn tls(acceptor: TlsAcceptor) -> Self {
        Self { tls: Some(acceptor), ..Self::default() }
    }
}

/// As `serve`, with TLS and/or the PROXY protocol as `connections` says.
pub async fn serve_with<H: Handler>(
    listener: TcpListener,
    connections: Connections,
    handler: H,
    shutdown: Shutdown,
    name: &'static str,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).keep_alive(true);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
    let graceful = GracefulShutdown::new();
    // Exported from the start, so an alert on them has a series to read.
    metrics::counter!("cartorio_connection_slots_exhausted_total", "service" => name).increment(0);
    metrics::counter!("cartorio_connections_without_request_total", "service" => name).increment(0);
    loop {
        let slot = tokio::select! {
            slot = connections.slots.acquire(name) => slot,
            _ = shutdown.wait() => break,
        };
        let (mut stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(service = name, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let (handler, watcher, builder, connections) =
            (handler.clone(), graceful.watcher(), builder.clone(), connections.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let accepted = tokio::time::Instant::now();
            let peer = match connections.proxy_protocol {
                false => peer,
                true => match tokio::time::timeout(HEADER_READ_TIMEOUT, read_proxy_header(&mut stream)).await
                {
                    Ok(Ok(source)) => source.unwrap_or(peer),
                    Ok(Err(error)) => {
                        metrics::counter!("cartorio_proxy_protocol_refused_total", "service" => name)
                            .increment(1);
                        tracing::debug!(service = name, %peer, ?error, "connection without a valid PROXY header");
                        return;
                    }
                    Err(_) => return,
                },
            };
            let activity = std::sync::Arc::new(Activity::default());
            let asked = activity.clone();
            let make_service = move |client_cert: Option<PeerCertificate>| {
                let asked = asked.clone();
                service_fn(move |req: Request<Incoming>| {
                    let in_flight = asked.begin();
                    let handler = handler.clone();
                    let mut req = req.map(RequestBody::Streamed);
                    if let Some(cert) = &client_cert {
                        req.extensions_mut().insert(cert.clone());
                    }
                    async move {
                        let resp = handler.handle(req, peer).await;
                        drop(in_flight);
                        Ok::<_, Infallible>(resp)
                    }
                })
            };
            // One transport type for both, so one connection is served below.
            let (stream, cert) = match connections.tls {
                None => (Either::Left(stream), None),
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(error)) => {
                                tracing::debug!(service = name, %error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let cert = PeerCertificate::first_of(stream.get_ref().1.peer_certificates());
                    (Either::Right(stream), cert)
                }
            };
            let io = Watched::new(TokioIo::new(stream), activity.clone());
            let conn = watcher.watch(builder.serve_connection(io, make_service(cert)).into_owned());
            let first = connections.first_request_timeout.saturating_sub(accepted.elapsed());
            let served = serve_while_asked(conn, &activity, first, connections.idle_timeout).await;
            match served {
                Ended::Served(Ok(())) => {}
                Ended::Served(Err(error)) => {
                    tracing::debug!(service = name, %error, "connection ended with an error")
                }
                Ended::NoRequest => {
                    metrics::counter!("cartorio_connections_without_request_total", "service" => name)
                        .increment(1);
                    tracing::debug!(service = name, %peer, "connection closed: no request within the time allowed");
                }
                Ended::Idle => tracing::debug!(service = name, %peer, "connection closed: idle"),
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!(service = name, "connections still open after the drain timeout");
    }
    tracing::info!(service = name, "stopped");
}

/// Reads a PROXY protocol header off `stream`, consuming exactly its
/// octets (v1 a byte at a time, as its length is only known at the CRLF;
/// v2 by its length field), and returns the source address it names.
async fn read_proxy_header(stream: &mut tokio::net::TcpStream) -> Result<Option<SocketAddr>, ProxyError> {
    use tokio::io::AsyncReadExt;
    let io = |_| ProxyError::Malformed("connection closed in the header");
    let mut head = [0u8; 16];
    stream.read_exact(&mut head[..8]).await.map_err(io)?;
    match proxy_protocol::version(&head[..8])? {
        proxy_protocol::Version::V1 => {
            let mut line = head[..8].to_vec();
            while !line.ends_with(b"\r\n") {
                if line.len() >= proxy_protocol::V1_MAX {
                    return Err(ProxyError::Malformed("v1 line too long"));
                }
                line.push(stream.read_u8().await.map_err(io)?);
            }
            proxy_protocol::parse_v1(&line)
        }
        proxy_protocol::Version::V2 => {
            stream.read_exact(&mut head[8..]).await.map_err(io)?;
            let mut block = vec![0u8; proxy_protocol::v2_len(&head)?];
            stream.read_exact(&mut block).await.map_err(io)?;
            proxy_protocol::parse_v2(&head, &block)
        }
    }
}

/// Serves on `threads` single-threaded runtimes, each accepting on a socket
/// of its own bound to the same address with SO_REUSEPORT (nginx's workers
/// with `reuseport`): the kernel spreads connections evenly over the threads
/// and a connection stays on the thread that accepted it, so no task ever
/// crosses cores. A listener bound without SO_REUSEPORT is shared instead.
/// Returns when every thread has drained after `shutdown`.
pub async fn serve_per_core<H: Handler>(
    listener: TcpListener,
    connections: Connections,
    threads: usize,
    handler: H,
    shutdown: Shutdown,
    name: &'static str,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let listener = listener.into_std()?;
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads.max(1) {
        let socket = match i {
            0 => listener.try_clone()?,
            _ => reuse_port_listener(addr).or_else(|_| listener.try_clone())?,
        };
        let (connections, handler, shutdown) = (connections.clone(), handler.clone(), shutdown.clone());
        let worker = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
            if !crate::sched::request_slice(crate::sched::SERVING_SLICE) {
                tracing::debug!(service = name, "the kernel refused a short time slice");
            }
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let socket = TcpListener::from_std(socket)?;
                serve_with(socket, connections, handler, shutdown, name).await;
                Ok::<_, std::io::Error>(())
            })
        })?;
        workers.push(worker);
    }
    tokio::task::spawn_blocking(move || {
        for worker in workers {
            match worker.join() {
                Ok(Err(error)) => tracing::error!(service = name, %error, "serving thread failed"),
                Err(_) => tracing::error!(service = name, "serving thread panicked"),
                Ok(Ok(())) => {}
            }
        }
    })
    .await
    .map_err(std::io::Error::other)
}

/// Reads and drops what is left of a refused request's body, up to 64 KiB
/// and one second, before the refusal is sent: a client still uploading
/// would otherwise see its HTTP/2 stream or its HTTP/1.1 connection reset
/// (unread bytes at close make the kernel send RST) instead of the answer
/// (nginx discards bodies the same way). Bigger or slower bodies are cut.
pub async fn discard_body(mut body: RequestBody) {
    use http_body_util::BodyExt;
    let discard = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > 64 * 1024 {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), discard).await;
}

pub fn response(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// An RFC 9457 problem body.
pub fn problem(status: StatusCode, reason: &str, detail: &str) -> Response<Body> {
    problem_with(status, reason, detail, serde_json::Value::Null)
}

/// An RFC 9457 problem body with `extra` members (a JSON object) beside
/// the standard ones: the failing pointer, the rule ids ...
pub fn problem_with(
    status: StatusCode,
    reason: &str,
    detail: &str,
    extra: serde_json::Value,
) -> Response<Body> {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "reason": reason,
        "detail": detail,
    });
    if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    response(status, "application/problem+json", body.to_string())
}

/// A listener that serves only `/metrics` and `/healthz` (`metrics_listen`).
pub async fn serve_metrics(listener: TcpListener, shutdown: Shutdown) {
    let connections = Connections { slots: ConnectionSlots::operators(), ..Connections::default() };
    serve_with(listener, connections, MetricsOnly, shutdown, "metrics").await
}

#[derive(Clone)]
pub(crate) struct MetricsOnly;

impl Handler for MetricsOnly {
    async fn handle(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        match (req.method() == http::Method::GET).then(|| common_route(req.uri().path())).flatten() {
            Some(resp) => resp,
            None => problem(StatusCode::NOT_FOUND, "no_route", "this listener serves /metrics and /healthz"),
        }
    }
}

/// `GET /healthz` and `GET /metrics`, served by every listener, each with
/// its route for the access log.
pub fn common_route(path: &str) -> Option<Response<Body>> {
    let (mut resp, route) = match path {
        "/healthz" => (response(StatusCode::OK, "text/plain", "ok\n"), "healthz"),
        "/metrics" => (
            response(StatusCode::OK, "text/plain; version=0.0.4", crate::telemetry::render_metrics()),
            "metrics",
        ),
        _ => return None,
    };
    AccessNote::new(route, "").attach(&mut resp);
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_in_use_is_refused_despite_reuse_port() {
        let first = bind(SocketAddr::from(([127, 0, 0, 1], 0)), "test").await.expect("bind");
        let taken = first.local_addr().expect("addr");
        let second = bind(taken, "test").await;
        assert_eq!(second.map(|_| ()).map_err(|e| e.kind()), Err(std::io::ErrorKind::AddrInUse));
    }

    #[tokio::test]
    async fn problem_bodies_are_escaped_json_with_extras() {
        use http_body_util::BodyExt;
        let extra = serde_json::json!({"pointer": "/x"});
        let resp = problem_with(StatusCode::BAD_REQUEST, "r", "a\"b\\c\n", extra);
        let body = resp.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(v["detail"].as_str(), Some("a\"b\\c\n"));
        assert_eq!((v["pointer"].as_str(), v["status"].as_u64()), (Some("/x"), Some(400)));
    }
}
