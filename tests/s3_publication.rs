//! The control plane publishes to S3 (`[store] kind = "s3"`, moto on
//! loopback) and a responder alone reads the same bucket: a certificate
//! issued through the admin API is answered "good", then "revoked", by
//! `openssl ocsp`; the manifest, segments and CRL are in the bucket.

mod common;

use cartorio_testkit::moto::boto3;
use common::*;
use std::time::Duration;

fn store(endpoint: &str) -> String {
    format!("[store]\nkind = \"s3\"\nbucket = \"pki\"\nprefix = \"edge/\"\nendpoint = \"{endpoint}\"\n")
}

fn admin(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, _, body) = http(addr, &head, body);
    (status, body)
}

#[test]
fn control_publishes_to_s3_and_a_responder_serves_from_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let moto = start_moto();
    boto3(&moto.endpoint, "s3.create_bucket(Bucket='pki')");
    let data = tmp.path().join("data");
    let (control_port, responder_port) = (free_port(), free_port());
    let control_config = format!(
        "listen = \"127.0.0.1:{control_port}\"\ndata_dir = \"{}\"\nocsp_url = \"http://127.0.0.1:{responder_port}\"\n{}",
        data.display(),
        store(&moto.endpoint)
    );
    let _control = start_alone("control", tmp.path(), &control_config, control_port);
    let responder_config =
        format!("listen = \"127.0.0.1:{responder_port}\"\npoll_interval_ms = 200\n{}", store(&moto.endpoint));
    let _responder = start_alone("responder", tmp.path(), &responder_config, responder_port);

    let token = std::fs::read_to_string(data.join("control/admin-token")).expect("admin token");
    let csr = std::fs::read(make_csr(tmp.path(), "leaf", "leaf.example.test")).expect("csr");
    let control = format!("127.0.0.1:{control_port}");
    let (status, body) =
        admin(&control, "POST", "/v1/certificates?profile=server", token.trim(), "application/pkcs10", &csr);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let issued: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let cert = tmp.path().join("leaf.pem");
    std::fs::write(&cert, issued["certificate"].as_str().expect("pem")).expect("write");
    let serial = issued["serial"].as_str().expect("serial").to_owned();

    let responder = format!("127.0.0.1:{responder_port}");
    let out = ocsp_until(
        &format!("http://{responder}"),
        &data.join("pki"),
        &cert,
        "good",
        &[],
        Duration::from_secs(30),
    );
    assert!(out.contains("Response verify OK"), "{out}");
    assert_eq!(status_of(&out, &cert).as_deref(), Some("good"), "{out}");

    let path = format!("/v1/certificates/{serial}/revoke");
    let (status, body) =
        admin(&control, "POST", &path, token.trim(), "application/json", br#"{"reason":"keyCompromise"}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let out = ocsp_until(
        &format!("http://{responder}"),
        &data.join("pki"),
        &cert,
        "revoked",
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(status_of(&out, &cert).as_deref(), Some("revoked"), "{out}");
    assert!(out.contains("Reason: keyCompromise"), "{out}");

    let keys = boto3(
        &moto.endpoint,
        "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='pki')['Contents']))",
    );
    assert!(keys.lines().any(|k| k == "edge/ocsp/manifest.json"), "{keys}");
    assert!(keys.lines().any(|k| k.starts_with("edge/ocsp/segments/")), "{keys}");
    assert!(keys.lines().any(|k| k.starts_with("edge/crl/") && k.ends_with(".crl")), "{keys}");
    assert!(!data.join("store").exists(), "nothing published locally");
}
