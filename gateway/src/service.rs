//! The pipeline as one HTTP handler: identify -> authenticate -> rate-limit
//! -> bounded read -> validate -> sink | quarantine. Each stage decides in
//! its own module; this file only wires them and turns decisions into HTTP
//! answers and metrics.

use crate::addresses::{Refused, Unauthenticated};
use crate::auth::AuthError;
use crate::idempotency::{self, Begin, Recorded};
use crate::instruments::Outcome;
use crate::policy::Policy;
use crate::rate_headers::rate_limit_headers;
use crate::ratelimit::{Busy, Decision};
use crate::read::{ReadError, read_body};
use crate::refusal::{address_refusal, idempotency_refusal, invalid_response, quota_refusal, unavailable};
use crate::shared_limit::Shared;
use crate::sink::{Meta, SinkError, Zone, object_id, object_key, rfc3339_micros};
use crate::usage::{Plan, Quota, QuotaState};
use crate::validate::{check_content, media_type};
use crate::waf::{self, RequestView};
use crate::{Gateway, Stream, WafMode};
use bytes::Bytes;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::clock::unix_micros;
use cartorio_platform::http::{
    Body, Handler, PeerCertificate, RequestBody, common_route, discard_body, problem_with as problem,
    response,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct GatewayService {
    /// Whether the ingest listeners answer `/metrics`.
    expose_metrics: bool,
    gateway: Arc<Gateway>,
}

impl GatewayService {
    pub fn new(gateway: Arc<Gateway>, expose_metrics: bool) -> Self {
        Self { expose_metrics, gateway }
    }
}

impl Handler for GatewayService {
    async fn handle(&self, req: Request<RequestBody>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let path = req.uri().path();
        if req.method() == Method::GET
            && (self.expose_metrics || path != "/metrics")
            && let Some(resp) = common_route(path)
        {
            return resp;
        }
        if req.method() == Method::GET && path == "/readyz" {
            let sink = &self.gateway.sink;
            let (ready, doc) = crate::readiness::readyz(sink.store(), sink.sealed()).await;
            let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            let mut resp = response(status, "application/json", doc.to_string());
            AccessNote::readiness(ready).attach(&mut resp);
            return resp;
        }
        let Some(name) = path.strip_prefix("/v1/ingest/") else {
            let mut resp = problem(StatusCode::NOT_FOUND, "no_route", "no such route", json!({}));
            AccessNote::new("", "no_route").attach(&mut resp);
            return resp;
        };
        // One policy for the whole request, even if a reload lands meanwhile.
        let policy = self.gateway.policy.load_full();
        let stream = policy.streams.get(name);
        // 0. Admission by address: before the stream is named (a denied
        // address learns nothing), authentication and the body.
        let client_ip = self.client_ip(req.headers(), peer);
        let mut note = AccessNote {
            route: "ingest",
            // The name is the client's until it names a stream: not logged.
            route_param: stream.map(|s| s.name.clone()),
            client: Some(client_ip),
            ..Default::default()
        };
        let now_ns = u64::try_from(unix_micros()).unwrap_or(0).saturating_mul(1000);
        let by_address = self.gateway.addresses.admit(client_ip, now_ns).and_then(|()| match stream {
            Some(stream) => stream.lists.check(client_ip).map_err(Refused::Listed),
            None => Ok(()),
        });
        let unauthenticated = by_address.and_then(|()| self.gateway.addresses.enter_unauthenticated());
        let unauthenticated = match unauthenticated {
            Ok(place) => place,
            Err(refused) => {
                // A client over its address's rate may be a well-behaved one
                // that retries: it reads the 429 (and Retry-After). Listed and
                // over-the-in-flight-cap requests are cut at once.
                if matches!(refused, Refused::RateLimited { .. }) {
                    discard_body(req.into_body()).await;
                }
                let (mut resp, outcome) = address_refusal(refused, &mut note);
                if let Some(stream) = stream {
                    stream.metrics.record(outcome, started.elapsed().as_secs_f64());
                }
                note.outcome = outcome.label();
                note.attach(&mut resp);
                return resp;
            }
        };
        let Some(stream) = stream else {
            discard_body(req.into_body()).await;
            let mut resp = problem(StatusCode::NOT_FOUND, "unknown_stream", "no such stream", json!({}));
            note.outcome = "unknown_stream";
            note.attach(&mut resp);
            return resp;
        };
        let (mut resp, outcome) = match req.method() {
            &Method::POST => self.ingest(&policy, stream, req, client_ip, unauthenticated, &mut note).await,
            _ => {
                let mut resp =
                    problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "use POST", json!({}));
                resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                (resp, Outcome::MethodNotAllowed)
            }
        };
        stream.metrics.record(outcome, started.elapsed().as_secs_f64());
        note.outcome = outcome.label();
        note.attach(&mut resp);
        resp
    }
}

impl GatewayService {
    /// The client: the peer (after the PROXY protocol), or the address a
    /// trusted proxy's `X-Forwarded-For` names.
    fn client_ip(&self, headers: &HeaderMap, peer: SocketAddr) -> std::net::IpAddr {
        let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        crate::identify::client_ip(peer.ip(), forwarded, &self.gateway.trusted_proxies)
    }
}

/// What stages 1 to 3 decided for a request they let through.
struct Admitted {
    client: String,
    client_ip: std::net::IpAddr,
    now_micros: i64,
    /// Requests left in the client's burst.
    remaining: u64,
    /// The key's quotas after this request.
    quotas: Vec<QuotaState>,
    /// The plan whose bytes quota counts the body once read (its length
    /// was not declared).
    unmetered: Option<Arc<Plan>>,
    /// Where an Idempotency-Key's result is kept.
    record: Option<String>,
    _slot: crate::ratelimit::Slot,
}

type Refusal = (Response<Body>, Outcome);

impl GatewayService {
    async fn ingest(
        &self,
        policy: &Policy,
        stream: &Stream,
        req: Request<RequestBody>,
        client_ip: std::net::IpAddr,
        unauthenticated: Unauthenticated,
        note: &mut AccessNote,
    ) -> (Response<Body>, Outcome) {
        let g = &self.gateway;
        let (parts, body) = req.into_parts();
        let admitted = match self.admit(policy, stream, &parts, client_ip, unauthenticated, note).await {
            Ok(admitted) => admitted,
            Err(refusal) => {
                discard_body(body).await;
                return refusal;
            }
        };
        let mut claim = None;
        let (mut resp, outcome) = self.accept(stream, &parts, body, &admitted, &mut claim, note).await;
        rate_limit_headers(resp.headers_mut(), &stream.gcra, admitted.remaining, 0, &admitted.quotas);
        if let Some(claim) = claim
            && outcome.is_final()
        {
            let recorded = Recorded {
                status: resp.status().as_u16(),
                content_type: resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned(),
                body: String::from_utf8_lossy(&body_bytes(&resp)).into_owned(),
                request_sha256: String::new(),
                recorded_at: 0,
            };
            g.idempotency.finish(g.sink.store(), claim, recorded, now_secs()).await;
        }
        (resp, outcome)
    }

    /// Stages 1 to 3 (and the idempotency check): who, may they, not too fast.
    async fn admit(
        &self,
        policy: &Policy,
        stream: &Stream,
        parts: &http::request::Parts,
        client_ip: std::net::IpAddr,
        unauthenticated: Unauthenticated,
        note: &mut AccessNote,
    ) -> Result<Admitted, Refusal> {
        let g = &self.gateway;
        // 1. Identified before stage 0 (`client_ip`).
        // 2. Authenticate.
        let client_cert = parts.extensions.get::<PeerCertificate>().map(|c| c.0.clone());
        let identity = policy.keys.identify(
            &parts.headers,
            client_cert.as_deref(),
            &stream.name,
            &stream.mtls_identities,
        );
        let client = match identity {
            Ok(client) => client,
            Err(AuthError::Unauthenticated) => {
                let mut resp = problem(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "a valid API key is required",
                    json!({}),
                );
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return Err((resp, Outcome::Unauthenticated));
            }
            Err(AuthError::Forbidden) => {
                let detail = "this client may not post to this stream";
                return Err((
                    problem(StatusCode::FORBIDDEN, "forbidden", detail, json!({})),
                    Outcome::Forbidden,
                ));
            }
        };
        note.identity = Some(client.clone());
        drop(unauthenticated);
        // 3. Rate-limit: in-flight caps, then the stream's GCRA.
        let slot = match g.in_flight.enter(&client) {
            Ok(slot) => slot,
            Err(Busy::Gateway) => {
                let mut resp = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "too many requests in flight",
                    json!({}),
                );
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return Err((resp, Outcome::Shed));
            }
            Err(Busy::Client) => {
                let detail = "too many of this client's requests in flight";
                let mut resp = problem(StatusCode::TOO_MANY_REQUESTS, "client_busy", detail, json!({}));
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return Err((resp, Outcome::ClientBusy));
            }
        };
        let now_micros = unix_micros();
        let now_ns = u64::try_from(now_micros).unwrap_or(0).saturating_mul(1000);
        let decision = match &g.shared {
            Some(shared) => shared.check(&client, &stream.name, &stream.gcra, now_ns, &g.limiter).await,
            None => Shared::Decided(g.limiter.check(
                &(client.as_str(), stream.name.as_str()),
                &stream.gcra,
                now_ns,
            )),
        };
        let decision = match decision {
            Shared::Decided(decision) => decision,
            Shared::Unavailable => {
                let detail = "the shared rate limit cannot be checked now";
                let mut resp =
                    problem(StatusCode::SERVICE_UNAVAILABLE, "rate_limit_unavailable", detail, json!({}));
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return Err((resp, Outcome::Shed));
            }
        };
        let remaining = match decision {
            Decision::Allow { remaining, .. } => remaining,
            Decision::Deny { retry_after } => {
                let secs = retry_after.div_ceil(1_000_000_000).max(1);
                let detail = "request rate over this stream's limit";
                let mut resp = problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail, json!({}));
                rate_limit_headers(resp.headers_mut(), &stream.gcra, 0, secs, &[]);
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return Err((resp, Outcome::RateLimited));
            }
        };
        // The key's usage plan: one more request, and its declared bytes.
        let plan = policy.plans.get(&client).cloned();
        let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        let quotas = match &plan {
            Some(plan) => match g.usage.admit(&client, plan, declared.unwrap_or(0), now_secs()).await {
                Quota::Allow(states) => states,
                refused => return Err(quota_refusal(refused, &stream.gcra, remaining)),
            },
            None => Vec::new(),
        };
        // Idempotency: a retry gets the first result.
        let record = match parts.headers.get("idempotency-key").map(|v| v.to_str().map(str::to_owned)) {
            None => None,
            Some(Ok(k)) if idempotency::valid_key(&k) => {
                Some(idempotency::record_key(&stream.name, &client, &k))
            }
            Some(_) => {
                let detail = "Idempotency-Key must be 1 to 255 visible ASCII characters";
                return Err((
                    problem(StatusCode::BAD_REQUEST, "bad_idempotency_key", detail, json!({})),
                    Outcome::Invalid,
                ));
            }
        };
        let unmetered = plan.filter(|_| declared.is_none());
        Ok(Admitted { client, client_ip, now_micros, remaining, quotas, unmetered, record, _slot: slot })
    }
}

impl GatewayService {
    /// Stages 4 to 6: read, validate, store.
    async fn accept(
        &self,
        stream: &Stream,
        parts: &http::request::Parts,
        body: RequestBody,
        admitted: &Admitted,
        claim: &mut Option<idempotency::Claim>,
        note: &mut AccessNote,
    ) -> (Response<Body>, Outcome) {
        let g = &self.gateway;
        let (client, client_ip, now_micros) =
            (admitted.client.as_str(), admitted.client_ip.to_string(), admitted.now_micros);
        let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        let payload = match read_body(body, declared, stream.max_body_bytes, g.min_body_rate).await {
            Ok(payload) => {
                note.bytes_in = Some(payload.len() as u64);
                if let Some(plan) = &admitted.unmetered {
                    g.usage.add_bytes(client, plan, payload.len() as u64, now_secs()).await;
                }
                payload
            }
            Err(ReadError::TooLarge) => {
                let detail = format!("bodies on this stream are limited to {} bytes", stream.max_body_bytes);
                return (
                    problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", &detail, json!({})),
                    Outcome::TooLarge,
                );
            }
            Err(ReadError::TooSlow) => {
                return (
                    problem(
                        StatusCode::REQUEST_TIMEOUT,
                        "body_too_slow",
                        "the body arrived too slowly",
                        json!({}),
                    ),
                    Outcome::TooSlow,
                );
            }
            Err(ReadError::Broken) => {
                return (
                    problem(
                        StatusCode::BAD_REQUEST,
                        "body_unreadable",
                        "the body could not be read",
                        json!({}),
                    ),
                    Outcome::Invalid,
                );
            }
        };
        let content_type =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let media = media_type(content_type);
        let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &payload));
        // Idempotency: a retry of the same body gets the first result.
        if let Some(record) = &admitted.record {
            match g.idempotency.begin(g.sink.store(), record, &sha256, now_secs()).await {
                Begin::Claimed(held) => *claim = Some(held),
                refused => return idempotency_refusal(refused),
            }
        }
        let id = match object_id(u64::try_from(now_micros / 1000).unwrap_or(0)) {
            Ok(id) => id,
            Err(_) => return unavailable(),
        };
        let size = payload.len();
        let meta = |reason: Option<&'static str>, rules: Vec<u32>| Meta {
            id: &id,
            stream: &stream.name,
            sha256: &sha256,
            bytes: size,
            content_type: &media,
            client,
            client_ip: client_ip.clone(),
            received_at: rfc3339_micros(now_micros),
            schema_version: &stream.schema_version,
            reason,
            rules,
        };
        // 5. Validate: type, encoding, schema; then attack signatures.
        let checked = check_content(&stream.content_types, &media, &payload).and_then(|json| {
            match (&stream.schema, json) {
                (Some(schema), Some(value)) => schema.check(&value),
                _ => Ok(()),
            }
        });
        if let Err(invalid) = checked {
            let key = object_key(Zone::Quarantine, &stream.name, now_micros, &id);
            self.quarantine(&key, payload.clone(), &meta(Some(invalid.reason()), vec![])).await;
            (note.reason, note.object) = (Some(invalid.reason().to_owned()), Some(key));
            return (invalid_response(&invalid), Outcome::Invalid);
        }
        let mut headers = inspected_headers(&parts.headers);
        // HTTP/2 and HTTP/3 carry the host as `:authority`, in the URI.
        if let (None, Some(authority)) = (parts.headers.get(header::HOST), parts.uri.authority()) {
            headers.push(("host".to_owned(), authority.as_str().to_owned()));
        }
        let header_refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let view = RequestView {
            path: Some(parts.uri.path()),
            query: parts.uri.query(),
            headers: &header_refs,
            content_type: Some(&media),
            body: &payload,
        };
        let inspection = waf::inspect_within(&view, stream.waf_limits);
        stream.metrics.findings(&inspection);
        if stream.waf_mode != WafMode::Off && inspection.blocked(stream.waf_threshold) {
            let rules = inspection.rule_ids();
            note.rules.clone_from(&rules);
            if stream.waf_mode == WafMode::Block {
                let key = object_key(Zone::Quarantine, &stream.name, now_micros, &id);
                self.quarantine(&key, payload.clone(), &meta(Some("attack_signature"), rules.clone())).await;
                (note.reason, note.object) = (Some("attack_signature".to_owned()), Some(key));
                let detail = "the payload matches attack signatures";
                let extra = json!({ "rules": rules, "score": inspection.score });
                return (
                    problem(StatusCode::FORBIDDEN, "attack_signature", detail, extra),
                    Outcome::WafBlocked,
                );
            }
            tracing::warn!(stream = %stream.name, %client, score = inspection.score, ?rules, "attack signatures (detect only)");
        }
        // What could not be inspected is refused, never passed unread.
        if let (Some(cap), WafMode::Block | WafMode::DetectOnly) = (inspection.uninspectable, stream.waf_mode)
        {
            if stream.waf_mode == WafMode::Block {
                let key = object_key(Zone::Quarantine, &stream.name, now_micros, &id);
                self.quarantine(&key, payload.clone(), &meta(Some("uninspectable"), inspection.rule_ids()))
                    .await;
                (note.reason, note.object) = (Some(cap.label().to_owned()), Some(key));
                let detail = format!("the payload is beyond this stream's inspection limit {}", cap.label());
                let extra = json!({ "limit": cap.label() });
                return (
                    problem(StatusCode::UNPROCESSABLE_ENTITY, "uninspectable", &detail, extra),
                    Outcome::Uninspectable,
                );
            }
            tracing::warn!(stream = %stream.name, %client, limit = cap.label(), "beyond the inspection limits (detect only)");
        }
        // 6. Sink: forwarded and taken, or durable, before the 202.
        if let Some(upstream) = &stream.upstream {
            let received_at = rfc3339_micros(now_micros);
            let receipt = [
                ("x-cartorio-id", id.as_str()),
                ("x-cartorio-sha256", sha256.as_str()),
                ("x-cartorio-client", client),
                ("x-cartorio-received-at", received_at.as_str()),
            ];
            return match upstream.forward(payload, &media, &receipt).await {
                Ok(()) => {
                    let body = json!({ "id": id, "sha256": sha256, "forwarded": true }).to_string();
                    (response(StatusCode::ACCEPTED, "application/json", body), Outcome::Accepted)
                }
                Err(error) => {
                    tracing::warn!(stream = %stream.name, error = %error.0, "upstream did not take the payload");
                    unavailable()
                }
            };
        }
        let key = object_key(Zone::Raw, &stream.name, now_micros, &id);
        match g.sink.write(Zone::Raw, &key, payload, &meta(None, vec![])).await {
            Ok(()) => {
                let body = json!({ "id": id, "sha256": sha256 }).to_string();
                (response(StatusCode::ACCEPTED, "application/json", body), Outcome::Accepted)
            }
            Err(error) => {
                tracing::error!(?error, stream = %stream.name, "sink write failed; nothing acknowledged");
                unavailable()
            }
        }
    }

    async fn quarantine(&self, key: &str, payload: Bytes, meta: &Meta<'_>) {
        match self.gateway.sink.write(Zone::Quarantine, key, payload, meta).await {
            Ok(()) => {}
            Err(SinkError::QuotaExceeded) => {
                tracing::warn!("quarantine quota reached; rejected payload not kept")
            }
            Err(SinkError::Store(error)) => tracing::warn!(%error, "quarantine write failed"),
            Err(SinkError::Seal(error)) => tracing::warn!(%error, "quarantine sealing failed"),
        }
    }
}

/// The headers the WAF looks at (never credentials).
fn inspected_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            !matches!(name.as_str(), "authorization" | "x-api-key" | "cookie" | "idempotency-key")
        })
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect()
}

fn body_bytes(resp: &Response<Body>) -> Bytes {
    use hyper::body::Body as _;
    // A `Full` body is ready at once: polling it never waits.
    let mut body = resp.body().clone();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

fn now_secs() -> u64 {
    u64::try_from(cartorio_platform::clock::unix_seconds()).unwrap_or(0)
}
