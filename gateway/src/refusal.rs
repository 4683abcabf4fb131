//! Refusals as HTTP: the status, problem body, headers and outcome of each
//! way a stage says no (the service decides when; this module says how).

use crate::addresses::Refused;
use crate::idempotency::{Begin, Recorded};
use crate::instruments::Outcome;
use crate::netlist::Listed;
use crate::rate_headers::rate_limit_headers;
use crate::ratelimit::Gcra;
use crate::usage::Quota;
use crate::validate::Invalid;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::http::{Body, problem_with as problem, response};
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;

/// The answer to a request refused by address (stage 0).
pub fn address_refusal(refused: Refused, note: &mut AccessNote) -> (Response<Body>, Outcome) {
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
            let detail = "too many requests waiting to authenticate";
            let mut resp = problem(StatusCode::SERVICE_UNAVAILABLE, "overloaded", detail, json!({}));
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            (resp, Outcome::Shed)
        }
    }
}

pub fn unavailable() -> (Response<Body>, Outcome) {
    let detail = "the payload could not be stored; nothing was acknowledged, retry later";
    let mut resp = problem(StatusCode::SERVICE_UNAVAILABLE, "sink_unavailable", detail, json!({}));
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    (resp, Outcome::SinkUnavailable)
}

pub fn invalid_response(invalid: &Invalid) -> Response<Body> {
    let (status, detail, extra) = match invalid {
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

/// The answer to a request whose Idempotency-Key is not its to run: the
/// first result, or why not.
pub fn idempotency_refusal(found: Begin) -> (Response<Body>, Outcome) {
    let (status, reason, detail) = match found {
        Begin::Replay(first) => return (replay(first), Outcome::Replayed),
        Begin::InProgress => (
            StatusCode::CONFLICT,
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is in progress",
        ),
        Begin::Mismatch => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with another body",
        ),
        Begin::Unavailable | Begin::Claimed(_) => {
            let detail = "idempotency keys cannot be checked now";
            let mut resp =
                problem(StatusCode::SERVICE_UNAVAILABLE, "idempotency_unavailable", detail, json!({}));
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return (resp, Outcome::Shed);
        }
    };
    (problem(status, reason, detail, json!({})), Outcome::Invalid)
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

/// The answer to a request over its key's usage plan (429 until the period
/// starts again), or whose quota cannot be checked (503).
pub fn quota_refusal(quota: Quota, gcra: &Gcra, remaining: u64) -> (Response<Body>, Outcome) {
    let Quota::Exceeded(spent) = quota else {
        let detail = "usage quotas cannot be checked now";
        let mut resp = problem(StatusCode::SERVICE_UNAVAILABLE, "quota_unavailable", detail, json!({}));
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return (resp, Outcome::Shed);
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
