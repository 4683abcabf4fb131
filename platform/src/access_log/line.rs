//! One access line, rendered in the process's log format: the JSON object
//! every other line is (`timestamp`, `level`, `service`, `target`,
//! `message`, `fields`), or `tracing`'s text shape for people.

use super::{AccessNote, Listener, TARGET};
use crate::logging::LogFormat;
use http::{HeaderValue, Version};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// One access line's fields.
pub(super) struct Line<'a> {
    pub listener: Listener,
    pub protocol: &'static str,
    pub method: &'a str,
    pub status: u16,
    pub latency_us: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub client: IpAddr,
    pub request_id: &'a RequestId,
    pub note: &'a AccessNote,
}

fn optional(value: &Option<String>) -> Option<Value<'_>> {
    value.as_deref().map(Value::Str)
}

/// A field's value: numbers as numbers, everything else a string.
enum Value<'a> {
    Str(&'a str),
    Num(u64),
}

impl Line<'_> {
    /// The line, newline-terminated, as `(format, process service)` says.
    pub fn render(&self, (format, service): (LogFormat, &str)) -> Vec<u8> {
        let mut out = String::with_capacity(480);
        let mut timestamp = String::with_capacity(32);
        {
            use tracing_subscriber::fmt::format::Writer;
            use tracing_subscriber::fmt::time::FormatTime;
            let _ = tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut timestamp));
        }
        let mut client = String::with_capacity(40);
        let _ = write!(client, "{}", self.client);
        let note = self.note;
        let route: std::borrow::Cow<'_, str> = match (note.route, &note.route_param) {
            ("", _) => "unrouted".into(),
            (route, None) => route.into(),
            (route, Some(param)) => format!("{route}/{param}").into(),
        };
        let rules = note.rules.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let outcome = match (note.outcome, self.status < 400) {
            ("", true) => "ok",
            ("", false) => "refused",
            (outcome, _) => outcome,
        };
        let fields: [(&str, Option<Value<'_>>); 16] = [
            ("service", Some(Value::Str(self.listener.service))),
            ("listener", Some(Value::Str(self.listener.name))),
            ("protocol", Some(Value::Str(self.protocol))),
            ("method", Some(Value::Str(self.method))),
            ("route", Some(Value::Str(&route))),
            ("status", Some(Value::Num(u64::from(self.status)))),
            ("latency_us", Some(Value::Num(self.latency_us))),
            ("bytes_in", Some(Value::Num(self.bytes_in))),
            ("bytes_out", Some(Value::Num(self.bytes_out))),
            ("client", Some(Value::Str(&client))),
            ("identity", optional(&note.identity)),
            ("outcome", Some(Value::Str(outcome))),
            ("reason", optional(&note.reason)),
            ("rules", (!rules.is_empty()).then_some(Value::Str(&rules))),
            ("object", optional(&note.object)),
            ("request_id", Some(Value::Str(self.request_id.as_str()))),
        ];
        let present = fields.iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)));
        match format {
            LogFormat::Json => {
                out.push_str("{\"timestamp\":");
                push_json_str(&mut out, &timestamp);
                out.push_str(",\"level\":\"info\",\"service\":");
                push_json_str(&mut out, service);
                let _ = write!(out, ",\"target\":\"{TARGET}\",\"message\":\"access\",\"fields\":{{");
                for (i, (key, value)) in present.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "\"{key}\":");
                    match value {
                        Value::Str(s) => push_json_str(&mut out, s),
                        Value::Num(n) => {
                            let _ = write!(out, "{n}");
                        }
                    }
                }
                out.push_str("}}\n");
            }
            LogFormat::Text | LogFormat::Auto => {
                let _ = write!(out, "{timestamp}  INFO {TARGET}: access");
                for (key, value) in present {
                    let _ = match value {
                        Value::Str(s) => write!(out, " {key}={s:?}"),
                        Value::Num(n) => write!(out, " {key}={n}"),
                    };
                }
                out.push('\n');
            }
        }
        out.into_bytes()
    }
}

/// `s` as a JSON string. Nearly every value (routes, ids, addresses) has
/// nothing to escape and is copied as is; the rest goes through serde_json.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

pub(super) fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP",
    }
}

/// A request id: 8 hex digits drawn at start (tells processes apart) and a
/// 12-digit counter, 20 characters; unique per process for 2^48 requests.
/// Never taken from the request: a client could otherwise make its lines
/// collide with another's.
pub(super) struct RequestId([u8; 20]);

static PROCESS_PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    pub fn next() -> Self {
        let prefix = *PROCESS_PREFIX.get_or_init(random_u32);
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff_ffff;
        let value = (u128::from(prefix) << 48) | u128::from(n);
        let mut out = [b'0'; 20];
        for (i, slot) in out.iter_mut().enumerate() {
            let nibble = (value >> (4 * (19 - i))) & 0xf;
            *slot = b"0123456789abcdef"[nibble as usize];
        }
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        // Hex digits only, by construction.
        std::str::from_utf8(&self.0).unwrap_or("-")
    }

    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0).unwrap_or_else(|_| HeaderValue::from_static("-"))
    }
}

fn random_u32() -> u32 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    u32::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_hex_of_fixed_length() {
        let (a, b) = (RequestId::next(), RequestId::next());
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 20);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.as_str()[..8], b.as_str()[..8], "one process prefix");
    }

    fn sample(note: &AccessNote, id: &RequestId, format: LogFormat) -> String {
        let line = Line {
            listener: Listener { service: "gateway", name: "gateway-tls" },
            protocol: "HTTP/2",
            method: "POST",
            status: 403,
            latency_us: 1234,
            bytes_in: 56,
            bytes_out: 147,
            client: IpAddr::from([192, 0, 2, 7]),
            request_id: id,
            note,
        };
        String::from_utf8(line.render((format, "gateway"))).expect("UTF-8")
    }

    #[test]
    fn json_lines_are_one_object_with_typed_fields_and_escaped_strings() {
        let note = AccessNote {
            identity: Some("cn=\"ops\\team\"\n".into()),
            rules: vec![942100, 941110],
            object: Some("quarantine/s/1".into()),
            route_param: Some("events".into()),
            ..AccessNote::new("ingest", "waf_blocked")
        };
        let id = RequestId::next();
        let text = sample(&note, &id, LogFormat::Json);
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!((v["target"].as_str(), v["service"].as_str()), (Some(TARGET), Some("gateway")));
        let f = &v["fields"];
        assert_eq!(f["identity"].as_str(), Some("cn=\"ops\\team\"\n"));
        assert_eq!((f["status"].as_u64(), f["latency_us"].as_u64()), (Some(403), Some(1234)));
        assert_eq!(
            (f["route"].as_str(), f["rules"].as_str()),
            (Some("ingest/events"), Some("942100,941110"))
        );
        assert_eq!((f["client"].as_str(), f["request_id"].as_str()), (Some("192.0.2.7"), Some(id.as_str())));
        assert!(f["reason"].is_null(), "absent fields are left out: {f}");
    }

    #[test]
    fn text_lines_read_as_tracing_s_with_quoted_strings() {
        let id = RequestId::next();
        let text = sample(&AccessNote::default(), &id, LogFormat::Text);
        assert!(text.contains("  INFO cartorio::access: access service=\"gateway\""), "{text}");
        assert!(text.contains(" status=403 ") && text.contains(" outcome=\"refused\" "), "{text}");
        assert!(text.contains(" route=\"unrouted\" "), "{text}");
    }
}
