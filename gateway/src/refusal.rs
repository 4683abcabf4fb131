//! The rescue module: every way a phase of the pipeline says no is a
//! [`Refusal`], and [`rescue`] alone turns one into its HTTP status, problem
//! body, headers, outcome (the metric label) and access-log reason. Phases
//! decide; they never build responses.

use crate::addresses::Refused;
use crate::idempotency::{Begin, Recorded};
use crate::instruments::Outcome;
use crate::netlist::Listed;
use crate::rate_headers::rate_limit_headers;
use crate::ratelimit::Gcra;
use crate::usage::Quota;
use crate::validate::Invalid;
use crate::waf::extract::Cap;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::http::{Body, problem_with as problem, response};
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

/// Why a request is not accepted.
pub enum Refusal {
    /// Stage 0: by the client's address.
    Address(Refused),
    MethodNotAllowed,
    /// No credential, or one not known (401).
    Unauthenticated,
    /// A credential not allowed on the stream (403).
    Forbidden,
    /// The gateway's in-flight cap (503, load shedding).
    Overloaded,
    /// The client's in-flight cap (429).
    ClientBusy,
    RateLimited {
        gcra: Gcra,
        retry_after_ns: u64,
    },
    /// The shared limit cannot be checked and `on_backend_error = "deny"`.
    RateLimitUnavailable,
    Quota {
        quota: Quota,
        gcra: Gcra,
        remaining: u64,
    },
    BadIdempotencyKey,
    /// The key is not this request's to run: the first result, or why not.
    Idempotency(Begin),
    TooLarge {
        limit: usize,
    },
    TooSlow,
    Unreadable,
    /// Validation failed; the payload went to `object` in quarantine.
    Invalid {
        invalid: Invalid,
        object: String,
    },
    /// Attack signatures; `incident` names the case for the client, which
    /// sees the rule ids only where the stream exposes them.
    Attack {
        rules: Vec<u32>,
        score: u32,
        incident: String,
        object: String,
        expose_rules: bool,
    },
    /// Beyond the stream's inspection caps: refused, never passed unread.
    Uninspectable {
        cap: Cap,
        object: String,
    },
    /// Neither the store nor the upstream took the payload.
    SinkUnavailable,
}

/// The answer to `refusal`, with the note's reason, rules and object set.
pub fn rescue(refusal: Refusal, note: &mut AccessNote) -> (Response<Body>, Outcome) {
    use Refusal::*;
    let (status, reason, detail, extra, outcome) = match refusal {
        Address(refused) => return address_refusal(refused, note),
        Idempotency(Begin::Replay(first)) => return (replay(first), Outcome::Replayed),
        MethodNotAllowed => {
            let mut resp =
                problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "use POST", json!({}));
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return (resp, Outcome::MethodNotAllowed);
        }
        Unauthenticated => {
            let detail = "a valid API key is required";
            let mut resp = problem(StatusCode::UNAUTHORIZED, "unauthenticated", detail, json!({}));
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return (resp, Outcome::Unauthenticated);
        }
        Forbidden => {
            let detail = "this client may not post to this stream";
            (403, "forbidden", detail.into(), json!({}), Outcome::Forbidden)
        }
        Overloaded => return retry_later(503, "overloaded", "too many requests in flight", Outcome::Shed),
        ClientBusy => {
            let detail = "too many of this client's requests in flight";
            return retry_later(429, "client_busy", detail, Outcome::ClientBusy);
        }
        RateLimitUnavailable => {
            let detail = "the shared rate limit cannot be checked now";
            return retry_later(503, "rate_limit_unavailable", detail, Outcome::Shed);
        }
        RateLimited { gcra, retry_after_ns } => {
            let secs = retry_after_ns.div_ceil(1_000_000_000).max(1);
            let detail = "request rate over this stream's limit";
            let mut resp = problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail, json!({}));
            rate_limit_headers(resp.headers_mut(), &gcra, 0, secs, &[]);
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return (resp, Outcome::RateLimited);
        }
        Quota { quota, gcra, remaining } => return quota_refusal(quota, &gcra, remaining),
        BadIdempotencyKey => {
            let detail = "Idempotency-Key must be 1 to 255 visible ASCII characters";
            (400, "bad_idempotency_key", detail.into(), json!({}), Outcome::Invalid)
        }
        Idempotency(Begin::InProgress) => {
            let detail = "a request with this Idempotency-Key is in progress";
            (409, "idempotency_key_in_use", detail.into(), json!({}), Outcome::Invalid)
        }
        Idempotency(Begin::Mismatch) => {
            let detail = "this Idempotency-Key was used with another body";
            (422, "idempotency_key_reused", detail.into(), json!({}), Outcome::Invalid)
        }
        Idempotency(Begin::Unavailable | Begin::Claimed(_)) => {
            let detail = "idempotency keys cannot be checked now";
            return retry_later(503, "idempotency_unavailable", detail, Outcome::Shed);
        }
        TooLarge { limit } => {
            let detail = format!("bodies on this stream are limited to {limit} bytes");
            (413, "body_too_large", detail, json!({}), Outcome::TooLarge)
        }
        TooSlow => (408, "body_too_slow", "the body arrived too slowly".into(), json!({}), Outcome::TooSlow),
        Unreadable => {
            (400, "body_unreadable", "the body could not be read".into(), json!({}), Outcome::Invalid)
        }
        Invalid { invalid, object } => {
            (note.reason, note.object) = (Some(invalid.reason().to_owned()), Some(object));
            return (invalid_response(&invalid), Outcome::Invalid);
        }
        Attack { rules, score, incident, object, expose_rules } => {
            (note.reason, note.object) = (Some("attack_signature".to_owned()), Some(object));
            note.rules.clone_from(&rules);
            let extra = match expose_rules {
                true => json!({ "rules": rules, "score": score, "incident": incident }),
                false => json!({ "incident": incident }),
            };
            let detail = "the payload matches attack signatures";
            return (problem(StatusCode::FORBIDDEN, "attack_signature", detail, extra), Outcome::WafBlocked);
        }
        Uninspectable { cap, object } => {
            (note.reason, note.object) = (Some(cap.label().to_owned()), Some(object));
            let detail = format!("the payload is beyond this stream's inspection limit {}", cap.label());
            let extra = json!({ "limit": cap.label() });
            (422, "uninspectable", detail, extra, Outcome::Uninspectable)
        }
        SinkUnavailable => return unavailable(),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (problem(status, reason, &detail, extra), outcome)
}

/// A refusal the client should retry after a second.
fn retry_later(status: u16, reason: &str, detail: &str, outcome: Outcome) -> (Response<Body>, Outcome) {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut resp = problem(status, reason, detail, json!({}));
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    (resp, outcome)
}

/// The answer to a request refused by address (stage 0).
fn address_refusal(refused: Refused, note: &mut AccessNote) -> (Response<Body>, Outcome) {
    match refused {
        Refused::Listed(listed) => {
            note.reason = Some(match listed {
                Listed::Denied => "deny_list".to_owned(),
                Listed::NotAllowed => "not_on_allow_list".to_owned(),
            });
            let detail = "requests from this address are not accepted here";
            (problem(StatusCode::FORBIDDEN, "address_denied", detail, json!({})), Outcome::AddressDenied)
        }
        Refused::RateLimited { prefix, retry_after } => {
            note.reason = Some(if prefix { "prefix_rate" } else { "address_rate" }.to_owned());
            let secs = retry_after.div_ceil(1_000_000_000).max(1);
            let detail = match prefix {
                true => "requests from this network over its limit",
                false => "requests from this address over its limit",
            };
            let mut resp = problem(StatusCode::TOO_MANY_REQUESTS, "address_rate_limited", detail, json!({}));
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            (resp, Outcome::AddressLimited)
        }
        Refused::Busy => {
            note.reason = Some("unauthenticated_in_flight".to_owned());
            retry_later(503, "overloaded", "too many requests waiting to authenticate", Outcome::Shed)
        }
    }
}

fn unavailable() -> (Response<Body>, Outcome) {
    let detail = "the payload could not be stored; nothing was acknowledged, retry later";
    let mut resp = problem(StatusCode::SERVICE_UNAVAILABLE, "sink_unavailable", detail, json!({}));
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    (resp, Outcome::SinkUnavailable)
}

fn invalid_response(invalid: &Invalid) -> Response<Body> {
    let (status, detail, extra): (StatusCode, String, Value) = match invalid {
        Invalid::TypeNotAllowed(t) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("{t:?} is not accepted on this stream"), json!({}))
        }
        Invalid::TypeMismatch { declared, detected } => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body is not {declared}"),
            json!({ "detected": detected }),
        ),
        Invalid::NotUtf8 => (StatusCode::BAD_REQUEST, "text bodies must be UTF-8".to_owned(), json!({})),
        Invalid::BadJson(e) => (StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}"), json!({})),
        Invalid::Schema { pointer, detail } => {
            (StatusCode::BAD_REQUEST, format!("schema: {detail}"), json!({ "pointer": pointer }))
        }
    };
    problem(status, invalid.reason(), &detail, extra)
}

/// Over the key's usage plan (429 until the period starts again), or its
/// quota cannot be checked (503).
fn quota_refusal(quota: Quota, gcra: &Gcra, remaining: u64) -> (Response<Body>, Outcome) {
    let Quota::Exceeded(spent) = quota else {
        return retry_later(503, "quota_unavailable", "usage quotas cannot be checked now", Outcome::Shed);
    };
    let period = spent.period.label();
    let unit = if spent.in_bytes { "bytes" } else { "requests" };
    let detail = format!("this API key's {unit} quota for the {period} is spent");
    let extra = json!({ "period": period, "unit": unit });
    let mut resp = problem(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", &detail, extra);
    rate_limit_headers(resp.headers_mut(), gcra, remaining, 0, &[spent]);
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(spent.reset_secs));
    (resp, Outcome::QuotaExceeded)
}

fn replay(first: Recorded) -> Response<Body> {
    let status = StatusCode::from_u16(first.status).unwrap_or(StatusCode::OK);
    let mut resp = response(status, "application/json", first.body);
    if let Ok(content_type) = HeaderValue::from_str(&first.content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}
