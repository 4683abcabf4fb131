//! Stage 0 of the gateway, through the real binary behind a PROXY protocol
//! "load balancer": limits per client address and per /24, deny and allow
//! lists (the listener's and a stream's) read from files and reloaded when
//! they change, all before authentication: a denied address gets 403 even
//! for a stream that does not exist, and a flood of one address does not
//! spend its neighbours' budget elsewhere.

mod common;

use common::gateway::{json, openssl_sha256};
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// POSTs a line to `stream` as `client` says through a PROXY v1 header.
fn post_as(addr: &str, client: &str, stream: &str, key: &str) -> (u16, String, String) {
    let body = "line";
    let head = format!(
        "PROXY TCP4 {client} 10.0.0.1 51000 443\r\nPOST /v1/ingest/{stream} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, headers, body) = http(addr, &head, body.as_bytes());
    (status, headers.to_ascii_lowercase(), String::from_utf8_lossy(&body).into_owned())
}

fn config(d: &Path, port: u16) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
proxy_protocol = true
[addresses]
rate_per_sec = 0.5
burst = 3
prefix_rate_per_sec = 0.5
prefix_burst = 5
deny_file = "{deny}"
[store]
kind = "local"
path = "{store}"
[[api_keys]]
id = "app"
sha256 = "{hash}"
streams = ["logs", "internal"]
[[streams]]
name = "logs"
rate_per_sec = 1000.0
burst = 1000
content_types = ["text/plain"]
[[streams]]
name = "internal"
rate_per_sec = 1000.0
burst = 1000
content_types = ["text/plain"]
allow_file = "{allow}"
"#,
        deny = d.join("deny.txt").display(),
        allow = d.join("internal-allow.txt").display(),
        store = d.join("store").display(),
        hash = hex::encode(openssl_sha256(b"k-app"))
    )
}

#[test]
fn addresses_are_limited_listed_and_relisted_before_authentication() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::write(d.join("deny.txt"), "# abusers\n198.51.100.0/24\n").expect("deny");
    std::fs::write(d.join("internal-allow.txt"), "10.0.0.0/8\n").expect("allow");
    let port = free_port();
    let gateway = start_alone_probed("gateway", d, &config(d, port), port, "PROXY UNKNOWN\r\n");
    let addr = format!("127.0.0.1:{port}");

    // Per address: the burst of 3, then 429 with Retry-After, before the
    // key is even looked at (a wrong key is still 429, not 401).
    for _ in 0..3 {
        assert_eq!(post_as(&addr, "203.0.113.7", "logs", "k-app").0, 202);
    }
    let (status, headers, body) = post_as(&addr, "203.0.113.7", "logs", "wrong-key");
    assert_eq!(status, 429, "{body}");
    assert_eq!(json(&body)["reason"], "address_rate_limited");
    assert!(headers.contains("retry-after:"), "{headers}");
    // Per /24: a neighbour gets what is left of the network's 5, then 429.
    assert_eq!(post_as(&addr, "203.0.113.8", "logs", "k-app").0, 202);
    assert_eq!(post_as(&addr, "203.0.113.9", "logs", "k-app").0, 202);
    assert_eq!(post_as(&addr, "203.0.113.10", "logs", "k-app").0, 429);
    // Another network is not charged for it.
    assert_eq!(post_as(&addr, "192.0.2.1", "logs", "k-app").0, 202);

    // The deny list: 403 whatever the stream (a denied address learns nothing).
    for stream in ["logs", "no-such-stream"] {
        let (status, _, body) = post_as(&addr, "198.51.100.20", stream, "k-app");
        assert_eq!((status, json(&body)["reason"].as_str()), (403, Some("address_denied")), "{body}");
    }
    // A stream's allow list admits only its networks.
    assert_eq!(post_as(&addr, "192.0.2.2", "internal", "k-app").0, 403);
    assert_eq!(post_as(&addr, "10.20.30.40", "internal", "k-app").0, 202);

    // The deny list changed on disk: swapped in within seconds, no restart.
    std::fs::write(d.join("deny.txt"), "198.51.100.0/24\n192.0.2.0/24\n").expect("deny");
    let deadline = Instant::now() + Duration::from_secs(15);
    while post_as(&addr, "192.0.2.3", "logs", "k-app").0 != 403 {
        assert!(Instant::now() < deadline, "the new deny list was not picked up");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(gateway);
    let log = std::fs::read_to_string(d.join("gateway.log")).expect("log");
    assert!(log.contains("network list reloaded"), "{log}");
    assert!(log.contains("\"reason\":\"deny_list\""), "the access line names the list: {log}");
}

#[test]
fn a_list_file_that_does_not_parse_stops_the_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::write(d.join("deny.txt"), "10.0.0.0/33\n").expect("deny");
    std::fs::write(d.join("internal-allow.txt"), "10.0.0.0/8\n").expect("allow");
    let file = d.join("gateway.toml");
    std::fs::write(&file, config(d, free_port())).expect("config");
    let out = run(std::process::Command::new(BIN).arg("gateway").arg("--config").arg(&file));
    assert!(!out.status.success());
    assert!(text(&out).contains("deny.txt") && text(&out).contains("line 1"), "{}", text(&out));
}
