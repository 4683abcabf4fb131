//! The gateway's metric handles, registered once per stream: every decision
//! is counted with bounded labels (stream names come from the config).

use cartorio_platform::hot_metrics::{Counter, Histogram};
use cartorio_platform::telemetry::LATENCY_BUCKETS;

/// Where a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Replayed,
    Unauthenticated,
    Forbidden,
    RateLimited,
    ClientBusy,
    Shed,
    TooLarge,
    TooSlow,
    Invalid,
    WafBlocked,
    SinkUnavailable,
    MethodNotAllowed,
    /// Beyond the stream's inspection caps: refused, not passed unread.
    Uninspectable,
    /// The client's address is on a deny list, or off an allow list.
    AddressDenied,
    /// The client's address (or its network prefix) is over its rate.
    AddressLimited,
    /// The API key's usage plan is spent for the day or month.
    QuotaExceeded,
}

const OUTCOMES: [Outcome; 17] = [
    Outcome::Accepted,
    Outcome::Replayed,
    Outcome::Unauthenticated,
    Outcome::Forbidden,
    Outcome::RateLimited,
    Outcome::ClientBusy,
    Outcome::Shed,
    Outcome::TooLarge,
    Outcome::TooSlow,
    Outcome::Invalid,
    Outcome::WafBlocked,
    Outcome::SinkUnavailable,
    Outcome::MethodNotAllowed,
    Outcome::Uninspectable,
    Outcome::AddressDenied,
    Outcome::AddressLimited,
    Outcome::QuotaExceeded,
];

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Replayed => "replayed",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Forbidden => "forbidden",
            Outcome::RateLimited => "rate_limited",
            Outcome::ClientBusy => "client_busy",
            Outcome::Shed => "shed",
            Outcome::TooLarge => "too_large",
            Outcome::TooSlow => "too_slow",
            Outcome::Invalid => "invalid",
            Outcome::WafBlocked => "waf_blocked",
            Outcome::SinkUnavailable => "sink_unavailable",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::Uninspectable => "uninspectable",
            Outcome::AddressDenied => "address_denied",
            Outcome::AddressLimited => "address_limited",
            Outcome::QuotaExceeded => "quota_exceeded",
        }
    }

    /// Whether a retry with the same Idempotency-Key must get this result
    /// again (transient refusals are not remembered).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Outcome::Accepted
                | Outcome::Invalid
                | Outcome::WafBlocked
                | Outcome::TooLarge
                | Outcome::Uninspectable
        )
    }
}

pub struct StreamMetrics {
    outcomes: Vec<Counter>,
    latency: Histogram,
    stream: String,
}

impl StreamMetrics {
    pub fn register(stream: &str) -> Self {
        let outcomes = OUTCOMES
            .iter()
            .map(|o| {
                Counter::register(
                    "cartorio_gateway_requests_total",
                    &[("stream", stream), ("outcome", o.label())],
                )
            })
            .collect();
        let latency =
            Histogram::register("cartorio_gateway_request_seconds", &[("stream", stream)], LATENCY_BUCKETS);
        Self { outcomes, latency, stream: stream.to_owned() }
    }

    pub fn record(&self, outcome: Outcome, seconds: f64) {
        if let Some(c) = OUTCOMES.iter().position(|o| *o == outcome).and_then(|i| self.outcomes.get(i)) {
            c.increment(1);
        }
        self.latency.record(seconds);
    }

    /// WAF findings by class, and requests beyond an inspection cap by
    /// cap (a handful of fixed labels each).
    pub fn findings(&self, inspection: &crate::waf::Inspection) {
        for finding in &inspection.findings {
            metrics::counter!("cartorio_gateway_waf_findings_total", "stream" => self.stream.clone(), "class" => finding.class.label())
                .increment(1);
        }
        if let Some(cap) = inspection.uninspectable {
            metrics::counter!("cartorio_gateway_waf_uninspectable_total", "stream" => self.stream.clone(), "cap" => cap.label())
                .increment(1);
        }
    }
}
