//! Stage 5, validate: the declared media type must be allowed on the stream
//! and match what the body's first bytes say it is; text must be UTF-8; JSON
//! must parse and, when the stream has a schema, satisfy it (draft 2020-12,
//! compiled once). Attack signatures are the `waf` module's business.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Media type not accepted on this stream (415).
    TypeNotAllowed(String),
    /// The body is not what its Content-Type says (415).
    TypeMismatch { declared: String, detected: &'static str },
    /// Text that is not UTF-8 (400).
    NotUtf8,
    /// JSON that does not parse (400).
    BadJson(String),
    /// JSON that the schema refuses, with the failing JSON pointer (400).
    Schema { pointer: String, detail: String },
}

impl Invalid {
    /// Reason code for problem bodies, metrics and quarantine records.
    pub fn reason(&self) -> &'static str {
        match self {
            Invalid::TypeNotAllowed(_) => "content_type_not_allowed",
            Invalid::TypeMismatch { .. } => "content_type_mismatch",
            Invalid::NotUtf8 => "not_utf8",
            Invalid::BadJson(_) => "invalid_json",
            Invalid::Schema { .. } => "schema_violation",
        }
    }
}

/// The media type of a Content-Type value: lowercase, parameters dropped.
pub fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Magic numbers of the binary types the content check recognises.
const MAGIC: &[(&[u8], &str)] = &[
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"\x1f\x8b", "application/gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
];

/// Whether [`check_content`] can ever take a body declared `media`: text,
/// forms and multipart (nothing to match), opaque bytes, or a type whose
/// magic number it knows. A stream listing another type would refuse all.
pub fn recognisable(media: &str) -> bool {
    is_text(media)
        || media == "application/octet-stream"
        || media.starts_with("multipart/")
        || MAGIC.iter().any(|(_, kind)| *kind == media)
}

/// What the leading bytes say a body is, when they say anything.
pub fn sniff(body: &[u8]) -> Option<&'static str> {
    if let Some((_, kind)) = MAGIC.iter().find(|(magic, _)| body.starts_with(magic)) {
        return Some(kind);
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => Some("application/json"),
        _ => None,
    }
}

/// Media types of text, read as UTF-8: `text/*`, JSON, XML (`application/xml`,
/// `+xml` types such as Atom's and SOAP's) and HTML forms, whose bytes no
/// magic number names.
fn is_text(media: &str) -> bool {
    media.starts_with("text/")
        || matches!(media, "application/json" | "application/xml" | "application/x-www-form-urlencoded")
        || media.ends_with("+json")
        || media.ends_with("+xml")
}

/// Checks `body` against its declared media type and the stream's list.
/// Returns the parsed JSON for JSON bodies.
pub fn check_content(allowed: &[String], media: &str, body: &[u8]) -> Result<Option<Value>, Invalid> {
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(media)) {
        return Err(Invalid::TypeNotAllowed(media.to_owned()));
    }
    let detected = sniff(body);
    let json = media == "application/json" || media.ends_with("+json");
    let consistent = match (media, detected) {
        ("application/octet-stream", _) => true,
        // Parts delimited by a boundary, each with its own type (files
        // among them): no magic number, no one encoding.
        (m, None) if m.starts_with("multipart/") => true,
        (_, Some("application/json")) => is_text(media),
        (m, Some(d)) => m == d,
        (_, None) => is_text(media) && !json,
    };
    if !consistent {
        return Err(Invalid::TypeMismatch {
            declared: media.to_owned(),
            detected: detected.unwrap_or("text"),
        });
    }
    if is_text(media) && std::str::from_utf8(body).is_err() {
        return Err(Invalid::NotUtf8);
    }
    if !json {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| Invalid::BadJson(e.to_string()))
}

/// A stream's compiled JSON Schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

impl Schema {
    pub fn compile(schema: &Value) -> anyhow::Result<Self> {
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| anyhow::anyhow!("invalid JSON Schema: {e}"))?;
        Ok(Self { validator })
    }

    pub fn check(&self, value: &Value) -> Result<(), Invalid> {
        match self.validator.iter_errors(value).next() {
            None => Ok(()),
            Some(error) => {
                let pointer = error.instance_path().to_string();
                Err(Invalid::Schema { pointer, detail: bounded(error.to_string()) })
            }
        }
    }
}

/// A schema error quotes the offending value: up to a few hundred
/// characters of it, so a refusal never echoes a whole payload back.
fn bounded(detail: String) -> String {
    const MAX: usize = 300;
    match detail.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &detail[..cut]),
        None => detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(types: &[&str]) -> Vec<String> {
        types.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn declared_types_must_be_allowed_and_match_the_bytes() {
        let json = allowed(&["application/json"]);
        assert!(check_content(&json, "application/json", br#" {"a":1}"#).expect("ok").is_some());
        assert_eq!(
            check_content(&json, "text/plain", b"hi"),
            Err(Invalid::TypeNotAllowed("text/plain".into()))
        );
        assert!(matches!(
            check_content(&json, "application/json", b"\x89PNG\r\n\x1a\n...."),
            Err(Invalid::TypeMismatch { .. })
        ));
        assert!(matches!(
            check_content(&json, "application/json", b"plain words"),
            Err(Invalid::TypeMismatch { .. })
        ));
        assert!(matches!(check_content(&json, "application/json", b"{\"a\":"), Err(Invalid::BadJson(_))));
        assert_eq!(check_content(&json, "application/json", b"{\"a\":\"\xff\"}"), Err(Invalid::NotUtf8));
        let text = allowed(&["text/plain", "image/png"]);
        assert_eq!(check_content(&text, "text/plain", b"hello"), Ok(None));
        assert_eq!(check_content(&text, "text/plain", b"\xc3\x28"), Err(Invalid::NotUtf8));
        assert!(matches!(check_content(&text, "text/plain", b"%PDF-1.7"), Err(Invalid::TypeMismatch { .. })));
        // A type no body could be taken under is said at start (policy.rs).
        for media in ["text/csv", "application/x-www-form-urlencoded", "multipart/mixed", "application/pdf"] {
            assert!(recognisable(media), "{media}");
        }
        assert!(!recognisable("application/cbor") && !recognisable("application/x-protobuf"));
        // Forms too, and multipart bodies are whatever their parts are.
        let forms = allowed(&["application/x-www-form-urlencoded", "multipart/form-data"]);
        assert_eq!(check_content(&forms, "application/x-www-form-urlencoded", b"a=1&b=%C3%A9"), Ok(None));
        let multipart = b"--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n\xff\xfe\r\n--x--\r\n";
        assert_eq!(check_content(&forms, "multipart/form-data", multipart), Ok(None));
        assert!(matches!(
            check_content(&forms, "multipart/form-data", b"%PDF-1.7"),
            Err(Invalid::TypeMismatch { .. })
        ));
        // XML is text under its own types too (it was refused as a mismatch).
        let xml = allowed(&["application/xml", "application/atom+xml"]);
        assert_eq!(check_content(&xml, "application/xml", b"<?xml version=\"1.0\"?><r/>"), Ok(None));
        assert_eq!(check_content(&xml, "application/atom+xml", b"<!DOCTYPE feed><feed/>"), Ok(None));
        assert!(matches!(
            check_content(&xml, "application/xml", b"\x89PNG\r\n\x1a\n"),
            Err(Invalid::TypeMismatch { .. })
        ));
        assert_eq!(check_content(&text, "image/png", b"\x89PNG\r\n\x1a\nrest"), Ok(None));
        assert!(matches!(check_content(&text, "image/png", b"GIF89a"), Err(Invalid::TypeMismatch { .. })));
        assert_eq!(media_type("Application/JSON; charset=utf-8"), "application/json");
    }

    #[test]
    fn the_demo_schema_names_the_failing_member() {
        let schema: Value = serde_json::from_str(crate::config::DEMO_SCHEMA).expect("schema json");
        let schema = Schema::compile(&schema).expect("compile");
        let good = serde_json::json!({"id": "e1", "ts": "2026-11-21T10:00:00Z", "source": "web", "message": "hi",
            "attributes": {"k": "v"}});
        assert_eq!(schema.check(&good), Ok(()));
        let cases = [
            (serde_json::json!({"id": "e1", "ts": "yesterday", "source": "web", "message": "hi"}), "/ts"),
            (
                serde_json::json!({"id": "", "ts": "2026-11-21T10:00:00Z", "source": "web", "message": "hi"}),
                "/id",
            ),
            (
                serde_json::json!({"id": "e1", "ts": "2026-11-21T10:00:00Z", "source": "web", "message": "hi",
                "attributes": {"k": 1}}),
                "/attributes/k",
            ),
        ];
        for (value, pointer) in cases {
            let Err(Invalid::Schema { pointer: got, .. }) = schema.check(&value) else {
                panic!("{value} accepted")
            };
            assert_eq!(got, pointer);
        }
        let extra = serde_json::json!({"id": "e1", "ts": "2026-11-21T10:00:00Z", "source": "w", "message": "m", "x": 1});
        assert!(schema.check(&extra).is_err(), "nothing else");
    }
}
