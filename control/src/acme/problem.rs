//! ACME's errors: problem documents (RFC 7807) with the RFC 8555 §6.7 error
//! types, one mapping from error to HTTP status. The service adds a fresh
//! Replay-Nonce and the directory link to every one.

use super::jws::JwsError;
use serde_json::{Value, json};

/// An ACME error type (`urn:ietf:params:acme:error:{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AccountDoesNotExist,
    AlreadyReplaced,
    AlreadyRevoked,
    BadCsr,
    BadNonce,
    BadPublicKey,
    BadRevocationReason,
    BadSignatureAlgorithm,
    Conflict,
    ExternalAccountRequired,
    InvalidContact,
    InvalidProfile,
    Malformed,
    NotFound,
    OrderNotReady,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    Unauthorized,
    UnsupportedContact,
    UnsupportedIdentifier,
    UnsupportedMediaType,
    MethodNotAllowed,
    PayloadTooLarge,
    // Validation failures, recorded on challenges.
    Connection,
    Dns,
    IncorrectResponse,
    Tls,
}

impl Kind {
    /// The error type's name in the URN.
    pub fn name(self) -> &'static str {
        match self {
            Self::AccountDoesNotExist => "accountDoesNotExist",
            Self::AlreadyReplaced => "alreadyReplaced",
            Self::AlreadyRevoked => "alreadyRevoked",
            Self::BadCsr => "badCSR",
            Self::BadNonce => "badNonce",
            Self::BadPublicKey => "badPublicKey",
            Self::BadRevocationReason => "badRevocationReason",
            Self::BadSignatureAlgorithm => "badSignatureAlgorithm",
            Self::Conflict => "conflict",
            Self::ExternalAccountRequired => "externalAccountRequired",
            Self::InvalidContact => "invalidContact",
            Self::InvalidProfile => "invalidProfile",
            Self::OrderNotReady => "orderNotReady",
            Self::RateLimited => "rateLimited",
            Self::RejectedIdentifier => "rejectedIdentifier",
            Self::ServerInternal => "serverInternal",
            Self::Unauthorized => "unauthorized",
            Self::UnsupportedContact => "unsupportedContact",
            Self::UnsupportedIdentifier => "unsupportedIdentifier",
            Self::Connection => "connection",
            Self::Dns => "dns",
            Self::IncorrectResponse => "incorrectResponse",
            Self::Tls => "tls",
            // Errors of HTTP itself have no ACME type of their own.
            Self::Malformed
            | Self::NotFound
            | Self::UnsupportedMediaType
            | Self::MethodNotAllowed
            | Self::PayloadTooLarge => "malformed",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Self::Unauthorized | Self::OrderNotReady => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict | Self::AlreadyReplaced => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::ServerInternal => 500,
            _ => 400,
        }
    }
}

/// A problem to answer with.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: Kind,
    pub detail: String,
    /// What few problems carry, boxed to keep results small.
    more: Option<Box<More>>,
}

#[derive(Debug, Clone, Default)]
struct More {
    /// Per-identifier problems (RFC 8555 §6.7.1).
    subproblems: Vec<(Kind, String, Value)>,
    /// Seconds, for rateLimited (Retry-After).
    retry_after: Option<u64>,
    /// Extra members (`algorithms` for badSignatureAlgorithm).
    member: Option<(&'static str, Value)>,
    /// A Location to send (a key change's conflicting account).
    location: Option<String>,
}

pub type AcmeResult<T> = Result<T, Problem>;

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), more: None }
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(Kind::Malformed, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(Kind::Unauthorized, detail)
    }

    pub fn not_found() -> Self {
        Self::new(Kind::NotFound, "no such resource")
    }

    /// An internal failure: logged in full, answered without detail.
    pub fn internal(error: &anyhow::Error) -> Self {
        tracing::error!(error = format!("{error:#}"), "ACME request failed");
        Self::new(Kind::ServerInternal, "the server could not complete the request")
    }

    pub fn rate_limited(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut problem = Self::new(Kind::RateLimited, detail);
        problem.more_mut().retry_after = Some(retry_after);
        problem
    }

    fn more_mut(&mut self) -> &mut More {
        self.more.get_or_insert_with(Box::default)
    }

    pub fn with_subproblems(mut self, subproblems: Vec<(Kind, String, Value)>) -> Self {
        self.more_mut().subproblems = subproblems;
        self
    }

    pub fn with_member(mut self, name: &'static str, value: Value) -> Self {
        self.more_mut().member = Some((name, value));
        self
    }

    pub fn with_location(mut self, location: String) -> Self {
        self.more_mut().location = Some(location);
        self
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.more.as_ref().and_then(|m| m.retry_after)
    }

    pub fn location(&self) -> Option<String> {
        self.more.as_ref().and_then(|m| m.location.clone())
    }

    /// The problem document.
    pub fn to_json(&self) -> Value {
        let mut doc = json!({
            "type": format!("urn:ietf:params:acme:error:{}", self.kind.name()),
            "detail": self.detail,
            "status": self.kind.status(),
        });
        let Some(more) = &self.more else { return doc };
        if !more.subproblems.is_empty() {
            doc["subproblems"] = more
                .subproblems
                .iter()
                .map(|(kind, detail, identifier)| {
                    json!({"type": format!("urn:ietf:params:acme:error:{}", kind.name()), "detail": detail,
                        "identifier": identifier})
                })
                .collect();
        }
        if let Some((name, value)) = &more.member {
            doc[*name] = value.clone();
        }
        doc
    }
}

impl From<JwsError> for Problem {
    fn from(error: JwsError) -> Self {
        match &error {
            JwsError::Malformed(_) | JwsError::BadSignature => Self::malformed(error.to_string()),
            JwsError::BadSignatureAlgorithm(_) => Self::new(Kind::BadSignatureAlgorithm, error.to_string())
                .with_member("algorithms", json!(super::jws::ALGORITHMS)),
            JwsError::BadPublicKey(_) => Self::new(Kind::BadPublicKey, error.to_string()),
        }
    }
}

impl From<anyhow::Error> for Problem {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_rfc_8555_types_and_statuses() {
        let p = Problem::new(Kind::BadNonce, "stale");
        assert_eq!(p.to_json()["type"], "urn:ietf:params:acme:error:badNonce");
        assert_eq!(p.to_json()["status"], 400);
        assert_eq!(Problem::new(Kind::OrderNotReady, "x").to_json()["status"], 403);
        assert_eq!(Problem::rate_limited("x", 60).to_json()["status"], 429);
        let alg: Problem = JwsError::BadSignatureAlgorithm("HS256".into()).into();
        assert_eq!(alg.to_json()["algorithms"], json!(["ES256", "ES384", "RS256", "EdDSA"]));
        assert_eq!(Problem::not_found().to_json()["type"], "urn:ietf:params:acme:error:malformed");
    }
}
