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

    /// An answer that is not a certificate's status: the request was
    /// refused or could not be served (the access log's `refusals`).
    pub fn is_refusal(self) -> bool {
        matches!(self, Self::Unauthorized | Self::Malformed | Self::TryLater)
    }
}

/// How the response may be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caching {
    /// A signed response: Last-Modified, Expires, ETag, bounded max-age.
    Signed { this_update: i64, next_update: i64, etag: u64, max_age: i64 },
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
        Lookup::UnknownIssuer | Lookup::UnknownSerial | Lookup::NotPreSigned => {
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
    if if_none_match.is_some_and(|tags| etag_matches(tags, entry.etag)) {
        return Answer { outcome: Outcome::NotModified, http_status: 304, body: Bytes::new(), caching };
    }
    let outcome = if entry.revoked { Outcome::Revoked } else { Outcome::Good };
    Answer { outcome, http_status: 200, body: entry.der, caching }
}

/// The strong ETag for an entry: 16 hex digits in quotes, built on the stack.
pub fn etag_text(etag: u64) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    for (i, slot) in out.iter_mut().skip(1).take(16).enumerate() {
        *slot = HEX[((etag >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// `If-None-Match`: `*` or a comma-separated list of entity tags (weak
/// comparison, RFC 9110 §13.1.2).
fn etag_matches(header: &[u8], etag: u64) -> bool {
    let ours = etag_text(etag);
    let Ok(text) = std::str::from_utf8(header) else {
        return false;
    };
    text.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == ours)
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
        let tag = 0xabab_0000_0000_0001;
        let ours = String::from_utf8(etag_text(tag).to_vec()).expect("ascii");
        assert_eq!(ours, "\"abab000000000001\"");
        assert!(etag_matches(ours.as_bytes(), tag));
        assert!(etag_matches(format!("\"x\", W/{ours}").as_bytes(), tag));
        assert!(etag_matches(b"*", tag));
        assert!(!etag_matches(b"\"abab\"", tag));
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use bytes::Bytes;
    use cartorio_pkix::cert::CertificateView;
    use cartorio_pkix::der::encode::{null, octet_string, seq, unsigned_integer};
    use cartorio_pkix::hash::HashAlg;
    use cartorio_pkix::ocsp::{CertStatus, IssuerHashes, ResponderTemplate, cert_id, sign_response};
    use cartorio_pkix::publication::{EntryMeta, SegmentBuilder};
    use cartorio_pkix::{EcCurve, Signer};
    use std::collections::HashMap;

    struct Fixture {
        index: Index,
        hashes: IssuerHashes,
    }

    /// One issuer, serial 0x10 good until t=1000, serial 0x11 revoked until t=100.
    fn fixture() -> Fixture {
        let signer = cartorio_testkit::pki::ec_key(EcCurve::P256);
        let cert = cartorio_testkit::pki::self_signed(&signer, "Issuer", vec![]);
        let view = CertificateView::parse(&cert).expect("view");
        let hashes = IssuerHashes::of(&view).expect("hashes");
        let template = ResponderTemplate::new(&cert, signer.spki()).expect("template");
        let id: [u8; 32] = HashAlg::Sha256.digest(view.spki).try_into().expect("32");
        let mut segment = SegmentBuilder::new();
        // 0x10 has SHA-1 and SHA-256 CertID responses; 0x11 only SHA-1.
        let revoked = CertStatus::Revoked { at: 5, reason: Some(1) };
        for (serial, status, next, hash) in [
            (0x10u8, CertStatus::Good, 1000, HashAlg::Sha1),
            (0x10, CertStatus::Good, 1000, HashAlg::Sha256),
            (0x11, revoked, 100, HashAlg::Sha1),
        ] {
            let resp =
                sign_response(&template, &signer, &cert_id(&hashes, hash, &[serial]), status, 10, next)
                    .expect("sign");
            let meta =
                EntryMeta { this_update: 10, next_update: next, revoked: serial == 0x11, cert_id_hash: hash };
            segment.push(&id, &[serial], meta, &resp.der).expect("push");
        }
        let bytes = segment.finish();
        let (manifest, sha) = cartorio_testkit::pki::one_segment_manifest(&cert, &bytes, 3);
        let index = Index::build(&manifest, &HashMap::from([(sha, Bytes::from(bytes))])).expect("index");
        Fixture { index, hashes }
    }

    fn request(hash: HashAlg, name_hash: &[u8], key_hash: &[u8], serial: u8) -> Vec<u8> {
        let cert_id = seq(&[
            &seq(&[hash.oid(), &null()]),
            &octet_string(name_hash),
            &octet_string(key_hash),
            &unsigned_integer(&[serial]),
        ]);
        seq(&[&seq(&[&seq(&[&seq(&[&cert_id])])])])
    }

    fn ask(f: &Fixture, hash: HashAlg, serial: u8, now: i64, inm: Option<&[u8]>) -> Answer {
        let (name, key) = f.hashes.hashes(hash).expect("hashes");
        answer(&request(hash, name, key, serial), &f.index, now, inm, CachePolicy { max_age_cap: 300 })
    }

    /// The manifest lists SHA-1 and SHA-256: those find their responses;
    /// SHA-384 and SHA-512 find none, and neither does a SHA-256 request
    /// for 0x11, signed under SHA-1 only.
    #[test]
    fn every_pre_signed_certid_hash_finds_its_response_and_no_other() {
        let f = fixture();
        for hash in [HashAlg::Sha1, HashAlg::Sha256] {
            let a = ask(&f, hash, 0x10, 20, None);
            assert_eq!((a.outcome, a.http_status), (Outcome::Good, 200), "{hash:?}");
        }
        assert_eq!(ask(&f, HashAlg::Sha1, 0x11, 20, None).outcome, Outcome::Revoked);
        assert_eq!(ask(&f, HashAlg::Sha256, 0x11, 20, None).outcome, Outcome::Unauthorized);
        for hash in [HashAlg::Sha384, HashAlg::Sha512] {
            for serial in [0x10, 0x11] {
                let a = ask(&f, hash, serial, 20, None);
                assert_eq!((a.outcome, a.http_status), (Outcome::Unauthorized, 200), "{hash:?} {serial}");
            }
        }
    }

    /// The response answering a request carries a CertID with the
    /// request's hash: a client matches the SingleResponse by all of it.
    #[test]
    fn response_certid_hash_follows_the_request() {
        let f = fixture();
        let certid_hash_oid =
            |body: &[u8], hash: HashAlg| body.windows(hash.oid().len()).any(|w| w == hash.oid());
        let sha256 = ask(&f, HashAlg::Sha256, 0x10, 20, None);
        assert!(certid_hash_oid(&sha256.body, HashAlg::Sha256));
        let sha1 = ask(&f, HashAlg::Sha1, 0x10, 20, None);
        assert!(certid_hash_oid(&sha1.body, HashAlg::Sha1) && !certid_hash_oid(&sha1.body, HashAlg::Sha256));
    }

    #[test]
    fn caching_is_bounded_by_next_update_and_the_cap() {
        let f = fixture();
        let Caching::Signed { max_age, this_update, next_update, .. } =
            ask(&f, HashAlg::Sha1, 0x10, 20, None).caching
        else {
            panic!("signed caching expected");
        };
        assert_eq!((max_age, this_update, next_update), (300, 10, 1000), "capped");
        let Caching::Signed { max_age, .. } = ask(&f, HashAlg::Sha1, 0x10, 900, None).caching else {
            panic!("signed caching expected");
        };
        assert_eq!(max_age, 100, "bounded by nextUpdate");
    }

    #[test]
    fn never_served_past_next_update() {
        let f = fixture();
        let a = ask(&f, HashAlg::Sha1, 0x11, 100, None);
        assert_eq!((a.outcome, a.caching.clone()), (Outcome::TryLater, Caching::NoStore));
        assert_eq!(&a.body[..], &[0x30, 0x03, 0x0a, 0x01, 0x03]);
    }

    #[test]
    fn unknown_serial_or_half_matching_issuer_is_unauthorized() {
        let f = fixture();
        let a = ask(&f, HashAlg::Sha1, 0x99, 20, None);
        assert_eq!(
            (a.outcome, a.http_status, a.caching.clone()),
            (Outcome::Unauthorized, 200, Caching::NoCache)
        );
        let (name, key) = f.hashes.hashes(HashAlg::Sha1).expect("hashes");
        let wrong_name =
            answer(&request(HashAlg::Sha1, &[0; 20], key, 0x10), &f.index, 20, None, CachePolicy::default());
        assert_eq!(wrong_name.outcome, Outcome::Unauthorized);
        let wrong_key =
            answer(&request(HashAlg::Sha1, name, &[0; 20], 0x10), &f.index, 20, None, CachePolicy::default());
        assert_eq!(wrong_key.outcome, Outcome::Unauthorized);
    }

    #[test]
    fn if_none_match_gets_304() {
        let f = fixture();
        let Caching::Signed { etag, .. } = ask(&f, HashAlg::Sha1, 0x10, 20, None).caching else {
            panic!("signed caching expected");
        };
        let a = ask(&f, HashAlg::Sha1, 0x10, 20, Some(&etag_text(etag)));
        assert_eq!((a.outcome, a.http_status), (Outcome::NotModified, 304));
        assert!(a.body.is_empty());
        assert_eq!(ask(&f, HashAlg::Sha1, 0x10, 20, Some(b"\"other\"")).outcome, Outcome::Good);
    }
}
