//! Helpers for the gateway's end-to-end tests.

use super::http;
use std::path::Path;
use std::process::{Command, Stdio};

pub const EVENT: &str =
    r#"{"id":"e1","ts":"2026-11-21T10:00:00Z","source":"test","message":"hello","attributes":{"k":"v"}}"#;

/// POSTs `body` to `/v1/ingest/{stream}`; returns (status, headers, body).
pub fn ingest(
    addr: &str,
    stream: &str,
    key: Option<&str>,
    content_type: &str,
    body: &[u8],
    extra: &[&str],
) -> (u16, String, String) {
    let mut head = format!(
        "POST /v1/ingest/{stream} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(key) = key {
        head.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let (status, headers, body) = http(addr, &head, body);
    (status, headers.to_ascii_lowercase(), String::from_utf8_lossy(&body).into_owned())
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The stored object's key, bytes and metadata under `zone/stream/` with this id.
pub fn find_object(
    store: &Path,
    zone: &str,
    stream: &str,
    id: &str,
) -> Option<(String, Vec<u8>, serde_json::Value)> {
    let mut stack = vec![store.join(zone).join(stream)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == id) {
                let meta = std::fs::read_to_string(path.with_file_name(format!("{id}.meta.json"))).ok()?;
                let key = path.strip_prefix(store).ok()?.to_string_lossy().into_owned();
                return Some((key, std::fs::read(&path).ok()?, json(&meta)));
            }
        }
    }
    None
}

pub fn openssl_sha256(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(bytes).expect("write");
    child.wait_with_output().expect("digest").stdout
}
