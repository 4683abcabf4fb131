//! multipart/form-data as servers read it: parsed by `multer` (the parser
//! of axum and of most Rust servers), with the part names taken from
//! Content-Disposition as PHP, Go and Python take them, bodies with bare
//! line feeds read as those servers read them, and what does not parse
//! given back as text without its framing, never skipped. The extractor
//! (`extract.rs`) turns the parts into values.

use super::extract::header_param;

/// The parts of a body; a failure with no part read is retried with its
/// bare line feeds as CRLF (multer wants CRLF; PHP, Python and many other
/// servers accept LF alone).
pub fn read(body: &[u8], boundary: &str) -> Parts {
    let parsed = parse(body, boundary);
    if parsed.malformed && parsed.parts.is_empty() {
        return parse(&lf_to_crlf(body), boundary);
    }
    parsed
}

/// Lone line feeds as CRLF.
fn lf_to_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    let mut previous = 0u8;
    for &b in body {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// A multipart body that did not parse, as text without its framing (the
/// delimiter lines and part header lines: `Content-Disposition:` on a line
/// of its own is the format, not a header injected into a value), and the
/// values of those header lines apart, since their parameters are data.
pub fn without_framing(body: &[u8], boundary: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
    const PART_HEADERS: [&[u8]; 3] =
        [b"content-disposition:", b"content-type:", b"content-transfer-encoding:"];
    let delimiter = format!("--{boundary}");
    let closing = format!("{delimiter}--");
    let mut text = Vec::with_capacity(body.len());
    let mut header_values = Vec::new();
    for line in body.split(|&b| b == b'\n') {
        let trimmed = line.trim_ascii();
        if trimmed == delimiter.as_bytes() || trimmed == closing.as_bytes() {
            continue;
        }
        match PART_HEADERS.iter().find_map(|h| super::decode::strip_prefix_ignore_ascii_case(trimmed, h)) {
            Some(value) => header_values.push(value.to_vec()),
            None => {
                text.extend_from_slice(line);
                text.push(b'\n');
            }
        }
    }
    (text, header_values)
}

pub struct Part {
    pub name: Option<String>,
    /// `filename` and `filename*` (RFC 5987), as written.
    pub file_names: Vec<String>,
    pub content_type: Option<String>,
    /// `None` when multer stopped inside this part.
    pub content: Option<bytes::Bytes>,
}

pub struct Parts {
    pub parts: Vec<Part>,
    /// multer refused the body at some point; `parts` holds what came before.
    pub malformed: bool,
}

/// Runs multer over a body already in memory. The stream is ready at once,
/// so the future never waits: `block_on` returns without parking. Names
/// come from the part's Content-Disposition read here, case-insensitively
/// and with `filename*` (multer reads neither, where PHP, Go and Python do).
fn parse(body: &[u8], boundary: &str) -> Parts {
    let chunk = bytes::Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(chunk) });
    let mut reader = multer::Multipart::new(stream, boundary);
    futures_executor::block_on(async move {
        let mut parts = Vec::new();
        loop {
            match reader.next_field().await {
                Ok(Some(field)) => {
                    let disposition = field
                        .headers()
                        .get(http::header::CONTENT_DISPOSITION)
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .unwrap_or_default();
                    let name = header_param(&disposition, "name").map(str::to_string);
                    let file_names = ["filename", "filename*"]
                        .iter()
                        .filter_map(|p| header_param(&disposition, p).map(str::to_string))
                        .collect();
                    let content_type = field.content_type().map(ToString::to_string);
                    let content = field.bytes().await.ok();
                    let stopped = content.is_none();
                    parts.push(Part { name, file_names, content_type, content });
                    if stopped {
                        return Parts { parts, malformed: true };
                    }
                }
                Ok(None) => return Parts { parts, malformed: false },
                Err(_) => return Parts { parts, malformed: true },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_framing_goes_but_header_parameters_stay() {
        let (text, headers) = without_framing(b"--B\nContent-Type: x <?php system(1);?>\nbody\n--B--\n", "B");
        assert_eq!(String::from_utf8_lossy(&text), "body\n\n");
        assert_eq!(headers, [b" x <?php system(1);?>".to_vec()]);
    }
}
