//! Stages 4 and 5 of an ingest request: the body read within the stream's
//! bounds ([`read`]), then checked ([`check`]): media type, encoding and
//! schema, then attack signatures over every value. A refused payload is
//! quarantined here; an accepted one comes out as [`Validated`], which only
//! [`check`] can make and which is all the sink stores as accepted.

use crate::ctx::{Admitted, IngestCtx, Received, now_secs};
use crate::read::{ReadError, read_body};
use crate::refusal::Refusal;
use crate::sink::{Meta, SinkError, Zone, object_id, object_key};
use crate::validate::{check_content, media_type};
use crate::waf::{self, RequestView};
use crate::{Stream, WafMode};
use bytes::Bytes;
use cartorio_platform::access_log::AccessNote;
use cartorio_platform::http::RequestBody;
use http::{HeaderMap, header};

/// A payload that passed every check of its stream.
pub struct Validated {
    received: Received,
}

impl Validated {
    pub fn received(&self) -> &Received {
        &self.received
    }

    pub fn into_payload(self) -> Bytes {
        self.received.payload
    }
}

/// Stage 4: the body, within the stream's size and the minimum upload rate.
pub async fn read(
    ctx: &IngestCtx<'_>,
    admitted: &Admitted,
    body: RequestBody,
    note: &mut AccessNote,
) -> Result<Received, Refusal> {
    let (g, stream) = (ctx.gateway, ctx.stream);
    let payload = read_body(body, ctx.declared_length, stream.max_body_bytes, g.min_body_rate)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge => Refusal::TooLarge { limit: stream.max_body_bytes },
            ReadError::TooSlow => Refusal::TooSlow,
            ReadError::Broken => Refusal::Unreadable,
        })?;
    note.bytes_in = Some(payload.len() as u64);
    if let Some(plan) = &admitted.unmetered {
        g.usage.add_bytes(&admitted.client, plan, payload.len() as u64, now_secs()).await;
    }
    let content_type =
        ctx.parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &payload));
    let id = object_id(u64::try_from(admitted.now_micros / 1000).unwrap_or(0)).map_err(|error| {
        tracing::error!(%error, "no object id");
        Refusal::SinkUnavailable
    })?;
    Ok(Received { payload, media: media_type(content_type), sha256, id })
}

/// Stage 5: type, encoding and schema, then attack signatures.
pub async fn check(
    ctx: &IngestCtx<'_>,
    admitted: &Admitted,
    received: Received,
) -> Result<Validated, Refusal> {
    let stream = ctx.stream;
    let checked = check_content(&stream.content_types, &received.media, &received.payload).and_then(|json| {
        match (&stream.schema, json) {
            (Some(schema), Some(value)) => schema.check(&value),
            _ => Ok(()),
        }
    });
    if let Err(invalid) = checked {
        let object = quarantine(ctx, admitted, &received, Some(invalid.reason()), &[]).await;
        return Err(Refusal::Invalid { invalid, object });
    }
    let inspection = inspect(ctx.parts, stream, &received);
    stream.metrics.findings(&inspection);
    if stream.waf_mode != WafMode::Off && inspection.blocked(stream.waf_threshold) {
        let rules = inspection.rule_ids();
        if stream.waf_mode == WafMode::Block {
            let object =
                quarantine(ctx, admitted, &received, Some("attack_signature"), &inspection.findings).await;
            let incident = received.id.clone();
            let (score, expose_rules) = (inspection.score, stream.expose_rules);
            return Err(Refusal::Attack { rules, score, incident, object, expose_rules });
        }
        let fields: Vec<String> = inspection.findings.iter().map(finding_place).collect();
        tracing::warn!(stream = %stream.name, client = %admitted.client, score = inspection.score, ?rules, ?fields, "attack signatures (detect only)");
    }
    // What could not be inspected is refused, never passed unread.
    if let (Some(cap), WafMode::Block | WafMode::DetectOnly) = (inspection.uninspectable, stream.waf_mode) {
        if stream.waf_mode == WafMode::Block {
            let object =
                quarantine(ctx, admitted, &received, Some("uninspectable"), &inspection.findings).await;
            return Err(Refusal::Uninspectable { cap, object });
        }
        tracing::warn!(stream = %stream.name, client = %admitted.client, limit = cap.label(), "beyond the inspection limits (detect only)");
    }
    Ok(Validated { received })
}

/// The WAF's view of the request: path, query, the headers it looks at
/// (never credentials) and the body.
fn inspect(parts: &http::request::Parts, stream: &Stream, received: &Received) -> waf::Inspection {
    let mut headers = inspected_headers(&parts.headers);
    // HTTP/2 and HTTP/3 carry the host as `:authority`, in the URI.
    if let (None, Some(authority)) = (parts.headers.get(header::HOST), parts.uri.authority()) {
        headers.push(("host".to_owned(), authority.as_str().to_owned()));
    }
    let header_refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // The whole header, parameters included: a multipart body is read by
    // its boundary, which the normalised media type has lost.
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let view = RequestView {
        path: Some(parts.uri.path()),
        query: parts.uri.query(),
        headers: &header_refs,
        content_type: Some(content_type.unwrap_or(&received.media)),
        body: &received.payload,
    };
    waf::inspect_for(&view, stream.waf_limits, &stream.waf_exclusions)
}

/// `1200@body:name`: a rule and where it fired, for a log line.
fn finding_place(finding: &waf::Finding) -> String {
    match &finding.field {
        Some(field) => format!("{}@{}:{field}", finding.rule, finding.location.label()),
        None => format!("{}@{}", finding.rule, finding.location.label()),
    }
}

/// Keeps a refused payload in quarantine (within the quota); its key.
async fn quarantine(
    ctx: &IngestCtx<'_>,
    admitted: &Admitted,
    received: &Received,
    reason: Option<&'static str>,
    findings: &[waf::Finding],
) -> String {
    let key = object_key(Zone::Quarantine, &ctx.stream.name, admitted.now_micros, &received.id);
    let meta: Meta<'_> = ctx.meta(admitted, received, reason, findings);
    match ctx.gateway.sink.quarantine(&key, received.payload.clone(), &meta).await {
        Ok(()) => {}
        Err(SinkError::QuotaExceeded) => {
            tracing::warn!("quarantine quota reached; rejected payload not kept")
        }
        Err(SinkError::Store(error)) => tracing::warn!(%error, "quarantine write failed"),
        Err(SinkError::Seal(error)) => tracing::warn!(%error, "quarantine sealing failed"),
    }
    key
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
