//! The HTTP shell around `respond`: routing, body limits, headers, metrics.

use crate::headers;
use crate::index::Index;
use crate::instruments::{Endpoint, ResponderMetrics};
use crate::published::{self, Published};
use crate::readiness::{self, LoaderStatus};
use crate::respond::{self, Answer, CachePolicy, Caching};
use crate::tsa::Tsa;
use arc_swap::ArcSwap;
use bytes::Bytes;
use cartorio_pkix::ocsp::decode_get_path;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::http::{Body, Handler, RequestBody, common_route, response};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const OCSP_RESPONSE: &str = "application/ocsp-response";

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest POST body or decoded GET request.
    pub max_request_bytes: usize,
}

const TIMESTAMP_REPLY: &str = "application/timestamp-reply";
/// Largest TimeStampReq read (a SHA-512 imprint, policy, nonce: well under 1 KiB).
const MAX_TSA_REQUEST: usize = 16 * 1024;

#[derive(Clone)]
pub struct OcspService {
    index: Arc<ArcSwap<Index>>,
    loader: Arc<LoaderStatus>,
    /// CRLs and CA certificates from the store (`/crl/...`, `/ca/...`).
    published: Option<Arc<Published>>,
    limits: Limits,
    cache: CachePolicy,
    tsa: Option<Arc<Tsa>>,
    /// Serve time-stamps only (at `/` and `/tsa`): the TSA's own listener.
    tsa_only: bool,
    metrics: Arc<ResponderMetrics>,
    capped_cache_control: Arc<(i64, HeaderValue)>,
}

impl OcspService {
    pub fn new(
        index: Arc<ArcSwap<Index>>,
        loader: Arc<LoaderStatus>,
        published: Option<Arc<Published>>,
        limits: Limits,
        cache: CachePolicy,
        tsa: Option<Arc<Tsa>>,
    ) -> Self {
        let capped_cache_control = Arc::new((cache.max_age_cap, headers::cache_control(cache.max_age_cap)));
        Self {
            index,
            loader,
            published,
            limits,
            cache,
            tsa,
            tsa_only: false,
            metrics: Arc::new(ResponderMetrics::register()),
            capped_cache_control,
        }
    }

    /// The same service answering time-stamp requests only, at `/` and
    /// `/tsa` (for the TSA's own listener); OCSP paths are 404 there.
    pub fn tsa_only(&self) -> Self {
        Self { tsa_only: true, ..self.clone() }
    }

    async fn time_stamp(&self, tsa: &Tsa, req: Request<RequestBody>) -> Response<Body> {
        let body = read_limited(req, MAX_TSA_REQUEST).await;
        let (der, outcome) = tsa.answer(body.as_deref()).await;
        let mut resp = response(StatusCode::OK, TIMESTAMP_REPLY, der);
        AccessNote::new("tsa", outcome).refused(outcome != "granted").attach(&mut resp);
        resp
    }

    /// `GET /readyz`, or `/readyz/{component}` for one component (a load
    /// balancer in front of OCSP only need not drop a responder whose TSA
    /// refuses); see [`crate::readiness`].
    fn readiness(&self, component: Option<&str>) -> Response<Body> {
        let now = cartorio_platform::clock::unix_seconds();
        let (ocsp, tsa) = match component {
            None => (!self.tsa_only, self.tsa.as_deref()),
            Some("ocsp") if !self.tsa_only => (true, None),
            Some("tsa") if self.tsa.is_some() => (false, self.tsa.as_deref()),
            Some(_) => return response(StatusCode::NOT_FOUND, "text/plain", "no such component here\n"),
        };
        let (ready, doc) = readiness::readyz(&self.index.load(), &self.loader, tsa, ocsp, now);
        let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        let mut resp = response(status, "application/json", doc.to_string());
        AccessNote::readiness(ready).attach(&mut resp);
        resp
    }

    /// Every branch that awaits is boxed, so the future of a GET (all of it
    /// synchronous) stays small: HTTP/2 copies it into a task per request
    /// (a 10 KiB future cost 23% of OCSP GET's throughput over HTTP/2 and
    /// 10% over HTTP/1.1; `the_handler_future_stays_small`).
    async fn route(&self, req: Request<RequestBody>) -> (Response<Body>, Endpoint) {
        let path = req.uri().path();
        if req.method() == Method::GET
            && let Some(rest) = path.strip_prefix("/readyz")
        {
            return match rest {
                "" => (self.readiness(None), Endpoint::Other),
                component => (self.readiness(component.strip_prefix('/')), Endpoint::Other),
            };
        }
        if req.method() == Method::GET
            && let Some(resp) = common_route(path)
        {
            return (resp, Endpoint::Other);
        }
        if let (false, Some(published), Some((key, kind))) =
            (self.tsa_only, &self.published, published::key_of(path))
        {
            let head = req.method() == Method::HEAD;
            return match *req.method() {
                Method::GET | Method::HEAD => {
                    let object = Box::pin(published.get(&key, kind, self.index.load().version())).await;
                    let mut resp = serve_published(object, kind, if_none_match(&req), head, self.cache);
                    let route = match kind {
                        published::Kind::Crl => "crl",
                        published::Kind::CaCertificate => "ca",
                    };
                    AccessNote::new(route, "").attach(&mut resp);
                    (resp, Endpoint::Other)
                }
                _ => {
                    let mut resp = response(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use GET\n");
                    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                    (resp, Endpoint::Other)
                }
            };
        }
        if path == "/tsa" || (self.tsa_only && path == "/") {
            return match (&self.tsa, req.method()) {
                (Some(tsa), &Method::POST) => (Box::pin(self.time_stamp(tsa, req)).await, Endpoint::Tsa),
                (Some(_), _) => {
                    let mut resp = response(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use POST\n");
                    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                    (resp, Endpoint::Other)
                }
                (None, _) => {
                    (response(StatusCode::NOT_FOUND, "text/plain", "no TSA here\n"), Endpoint::Other)
                }
            };
        }
        if self.tsa_only {
            return (
                response(StatusCode::NOT_FOUND, "text/plain", "time-stamps only here: POST /\n"),
                Endpoint::Other,
            );
        }
        // The OCSP base path is `/` and `/ocsp`; anything after it on a GET is
        // the base64 request, taken verbatim (no normalisation: `/` is base64).
        let rest = path.strip_prefix("/ocsp").filter(|r| r.is_empty() || r.starts_with('/')).unwrap_or(path);
        let encoded = rest.strip_prefix('/').unwrap_or(rest);
        match *req.method() {
            Method::POST if encoded.is_empty() => {
                let if_none_match = if_none_match(&req);
                let answer = match Box::pin(self.read_body(req)).await {
                    Some(der) => self.answer(&der, if_none_match.as_ref().map(HeaderValue::as_bytes)),
                    None => respond::malformed(),
                };
                (self.to_http(answer, "ocsp_post"), Endpoint::Post)
            }
            Method::GET | Method::HEAD => {
                let answer = match decode_get_path(encoded, self.limits.max_request_bytes) {
                    Ok(der) => {
                        self.answer(&der, req.headers().get(header::IF_NONE_MATCH).map(HeaderValue::as_bytes))
                    }
                    Err(_) => respond::malformed(),
                };
                (self.to_http(answer, "ocsp_get"), Endpoint::Get)
            }
            _ => {
                let mut resp = response(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n");
                resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
                (resp, Endpoint::Other)
            }
        }
    }

    fn answer(&self, der: &[u8], if_none_match: Option<&[u8]>) -> Answer {
        let index = self.index.load();
        let now = cartorio_platform::clock::unix_seconds();
        self.metrics.request_bytes(der.len());
        let answer = respond::answer(der, &index, now, if_none_match, self.cache);
        if let Caching::Signed { this_update, .. } = answer.caching {
            self.metrics.response_age(now - this_update);
        }
        answer
    }

    async fn read_body(&self, req: Request<RequestBody>) -> Option<Bytes> {
        read_limited(req, self.limits.max_request_bytes).await
    }
}

/// The body within `max` bytes; `None` when larger (refused by its declared
/// length before reading), unreadable or slower than 10 s.
async fn read_limited(req: Request<RequestBody>, max: usize) -> Option<Bytes> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return None;
    }
    let collect = Limited::new(req.into_body(), max).collect();
    let mut collect = std::pin::pin!(collect);
    // A small body has nearly always arrived with its head: one poll reads
    // it, and the 10 s timer (an entry in the runtime's timer wheel, added
    // and removed per request) is set only for a body still on its way.
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(collect.as_mut().poll(cx))).await;
    let collected = match first {
        std::task::Poll::Ready(done) => done,
        std::task::Poll::Pending => tokio::time::timeout(Duration::from_secs(10), collect).await.ok()?,
    };
    collected.ok().map(|b| b.to_bytes())
}

impl Handler for OcspService {
    async fn handle(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let (resp, endpoint) = self.route(req).await;
        self.metrics.latency(endpoint, started.elapsed().as_secs_f64());
        resp
    }
}

/// A CRL or CA certificate from the store, with caching headers: a CRL's
/// max-age is bounded by its nextUpdate (and the configured cap), and one
/// past its nextUpdate is not served (503, `Retry-After`).
fn serve_published(
    object: Option<Arc<published::Object>>,
    kind: published::Kind,
    if_none_match: Option<HeaderValue>,
    head: bool,
    cache: CachePolicy,
) -> Response<Body> {
    let Some(object) = object else {
        return response(StatusCode::NOT_FOUND, "text/plain", "not published\n");
    };
    let now = cartorio_platform::clock::unix_seconds();
    let max_age = match object.expires {
        Some(next_update) if next_update <= now => {
            let mut resp = response(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "no current CRL\n");
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return resp;
        }
        Some(next_update) => (next_update - now).min(cache.max_age_cap),
        None => cache.max_age_cap,
    };
    let not_modified = if_none_match.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|tags| {
        tags.split(',').any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == object.etag)
    });
    let (status, body) = match (not_modified, head) {
        (true, _) => (StatusCode::NOT_MODIFIED, Bytes::new()),
        (false, true) => (StatusCode::OK, Bytes::new()),
        (false, false) => (StatusCode::OK, object.bytes.clone()),
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.content_type()));
    if head && !not_modified {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.bytes.len()));
    }
    if let Ok(etag) = HeaderValue::from_str(&object.etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(this_update) = object.last_modified {
        headers.insert(header::LAST_MODIFIED, headers::http_date(this_update));
    }
    if let Some(next_update) = object.expires {
        headers.insert(header::EXPIRES, headers::http_date(next_update));
    }
    headers.insert(header::CACHE_CONTROL, headers::cache_control(max_age.max(0)));
    resp
}

/// Kept past the body read, which consumes the request (a cheap, shared clone).
fn if_none_match(req: &Request<RequestBody>) -> Option<HeaderValue> {
    req.headers().get(header::IF_NONE_MATCH).cloned()
}

impl OcspService {
    fn to_http(&self, answer: Answer, route: &'static str) -> Response<Body> {
        let outcome = answer.outcome;
        self.metrics.outcome(outcome);
        let mut resp = to_http(answer, &self.capped_cache_control);
        AccessNote::new(route, outcome.label()).refused(outcome.is_refusal()).attach(&mut resp);
        resp
    }
}

/// `capped` is the Cache-Control value for `max-age` at the configured cap.
fn to_http(answer: Answer, capped: &(i64, HeaderValue)) -> Response<Body> {
    let mut resp = Response::new(Full::new(answer.body));
    *resp.status_mut() = StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::OK);
    let headers = resp.headers_mut();
    if answer.http_status != 304 {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCSP_RESPONSE));
    }
    match answer.caching {
        Caching::Signed { this_update, next_update, etag, max_age } => {
            headers.insert(header::LAST_MODIFIED, headers::http_date(this_update));
            headers.insert(header::EXPIRES, headers::http_date(next_update));
            headers.insert(header::ETAG, headers::etag(etag));
            let cc = if max_age == capped.0 { capped.1.clone() } else { headers::cache_control(max_age) };
            headers.insert(header::CACHE_CONTROL, cc);
        }
        Caching::NoCache => {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=0, no-cache"));
        }
        Caching::NoStore => {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HTTP/2 moves each request's handler future into a task of its own, and
    /// HTTP/1.1 into the connection's slot: a future of 10 KiB (a time-stamp
    /// or a published object awaited inline) cost OCSP GET over HTTP/2 a
    /// copy of that size per request. The cold paths are boxed instead.
    #[test]
    fn the_handler_future_stays_small() {
        let service = OcspService::new(
            Arc::new(ArcSwap::from_pointee(Index::default())),
            Default::default(),
            None,
            Limits { max_request_bytes: 10_000 },
            CachePolicy { max_age_cap: 3600 },
            None,
        );
        let req = Request::new(RequestBody::Buffered(Default::default()));
        let future = service.handle(req, SocketAddr::from(([127, 0, 0, 1], 1)));
        let size = std::mem::size_of_val(&future);
        eprintln!("handler future: {size} bytes");
        assert!(size <= 2048, "the handler future is {size} bytes");
    }
}
