//! SIGHUP reloads a standalone gateway's API keys and streams without
//! dropping connections: a keep-alive connection opened before the reload
//! carries requests after it; a config that does not build is refused and
//! the previous keys stay.

mod common;

use common::gateway::*;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn config(port: u16, store: &std::path::Path, keys: &[(&str, &str)], streams: &[&str]) -> String {
    let store = store.display().to_string();
    let mut text = format!("listen = \"127.0.0.1:{port}\"\n[store]\nkind = \"local\"\npath = {store:?}\n");
    for (id, key) in keys {
        text += &format!(
            "[[api_keys]]\nid = {id:?}\nsha256 = \"{}\"\nstreams = {streams:?}\n",
            hex::encode(openssl_sha256(key.as_bytes()))
        );
    }
    for stream in streams {
        text += &format!(
            "[[streams]]\nname = {stream:?}\nrate_per_sec = 100.0\nburst = 100\ncontent_types = [\"text/plain\"]\n"
        );
    }
    text
}

fn hangup(gateway: &Alone) {
    let status = Command::new("kill").args(["-HUP", &gateway.0.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

/// One request on a kept-alive connection; its status.
fn post_on(conn: &mut BufReader<TcpStream>, key: &str) -> u16 {
    let body = b"a reading";
    let head = format!(
        "POST /v1/ingest/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let stream = conn.get_mut();
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body).expect("write");
    let mut status_line = String::new();
    conn.read_line(&mut status_line).expect("status line");
    let mut length = 0;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).expect("header");
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().expect("length");
        }
    }
    let mut reply = vec![0; length];
    conn.read_exact(&mut reply).expect("body");
    status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status")
}

fn until_status(addr: &str, key: &str, want: u16) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, _) = ingest(addr, "events", Some(key), "text/plain", b"a reading", &[]);
        if status == want || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_reloads_keys_and_streams_without_dropping_connections() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let file = tmp.path().join("gateway.toml");
    let store = tmp.path().join("store");
    let gateway =
        start_alone("gateway", tmp.path(), &config(port, &store, &[("old", "k-old")], &["events"]), port);
    let mut kept = BufReader::new(TcpStream::connect(&addr).expect("connect"));
    assert_eq!(post_on(&mut kept, "k-old"), 202);
    assert_eq!(until_status(&addr, "k-new", 401), 401, "not configured yet");

    std::fs::write(&file, config(port, &store, &[("new", "k-new")], &["events"])).expect("new config");
    hangup(&gateway);
    assert_eq!(until_status(&addr, "k-new", 202), 202, "the new key after SIGHUP");
    assert_eq!(until_status(&addr, "k-old", 401), 401, "the removed key is refused");
    assert_eq!(post_on(&mut kept, "k-new"), 202, "the connection from before the reload carries on");

    // A config that does not build changes nothing.
    std::fs::write(&file, "listen = \"127.0.0.1:1\"\n[[api_keys]]\nid = 3\n").expect("broken config");
    hangup(&gateway);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(post_on(&mut kept, "k-new"), 202);
    let (_, _, metrics) = http(&addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    for line in [
        "cartorio_gateway_reloads_total{outcome=\"ok\"} 1",
        "cartorio_gateway_reloads_total{outcome=\"refused\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    drop(gateway);
    let log = std::fs::read_to_string(tmp.path().join("gateway.log")).expect("log");
    assert!(log.contains("reload refused"), "{log}");
}
