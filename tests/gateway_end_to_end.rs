//! The ingestion gateway through the real binary: `up`'s demo stream, and a
//! standalone gateway from a TOML file with tight limits.

mod common;

use cartorio_testkit::moto::boto3;
use common::gateway::*;
use common::*;
use std::process::Command;

#[test]
fn demo_stream_accepts_validates_and_refuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let key_file = data.join("gateway/demo-api-key");
    let key = std::fs::read_to_string(&key_file).expect("demo key written").trim().to_owned();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let gw = up.gateway.clone();
    let store = data.join("store");

    // Accepted: 202 with id and sha256 once the object is on disk.
    let (status, _, body) = ingest(&gw, "demo", Some(&key), "application/json", EVENT.as_bytes(), &[]);
    assert_eq!(status, 202, "{body}");
    let receipt = json(&body);
    let id = receipt["id"].as_str().expect("id");
    let (object, sealed, meta) = find_object(&store, "raw", "demo", id).expect("stored object");
    assert!(!String::from_utf8_lossy(&sealed).contains("hello"), "stored sealed");
    assert!(meta["encryption"].as_str().is_some_and(|e| e.contains("A256GCM")), "{meta}");
    let decrypt = |object: &str| {
        Command::new(BIN)
            .args(["gateway", "decrypt", "--data-dir"])
            .arg(&data)
            .args(["--object", object])
            .output()
            .expect("cartorio gateway decrypt")
    };
    let out = decrypt(&object);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stored = out.stdout;
    assert_eq!(stored, EVENT.as_bytes());
    // Sealed to its own name: copied under another id, it no longer opens.
    let moved = object.replace(id, "01AAAAAAAAAAAAAAAAAAAAAAAA");
    std::fs::copy(store.join(&object), store.join(&moved)).expect("copy");
    let refused = decrypt(&moved);
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("authentication failed")
    );
    let sha = hex::encode(openssl_sha256(&stored));
    assert_eq!(receipt["sha256"], sha.as_str());
    assert_eq!((meta["sha256"].as_str(), meta["client"].as_str()), (Some(sha.as_str()), Some("demo")));
    assert_eq!(meta["schema_version"], "demo-event-1");

    // Authentication never fails open.
    let (status, headers, _) = ingest(&gw, "demo", None, "application/json", EVENT.as_bytes(), &[]);
    assert_eq!(status, 401);
    assert!(headers.contains("www-authenticate: bearer"), "{headers}");
    assert_eq!(ingest(&gw, "demo", Some("nope"), "application/json", EVENT.as_bytes(), &[]).0, 401);
    let x_api_key = format!("X-Api-Key: {key}");
    assert_eq!(ingest(&gw, "demo", None, "application/json", EVENT.as_bytes(), &[&x_api_key]).0, 202);
    assert_eq!(ingest(&gw, "nosuch", Some(&key), "application/json", EVENT.as_bytes(), &[]).0, 404);

    // Validation: type allowlist, magic bytes, schema pointer; rejected bodies are quarantined.
    let (status, _, body) = ingest(&gw, "demo", Some(&key), "text/plain", b"hello", &[]);
    assert_eq!((status, json(&body)["reason"].as_str()), (415, Some("content_type_not_allowed")));
    let (status, _, body) =
        ingest(&gw, "demo", Some(&key), "application/json", b"\x89PNG\r\n\x1a\n0000", &[]);
    assert_eq!((status, json(&body)["reason"].as_str()), (415, Some("content_type_mismatch")));
    let bad_ts = r#"{"id":"e2","ts":"yesterday","source":"test","message":"hello"}"#;
    let (status, _, body) = ingest(&gw, "demo", Some(&key), "application/json", bad_ts.as_bytes(), &[]);
    let problem = json(&body);
    assert_eq!((status, problem["pointer"].as_str()), (400, Some("/ts")), "{body}");
    let extra = r#"{"id":"e3","ts":"2026-11-21T10:00:00Z","source":"t","message":"m","admin":true}"#;
    assert_eq!(ingest(&gw, "demo", Some(&key), "application/json", extra.as_bytes(), &[]).0, 400);
    let quarantined = std::fs::read_dir(store.join("quarantine/demo")).map(|d| d.count()).unwrap_or(0);
    assert!(quarantined > 0, "rejected payloads quarantined");

    // Attack signatures: 403 with an incident id (the rule ids stay with the
    // operator: the quarantined payload's metadata and the access log).
    let sqli = r#"{"id":"e4","ts":"2026-11-21T10:00:00Z","source":"t","message":"1' OR '1'='1' UNION SELECT password FROM users --"}"#;
    let (status, _, body) = ingest(&gw, "demo", Some(&key), "application/json", sqli.as_bytes(), &[]);
    let problem = json(&body);
    assert_eq!((status, problem["reason"].as_str()), (403, Some("attack_signature")), "{body}");
    assert!(problem.get("rules").is_none(), "rules are not exposed by default: {body}");
    let incident = problem["incident"].as_str().expect("an incident id").to_owned();
    let meta = walk_files(&store.join("quarantine/demo"))
        .into_iter()
        .find(|f| f.ends_with(&format!("/{incident}.meta.json")))
        .expect("quarantined");
    let meta = json(&std::fs::read_to_string(meta).expect("meta"));
    assert!(meta["rules"].as_array().is_some_and(|r| !r.is_empty()), "{meta}");

    // Size: refused on the declared length alone.
    let head = "POST /v1/ingest/demo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n";
    let (status, _, _) =
        http(&gw, &format!("{head}Authorization: Bearer {key}\r\nConnection: close\r\n\r\n"), b"{");
    assert_eq!(status, 413);

    // Idempotency-Key: the retry gets the first receipt, nothing stored twice.
    let idem = "Idempotency-Key: order-42";
    let (s1, _, first) = ingest(&gw, "demo", Some(&key), "application/json", EVENT.as_bytes(), &[idem]);
    let (s2, headers, second) =
        ingest(&gw, "demo", Some(&key), "application/json", EVENT.as_bytes(), &[idem]);
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(json(&first)["id"], json(&second)["id"]);
    assert!(headers.contains("idempotent-replayed: true"), "{headers}");

    // Every decision is a metric.
    let (_, _, metrics) = http(&gw, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let metrics = String::from_utf8_lossy(&metrics);
    for outcome in ["accepted", "unauthenticated", "invalid", "waf_blocked", "too_large", "replayed"] {
        let line = format!("cartorio_gateway_requests_total{{stream=\"demo\",outcome=\"{outcome}\"}}");
        assert!(metrics.lines().any(|l| l.starts_with(&line) && !l.ends_with(" 0")), "{outcome}");
    }
}

#[test]
fn standalone_gateway_rate_limits_and_scopes_keys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let port = free_port();
    let key_hash = hex::encode(openssl_sha256(b"k-alice"));
    let config = format!(
        r#"listen = "127.0.0.1:{port}"
trusted_proxies = ["127.0.0.1/32"]
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "alice"
sha256 = "{key_hash}"
streams = ["slow"]
[[streams]]
name = "slow"
rate_per_sec = 1.0
burst = 3
content_types = ["text/plain"]
[[streams]]
name = "other"
rate_per_sec = 100.0
burst = 100
content_types = ["text/plain"]
"#,
        store = d.join("store").display()
    );
    let gateway = start_alone("gateway", d, &config, port);
    let addr = format!("127.0.0.1:{port}");
    let statuses: Vec<u16> =
        (0..4).map(|_| ingest(&addr, "slow", Some("k-alice"), "text/plain", b"line", &[]).0).collect();
    let (status, headers, _) = ingest(&addr, "slow", Some("k-alice"), "text/plain", b"line", &[]);
    let forbidden = ingest(&addr, "other", Some("k-alice"), "text/plain", b"line", &[]).0;
    drop(gateway);
    assert_eq!(&statuses[..3], &[202, 202, 202], "the burst");
    assert_eq!((statuses[3], status), (429, 429));
    assert!(headers.contains("retry-after: 1"), "{headers}");
    assert!(headers.contains("ratelimit-policy: \"stream\";q=3;w=3"), "{headers}");
    assert!(headers.contains("ratelimit: \"stream\";r=0;t=1"), "{headers}");
    assert_eq!(forbidden, 403, "key not allowed on the stream");
}

/// Issue 5's limiter bound, over the wire: ten seconds of requests at ten
/// times a stream's rate admit rate x duration + burst, within 2%.
#[test]
fn ten_times_the_rate_over_http_admits_rate_times_duration_plus_burst() {
    const RATE: f64 = 50.0;
    const BURST: u32 = 10;
    const OFFERED_PER_SEC: u32 = 500;
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let port = free_port();
    let key_hash = hex::encode(openssl_sha256(b"k-steady"));
    let config = format!(
        r#"listen = "127.0.0.1:{port}"
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "steady"
sha256 = "{key_hash}"
streams = ["metered"]
[[streams]]
name = "metered"
rate_per_sec = {RATE}
burst = {BURST}
content_types = ["text/plain"]
"#,
        store = d.join("store").display()
    );
    let gateway = start_alone("gateway", d, &config, port);
    let addr = format!("127.0.0.1:{port}");
    let interval = std::time::Duration::from_secs(1) / OFFERED_PER_SEC;
    let started = std::time::Instant::now();
    let (mut admitted, mut limited, mut other) = (0u32, 0u32, Vec::new());
    let mut sent = 0u32;
    while started.elapsed() < std::time::Duration::from_secs(10) {
        // Paced, not flat out: the offered load is 10x the rate throughout.
        if let Some(wait) = (interval * sent).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        match ingest(&addr, "metered", Some("k-steady"), "text/plain", b"tick", &[]).0 {
            202 => admitted += 1,
            429 => limited += 1,
            status => other.push(status),
        }
        sent += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop(gateway);
    assert!(other.is_empty(), "only 202 or 429: {other:?}");
    let offered = f64::from(sent) / elapsed;
    assert!(offered >= 5.0 * RATE, "offered {offered:.0}/s, well over the rate");
    let expected = RATE * elapsed + f64::from(BURST);
    let error = (f64::from(admitted) - expected).abs() / expected;
    eprintln!(
        "admitted {admitted} of {sent} in {elapsed:.2} s (offered {offered:.0}/s); expected {expected:.1}"
    );
    assert!(
        error <= 0.02,
        "admitted {admitted} of {sent} ({limited} limited) in {elapsed:.2} s; expected {expected:.0} (error {:.1}%)",
        error * 100.0
    );
}

#[test]
fn proxy_protocol_names_the_client_and_is_required() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let port = free_port();
    let key_hash = hex::encode(openssl_sha256(b"k-lb"));
    let config = format!(
        r#"listen = "127.0.0.1:{port}"
proxy_protocol = true
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "lb-client"
sha256 = "{key_hash}"
streams = ["logs"]
[[streams]]
name = "logs"
rate_per_sec = 100.0
burst = 100
content_types = ["text/plain"]
"#,
        store = d.join("store").display()
    );
    // The health probe must carry a header too: a v1 UNKNOWN (a balancer's
    // own check) keeps the TCP peer.
    let gateway = start_alone_probed("gateway", d, &config, port, "PROXY UNKNOWN\r\n");
    let addr = format!("127.0.0.1:{port}");
    let request = "POST /v1/ingest/logs HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nAuthorization: Bearer k-lb\r\nContent-Length: 4\r\nConnection: close\r\n\r\nline";
    let v1 = format!("PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n{request}");
    let (v1_status, _, v1_body) = http(&addr, &v1, b"");
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2.extend_from_slice(&[198, 51, 100, 9, 10, 0, 0, 1, 0x13, 0x88, 0x01, 0xbb]);
    v2.extend_from_slice(request.as_bytes());
    let (v2_status, _, v2_body) = http(&addr, "", &v2);
    let (bare_status, _, _) = http(&addr, request, b"");
    drop(gateway);
    assert_eq!((v1_status, v2_status), (202, 202));
    assert_eq!(bare_status, 0, "no PROXY header: the connection is closed unanswered");
    let store = d.join("store");
    for (body, client) in [(v1_body, "203.0.113.7"), (v2_body, "198.51.100.9")] {
        let receipt = json(&String::from_utf8_lossy(&body));
        let id = receipt["id"].as_str().expect("id");
        let (_, stored, meta) = find_object(&store, "raw", "logs", id).expect("stored");
        assert_eq!((stored.as_slice(), meta["client_ip"].as_str()), (&b"line"[..], Some(client)));
    }
}

#[test]
fn tls_listener_identifies_clients_by_certificate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    make_pki(d, "sensor-7");
    let (port, tls_port) = (free_port(), free_port());
    let config = format!(
        r#"listen = "127.0.0.1:{port}"
[tls]
listen = "127.0.0.1:{tls_port}"
cert = "{d}/server.pem"
key = "{d}/server.key"
client_ca = "{d}/ca.pem"
[store]
kind = "local"
path = "{d}/store"
[[streams]]
name = "telemetry"
rate_per_sec = 100.0
burst = 100
content_types = ["text/plain"]
mtls_identities = ["sensor-7"]
"#,
        d = d.display()
    );
    let gateway = start_alone("gateway", d, &config, port);
    let curl = |extra: &[&str]| {
        let out = run(Command::new("curl")
            .args(["-sS", "--cacert", "ca.pem", "-H", "Content-Type: text/plain", "--data", "reading=42"])
            .args(["-D", "headers.txt", "-o", "body.txt", "-w", "%{http_code}"])
            .args(extra)
            .arg(format!("https://127.0.0.1:{tls_port}/v1/ingest/telemetry"))
            .current_dir(d));
        let headers = std::fs::read_to_string(d.join("headers.txt")).unwrap_or_default().to_ascii_lowercase();
        (
            text(&out).trim().to_owned(),
            headers,
            std::fs::read_to_string(d.join("body.txt")).unwrap_or_default(),
        )
    };
    let (with_cert, headers, body) = curl(&["--cert", "client.pem", "--key", "client.key"]);
    let (without, _, _) = curl(&[]);
    drop(gateway);
    assert_eq!(with_cert, "202", "{body}");
    assert!(headers.contains(&format!("alt-svc: h3=\":{tls_port}\"")), "{headers}");
    assert_eq!(without, "401", "no key, no certificate");
    let id = json(&body)["id"].as_str().expect("id").to_owned();
    let (_, stored, meta) = find_object(&d.join("store"), "raw", "telemetry", &id).expect("stored");
    assert_eq!((stored.as_slice(), meta["client"].as_str()), (&b"reading=42"[..], Some("mtls:sensor-7")));
}

#[test]
fn a_stream_forwards_upstream_and_acknowledges_only_what_was_taken() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (front_dir, back_dir) = (tmp.path().join("front"), tmp.path().join("back"));
    std::fs::create_dir_all(&front_dir).expect("dir");
    std::fs::create_dir_all(&back_dir).expect("dir");
    let (front_port, back_port) = (free_port(), free_port());
    let back = format!(
        r#"listen = "127.0.0.1:{back_port}"
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "front-gateway"
sha256 = "{hash}"
streams = ["events"]
[[streams]]
name = "events"
rate_per_sec = 100.0
burst = 100
content_types = ["text/plain"]
"#,
        store = back_dir.join("store").display(),
        hash = hex::encode(openssl_sha256(b"k-upstream"))
    );
    std::fs::write(front_dir.join("upstream-token"), "k-upstream\n").expect("token");
    let front = format!(
        r#"listen = "127.0.0.1:{front_port}"
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "sensor"
sha256 = "{hash}"
streams = ["edge"]
[[streams]]
name = "edge"
rate_per_sec = 100.0
burst = 100
content_types = ["text/plain"]
upstream = {{ url = "http://127.0.0.1:{back_port}/v1/ingest/events", bearer_file = "{token}" }}
"#,
        store = front_dir.join("store").display(),
        hash = hex::encode(openssl_sha256(b"k-sensor")),
        token = front_dir.join("upstream-token").display()
    );
    let back_gateway = start_alone("gateway", &back_dir, &back, back_port);
    let front_gateway = start_alone("gateway", &front_dir, &front, front_port);
    let front_addr = format!("127.0.0.1:{front_port}");
    let (status, _, body) = ingest(&front_addr, "edge", Some("k-sensor"), "text/plain", b"reading 7", &[]);
    assert_eq!(status, 202, "{body}");
    let receipt = json(&body);
    assert_eq!(receipt["forwarded"], true);
    // The upstream stored it (under an id of its own).
    let stored = std::fs::read_dir(back_dir.join("store/raw/events")).map(|d| d.count()).unwrap_or(0);
    assert!(stored > 0, "nothing upstream");
    assert!(!front_dir.join("store/raw").exists(), "forwarded, not stored locally");
    drop(back_gateway);
    let (status, headers, body) =
        ingest(&front_addr, "edge", Some("k-sensor"), "text/plain", b"reading 8", &[]);
    drop(front_gateway);
    assert_eq!(status, 503, "{body}");
    assert!(headers.contains("retry-after"), "{headers}");
    assert_eq!(json(&body)["reason"], "sink_unavailable");
}

#[test]
fn payloads_land_in_an_s3_bucket_sealed_under_a_kms_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let moto = start_moto();
    boto3(&moto.endpoint, "s3.create_bucket(Bucket='ingest')");
    let kms_key = boto3(&moto.endpoint, "print(kms.create_key()['KeyMetadata']['KeyId'])");
    let port = free_port();
    let config = format!(
        r#"listen = "127.0.0.1:{port}"
[store]
kind = "s3"
bucket = "ingest"
prefix = "lake/"
endpoint = "{endpoint}"
[encryption.kms]
key_id = "{kms_key}"
endpoint = "{endpoint}"
[[api_keys]]
id = "app"
sha256 = "{hash}"
streams = ["events"]
[[streams]]
name = "events"
rate_per_sec = 100.0
burst = 100
content_types = ["text/plain"]
"#,
        endpoint = moto.endpoint,
        hash = hex::encode(openssl_sha256(b"k-app"))
    );
    let gateway = start_alone("gateway", tmp.path(), &config, port);
    let (status, _, body) =
        ingest(&format!("127.0.0.1:{port}"), "events", Some("k-app"), "text/plain", b"to the lake", &[]);
    drop(gateway);
    assert_eq!(status, 202, "{body}");
    let id = json(&body)["id"].as_str().expect("id").to_owned();
    let keys = boto3(
        &moto.endpoint,
        "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='ingest')['Contents']))",
    );
    let object =
        keys.lines().find(|k| k.ends_with(&id)).unwrap_or_else(|| panic!("no object {id} in {keys}"));
    assert!(object.starts_with("lake/raw/events/"), "{object}");
    assert!(keys.contains(&format!("{object}.meta.json")), "{keys}");
    // Sealed: the bucket holds an envelope naming the KMS key, not the payload.
    let head = boto3(
        &moto.endpoint,
        &format!("print(s3.get_object(Bucket='ingest', Key={object:?})['Body'].read()[:60])"),
    );
    assert!(head.contains("CARTENV2") && head.contains(&kms_key), "{head}");
    // Read back through KMS Decrypt with the object's encryption context.
    let key = object.trim_start_matches("lake/");
    let out = run(Command::new(BIN)
        .args(["gateway", "decrypt", "--config"])
        .arg(tmp.path().join("gateway.toml"))
        .args(["--object", key]));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(out.stdout, b"to the lake");
}

#[test]
fn gateway_key_create_prints_a_key_once_and_the_table_that_admits_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let out =
        run(Command::new(BIN).args(["gateway", "key", "create", "--stream", "events", "--id", "frontend"]));
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = printed.lines().find_map(|l| l.strip_prefix("key ")).expect("the key").to_owned();
    assert!(key.starts_with("cart_") && key.len() == 5 + 48, "{key}");
    let table: String =
        printed.lines().skip_while(|l| !l.starts_with("[[api_keys]]")).map(|l| format!("{l}\n")).collect();
    assert!(table.contains(&hex::encode(openssl_sha256(key.as_bytes()))), "the hash of the key: {table}");
    assert!(!table.contains(&key), "the table holds the hash, not the key: {table}");
    let other = run(Command::new(BIN).args(["gateway", "key", "create", "--stream", "events"]));
    assert!(!text(&other).contains(&key), "every key is new");
    let refused = run(Command::new(BIN).args(["gateway", "key", "create", "--stream", "Bad Name"]));
    assert!(!refused.status.success() && text(&refused).contains("not a stream name"), "{}", text(&refused));

    let port = free_port();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\n[store]\nkind = \"local\"\npath = \"{}\"\n{table}\n\
         [[streams]]\nname = \"events\"\nrate_per_sec = 100.0\nburst = 100\ncontent_types = [\"text/plain\"]\n\
         [[streams]]\nname = \"audit\"\nrate_per_sec = 100.0\nburst = 100\ncontent_types = [\"text/plain\"]\n",
        d.join("store").display()
    );
    let gateway = start_alone("gateway", d, &config, port);
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(ingest(&addr, "events", Some(&key), "text/plain", b"line", &[]).0, 202);
    assert_eq!(ingest(&addr, "audit", Some(&key), "text/plain", b"line", &[]).0, 403, "only its stream");
    assert_eq!(ingest(&addr, "events", Some("cart_guess"), "text/plain", b"line", &[]).0, 401);
    drop(gateway);
}

#[test]
fn metrics_move_to_their_own_listener_when_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let (port, metrics_port) = (free_port(), free_port());
    let key_hash = hex::encode(openssl_sha256(b"k-m"));
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\nexpose_metrics = false\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
         [store]\nkind = \"local\"\npath = \"{}\"\n[[api_keys]]\nid = \"m\"\nsha256 = \"{key_hash}\"\nstreams = [\"s\"]\n\
         [[streams]]\nname = \"s\"\nrate_per_sec = 100.0\nburst = 100\ncontent_types = [\"text/plain\"]\n",
        d.join("store").display()
    );
    let gateway = start_alone("gateway", d, &config, port);
    let (addr, metrics_addr) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{metrics_port}"));
    assert_eq!(ingest(&addr, "s", Some("k-m"), "text/plain", b"line", &[]).0, 202);
    let get = |at: &str, path: &str| {
        let (status, _, body) =
            http(at, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), b"");
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(get(&addr, "/metrics").0, 404, "not on the ingest listener");
    assert_eq!(get(&addr, "/healthz").0, 200);
    let (status, metrics) = get(&metrics_addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("cartorio_gateway_requests_total{stream=\"s\",outcome=\"accepted\"} 1"),
        "{metrics}"
    );
    assert_eq!(get(&metrics_addr, "/healthz").0, 200);
    assert_eq!(get(&metrics_addr, "/v1/ingest/s").0, 404, "the metrics listener takes no payloads");
    drop(gateway);
}
