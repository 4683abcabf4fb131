//! What an operator's tools read: process logs as a shipper reads them
//! (`up` with stderr in a file writes one JSON object per line by default,
//! `--log-format text` plain lines, neither with terminal colour codes), and
//! the process and build series on every listener's /metrics.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

#[test]
fn up_logs_json_lines_off_a_terminal_and_text_when_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let (cert, serial) = issue(&data, &make_csr(tmp.path(), "a", "a.example.test"));
    revoke(&data, &serial, "keyCompromise");
    let out = ocsp_until(&up.ocsp_url(), &up.dir.join("pki"), &cert, "revoked", &[], Duration::from_secs(5));
    assert_eq!(status_of(&out, &cert).as_deref(), Some("revoked"), "{out}");
    for listener in [&up.responder, &up.control, &up.gateway] {
        let (status, _, body) =
            http(listener, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
        let metrics = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{listener}: {metrics}");
        for series in ["process_resident_memory_bytes ", "process_open_fds ", "process_cpu_seconds_total "] {
            assert!(metrics.lines().any(|l| l.starts_with(series)), "{listener}: no {series}");
        }
        let build = metrics.lines().find(|l| l.starts_with("cartorio_build_info{")).unwrap_or_default();
        assert!(
            build.contains("version=\"0.") && build.contains("commit=\"") && build.ends_with(" 1"),
            "{build:?}"
        );
    }
    assert!(up.stop(), "up stops cleanly");

    let log = std::fs::read_to_string(data.with_extension("log")).expect("log");
    assert!(!log.contains('\u{1b}'), "colour codes in a file: {log}");
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 3, "{log}");
    for line in &lines {
        assert_eq!(line["service"], "up", "{line}");
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line[key].is_string(), "{key} missing: {line}");
        }
    }
    let published = lines
        .iter()
        .find(|l| l["message"] == "published OCSP responses")
        .unwrap_or_else(|| panic!("no publication logged: {log}"));
    assert!(published["fields"]["responses"].is_u64(), "fields keep their types: {published}");

    // The same binary asked for text: key=value lines, still no colour.
    let text_dir = tmp.path().join("text");
    let up = Up::start_with(&text_dir, &["--log-format", "text"]);
    assert!(up.stop());
    let log = std::fs::read_to_string(text_dir.with_extension("log")).expect("log");
    assert!(!log.contains('\u{1b}'), "colour codes in a file: {log}");
    assert!(log.lines().any(|l| l.contains(" INFO ")), "{log}");
    assert!(log.lines().all(|l| serde_json::from_str::<Value>(l).is_err()), "{log}");

    let out = Command::new(BIN).args(["--log-format", "yaml", "up"]).output().expect("run");
    assert!(!out.status.success() && text(&out).contains("text, json or auto"), "{}", text(&out));
}
