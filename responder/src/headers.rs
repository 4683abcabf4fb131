//! Response header values, built without allocating on the common path.
//!
//! Responses signed in one batch share thisUpdate and nextUpdate, so a
//! per-thread memo of the last dates formatted serves nearly every request;
//! max-age is the configured cap until the last day of a response's life.

use bytes::Bytes;
use http::HeaderValue;
use std::cell::RefCell;
use std::time::{Duration, UNIX_EPOCH};

thread_local! {
    /// (unix seconds, formatted) for the last few dates seen on this thread.
    static DATES: RefCell<[(i64, Option<HeaderValue>); 4]> = const { RefCell::new([(0, None), (0, None), (0, None), (0, None)]) };
}

/// An HTTP-date (RFC 9110 §5.6.7) header value.
pub fn http_date(unix: i64) -> HeaderValue {
    DATES.with(|memo| {
        let mut memo = memo.borrow_mut();
        if let Some((_, Some(v))) = memo.iter().find(|(t, v)| *t == unix && v.is_some()) {
            return v.clone();
        }
        let t = UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
        let value = HeaderValue::from_maybe_shared(Bytes::from(httpdate::fmt_http_date(t)))
            .unwrap_or(HeaderValue::from_static(""));
        // Replace the slot of the oldest date (dates only move forward).
        if let Some(slot) = memo.iter_mut().min_by_key(|(t, _)| *t) {
            *slot = (unix, Some(value.clone()));
        }
        value
    })
}

/// A strong ETag header value (see [`crate::respond::etag_text`]).
pub fn etag(tag: u64) -> HeaderValue {
    HeaderValue::from_bytes(&crate::respond::etag_text(tag)).unwrap_or(HeaderValue::from_static("\"\""))
}

/// `Cache-Control` for a signed response.
pub fn cache_control(max_age: i64) -> HeaderValue {
    let text = format!("max-age={max_age}, public, no-transform, must-revalidate");
    HeaderValue::from_maybe_shared(Bytes::from(text)).unwrap_or(HeaderValue::from_static("no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT", "memoised");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(etag(0xabab_0000_0000_0001), "\"abab000000000001\"");
        assert_eq!(cache_control(60), "max-age=60, public, no-transform, must-revalidate");
    }
}
