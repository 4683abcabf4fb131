//! The gateway's key-encryption keys over time: rotation under `up`
//! (old KEKs kept to read), `gateway rewrap` moving objects to the newest,
//! bulk `gateway decrypt`, a move from a local KEK to KMS (moto), and KMS
//! data keys shared by many objects with the cache on (one GenerateDataKey
//! for many objects, counted in /metrics) and per object with it off.

mod common;

use cartorio_testkit::moto::boto3;
use common::gateway::*;
use common::*;
use std::path::Path;
use std::process::Command;

fn cartorio(args: &[&str]) -> String {
    let out = run(Command::new(BIN).args(args));
    assert!(out.status.success(), "cartorio {args:?}: {}", text(&out));
    text(&out)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn demo_ingest(up: &Up, n: usize) -> String {
    let key = std::fs::read_to_string(up.dir.join("gateway/demo-api-key")).expect("demo key");
    let body = format!(r#"{{"id":"e{n}","ts":"2026-11-21T10:00:00Z","source":"cli","message":"hello {n}"}}"#);
    let (status, _, reply) =
        ingest(&up.gateway, "demo", Some(key.trim()), "application/json", body.as_bytes(), &[]);
    assert_eq!(status, 202, "{reply}");
    body
}

/// Every payload under DIR/raw of a bulk decrypt, sorted.
fn opened(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = walk_files(dir)
        .into_iter()
        .filter(|f| !f.ends_with(".meta.json"))
        .map(|f| std::fs::read_to_string(f).expect("payload"))
        .collect();
    found.sort();
    found
}

#[test]
fn a_rotated_kek_keeps_old_objects_readable_until_rewrap_moves_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let mut sent = vec![demo_ingest(&up, 1), demo_ingest(&up, 2)];
    let rotated = cartorio(&["gateway", "kek", "rotate", "--data-dir", p(&data)]);
    assert!(up.stop());
    let up = Up::start(&data);
    sent.push(demo_ingest(&up, 3));
    drop(up);
    sent.sort();

    let out = tmp.path().join("out1");
    cartorio(&["gateway", "decrypt", "--data-dir", p(&data), "--prefix", "raw/", "--out-dir", p(&out)]);
    assert_eq!(opened(&out), sent, "objects under both KEKs open");
    let report = cartorio(&["gateway", "rewrap", "--data-dir", p(&data)]);
    assert!(report.contains("2 of 3 objects rewrapped"), "{report}\n{rotated}");
    assert!(cartorio(&["gateway", "rewrap", "--data-dir", p(&data)]).contains("0 of 3"), "idempotent");

    std::fs::remove_dir_all(data.join("gateway/old-keks")).expect("retire the old KEK");
    let out = tmp.path().join("out2");
    cartorio(&["gateway", "decrypt", "--data-dir", p(&data), "--prefix", "raw/", "--out-dir", p(&out)]);
    assert_eq!(opened(&out), sent, "every object is under the new KEK alone");
    let new_id = report.rsplit("KEK ").next().expect("id").trim().to_owned();
    for meta in std::fs::read_dir(out.join("raw/demo")).expect("day dirs").flatten() {
        for file in walk_files(&meta.path()).into_iter().filter(|f| f.ends_with(".meta.json")) {
            let text = std::fs::read_to_string(&file).expect("meta");
            assert!(text.contains(&new_id), "{file}: {text}");
        }
    }
}

fn kms_gateway_config(port: u16, store: &Path, kms: &str, old_kek: Option<&Path>) -> String {
    let old =
        old_kek.map(|f| format!("old_kek_files = [{:?}]\n", f.display().to_string())).unwrap_or_default();
    format!(
        r#"listen = "127.0.0.1:{port}"
[store]
kind = "local"
path = {store:?}
[encryption]
{old}{kms}
[[api_keys]]
id = "app"
sha256 = "{hash}"
streams = ["events"]
[[streams]]
name = "events"
rate_per_sec = 1000.0
burst = 1000
content_types = ["text/plain"]
"#,
        store = store.display().to_string(),
        hash = hex::encode(openssl_sha256(b"k-app"))
    )
}

/// `cartorio_gateway_kms_calls_total{op=OP,outcome="ok"}` on the gateway's /metrics.
fn kms_calls(addr: &str, op: &str) -> u64 {
    let (_, _, body) = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"");
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines()
        .filter(|l| l.starts_with("cartorio_gateway_kms_calls_total{") && l.contains(&format!("op=\"{op}\"")))
        .filter(|l| l.contains("outcome=\"ok\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn send(addr: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|n| {
            let body = format!("reading {n}");
            let (status, _, reply) =
                ingest(addr, "events", Some("k-app"), "text/plain", body.as_bytes(), &[]);
            assert_eq!(status, 202, "{reply}");
            body
        })
        .collect()
}

#[test]
fn kms_data_keys_are_shared_when_cached_and_local_objects_move_to_kms() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let moto = start_moto();
    let key_id = boto3(&moto.endpoint, "print(kms.create_key()['KeyMetadata']['KeyId'])");
    let store = tmp.path().join("store");
    let local_kek = tmp.path().join("local.kek");
    cartorio(&["gateway", "kek", "generate", "--out", p(&local_kek)]);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");

    // First under a local KEK.
    let local = format!("kek_file = {:?}", local_kek.display().to_string());
    let gateway = start_alone("gateway", tmp.path(), &kms_gateway_config(port, &store, &local, None), port);
    let mut sent = send(&addr, 0..3);
    drop(gateway);

    // Then KMS with the default cache: one GenerateDataKey for ten objects.
    let kms = format!("[encryption.kms]\nkey_id = {key_id:?}\nendpoint = {:?}", moto.endpoint);
    let config = kms_gateway_config(port, &store, &kms, Some(&local_kek));
    let gateway = start_alone("gateway", tmp.path(), &config, port);
    sent.extend(send(&addr, 3..13));
    assert_eq!(kms_calls(&addr, "generate_data_key"), 1, "one shared data key for 10 objects");
    drop(gateway);

    // And with the cache off: one per object.
    let uncached = format!("{kms}\n[encryption.kms.data_key_cache]\nmax_age_secs = 0");
    let gateway = start_alone(
        "gateway",
        tmp.path(),
        &kms_gateway_config(port, &store, &uncached, Some(&local_kek)),
        port,
    );
    sent.extend(send(&addr, 13..17));
    assert_eq!(kms_calls(&addr, "generate_data_key"), 4);
    drop(gateway);
    sent.sort();

    // Rewrap moves the local KEK's three objects to KMS; then the local KEK can go.
    let toml = tmp.path().join("gateway.toml");
    std::fs::write(&toml, &config).expect("config");
    let report = cartorio(&["gateway", "rewrap", "--config", p(&toml)]);
    assert!(report.contains("3 of 17 objects rewrapped"), "{report}");
    std::fs::write(&toml, kms_gateway_config(port, &store, &kms, None))
        .expect("config without the local KEK");
    let out = tmp.path().join("out");
    cartorio(&["gateway", "decrypt", "--config", p(&toml), "--prefix", "raw/events/", "--out-dir", p(&out)]);
    assert_eq!(opened(&out), sent);
}
