//! What an operator's tools read: process logs as a shipper reads them
//! (`up` with stderr in a file writes one JSON object per line by default,
//! `--log-format text` plain lines, neither with terminal colour codes), and
//! the process and build series on every listener's /metrics.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
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

/// Series the dashboard and alerts name that a short run of `up` cannot
/// show, each for its reason; every other one must be on its /metrics.
const RARE_SERIES: &[(&str, &str)] = &[
    ("cartorio_hsm_faults_total", "only with a PKCS#11 token (tests/ceremony.rs drives one)"),
    (
        "cartorio_gateway_kms_calls_total",
        "only with [encryption.kms] (tests/aws_credentials.rs, tests/gateway_end_to_end.rs)",
    ),
    (
        "cartorio_gateway_waf_uninspectable_total",
        "only past a stream's inspection caps (tests/gateway_inspection.rs)",
    ),
    ("cartorio_acme_orders_created_total", "only after an ACME order (tests/acme_clients.rs)"),
    ("cartorio_acme_certificates_issued_total", "only after an ACME order (tests/acme_clients.rs)"),
    ("cartorio_certificates_refused_total", "only after a refused request (tests/profiles.rs)"),
];

/// `cartorio_*` and `process_*` names in `text`, histogram suffixes dropped.
fn series_named(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices(['c', 'p']) {
        let rest = &text[i..];
        if !(rest.starts_with("cartorio_") || rest.starts_with("process_"))
            || text[..i].ends_with(char::is_alphanumeric)
        {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name.clone(), |n, s| n.strip_suffix(s).unwrap_or(&n).to_owned());
        names.insert(base);
    }
    names
}

#[test]
fn every_series_of_the_dashboard_and_alerts_is_exported_by_up() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let alerts = std::fs::read_to_string(root.join("docs/prometheus/alerts.yml")).expect("alerts");
    let dashboard = std::fs::read_to_string(root.join("docs/grafana/cartorio.json")).expect("dashboard");
    let parsed: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let exprs: Vec<String> = parsed["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    let wanted: std::collections::BTreeSet<String> =
        series_named(&alerts).into_iter().chain(series_named(&exprs.join("\n"))).collect();
    assert!(wanted.len() > 25, "{wanted:?}");

    // Traffic for every service: issuance, revocation, OCSP, a token, an ingest, a WAF block, ACME, the admin API.
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start_with(&data, &["--danger-tsa-trust-system-clock"]);
    let (cert, serial) = issue(&data, &make_csr(tmp.path(), "a", "a.example.test"));
    revoke(&data, &serial, "keyCompromise");
    let out = ocsp_until(&up.ocsp_url(), &up.dir.join("pki"), &cert, "revoked", &[], Duration::from_secs(5));
    assert_eq!(status_of(&out, &cert).as_deref(), Some("revoked"), "{out}");
    std::fs::write(tmp.path().join("doc.txt"), b"a document\n").expect("doc");
    let query = tmp.path().join("q.tsq");
    let made = run(Command::new("openssl")
        .args(["ts", "-query", "-sha256", "-cert", "-data"])
        .arg(tmp.path().join("doc.txt"))
        .arg("-out")
        .arg(&query));
    assert!(made.status.success(), "{}", text(&made));
    let (status, _, _) =
        post(&up.responder, "/tsa", "application/timestamp-query", &std::fs::read(&query).expect("query"));
    assert_eq!(status, 200);
    let key = std::fs::read_to_string(data.join("gateway/demo-api-key")).expect("demo key");
    let ingest = |body: &str| {
        let head = format!(
            "POST /v1/ingest/demo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            key.trim(),
            body.len()
        );
        http(&up.gateway, &head, body.as_bytes()).0
    };
    assert_eq!(ingest(r#"{"id":"e1","ts":"2026-11-21T10:00:00Z","source":"t","message":"hello"}"#), 202);
    assert_eq!(
        ingest(
            r#"{"id":"e2","ts":"2026-11-21T10:00:00Z","source":"t","message":"1' OR '1'='1' UNION SELECT password FROM users--"}"#
        ),
        403
    );

    let directory = run(Command::new("curl").args(["-sf", "--cacert"]).arg(up.pki("root.pem")).arg(&up.acme));
    assert!(text(&directory).contains("newOrder"), "{}", text(&directory));
    let (_, _, body) =
        http(&up.responder, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let exported = series_named(&String::from_utf8_lossy(&body));
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|name| !exported.contains(*name) && !RARE_SERIES.iter().any(|(rare, _)| rare == name))
        .collect();
    assert!(missing.is_empty(), "named by the dashboard or alerts, not exported: {missing:?}");
    assert!(up.stop());
}

#[test]
fn promtool_checks_and_unit_tests_every_alert() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/prometheus");
    for args in [["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool (Debian package prometheus; scripts/test.sh installs it)");
        assert!(out.status.success(), "promtool {args:?}: {}", text(&out));
    }
    // Every alert has a test.
    let alerts = std::fs::read_to_string(dir.join("alerts.yml")).expect("alerts");
    let tests = std::fs::read_to_string(dir.join("alerts.test.yml")).expect("tests");
    let runbook = std::fs::read_to_string(dir.join("../runbook.md")).expect("docs/runbook.md");
    let sections: Vec<&str> = runbook.lines().filter_map(|l| l.strip_prefix("### ")).collect();
    for alert in alerts.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")) {
        assert!(tests.contains(&format!("alertname: {alert}\n")), "no unit test for {alert}");
        assert!(
            sections.iter().any(|s| s.split(" / ").any(|a| a == alert)),
            "no runbook section for {alert}"
        );
    }
}

#[test]
fn readyz_on_control_and_gateway_names_each_component_and_fails_with_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let metrics_port = free_port();
    let up = Up::start_with(&data, &["--metrics-listen", &format!("127.0.0.1:{metrics_port}")]);
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let (status, _, body) =
        http(&metrics_addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    assert!(
        status == 200 && String::from_utf8_lossy(&body).contains("cartorio_build_info"),
        "up --metrics-listen"
    );
    let readyz = |addr: &str| {
        let (status, _, body) =
            http(addr, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
        let doc: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
        (status, doc)
    };
    let (status, control) = readyz(&up.control);
    assert_eq!((status, control["status"].as_str()), (200, Some("ready")), "{control}");
    assert_eq!(control["components"]["registry"]["ready"], true, "{control}");
    let keys = control["components"]["signers"]["keys"].as_object().expect("signers");
    for key in ["tls:issuer", "tls:ocsp", "documents:issuer", "documents:ocsp"] {
        assert_eq!(keys.get(key).map(|k| &k["ready"]), Some(&Value::Bool(true)), "{key}: {control}");
    }
    let acme_readyz = up.acme.replace("/acme/directory", "/readyz");
    let acme = run(Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(up.pki("root.pem"))
        .arg(&acme_readyz));
    let acme = String::from_utf8_lossy(&acme.stdout).into_owned();
    assert!(acme.ends_with("\n200") && acme.contains("\"registry\""), "ACME's listener: {acme}");
    let (status, gateway) = readyz(&up.gateway);
    assert_eq!(status, 200, "{gateway}");
    assert_eq!(gateway["components"]["store"]["ready"], true, "{gateway}");
    assert_eq!(gateway["components"]["sealing"]["payloads_sealed"], true, "{gateway}");

    // The store's directory replaced by a file: the gateway cannot store, says so, and recovers.
    let store = data.join("store");
    std::fs::rename(&store, data.join("store.moved")).expect("move the store");
    std::fs::write(&store, b"not a directory").expect("file");
    let (status, gateway) = readyz(&up.gateway);
    assert_eq!((status, gateway["status"].as_str()), (503, Some("not_ready")), "{gateway}");
    assert!(gateway["components"]["store"]["error"].is_string(), "{gateway}");
    std::fs::remove_file(&store).expect("remove");
    std::fs::rename(data.join("store.moved"), &store).expect("restore the store");
    assert_eq!(readyz(&up.gateway).0, 200);
    assert!(up.stop());
}

/// `metrics_listen` in the responder's and control's TOML: a listener of
/// its own serving `/metrics` and `/healthz`, and nothing else.
#[test]
fn responder_and_control_serve_metrics_on_their_metrics_listen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let data = tmp.path().join("data");
    let services = [
        ("responder", format!("[store]\nkind = \"local\"\npath = {:?}\n", store.display().to_string())),
        (
            "control",
            format!("data_dir = {:?}\nocsp_url = \"http://127.0.0.1:9\"\n", data.display().to_string()),
        ),
    ];
    for (service, rest) in services {
        let (port, metrics_port) = (free_port(), free_port());
        let config =
            format!("listen = \"127.0.0.1:{port}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n{rest}");
        let dir = tmp.path().join(service);
        std::fs::create_dir_all(&dir).expect("dir");
        let _running = start_alone(service, &dir, &config, port);
        let metrics = format!("127.0.0.1:{metrics_port}");
        let (status, _, body) =
            http(&metrics, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
        let text = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(status, 200, "{service}: {text}");
        assert!(text.contains("cartorio_build_info{"), "{service}: {text}");
        let (status, _, _) =
            http(&metrics, "GET /v1/certificates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
        assert_eq!(status, 404, "{service}'s metrics listener serves only metrics");
    }
}
