//! Stage 4, bounded read: the body within the stream's size limit (refused
//! by its declared length before a byte is read, else as soon as the bytes
//! streamed pass it), and within a time that assumes a minimum upload rate
//! after a grace period, so a slow client cannot hold a slot forever.
//! Header size and time to headers are bounded by the HTTP layer.

use bytes::{Bytes, BytesMut};
use cartorio_platform::http::RequestBody;
use http_body_util::BodyExt;
use std::time::Duration;

/// Any body may take this long, whatever its size.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Over the limit (413).
    TooLarge,
    /// Slower than the minimum rate (408).
    TooSlow,
    /// The connection broke mid-body (400).
    Broken,
}

/// How long a body of `len` octets may take at `min_rate` octets per second.
pub fn deadline(len: u64, min_rate: u64) -> Duration {
    GRACE + Duration::from_secs(len / min_rate.max(1))
}

pub async fn read_body(
    mut body: RequestBody,
    declared: Option<u64>,
    max: usize,
    min_rate: u64,
) -> Result<Bytes, ReadError> {
    if declared.is_some_and(|len| len > max as u64) {
        return Err(ReadError::TooLarge);
    }
    let expected = declared.unwrap_or(max as u64);
    let mut buf = BytesMut::with_capacity(expected.min(64 * 1024) as usize);
    let collect = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ReadError::Broken)?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    return Err(ReadError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(deadline(expected, min_rate), collect).await {
        Ok(Ok(())) => Ok(buf.freeze()),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(ReadError::TooSlow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn body(bytes: &'static [u8]) -> RequestBody {
        RequestBody::Buffered(Full::new(Bytes::from_static(bytes)))
    }

    #[tokio::test]
    async fn limits_apply_to_declared_and_streamed_lengths() {
        assert_eq!(read_body(body(b"hello"), Some(5), 5, 1024).await.as_deref(), Ok(&b"hello"[..]));
        assert_eq!(read_body(body(b"hello"), Some(6), 5, 1024).await, Err(ReadError::TooLarge));
        assert_eq!(read_body(body(b"hello!"), None, 5, 1024).await, Err(ReadError::TooLarge));
        assert_eq!(deadline(10 * 1024, 1024), Duration::from_secs(15));
    }
}
