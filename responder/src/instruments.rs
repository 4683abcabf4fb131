//! The responder's metric handles, registered once: the hot path increments
//! handles instead of looking names and labels up on every request.

use crate::respond::Outcome;
use cartorio_pkix::tsp::FailInfo;
use cartorio_platform::hot_metrics::{Counter, Histogram};
use cartorio_platform::telemetry::{LATENCY_BUCKETS, REQUEST_BYTES_BUCKETS, RESPONSE_AGE_BUCKETS};

/// Request endpoints, the label set of the latency histogram.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    Get,
    Post,
    Tsa,
    Other,
}

pub struct ResponderMetrics {
    outcomes: [Counter; 6],
    latency: [Histogram; 4],
    /// now - thisUpdate of each signed response served.
    response_age: Histogram,
    /// Size of each DER OCSP request (POST body or decoded GET path).
    request_bytes: Histogram,
}

const OUTCOMES: [Outcome; 6] = [
    Outcome::Good,
    Outcome::Revoked,
    Outcome::NotModified,
    Outcome::Unauthorized,
    Outcome::Malformed,
    Outcome::TryLater,
];

impl ResponderMetrics {
    /// Registers with the installed recorder (install it first).
    pub fn register() -> Self {
        let outcome =
            |o: Outcome| Counter::register("cartorio_ocsp_responses_total", &[("outcome", o.label())]);
        let latency = |e: &str| {
            Histogram::register("cartorio_responder_request_seconds", &[("endpoint", e)], LATENCY_BUCKETS)
        };
        Self {
            outcomes: OUTCOMES.map(outcome),
            latency: [latency("get"), latency("post"), latency("tsa"), latency("other")],
            response_age: Histogram::register(
                "cartorio_ocsp_response_age_seconds",
                &[],
                RESPONSE_AGE_BUCKETS,
            ),
            request_bytes: Histogram::register("cartorio_ocsp_request_bytes", &[], REQUEST_BYTES_BUCKETS),
        }
    }

    pub fn outcome(&self, outcome: Outcome) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome)
            && let Some(c) = self.outcomes.get(i)
        {
            c.increment(1);
        }
    }

    pub fn latency(&self, endpoint: Endpoint, seconds: f64) {
        let i = endpoint as usize;
        if let Some(h) = self.latency.get(i) {
            h.record(seconds);
        }
    }
}

impl ResponderMetrics {
    pub fn response_age(&self, seconds: i64) {
        self.response_age.record(seconds.max(0) as f64);
    }

    pub fn request_bytes(&self, len: usize) {
        self.request_bytes.record(len as f64);
    }
}

/// The TSA's metric handles.
pub struct TsaMetrics {
    /// `granted`, then one per failInfo label.
    outcomes: Vec<(&'static str, Counter)>,
    signing: Histogram,
}

impl TsaMetrics {
    pub fn register() -> Self {
        let labels = std::iter::once("granted").chain(FailInfo::ALL.iter().map(|f| f.label()));
        Self {
            outcomes: labels
                .map(|l| (l, Counter::register("cartorio_tsa_responses_total", &[("outcome", l)])))
                .collect(),
            signing: Histogram::register("cartorio_tsa_signing_seconds", &[], LATENCY_BUCKETS),
        }
    }

    pub fn outcome(&self, label: &str) {
        if let Some((_, c)) = self.outcomes.iter().find(|(l, _)| *l == label) {
            c.increment(1);
        }
    }

    pub fn signing(&self, seconds: f64) {
        self.signing.record(seconds);
    }
}
