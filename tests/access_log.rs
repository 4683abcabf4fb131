//! Access logs as a SIEM reads them: one JSON line per request on every
//! listener, with the route (never the raw path), the decision, the
//! authenticated identity (never the key) and the request id the client got
//! as `X-Request-Id`; `refusals` on the hot paths by default, `all` on the
//! gateway and the control plane, and `--access-log all|off` for every
//! listener.

mod common;

use common::gateway::{EVENT, ingest};
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn access_lines(log_file: &Path) -> Vec<Value> {
    let log = std::fs::read_to_string(log_file).expect("log");
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "cartorio::access")
        .map(|l| l["fields"].clone())
        .collect()
}

fn request_id(headers: &str) -> String {
    headers
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-request-id: ").map(str::trim).map(str::to_owned))
        .unwrap_or_else(|| panic!("no X-Request-Id in {headers}"))
}

fn line_of<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines.iter().find(|l| l["request_id"] == id).unwrap_or_else(|| panic!("no line for {id}: {lines:#?}"))
}

fn pick(line: &Value, names: &[&str]) -> Value {
    Value::Array(names.iter().map(|n| line[*n].clone()).collect())
}

const GET: &str = "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[test]
fn every_listener_logs_its_decisions_without_secrets() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let key = std::fs::read_to_string(data.join("gateway/demo-api-key")).expect("demo key").trim().to_owned();

    // OCSP: a good answer is not a refusal (not logged by default), a
    // malformed GET is, by its route and not its path.
    let (cert, _) = issue(&data, &make_csr(tmp.path(), "a", "a.example.test"));
    let out = ocsp_until(&up.ocsp_url(), &up.dir.join("pki"), &cert, "good", &[], Duration::from_secs(5));
    assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "{out}");
    let junk_path = "/ocsp/MEIwQDA-not-a-request";
    let (status, headers, _) = http(&up.responder, &format!("GET {junk_path} {GET}"), b"");
    assert_eq!(status, 400);
    let malformed = request_id(&headers);
    // A time-stamp request that is not one: 200 with a rejection, a refusal.
    let (status, headers, _) = post(&up.responder, "/tsa", "application/timestamp-query", b"not DER");
    assert_eq!(status, 200);
    let rejected = request_id(&headers);

    // Gateway: accepted, blocked by the WAF, refused for a wrong key.
    let (status, headers, _) =
        ingest(&up.gateway, "demo", Some(&key), "application/json", EVENT.as_bytes(), &[]);
    assert_eq!(status, 202);
    let accepted = request_id(&headers);
    let attack = EVENT.replace("hello", "1' UNION SELECT password FROM users--");
    let (status, headers, body) =
        ingest(&up.gateway, "demo", Some(&key), "application/json", attack.as_bytes(), &[]);
    assert_eq!(status, 403, "{body}");
    let blocked = request_id(&headers);
    let wrong_key = "cart_demo_not-the-key-0123456789";
    let (status, headers, _) =
        ingest(&up.gateway, "demo", Some(wrong_key), "application/json", EVENT.as_bytes(), &[]);
    assert_eq!(status, 401);
    let unauthenticated = request_id(&headers);

    // Control: the admin API without credentials.
    let (status, headers, _) = http(&up.control, &format!("GET /v1/crl {GET}"), b"");
    assert_eq!(status, 401);
    let admin = request_id(&headers);
    assert!(up.stop());

    let log = std::fs::read_to_string(data.with_extension("log")).expect("log");
    for secret in [key.as_str(), wrong_key, "UNION SELECT", "MEIwQDA"] {
        assert!(!log.contains(secret), "{secret:?} in the log");
    }
    let lines = access_lines(&data.with_extension("log"));
    for line in &lines {
        for field in ["service", "listener", "protocol", "method", "route", "client", "outcome", "request_id"]
        {
            assert!(line[field].is_string(), "{field} missing: {line}");
        }
        for field in ["status", "latency_us", "bytes_in", "bytes_out"] {
            assert!(line[field].is_u64(), "{field} missing: {line}");
        }
    }
    assert!(
        // (answers before the pre-signer published are refusals: logged)
        !lines.iter().any(|l| l["outcome"] == "good"),
        "a good OCSP answer is not a refusal: {lines:#?}"
    );
    let l = line_of(&lines, &malformed);
    let expected = json!(["responder", "ocsp_get", "malformed", 400]);
    assert_eq!(pick(l, &["listener", "route", "outcome", "status"]), expected, "{l}");
    let l = line_of(&lines, &rejected);
    assert_eq!(pick(l, &["route", "outcome", "status"]), json!(["tsa", "badDataFormat", 200]), "{l}");

    let l = line_of(&lines, &accepted);
    let expected = json!(["gateway", "ingest/demo", "accepted", 202]);
    assert_eq!(pick(l, &["service", "route", "outcome", "status"]), expected, "{l}");
    assert_eq!(pick(l, &["identity", "client", "method"]), json!(["demo", "127.0.0.1", "POST"]), "{l}");
    assert_eq!(l["bytes_in"].as_u64(), Some(EVENT.len() as u64));
    let l = line_of(&lines, &blocked);
    assert_eq!(
        pick(l, &["outcome", "reason", "status"]),
        json!(["waf_blocked", "attack_signature", 403]),
        "{l}"
    );
    assert!(l["rules"].as_str().is_some_and(|r| !r.is_empty()), "rule ids: {l}");
    assert!(l["object"].as_str().is_some_and(|o| o.starts_with("quarantine/demo/")), "{l}");
    let l = line_of(&lines, &unauthenticated);
    assert_eq!(pick(l, &["outcome", "status"]), json!(["unauthenticated", 401]), "{l}");
    assert!(l["identity"].is_null(), "{l}");

    let l = line_of(&lines, &admin);
    assert_eq!(pick(l, &["service", "listener", "route"]), json!(["control", "control", "/v1/crl"]), "{l}");
    assert_eq!(pick(l, &["outcome", "status"]), json!(["unauthenticated", 401]), "{l}");
}

#[test]
fn access_log_all_logs_good_answers_and_off_logs_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let all = tmp.path().join("all");
    let up = Up::start_with(&all, &["--access-log", "all"]);
    let (status, headers, _) = http(&up.responder, &format!("GET /healthz {GET}"), b"");
    assert_eq!(status, 200);
    let healthz = request_id(&headers);
    assert!(up.stop());
    let lines = access_lines(&all.with_extension("log"));
    let l = line_of(&lines, &healthz);
    assert_eq!(pick(l, &["route", "status", "protocol"]), json!(["healthz", 200, "HTTP/1.1"]), "{l}");

    let off = tmp.path().join("off");
    let up = Up::start_with(&off, &["--access-log", "off"]);
    let (status, headers, _) = http(&up.responder, &format!("GET /ocsp/junk {GET}"), b"");
    assert_eq!(status, 400);
    assert!(!headers.to_ascii_lowercase().contains("x-request-id"), "{headers}");
    assert!(up.stop());
    assert_eq!(access_lines(&off.with_extension("log")), Vec::<Value>::new());
}
