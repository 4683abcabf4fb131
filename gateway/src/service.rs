//! The pipeline as one HTTP handler: address -> authenticate -> rate-limit
//! (`admission`) -> bounded read -> validate (`intake`) -> sink | quarantine.
//! Phases share an [`IngestCtx`] and return typed decisions; this file wires
//! them, and every refusal becomes HTTP in one place (`refusal::rescue`).

use crate::addresses::{Refused, Unauthenticated};
use crate::ctx::{Admitted, IngestCtx, Received, now_secs};
use crate::idempotency::{self, Begin, Recorded};
use crate::instruments::Outcome;
use crate::intake::{self, Validated};
use crate::policy::Policy;
use crate::rate_headers::rate_limit_headers;
use crate::refusal::{Refusal, rescue};
use crate::sink::{Zone, object_key, rfc3339_micros};
use crate::{Gateway, Stream, admission};
use bytes::Bytes;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::clock::unix_micros;
use cartorio_platform::http::{
    Body, Handler, RequestBody, common_route, discard_body, problem_with as problem, response,
};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
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
            let (ready, doc) =
                crate::readiness::readyz(sink.store(), sink.sealed(), self.gateway.redis.as_deref()).await;
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
                let (mut resp, outcome) = rescue(Refusal::Address(refused), &mut note);
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
            _ => rescue(Refusal::MethodNotAllowed, &mut note),
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

    /// Stages 1 to 6 as phases over one context; every refusal goes
    /// through [`rescue`].
    async fn ingest(
        &self,
        policy: &Policy,
        stream: &Stream,
        req: Request<RequestBody>,
        client_ip: std::net::IpAddr,
        unauthenticated: Unauthenticated,
        note: &mut AccessNote,
    ) -> (Response<Body>, Outcome) {
        let (parts, body) = req.into_parts();
        let ctx = IngestCtx::new(&self.gateway, stream, &parts, client_ip);
        let admitted = match admission::admit(&ctx, policy, unauthenticated, note).await {
            Ok(admitted) => admitted,
            Err(refusal) => {
                discard_body(body).await;
                return rescue(refusal, note);
            }
        };
        let mut claim = None;
        let (mut resp, outcome) = match accept(&ctx, &admitted, body, &mut claim, note).await {
            Ok(answer) => answer,
            Err(refusal) => rescue(refusal, note),
        };
        rate_limit_headers(resp.headers_mut(), &stream.gcra, admitted.remaining, 0, &admitted.quotas);
        if let Some(claim) = claim
            && outcome.is_final()
        {
            let g = &self.gateway;
            g.idempotency.finish(g.sink.store(), claim, recorded(&resp), now_secs()).await;
        }
        (resp, outcome)
    }
}

/// Stages 4 to 6: read, (claim the Idempotency-Key), check, deliver.
async fn accept(
    ctx: &IngestCtx<'_>,
    admitted: &Admitted,
    body: RequestBody,
    claim: &mut Option<idempotency::Claim>,
    note: &mut AccessNote,
) -> Result<(Response<Body>, Outcome), Refusal> {
    let received = intake::read(ctx, admitted, body, note).await?;
    // Idempotency: a retry of the same body gets the first result.
    if let Some(record) = &admitted.record {
        let g = ctx.gateway;
        match g.idempotency.begin(g.sink.store(), record, &received.sha256, now_secs()).await {
            Begin::Claimed(held) => *claim = Some(held),
            refused => return Err(Refusal::Idempotency(refused)),
        }
    }
    let validated = intake::check(ctx, admitted, received).await?;
    deliver(ctx, admitted, validated).await
}

/// Stage 6: forwarded and taken, or durable, before the 202.
async fn deliver(
    ctx: &IngestCtx<'_>,
    admitted: &Admitted,
    validated: Validated,
) -> Result<(Response<Body>, Outcome), Refusal> {
    let stream = ctx.stream;
    let Received { id, sha256, media, .. } = validated.received();
    let accepted = |forwarded: bool| {
        let body = match forwarded {
            true => json!({ "id": id, "sha256": sha256, "forwarded": true }),
            false => json!({ "id": id, "sha256": sha256 }),
        };
        Ok((response(StatusCode::ACCEPTED, "application/json", body.to_string()), Outcome::Accepted))
    };
    if let Some(upstream) = &stream.upstream {
        let received_at = rfc3339_micros(admitted.now_micros);
        let receipt = [
            ("x-cartorio-id", id.as_str()),
            ("x-cartorio-sha256", sha256.as_str()),
            ("x-cartorio-client", admitted.client.as_str()),
            ("x-cartorio-received-at", received_at.as_str()),
        ];
        let media = media.clone();
        let payload = validated.received().payload.clone();
        return match upstream.forward(payload, &media, &receipt).await {
            Ok(()) => accepted(true),
            Err(error) => {
                tracing::warn!(stream = %stream.name, error = %error.0, "upstream did not take the payload");
                Err(Refusal::SinkUnavailable)
            }
        };
    }
    let key = object_key(Zone::Raw, &stream.name, admitted.now_micros, id);
    let meta = ctx.meta(admitted, validated.received(), None, &[]);
    match ctx.gateway.sink.accept(&key, &validated, &meta).await {
        Ok(()) => accepted(false),
        Err(error) => {
            tracing::error!(?error, stream = %stream.name, "sink write failed; nothing acknowledged");
            Err(Refusal::SinkUnavailable)
        }
    }
}

/// The answer kept for an Idempotency-Key's retries.
fn recorded(resp: &Response<Body>) -> Recorded {
    let content_type = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    Recorded {
        status: resp.status().as_u16(),
        content_type: content_type.unwrap_or("application/json").to_owned(),
        body: String::from_utf8_lossy(&body_bytes(resp)).into_owned(),
        request_sha256: String::new(),
        recorded_at: 0,
    }
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
