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

mod body;
mod doctype;
mod form;

pub(crate) use body::header_param;
pub use form::field_name_byte;

use super::exclusions::{self, Exclusions};
use super::{Location, RequestView};
use body::typed_body;
use form::pairs;
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
    /// An XML document whose entity references expand past its own size
    /// and [`body::EXPANSION_SLACK`] (a quadratic blowup): not configurable,
    /// as no stream needs more, and every byte past it is memory the
    /// gateway would spend on one request.
    EntityExpansion,
}

impl Cap {
    pub const ALL: [Cap; 5] =
        [Cap::Values, Cap::ValueBytes, Cap::TotalBytes, Cap::Depth, Cap::EntityExpansion];

    /// The configuration key, also the metric label.
    pub fn label(self) -> &'static str {
        match self {
            Cap::Values => "max_values",
            Cap::ValueBytes => "max_value_bytes",
            Cap::TotalBytes => "max_total_bytes",
            Cap::Depth => "max_depth",
            Cap::EntityExpansion => "entity_expansion",
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
    /// What a URL in this value is for, by its field's name.
    pub url_role: UrlRole,
    /// The stream's exclusions naming a field this value is under, one bit
    /// each ([`Exclusions::field_bits`]); 0 where none does.
    pub field_bits: u64,
    /// The field it is the value (or the name) of, for logs.
    pub name: FieldName<'a>,
}

/// What a URL in a query or form field is for, by the field's name; read
/// by the off-site URL check ([`crate::waf::offsite`]) alone: every other
/// check reads every value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UrlRole {
    /// Any other field: a URL there is data, an inclusion only by its shape.
    #[default]
    Data,
    /// Where a browser goes next (OAuth's `redirect_uri`, `return_to`,
    /// `next`: [`form::NAVIGATION_FIELDS`]) or a link shown to people (a
    /// profile's `website`: [`form::LINK_FIELDS`]): followed by the
    /// browser, not fetched or included by the server, so another site is
    /// what it names.
    Navigation,
    /// A file the application opens (`page`, `include`, `template`, and the
    /// names of known inclusion flaws: [`form::INCLUSION_FIELDS`]): a URL to
    /// another site there is an inclusion whatever its shape.
    Inclusion,
}

/// The field a value belongs to, as the request names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FieldName<'a> {
    #[default]
    None,
    /// This name; percent-encoded where `true` (query and form names).
    Text(Cow<'a, [u8]>, bool),
    /// A JSON key: the value at index `at` of the list, under the key at
    /// `parent` (whose own name says what it is under), if any.
    Key { at: usize, parent: Option<usize> },
}

/// JSON keys a label follows up from a value.
const LABEL_DEPTH: usize = 16;

impl FieldName<'_> {
    /// The name as text for a log line, as an exclusion names it: decoded,
    /// a JSON key with the keys above it (`package.readme`), at most 64
    /// characters.
    pub fn label(&self, list: &[Value<'_>]) -> Option<String> {
        let text = match self {
            FieldName::None => return None,
            FieldName::Text(text, true) => super::decode::percent(text, true),
            FieldName::Text(text, false) => text.to_vec(),
            FieldName::Key { at, parent } => json_path(list, *at, *parent)?,
        };
        Some(String::from_utf8_lossy(&text).chars().take(64).collect())
    }
}

/// The keys from the document's root down to the key at `at`, joined by
/// dots. Parents come before their keys in the list, so the walk ends.
fn json_path(list: &[Value<'_>], at: usize, parent: Option<usize>) -> Option<Vec<u8>> {
    let mut keys = vec![list.get(at)?.bytes.as_ref()];
    let (mut below, mut next) = (at, parent);
    while let Some(up) = next.filter(|&up| up < below && keys.len() < LABEL_DEPTH) {
        let key = list.get(up)?;
        keys.push(&key.bytes);
        next = match key.name {
            FieldName::Key { at, parent } if at == up => parent,
            _ => None,
        };
        below = up;
    }
    keys.reverse();
    Some(keys.join(&b'.'))
}

/// Every value of a request, or as many as the caps allow and the first
/// cap it went beyond.
#[derive(Debug, Default)]
pub struct Extracted<'a> {
    pub list: Vec<Value<'a>>,
    pub exceeded: Option<Cap>,
}

/// The field the value being read now belongs to.
#[derive(Debug, Clone, Default)]
struct Field<'a> {
    /// The exclusions naming this field or one around it, one bit each.
    bits: u64,
    /// Its name, for logs.
    name: FieldName<'a>,
}

/// Collects values under a stream's caps, each with the exclusions that
/// name a field it is under.
struct Values<'a> {
    out: Extracted<'a>,
    total: usize,
    limits: InspectionLimits,
    exclusions: &'a Exclusions,
    /// The field of the value being read now (see [`Values::under`]).
    field: Field<'a>,
}

impl<'a> Values<'a> {
    fn new(limits: InspectionLimits, exclusions: &'a Exclusions) -> Self {
        Self { out: Extracted::default(), total: 0, limits, exclusions, field: Field::default() }
    }

    /// Reads what `read` pushes in the field it starts with, and comes back
    /// to the field around after it.
    fn within(&mut self, read: impl FnOnce(&mut Self)) {
        let around = self.field.clone();
        read(self);
        self.field = around;
    }

    /// Reads what `read` pushes as the field `name`'s (still percent-encoded
    /// where `encoded`): named so, and under it for the exclusions (whose
    /// bits join those of the fields around it).
    fn under(
        &mut self,
        location: Location,
        name: Cow<'a, [u8]>,
        encoded: bool,
        read: impl FnOnce(&mut Self),
    ) {
        let bits = match (self.exclusions.by_field(), encoded) {
            (false, _) => 0,
            (true, true) => self.exclusions.field_bits(location, &super::decode::percent(&name, true)),
            (true, false) => self.exclusions.field_bits(location, &name),
        };
        self.within(|values| {
            values.field = Field { bits: values.field.bits | bits, name: FieldName::Text(name, encoded) };
            read(values);
        });
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

    /// Pushes a JSON key, in the object named `under`, as a value named by
    /// itself; how what is under it is named, if it was pushed.
    fn push_key(&mut self, bytes: Cow<'a, [u8]>, under: &FieldName<'a>) -> Option<FieldName<'a>> {
        let parent = match *under {
            FieldName::Key { at, .. } => Some(at),
            _ => None,
        };
        let at = self.out.list.len();
        self.field.name = FieldName::Key { at, parent };
        self.push_cow(Location::Body, bytes, false);
        (self.out.list.len() > at).then(|| self.field.name.clone())
    }

    fn push_cow(&mut self, location: Location, bytes: Cow<'a, [u8]>, form: bool) {
        self.push_value(location, bytes, form, UrlRole::Data);
    }

    fn push_value(&mut self, location: Location, bytes: Cow<'a, [u8]>, form: bool, url_role: UrlRole) {
        let span = inspected_span(&bytes);
        let len = span.len();
        if len == 0 || self.full() || self.exclusions.skips(location, self.field.bits) {
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
            Cow::Borrowed(b) => Cow::Borrowed(b.get(span).unwrap_or_default()),
            Cow::Owned(b) => Cow::Owned(b.get(span).unwrap_or_default().to_vec()),
        };
        let Field { bits: field_bits, name } = self.field.clone();
        self.out.list.push(Value { location, bytes, form, url_role, field_bits, name });
    }
}

/// The part of a value the rules read: without the whitespace around it,
/// but from the last line break before its first word, kept. A decoded
/// value that opens on a new line (`"\nid"` in JSON) is a command on a
/// line of its own to a shell, as `%0aid` is in a query, where the break
/// is still encoded when the value is trimmed.
fn inspected_span(bytes: &[u8]) -> std::ops::Range<usize> {
    let end = bytes.trim_ascii_end().len();
    let first_word = bytes.len() - bytes.trim_ascii_start().len();
    let leading = bytes.get(..first_word.min(end)).unwrap_or_default();
    let start = leading.iter().rposition(|b| matches!(b, b'\n' | b'\r')).unwrap_or(first_word);
    start.min(end)..end
}

/// Whether a header carries client data worth inspecting: every header but
/// credentials (they would end up in findings and logs), proxy-set
/// forwarding headers (not client data) and the standard negotiation,
/// caching and connection headers whose syntax is checked by the HTTP layer.
/// Custom headers are where injection into application code hides.
/// `X-Forwarded-For` is read: a proxy appends to what the client wrote
/// (`<?=phpinfo()?>, 203.0.113.7`), and applications log and show it; its
/// addresses trigger no rule.
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
    !(SKIPPED.contains(&name)
        || (name.starts_with("x-forwarded-") && name != "x-forwarded-for")
        || name.starts_with("sec-"))
}

/// Every value of a request with no cap but the body limit, in request order.
pub fn values<'a>(req: &RequestView<'a>) -> Vec<Value<'a>> {
    values_within(req, InspectionLimits::default()).list
}

/// Every value of a request, in request order, or as many as `limits`
/// allow and the cap the request went beyond.
pub fn values_within<'a>(req: &RequestView<'a>, limits: InspectionLimits) -> Extracted<'a> {
    values_for(req, limits, &exclusions::NONE)
}

/// Every value of a request a stream's WAF reads, in request order: within
/// its caps, each with the bits of the exclusions naming its fields, and
/// none that an exclusion takes from every rule.
pub fn values_for<'a>(
    req: &RequestView<'a>,
    limits: InspectionLimits,
    exclusions: &'a Exclusions,
) -> Extracted<'a> {
    let mut out = Values::new(limits, exclusions);
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
        out.under(Location::Header, Cow::Borrowed(name.as_bytes()), false, |out| {
            if name == "cookie" {
                for c in value.split(';') {
                    match c.split_once('=') {
                        Some((k, v)) => {
                            out.under(Location::Header, Cow::Borrowed(k.trim().as_bytes()), false, |out| {
                                out.push(Location::Header, k.as_bytes(), false);
                                out.push(Location::Header, v.as_bytes(), false);
                            })
                        }
                        None => out.push(Location::Header, c.as_bytes(), false),
                    }
                }
            } else {
                out.push(Location::Header, value.as_bytes(), false);
            }
        });
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
    fn xml_entities_expand_within_the_documents_own_size() {
        let doc = |literal: usize, refs: usize| {
            format!("<!DOCTYPE r [<!ENTITY a \"{}\">]><r>{}</r>", "B".repeat(literal), "&a;".repeat(refs))
        };
        let limits = InspectionLimits::default();
        // A feed's entities, a few bytes a time: expanded, inspected.
        let feed = doc(20, 1000);
        let got = values_within(&req(Some("application/xml"), feed.as_bytes()), limits);
        assert_eq!((got.list.len(), got.exceeded), (2, None));
        // A quadratic blowup: 10 KB referred to 2,000 times would be 20 MB.
        let bomb = doc(10_000, 2_000);
        let got = values_within(&req(Some("text/xml"), bomb.as_bytes()), limits);
        assert_eq!(got.exceeded, Some(Cap::EntityExpansion));
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
        // A `;` inside the quotes is part of the name, as those servers read it.
        let body = b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.jpg;.php\"\r\n\r\nx\r\n--B--\r\n";
        let quoted = super::values(&req(Some("multipart/form-data; boundary=B"), body));
        let names: Vec<&[u8]> =
            quoted.iter().filter(|v| v.location == Location::FileName).map(|v| &*v.bytes).collect();
        assert_eq!(names, [&b"x.jpg;.php"[..]]);
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
    fn values_are_trimmed_but_keep_the_line_break_before_their_first_word() {
        let span = |v: &[u8]| String::from_utf8_lossy(&v[inspected_span(v)]).into_owned();
        assert_eq!(span(b"  id \n"), "id");
        assert_eq!(span(b"\nid"), "\nid");
        assert_eq!(span(b" \r\n \n  ls -la\n"), "\n  ls -la");
        assert_eq!(span(b" \n\t "), "");
        assert_eq!(span(b""), "");
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
        assert_eq!(collect(&r), ["1.2.3.4", "ua", "a", "b", "c", "xc"]);
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
