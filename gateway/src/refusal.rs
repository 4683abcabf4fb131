//! Refusals as HTTP: the status, problem body, headers and outcome of each
//! way a stage says no (the service decides when; this module says how).

use crate::addresses::Refused;
use crate::instruments::Outcome;
use crate::netlist::Listed;
use crate::validate::Invalid;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::http::{Body, problem_with as problem};
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
