//! Several publishers on one store: `cartorio presign` beside `up`, and two
//! control processes on one S3 bucket. A revocation must reach every
//! responder that polls the store within 2 s, and no publisher may drop
//! another's responses (the manifest is replaced by compare-and-swap).

mod common;

use cartorio_testkit::moto::boto3;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `This Update` of the response `openssl ocsp` got for `cert`.
fn this_update(url: &str, pki: &Path, cert: &Path) -> String {
    let out = openssl_ocsp_at(url, pki, cert, &["-no_nonce"]);
    out.lines()
        .find_map(|l| l.trim().strip_prefix("This Update: "))
        .unwrap_or_else(|| panic!("no This Update in {out}"))
        .to_owned()
}

fn standalone_responder(dir: &Path, store: &str) -> (Alone, String) {
    let port = free_port();
    let config = format!("listen = \"127.0.0.1:{port}\"\npoll_interval_ms = 200\n{store}");
    let responder = start_alone("responder", dir, &config, port);
    (responder, format!("http://127.0.0.1:{port}"))
}

fn good_everywhere(urls: &[&str], pki: &Path, certs: &[PathBuf]) {
    for url in urls {
        for cert in certs {
            let out = ocsp_until(url, pki, cert, "good", &["-no_nonce"], Duration::from_secs(30));
            assert_eq!(status_of(&out, cert).as_deref(), Some("good"), "{url}: {out}");
        }
    }
}

/// Asks `url` until `cert` is revoked; returns how long that took.
fn revoked_within(url: &str, pki: &Path, cert: &Path, limit: Duration) -> Duration {
    let started = Instant::now();
    let out = ocsp_until(url, pki, cert, "revoked", &["-no_nonce"], limit);
    assert_eq!(status_of(&out, cert).as_deref(), Some("revoked"), "{url} after {limit:?}: {out}");
    assert!(out.contains("Response verify OK"), "{out}");
    started.elapsed()
}

#[test]
fn a_revocation_after_presign_beside_up_reaches_a_polling_responder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let pki = data.join("pki");
    let store = format!("[store]\nkind = \"local\"\npath = \"{}\"\n", data.join("store").display());
    let (_responder, standalone) = standalone_responder(tmp.path(), &store);
    let certs: Vec<PathBuf> =
        (0..4).map(|i| issue(&data, &make_csr(tmp.path(), &format!("c{i}"), "c.example.test")).0).collect();
    good_everywhere(&[&up.ocsp_url(), &standalone], &pki, &certs);
    let first: Vec<String> = certs.iter().map(|c| this_update(&standalone, &pki, c)).collect();

    // thisUpdate has a resolution of one second: the refresh must be later.
    std::thread::sleep(Duration::from_millis(1100));
    let out = run(Command::new(BIN).args(["presign", "--refresh-all", "--data-dir"]).arg(&data));
    assert!(out.status.success(), "{}", text(&out));
    let serial = serial_of(&certs[0]);
    revoke(&data, &serial, "keyCompromise");

    for url in [standalone.as_str(), up.ocsp_url().as_str()] {
        let took = revoked_within(url, &pki, &certs[0], Duration::from_secs(2));
        println!("{url}: revoked after {took:?}");
    }
    // The CLI's refreshed responses are still the ones served.
    for (cert, first) in certs.iter().zip(&first).skip(1) {
        let now = this_update(&standalone, &pki, cert);
        assert_ne!(&now, first, "{} is served with its pre-refresh response", cert.display());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("store/ocsp/manifest.json")).expect("manifest"))
            .expect("json");
    println!("manifest generation {}", manifest["generation"]);
    assert!(up.stop());
}

fn s3_store(endpoint: &str) -> String {
    format!("[store]\nkind = \"s3\"\nbucket = \"race\"\nprefix = \"pki/\"\nendpoint = \"{endpoint}\"\n")
}

struct ControlNode {
    _process: Alone,
    addr: String,
}

fn control_node(dir: &Path, name: &str, data: &Path, store: &str, ocsp_url: &str) -> ControlNode {
    let port = free_port();
    let node_dir = dir.join(name);
    std::fs::create_dir_all(&node_dir).expect("node dir");
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nocsp_url = \"{ocsp_url}\"\n{store}",
        data.display()
    );
    let process = start_alone("control", &node_dir, &config, port);
    ControlNode { _process: process, addr: format!("127.0.0.1:{port}") }
}

fn admin_post(addr: &str, path: &str, token: &str, content_type: &str, body: &[u8]) -> serde_json::Value {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, _, reply) = http(addr, &head, body);
    assert!(matches!(status, 200 | 201), "{path}: {status} {}", String::from_utf8_lossy(&reply));
    serde_json::from_slice(&reply).expect("json")
}

#[test]
fn two_control_nodes_on_one_s3_bucket_lose_no_publication() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let moto = start_moto();
    boto3(&moto.endpoint, "s3.create_bucket(Bucket='race')");
    let store = s3_store(&moto.endpoint);
    let data = tmp.path().join("data");
    let pki = data.join("pki");
    let (_responder, standalone) = standalone_responder(tmp.path(), &store);
    // One node first: it creates the CA both then share with the registry.
    let a = control_node(tmp.path(), "a", &data, &store, &standalone);
    let b = control_node(tmp.path(), "b", &data, &store, &standalone);
    let token = std::fs::read_to_string(data.join("control/admin-token")).expect("admin token");
    let token = token.trim();

    // Issue through both nodes at once: both pre-signers sign and publish.
    let mut certs = Vec::new();
    for i in 0..8 {
        let node = if i % 2 == 0 { &a } else { &b };
        let csr = std::fs::read(make_csr(tmp.path(), &format!("s{i}"), "s.example.test")).expect("csr");
        let issued =
            admin_post(&node.addr, "/v1/certificates?profile=server", token, "application/pkcs10", &csr);
        let cert = tmp.path().join(format!("s{i}.pem"));
        std::fs::write(&cert, issued["certificate"].as_str().expect("pem")).expect("write");
        certs.push(cert);
    }
    good_everywhere(&[&standalone], &pki, &certs);

    // Revoke one through each node; both revocations must show.
    let reason = br#"{"reason":"keyCompromise"}"#;
    for (cert, node) in [(&certs[0], &a), (&certs[1], &b)] {
        let path = format!("/v1/certificates/{}/revoke", serial_of(cert));
        admin_post(&node.addr, &path, token, "application/json", reason);
    }
    for cert in &certs[..2] {
        let took = revoked_within(&standalone, &pki, cert, Duration::from_secs(2));
        println!("{}: revoked after {took:?}", cert.display());
    }
    good_everywhere(&[&standalone], &pki, &certs[2..]);
    let manifest = boto3(
        &moto.endpoint,
        "import json; m = json.loads(s3.get_object(Bucket='race', Key='pki/ocsp/manifest.json')['Body'].read()); print(m['generation'])",
    );
    println!("manifest generation {manifest}");
}
