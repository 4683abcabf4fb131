//! The OCSP answer as a pure function of the request bytes, the index and
//! `now`. The HTTP shell (`service`) only moves bytes and headers.

use crate::index::{Index, Lookup};
use bytes::Bytes;
use cartorio_pkix::ocsp::{ResponseStatus, parse_request, status_response};

/// Every way a request can end; also the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Good,
    Revoked,
    NotModified,
    Unauthorized,
    Malformed,
    TryLater,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Revoked => "revoked",
            Self::NotModified => "not_modified",
            Self::Unauthorized => "unauthorized",
            Self::Malformed => "malformed",
            Self::TryLater => "try_later",
        }
    }
}

/// How the response may be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caching {
    /// A signed response: Last-Modified, Expires, ETag, bounded max-age.
    Signed { this_update: i64, next_update: i64, etag: [u8; 16], max_age: i64 },
    /// `unauthorized`: may be stored but must be revalidated.
    NoCache,
    /// `tryLater` / `malformedRequest`: never stored.
    NoStore,
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub outcome: Outcome,
    /// HTTP status: 200 except malformed (400) and not modified (304).
    pub http_status: u16,
    pub body: Bytes,
    pub caching: Caching,
}

#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// Upper bound on `max-age`, whatever nextUpdate allows.
    pub max_age_cap: i64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self { max_age_cap: 24 * 3600 }
    }
}

fn unsigned(outcome: Outcome, status: ResponseStatus, http_status: u16, caching: Caching) -> Answer {
    Answer { outcome, http_status, body: Bytes::from_static(status_response(status)), caching }
}

pub fn malformed() -> Answer {
    unsigned(Outcome::Malformed, ResponseStatus::MalformedRequest, 400, Caching::NoStore)
}

/// Answers one DER OCSP request.
pub fn answer(
    der: &[u8],
    index: &Index,
    now: i64,
    if_none_match: Option<&[u8]>,
    policy: CachePolicy,
) -> Answer {
    let Ok(request) = parse_request(der) else {
        return malformed();
    };
    let entry = match index.lookup(&request.first) {
        Lookup::Found(entry) => entry,
        // Never a signed `unknown`: that would let anyone make us sign.
        Lookup::UnknownIssuer | Lookup::UnknownSerial => {
            return unsigned(Outcome::Unauthorized, ResponseStatus::Unauthorized, 200, Caching::NoCache);
        }
    };
    // Fail closed: a response past its nextUpdate is never served.
    if now >= entry.next_update {
        return unsigned(Outcome::TryLater, ResponseStatus::TryLater, 200, Caching::NoStore);
    }
    let caching = Caching::Signed {
        this_update: entry.this_update,
        next_update: entry.next_update,
        etag: entry.etag,
        max_age: (entry.next_update - now).clamp(0, policy.max_age_cap),
    };
    if if_none_match.is_some_and(|tags| etag_matches(tags, &entry.etag)) {
        return Answer { outcome: Outcome::NotModified, http_status: 304, body: Bytes::new(), caching };
    }
    let outcome = if entry.revoked { Outcome::Revoked } else { Outcome::Good };
    Answer { outcome, http_status: 200, body: entry.der.clone(), caching }
}

/// The strong ETag for an entry, quoted.
pub fn etag_value(etag: &[u8; 16]) -> String {
    format!("\"{}\"", hex::encode(etag))
}

/// `If-None-Match`: `*` or a comma-separated list of entity tags (weak
/// comparison, RFC 9110 §13.1.2).
fn etag_matches(header: &[u8], etag: &[u8; 16]) -> bool {
    let ours = etag_value(etag);
    let Ok(text) = std::str::from_utf8(header) else {
        return false;
    };
    text.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed_with_400() {
        let a = answer(b"not der", &Index::default(), 0, None, CachePolicy::default());
        assert_eq!(a.outcome, Outcome::Malformed);
        assert_eq!(a.http_status, 400);
        assert_eq!(&a.body[..], status_response(ResponseStatus::MalformedRequest));
    }

    #[test]
    fn etag_list_matching() {
        let tag = [0xab; 16];
        let ours = etag_value(&tag);
        assert!(etag_matches(ours.as_bytes(), &tag));
        assert!(etag_matches(format!("\"x\", W/{ours}").as_bytes(), &tag));
        assert!(etag_matches(b"*", &tag));
        assert!(!etag_matches(b"\"abab\"", &tag));
    }
}
