//! Encodings inside a value: a query argument or a JSON string that is
//! itself a JSON document (`filter={"user":{"$ne":null}}`, a stringified
//! payload in a message field), `data:` URLs in base64
//! (`data:;base64,PD9waHAg...` is `<?php ...` to whatever includes it),
//! values that are base64 text as a whole (cookies, query arguments, short
//! body fields), words spelled through stray `%` signs, which classic ASP
//! drops, and control characters, which SQL Server reads as spaces.
//! Signatures anchored at the start of a value and the tokenizing detectors
//! judge where an injected string begins, so the document's own strings and
//! keys are inspected as values too, one level deep (a document in a
//! document in a value is inspected as text).

/// Longest nested document parsed: the value's own caps bound it already;
/// this only keeps a pathological value from being parsed twice at length.
const MAX_NESTED: usize = 256 * 1024;

/// Most strings taken out of one nested document.
const MAX_STRINGS: usize = 4096;

/// The keys and string values of a value that is a JSON object or array;
/// empty when it is not one.
#[derive(Debug, Default)]
pub struct JsonStrings {
    pub strings: Vec<String>,
    /// The value is a document that its strings can stand for: it has
    /// some, and none beyond [`MAX_STRINGS`] was left out.
    pub complete: bool,
}

pub fn json_strings(decoded: &[u8]) -> JsonStrings {
    let trimmed = decoded.trim_ascii();
    let framed =
        matches!((trimmed.first(), trimmed.last()), (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')));
    if !framed || trimmed.len() > MAX_NESTED {
        return JsonStrings::default();
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(trimmed) else {
        return JsonStrings::default();
    };
    let mut out = Vec::new();
    let mut stack = vec![doc];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(_) if out.len() >= MAX_STRINGS => {
                return JsonStrings { strings: out, complete: false };
            }
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(items) => stack.extend(items.into_iter().rev()),
            serde_json::Value::Object(map) => {
                let entries: Vec<_> = map.into_iter().collect();
                for (k, item) in entries.into_iter().rev() {
                    stack.push(item);
                    stack.push(serde_json::Value::String(k));
                }
            }
            _ => {}
        }
    }
    JsonStrings { complete: !out.is_empty(), strings: out }
}

/// Longest base64 `data:` URL payload decoded.
const MAX_DATA_URL: usize = 64 * 1024;

/// Base64 as `data:` URLs are decoded (padding optional, trailing bits
/// allowed), standard and URL-safe.
const LENIENT: base64::engine::GeneralPurposeConfig = base64::engine::GeneralPurposeConfig::new()
    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// The decoded payloads of the base64 `data:` URLs in a value (a media type
/// or none: `data:text/plain;base64,...`, `data:;base64,...`) that are text.
/// Whitespace inside the base64 is skipped, as PHP's `data:` wrapper skips
/// it. What does not decode, or decodes to binary, is left to the
/// signatures that read the URL as written.
pub fn data_url_payloads(decoded: &[u8]) -> Vec<Vec<u8>> {
    let finder = memchr::memmem::Finder::new(b"data:");
    if !super::decode::contains_ignore_ascii_case(decoded, b"data:") {
        return Vec::new();
    }
    let lower = decoded.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = finder.find(lower.get(from..).unwrap_or_default()) {
        let start = from + at + b"data:".len();
        from = start;
        let Some(comma) = lower.get(start..).and_then(|rest| rest.iter().take(128).position(|&b| b == b','))
        else {
            continue;
        };
        let header = lower.get(start..start + comma).unwrap_or_default();
        if !header.trim_ascii_end().ends_with(b";base64") {
            continue;
        }
        let body = decoded.get(start + comma + 1..).unwrap_or_default();
        let mut text = Vec::new();
        let mut consumed = 0;
        for &b in body.iter().take(MAX_DATA_URL) {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_') {
                text.push(b);
            } else if !b.is_ascii_whitespace() {
                break;
            }
            consumed += 1;
        }
        // The next `data:` is looked for after this payload, not inside it.
        from = start + comma + 1 + consumed;
        if let Some(payload) = decoded_text(&text) {
            out.push(payload);
        }
    }
    out
}

/// Base64 (standard, or URL-safe when it holds `-` or `_`) decoded, if what
/// it holds is text. Text only: an image's bytes hold NULs and anything else
/// by chance, and what an interpreter would run is text.
fn decoded_text(base64: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let engine = if base64.iter().any(|b| matches!(b, b'-' | b'_')) { &URL_SAFE } else { &STANDARD };
    let payload = engine.decode(base64).ok()?;
    let is_text =
        std::str::from_utf8(&payload).is_ok_and(|t| !t.chars().any(|c| c.is_control() && !c.is_whitespace()));
    is_text.then_some(payload)
}

/// Shortest whole-value base64 decoded: 16 characters are 12 bytes, past
/// which random tokens (hex digests, API keys) decode to text only by a
/// rare chance, and a shorter payload holds little of an attack.
const MIN_BASE64: usize = 16;

/// Longest whole-value base64 decoded, in characters.
const MAX_BASE64: usize = 8 * 1024;

/// Longest whole-value base64 decoded in a body, in characters: a field
/// (an id, a token, a cursor) rather than a file's contents.
pub const MAX_BODY_BASE64: usize = 512;

/// The text a value holds when the whole value is base64, standard or
/// URL-safe (`cmVxdWlyZSgiY2hpbGRfcHJvY2VzcyIp...` is `require("child_process")...`):
/// serialised sessions and state in cookies and query arguments that a
/// server decodes and then deserialises or evaluates. Only text decodes:
/// hex digests, random tokens and binary blobs (their bytes are not UTF-8,
/// or hold controls) are left as written.
pub fn base64_text(decoded: &[u8]) -> Option<Vec<u8>> {
    let text = decoded.trim_ascii();
    let body = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    if !(MIN_BASE64..=MAX_BASE64).contains(&text.len())
        || !body.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
    {
        return None;
    }
    decoded_text(text)
}

/// Fewest stray `%` signs that make [`stray_percents_dropped`] read a
/// value: a word spelled through them has several, a discount ("50% off")
/// or a date format (`%d-%m-%Y`) few or harmless ones.
const MIN_STRAY_PERCENTS: usize = 4;

/// The value as classic ASP and IIS read it, which drop a `%` that escapes
/// nothing: `%S%E%L%E%C%T` is `SELECT` there (sqlmap's `percentage`
/// tamper). `None` when it holds fewer than [`MIN_STRAY_PERCENTS`].
pub fn stray_percents_dropped(decoded: &[u8]) -> Option<Vec<u8>> {
    let escapes = |after: &[u8]| match after {
        [a, b, ..] => a.is_ascii_hexdigit() && b.is_ascii_hexdigit(),
        _ => false,
    };
    let stray =
        |at: usize| decoded.get(at) == Some(&b'%') && !escapes(decoded.get(at + 1..).unwrap_or_default());
    let count = memchr::memchr_iter(b'%', decoded).filter(|&at| stray(at)).count();
    (count >= MIN_STRAY_PERCENTS)
        .then(|| decoded.iter().enumerate().filter(|&(at, _)| !stray(at)).map(|(_, &b)| b).collect())
}

/// The value as SQL Server reads it, where every control character is a
/// space (sqlmap's `space2mssqlblank`: `1%0BAND%051=1`), when it holds a
/// control the normalised views drop, as a program that strips them before
/// use would (`SEL%05ECT`): each reading is inspected. `None` without one.
pub fn controls_as_spaces(decoded: &[u8]) -> Option<Vec<u8>> {
    let dropped = |b: &u8| matches!(b, 0x01..=0x08 | 0x0e..=0x1f);
    decoded.iter().any(dropped).then(|| decoded.iter().map(|b| if dropped(b) { b' ' } else { *b }).collect())
}

#[cfg(test)]
mod tests {
    use super::{base64_text, controls_as_spaces, data_url_payloads, json_strings, stray_percents_dropped};

    #[test]
    fn controls_read_as_sql_servers_spaces() {
        assert_eq!(controls_as_spaces(b"1\x0bAND\x051=1\x03UNION"), Some(b"1\x0bAND 1=1 UNION".to_vec()));
        assert_eq!(controls_as_spaces(b"plain\ttext\r\n"), None);
    }

    #[test]
    fn stray_percent_signs_drop_as_asp_drops_them() {
        assert_eq!(
            stray_percents_dropped(b"%1 %U%N%I%O%N %S%E%L%E%C%T %N%U%L%L%-%- %-"),
            Some(b"1 UNION SELECT NULL-- -".to_vec())
        );
        assert_eq!(stray_percents_dropped(b"%S%E%L%41"), None, "three stray, one escape");
        assert_eq!(stray_percents_dropped(b"50% off, 20% more"), None);
    }

    #[test]
    fn whole_base64_values_give_their_text() {
        assert_eq!(
            base64_text(b"cmVxdWlyZSgiY2hpbGRfcHJvY2VzcyIpLmV4ZWMoJ3dob2FtaScpCg=="),
            Some(b"require(\"child_process\").exec('whoami')\n".to_vec())
        );
        assert_eq!(
            base64_text(b"eyJ1c2VyIjoiYWRhIn0"),
            Some(br#"{"user":"ada"}"#.to_vec()),
            "URL-safe, unpadded"
        );
        for not_text in [
            &b"da39a3ee5e6b4b0d3255bfef95601890afd80709"[..],
            b"4f3c2a1b9e8d7c6b5a4f3e2d",
            b"short",
            b"not base64 at all, a sentence",
            b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB",
        ] {
            assert_eq!(base64_text(not_text), None, "{}", String::from_utf8_lossy(not_text));
        }
    }

    #[test]
    fn base64_data_urls_give_their_payloads() {
        assert_eq!(
            data_url_payloads(b"x=data:;base64,PD9waHAgZWNobyAxOyA/Pg=="),
            [b"<?php echo 1; ?>".to_vec()]
        );
        assert_eq!(data_url_payloads(b"DATA:text/html;base64,PHNjcmlwdD4"), [b"<script>".to_vec()]);
        assert!(data_url_payloads(b"data:text/plain,hello").is_empty());
        assert_eq!(
            data_url_payloads(b"data:;base64,PD9w aHAg\nZWNobyAxOyA/Pg"),
            [b"<?php echo 1; ?>".to_vec()],
            "whitespace"
        );
        let repeated = format!("{}data:;base64,{}", "data:".repeat(25), "QUFB".repeat(1000));
        assert_eq!(data_url_payloads(repeated.as_bytes()).len(), 1, "one payload, decoded once");
        assert!(
            data_url_payloads(b"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB").is_empty(),
            "binary"
        );
        assert!(data_url_payloads(b"metadata: none; base64, no").is_empty());
    }

    #[test]
    fn documents_in_values_give_their_strings() {
        let mut got = json_strings(br#" {"user": {"$ne": null}, "a": ["x", 1]} "#);
        assert!(got.complete);
        got.strings.sort();
        assert_eq!(got.strings, ["$ne", "a", "user", "x"]);
        assert_eq!(json_strings(br#"["1' or '1'='1"]"#).strings, ["1' or '1'='1"]);
        let many = format!("[{}\"<script>\"]", "\"a\",".repeat(super::MAX_STRINGS));
        let cut = json_strings(many.as_bytes());
        assert!(
            !cut.complete && cut.strings.len() == super::MAX_STRINGS,
            "strings beyond the cap are not said to be all"
        );
    }

    #[test]
    fn other_values_give_nothing() {
        for v in [&b"plain"[..], b"{not json}", b"{\"a\":1", b"[1, 2]", b"", b"{}"] {
            let got = json_strings(v);
            assert!(got.strings.is_empty() && !got.complete, "{}", String::from_utf8_lossy(v));
        }
    }
}
