//! What the phases of an ingest request share: the typed context
//! ([`IngestCtx`]) they all read, what admission found ([`Admitted`]) and
//! what the read produced ([`Received`]).

use crate::sink::{FindingMeta, Meta, rfc3339_micros};
use crate::usage::{Plan, QuotaState};
use crate::{Gateway, Stream};
use bytes::Bytes;
use std::net::IpAddr;
use std::sync::Arc;

/// One ingest request as the phases see it.
pub struct IngestCtx<'a> {
    pub gateway: &'a Gateway,
    pub stream: &'a Stream,
    pub parts: &'a http::request::Parts,
    /// The client (after the PROXY protocol or a trusted X-Forwarded-For).
    pub client_ip: IpAddr,
    /// The body length the client declared, when it did (read once: the
    /// plan counts it at admission, the read is bounded by it).
    pub declared_length: Option<u64>,
}

impl<'a> IngestCtx<'a> {
    pub fn new(
        gateway: &'a Gateway,
        stream: &'a Stream,
        parts: &'a http::request::Parts,
        client_ip: IpAddr,
    ) -> Self {
        let declared_length =
            parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        Self { gateway, stream, parts, client_ip, declared_length }
    }

    /// The metadata stored beside the payload.
    pub fn meta<'m>(
        &'m self,
        admitted: &'m Admitted,
        received: &'m Received,
        reason: Option<&'static str>,
        findings: &'m [crate::waf::Finding],
    ) -> Meta<'m> {
        Meta {
            id: &received.id,
            stream: &self.stream.name,
            sha256: &received.sha256,
            bytes: received.payload.len(),
            content_type: &received.media,
            client: &admitted.client,
            client_ip: self.client_ip.to_string(),
            received_at: rfc3339_micros(admitted.now_micros),
            schema_version: &self.stream.schema_version,
            reason,
            rules: findings.iter().map(|f| f.rule).collect(),
            findings: FindingMeta::of(findings),
        }
    }
}

/// What stages 1 to 3 decided for a request they let through.
pub struct Admitted {
    /// The authenticated identity (API key id, or `mtls:CN`).
    pub client: String,
    pub now_micros: i64,
    /// Requests left in the client's burst.
    pub remaining: u64,
    /// The key's quotas after this request.
    pub quotas: Vec<QuotaState>,
    /// The plan whose bytes quota counts the body once read (its length
    /// was not declared).
    pub unmetered: Option<Arc<Plan>>,
    /// Where an Idempotency-Key's result is kept.
    pub record: Option<String>,
    pub _slot: crate::ratelimit::Slot,
}

/// A body read within the stream's bounds.
pub struct Received {
    pub payload: Bytes,
    /// The declared media type, normalised.
    pub media: String,
    /// Hex SHA-256 of the payload.
    pub sha256: String,
    /// The object id it is stored (or quarantined) under.
    pub id: String,
}

pub fn now_secs() -> u64 {
    u64::try_from(cartorio_platform::clock::unix_seconds()).unwrap_or(0)
}
