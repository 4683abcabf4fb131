//! Turns a request into the list of values the signatures look at: query and
//! form fields (names and values), JSON strings and keys, XML text and
//! attribute values, multipart parts, and selected headers.
//!
//! Everything a request carries is inspected or the request is refused: a
//! stream may cap the work ([`InspectionLimits`]), and a request beyond a
//! cap is reported [`Extracted::exceeded`] rather than inspected in part.
//! Inspecting the first 1,024 values and passing the rest unread let an
//! attack through behind 1,100 harmless keys. Without caps, the work is
//! bounded by the stream's body limit (and the HTTP layer's header limit):
//! every byte is matched a bounded number of times.

use super::{Location, RequestView, multipart};
use std::borrow::Cow;

/// JSON nesting serde_json parses (its recursion limit). A deeper body is
/// not JSON to it: it is inspected as one text value, as a malformed body is.
pub const JSON_NESTING: usize = 128;

/// How much of a request a stream's WAF inspects at most. A request beyond
/// any cap is not inspected in part: it is refused as uninspectable (or,
/// in detect mode, logged). `None`: no cap beyond the body limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InspectionLimits {
    /// Values (field names and values, JSON strings and keys, headers...).
    pub max_values: Option<usize>,
    /// Bytes of one value.
    pub max_value_bytes: Option<usize>,
    /// Bytes over all values.
    pub max_total_bytes: Option<usize>,
    /// JSON nesting followed.
    pub max_depth: usize,
}

impl Default for InspectionLimits {
    /// Everything the body limit lets in.
    fn default() -> Self {
        Self { max_values: None, max_value_bytes: None, max_total_bytes: None, max_depth: JSON_NESTING }
    }
}

/// The inspection cap a request went beyond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Values,
    ValueBytes,
    TotalBytes,
    Depth,
}

impl Cap {
    pub const ALL: [Cap; 4] = [Cap::Values, Cap::ValueBytes, Cap::TotalBytes, Cap::Depth];

    /// The configuration key, also the metric label.
    pub fn label(self) -> &'static str {
        match self {
            Cap::Values => "max_values",
            Cap::ValueBytes => "max_value_bytes",
            Cap::TotalBytes => "max_total_bytes",
            Cap::Depth => "max_depth",
        }
    }
}

/// One value to inspect, still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value<'a> {
    pub location: Location,
    pub bytes: Cow<'a, [u8]>,
    /// `+` encodes a space (query strings and form bodies).
    pub form: bool,
}

/// Every value of a request, or as many as the caps allow and the first
/// cap it went beyond.
#[derive(Debug, Default)]
pub struct Extracted<'a> {
    pub list: Vec<Value<'a>>,
    pub exceeded: Option<Cap>,
}

/// Collects values under a stream's caps.
struct Values<'a> {
    out: Extracted<'a>,
    total: usize,
    limits: InspectionLimits,
}

impl<'a> Values<'a> {
    fn new(limits: InspectionLimits) -> Self {
        Self { out: Extracted::default(), total: 0, limits }
    }

    fn full(&self) -> bool {
        self.out.exceeded.is_some()
    }

    fn exceed(&mut self, cap: Cap) {
        self.out.exceeded.get_or_insert(cap);
    }

    fn push(&mut self, location: Location, bytes: &'a [u8], form: bool) {
        self.push_cow(location, Cow::Borrowed(bytes), form);
    }

    fn push_cow(&mut self, location: Location, bytes: Cow<'a, [u8]>, form: bool) {
        let len = bytes.trim_ascii().len();
        if len == 0 || self.full() {
            return;
        }
        let over = |cap: Option<usize>, n: usize| cap.is_some_and(|cap| n > cap);
        if over(self.limits.max_values, self.out.list.len() + 1) {
            return self.exceed(Cap::Values);
        }
        if over(self.limits.max_value_bytes, len) {
            return self.exceed(Cap::ValueBytes);
        }
        if over(self.limits.max_total_bytes, self.total + len) {
            return self.exceed(Cap::TotalBytes);
        }
        self.total += len;
        let bytes = match bytes {
            Cow::Borrowed(b) => Cow::Borrowed(b.trim_ascii()),
            Cow::Owned(b) => Cow::Owned(b.trim_ascii().to_vec()),
        };
        self.out.list.push(Value { location, bytes, form });
    }
}

/// `a=1&b=2` pairs; names and values both become values, borrowed from the
/// request when the text is.
fn pairs<'a>(out: &mut Values<'a>, location: Location, text: Cow<'a, [u8]>) {
    for joined in repeated_fields_joined(&text) {
        out.push_cow(location, Cow::Owned(joined), true);
    }
    match text {
        Cow::Borrowed(text) => for_each_field(text, |field| out.push(location, field, true)),
        Cow::Owned(text) => {
            for_each_field(&text, |field| out.push_cow(location, Cow::Owned(field.to_vec()), true))
        }
    }
}

/// The values of each field named more than once, joined with `,` as
/// ASP.NET joins them (`?id=1/*&id=*/union/*&id=*/select...` reaches the
/// application as one value): HTTP parameter pollution, inspected whole.
fn repeated_fields_joined(text: &[u8]) -> Vec<Vec<u8>> {
    let mut fields: std::collections::HashMap<&[u8], (usize, Vec<&[u8]>)> = std::collections::HashMap::new();
    for (i, pair) in text.split(|&b| b == b'&').enumerate() {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else { continue };
        let (name, value) = (pair.get(..eq).unwrap_or_default(), pair.get(eq + 1..).unwrap_or_default());
        fields.entry(name).or_insert_with(|| (i, Vec::new())).1.push(value);
    }
    let mut repeated: Vec<(usize, Vec<&[u8]>)> =
        fields.into_values().filter(|(_, values)| values.len() > 1).collect();
    repeated.sort_unstable_by_key(|(first, _)| *first);
    repeated.into_iter().map(|(_, values)| values.join(&b","[..])).collect()
}

/// The names and values of `a=1&b=2`, in order.
fn for_each_field<'t>(text: &'t [u8], mut field: impl FnMut(&'t [u8])) {
    for pair in text.split(|&b| b == b'&') {
        match pair.iter().position(|&b| b == b'=') {
            Some(eq) => {
                field(pair.get(..eq).unwrap_or_default());
                field(pair.get(eq + 1..).unwrap_or_default());
            }
            None => field(pair),
        }
    }
}

/// Every string value and object key of a JSON document, iteratively (no
/// recursion on input). Structure deeper than the stream follows is not
/// skipped: the request is marked as beyond [`Cap::Depth`]. A `prototype`
/// key inside a `constructor` object is given as the path
/// `constructor.prototype` too: prototype pollution that no key alone shows.
fn json<'a>(out: &mut Values<'a>, doc: serde_json::Value) {
    let mut stack = vec![(doc, 0usize, false)];
    while let Some((v, depth, in_constructor)) = stack.pop() {
        if out.full() {
            break;
        }
        let nested = matches!(v, serde_json::Value::Array(_) | serde_json::Value::Object(_));
        if nested && depth >= out.limits.max_depth {
            out.exceed(Cap::Depth);
            break;
        }
        match v {
            serde_json::Value::String(s) => out.push_cow(Location::Body, Cow::Owned(s.into_bytes()), false),
            serde_json::Value::Array(items) => {
                stack.extend(items.into_iter().rev().map(|i| (i, depth + 1, false)));
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    if in_constructor && k == "prototype" {
                        out.push(Location::Body, b"constructor.prototype", false);
                    }
                    let constructor = k == "constructor";
                    out.push_cow(Location::Body, Cow::Owned(k.into_bytes()), false);
                    stack.push((item, depth + 1, constructor));
                }
            }
            _ => {}
        }
    }
}

/// The data of an XML document, read by quick-xml: text (with its character
/// and entity references as written, in one piece), CDATA, attribute
/// values, processing instructions, and the DOCTYPE, where XXE entities are
/// declared. Element and attribute names are the schema's markup, not data,
/// and comments reach no application. What does not parse is inspected raw
/// from where parsing stopped: never skipped.
fn xml(out: &mut Values<'_>, location: Location, doc: &[u8]) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(doc);
    reader.config_mut().check_end_names = false;
    let mut text = Vec::new();
    let owned = |s: Cow<'_, str>| Cow::Owned(s.into_owned().into_bytes());
    loop {
        if out.full() {
            return;
        }
        let position = usize::try_from(reader.buffer_position()).unwrap_or(0);
        let event = reader.read_event();
        if !matches!(event, Ok(Event::Text(_) | Event::GeneralRef(_))) {
            out.push_cow(location, Cow::Owned(std::mem::take(&mut text)), false);
        }
        match event {
            Ok(Event::Text(t)) => text.extend_from_slice(t.into_inner().as_bytes()),
            Ok(Event::GeneralRef(r)) => {
                text.push(b'&');
                text.extend_from_slice(r.as_bytes());
                text.push(b';');
            }
            Ok(Event::CData(c)) => out.push_cow(location, owned(c.into_inner()), false),
            Ok(Event::DocType(d)) => out.push_cow(location, owned(d.into_inner()), false),
            Ok(Event::PI(p)) => out.push_cow(location, owned(p.into_inner()), false),
            Ok(Event::Start(e) | Event::Empty(e)) => {
                for attribute in e.attributes().with_checks(false).flatten() {
                    out.push_cow(location, owned(attribute.value), false);
                }
            }
            Ok(Event::Eof) => return,
            Ok(Event::End(_) | Event::Comment(_) | Event::Decl(_)) => {}
            Err(_) => {
                let rest = doc.get(position..).unwrap_or_default();
                out.push_cow(location, Cow::Owned(rest.to_vec()), false);
                return;
            }
        }
    }
}

/// Value of `param=` in a header such as Content-Type, unquoted.
pub(super) fn header_param<'h>(header: &'h str, param: &str) -> Option<&'h str> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(param).then(|| v.trim().trim_matches('"'))
    })
}

/// Media type without parameters, lowercased.
fn media_type(ct: &str) -> String {
    ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// multipart/form-data, read by `multer` (the parser of axum and of most
/// Rust servers, so parts are what a backend would see): each part's field
/// name, file name and body, the body read according to the part's own
/// content type, one level deep. Where multer stops on malformed input, the
/// whole body is inspected raw from there: never skipped.
fn multipart(out: &mut Values<'_>, body: &[u8], boundary: &str) {
    let parsed = multipart::read(body, boundary);
    for part in &parsed.parts {
        if out.full() {
            return;
        }
        if let Some(name) = &part.name {
            out.push_cow(Location::Body, Cow::Owned(name.clone().into_bytes()), false);
        }
        for file_name in &part.file_names {
            out.push_cow(Location::FileName, Cow::Owned(file_name.clone().into_bytes()), false);
        }
        if let Some(content) = &part.content {
            typed_body(out, Cow::Owned(content.to_vec()), part.content_type.as_deref(), false);
        }
    }
    if parsed.malformed {
        let (text, header_values) = multipart::without_framing(body, boundary);
        for value in header_values {
            out.push_cow(Location::Body, Cow::Owned(value), false);
        }
        out.push_cow(Location::Body, Cow::Owned(text), false);
    }
}

/// Reads a body according to its media type.
fn typed_body<'a>(
    out: &mut Values<'a>,
    body: Cow<'a, [u8]>,
    content_type: Option<&str>,
    allow_multipart: bool,
) {
    let ct = content_type.unwrap_or_default();
    let media = media_type(ct);
    if media == "application/json" || media.ends_with("+json") {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(doc) => json(out, doc),
            Err(_) => out.push_cow(Location::Body, body, false),
        }
    } else if media == "application/x-www-form-urlencoded" {
        pairs(out, Location::Body, body);
    } else if media.starts_with("multipart/") && allow_multipart {
        match header_param(ct, "boundary") {
            Some(b) if !b.is_empty() => multipart(out, &body, b),
            _ => out.push_cow(Location::Body, body, false),
        }
    } else if media.ends_with("/xml") || media.ends_with("+xml") {
        xml(out, Location::Body, &body);
    } else if media.is_empty() {
        // No declared type: clients that omit it almost always send a form.
        // A trailing line break (curl and most tools add one) is not a
        // multi-line body.
        let trimmed_len = body.trim_ascii_end().len();
        let trimmed = body.get(..trimmed_len).unwrap_or_default();
        if trimmed.contains(&b'=') && !trimmed.contains(&b'\n') && keys_are_names(trimmed) {
            let form = match body {
                Cow::Borrowed(b) => Cow::Borrowed(b.get(..trimmed_len).unwrap_or_default()),
                Cow::Owned(mut b) => {
                    b.truncate(trimmed_len);
                    Cow::Owned(b)
                }
            };
            pairs(out, Location::Body, form);
        } else {
            out.push_cow(Location::Body, body, true);
        }
    } else {
        out.push_cow(Location::Body, body, false);
    }
}

/// A byte of a form field name as applications name fields: letters,
/// digits and `_.-[]$`.
pub fn field_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']' | b'$')
}

/// Whether every key of an undeclared body read as a form looks like a
/// field name (also percent-encoded, `+` for a space). A body such as
/// `'admin', '1'='1'` is not a form: split at `=`, it would hide its shape.
fn keys_are_names(body: &[u8]) -> bool {
    body.split(|&b| b == b'&').all(|pair| {
        let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
        key.iter().all(|&b| field_name_byte(b) || matches!(b, b'%' | b'+'))
    })
}

/// Whether a header carries client data worth inspecting: every header but
/// credentials (they would end up in findings and logs), proxy-set
/// forwarding headers (not client data) and the standard negotiation,
/// caching and connection headers whose syntax is checked by the HTTP layer.
/// Custom headers are where injection into application code hides.
fn inspected_header(name: &str) -> bool {
    const SKIPPED: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
        "expect",
        "accept",
        "accept-encoding",
        "accept-language",
        "accept-charset",
        "cache-control",
        "pragma",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "range",
        "forwarded",
        "via",
        "dnt",
        "priority",
        "traceparent",
        "tracestate",
    ];
    !(SKIPPED.contains(&name) || name.starts_with("x-forwarded-") || name.starts_with("sec-"))
}

/// Every value of a request with no cap but the body limit, in request order.
pub fn values<'a>(req: &RequestView<'a>) -> Vec<Value<'a>> {
    values_within(req, InspectionLimits::default()).list
}

/// Every value of a request, in request order, or as many as `limits`
/// allow and the cap the request went beyond.
pub fn values_within<'a>(req: &RequestView<'a>, limits: InspectionLimits) -> Extracted<'a> {
    let mut out = Values::new(limits);
    if let Some(path) = req.path {
        // Only the path's last segments carry data-like content; inspect it whole.
        out.push(Location::Path, path.as_bytes(), false);
    }
    if let Some(q) = req.query {
        pairs(&mut out, Location::Query, Cow::Borrowed(q.as_bytes()));
    }
    typed_body(&mut out, Cow::Borrowed(req.body), req.content_type, true);
    for &(name, value) in req.headers {
        if !inspected_header(name) {
            continue;
        }
        if name == "cookie" {
            for c in value.split(';') {
                match c.split_once('=') {
                    Some((k, v)) => {
                        out.push(Location::Header, k.as_bytes(), false);
                        out.push(Location::Header, v.as_bytes(), false);
                    }
                    None => out.push(Location::Header, c.as_bytes(), false),
                }
            }
        } else {
            out.push(Location::Header, value.as_bytes(), false);
        }
    }
    out.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(req: &RequestView<'_>) -> Vec<String> {
        values(req).iter().map(|x| String::from_utf8_lossy(&x.bytes).into_owned()).collect()
    }

    fn req<'a>(ct: Option<&'a str>, body: &'a [u8]) -> RequestView<'a> {
        RequestView { path: None, query: None, headers: &[], content_type: ct, body }
    }

    #[test]
    fn query_and_form() {
        let r = RequestView { query: Some("a=1&b&c=x+y"), ..req(None, b"") };
        assert_eq!(collect(&r), ["a", "1", "b", "c", "x+y"]);
        let r = req(Some("application/x-www-form-urlencoded"), b"k=v");
        assert_eq!(collect(&r), ["k", "v"]);
    }

    #[test]
    fn json_keys_and_strings() {
        let r = req(Some("application/json"), br#"{"k":["s",1,true,{"n":"v"}]}"#);
        let mut got = collect(&r);
        got.sort();
        assert_eq!(got, ["k", "n", "s", "v"]);
    }

    #[test]
    fn json_depth_is_followed_to_the_cap_and_no_further() {
        let nested = |n| format!("{}\"x\"{}", "[".repeat(n), "]".repeat(n));
        let limits = InspectionLimits { max_depth: 32, ..InspectionLimits::default() };
        let within = nested(32);
        let got = values_within(&req(Some("application/json"), within.as_bytes()), limits);
        assert_eq!((got.list.len(), got.exceeded), (1, None));
        let beyond = nested(33);
        let got = values_within(&req(Some("application/json"), beyond.as_bytes()), limits);
        assert_eq!(got.exceeded, Some(Cap::Depth));
        // Past serde_json's own nesting limit the body is one text value.
        let deep = nested(JSON_NESTING + 10);
        assert_eq!(collect(&req(Some("application/json"), deep.as_bytes())), [deep]);
    }

    #[test]
    fn xml_text_and_attribute_values_only() {
        let r =
            req(Some("application/xml"), br#"<?xml version="1.0"?><a b="v1">t<![CDATA[c]]><!-- x --></a>"#);
        assert_eq!(collect(&r), ["v1", "t", "c"]);
        // The DOCTYPE (XXE), text with its references in one piece, and a
        // document that stops parsing: the rest is inspected raw.
        let r = req(
            Some("application/xml"),
            br#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r a="&lt;b">&lt;script&gt;&x;</r><p q="1""#,
        );
        let got = collect(&r);
        assert_eq!(
            got,
            ["r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]", "&lt;b", "&lt;script&gt;&x;", "<p q=\"1\""],
            "{got:?}"
        );
    }

    #[test]
    fn multipart_parts() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nhello\r\n--B--\r\n";
        let got = collect(&req(Some("multipart/form-data; boundary=B"), body));
        assert!(got.contains(&"hello".to_string()) && got.contains(&"f".to_string()), "{got:?}");
    }

    #[test]
    fn multipart_as_a_server_reads_it() {
        // A file part with its own type, a JSON part read as JSON, the file
        // name as a location of its own.
        let body = b"--B\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"shell.php\"\r\n\
Content-Type: application/json\r\n\r\n{\"k\":\"v1\"}\r\n--B\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\nv2\r\n--B--\r\n";
        let values = values(&req(Some("multipart/form-data; boundary=\"B\""), body));
        let shown: Vec<(Location, String)> =
            values.iter().map(|v| (v.location, String::from_utf8_lossy(&v.bytes).into_owned())).collect();
        for expected in [
            (Location::Body, "doc"),
            (Location::FileName, "shell.php"),
            (Location::Body, "k"),
            (Location::Body, "v1"),
            (Location::Body, "n"),
            (Location::Body, "v2"),
        ] {
            assert!(shown.contains(&(expected.0, expected.1.to_string())), "{expected:?} in {shown:?}");
        }
    }

    #[test]
    fn malformed_multipart_is_inspected_raw() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n' or 1=1-- (never closed)";
        let got = collect(&req(Some("multipart/form-data; boundary=B"), body));
        assert!(
            got.iter().any(|v| v.contains("' or 1=1--") && !v.contains("Content-Disposition")),
            "{got:?}"
        );
    }

    #[test]
    fn multipart_file_names_as_php_and_go_read_them() {
        let body = b"--B\r\nContent-Disposition: form-data; NAME=\"a\"; FILENAME=\"shell.php\"\r\n\r\nx\r\n\
--B\r\nContent-Disposition: form-data; name=\"b\"; filename*=UTF-8''other.phtml\r\n\r\ny\r\n--B--\r\n";
        let values = values(&req(Some("multipart/form-data; boundary=B"), body));
        let names: Vec<String> = values
            .iter()
            .filter(|v| v.location == Location::FileName)
            .map(|v| String::from_utf8_lossy(&v.bytes).into_owned())
            .collect();
        assert_eq!(names, ["shell.php", "UTF-8''other.phtml"]);
    }

    #[test]
    fn repeated_fields_are_also_read_joined() {
        let r = RequestView { query: Some("id=1/*&x=2&id=*/union/*&id=*/select"), ..req(None, b"") };
        assert!(collect(&r).contains(&"1/*,*/union/*,*/select".to_string()), "{:?}", collect(&r));
    }

    #[test]
    fn multipart_with_bare_line_feeds() {
        let body = b"--B\nContent-Disposition: form-data; name=\"a\"; filename=\"x.txt\"\n\nhello\n--B--\n";
        let got = collect(&req(Some("multipart/form-data; boundary=B"), body));
        assert_eq!(got, ["a", "x.txt", "hello"]);
    }

    #[test]
    fn header_selection() {
        let headers = [
            ("authorization", "Bearer secret"),
            ("x-api-key", "k"),
            ("x-forwarded-for", "1.2.3.4"),
            ("user-agent", "ua"),
            ("cookie", "a=b; c"),
            ("x-custom", "xc"),
        ];
        let r = RequestView { headers: &headers, ..req(None, b"") };
        assert_eq!(collect(&r), ["ua", "a", "b", "c", "xc"]);
    }

    #[test]
    fn every_value_is_inspected_unless_a_cap_says_otherwise() {
        let big = vec![b'a'; 2 << 20];
        let v = values(&req(Some("text/plain"), &big));
        assert_eq!(v.first().map(|x| x.bytes.len()), Some(big.len()), "no cut by default");
        let many = "a&".repeat(5000);
        let r = RequestView { query: Some(&many), ..req(None, b"") };
        assert_eq!(values(&r).len(), 5000);

        let caps = |max_values, max_value_bytes, max_total_bytes| InspectionLimits {
            max_values,
            max_value_bytes,
            max_total_bytes,
            ..InspectionLimits::default()
        };
        let got = values_within(&r, caps(Some(4999), None, None));
        assert_eq!((got.list.len(), got.exceeded), (4999, Some(Cap::Values)));
        assert_eq!(values_within(&r, caps(Some(5000), None, None)).exceeded, None);
        let got = values_within(&req(Some("text/plain"), &big), caps(None, Some(1 << 20), None));
        assert_eq!((got.list.len(), got.exceeded), (0, Some(Cap::ValueBytes)));
        assert_eq!(values_within(&r, caps(None, None, Some(4999))).exceeded, Some(Cap::TotalBytes));
    }
}
