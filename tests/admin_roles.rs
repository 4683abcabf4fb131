//! The admin API's roles: each token carries one; routes admit the roles
//! `docs/openapi.json` lists for them.

mod common;

use common::*;
use std::process::Command;

fn token(data: &std::path::Path, role: &str) -> String {
    let out = run(Command::new(BIN).args(["admin-token", "--data-dir"]).arg(data).args(["--role", role]));
    assert!(out.status.success(), "{}", text(&out));
    text(&out).trim().to_owned()
}

fn call(addr: &str, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, String) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, _, body) = http(addr, &head, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn roles_admit_only_their_routes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let (revoker, auditor, issuer) =
        (token(&data, "revoker"), token(&data, "auditor"), token(&data, "issuer"));
    assert!(
        !run(Command::new(BIN).args(["admin-token", "--data-dir"]).arg(&data).args(["--role", "root"]))
            .status
            .success()
    );
    let csr = std::fs::read(make_csr(tmp.path(), "r", "r.example.test")).expect("csr");

    let (status, _) = call(&up.control, "POST", "/v1/certificates?profile=server", &revoker, &csr);
    assert_eq!(status, 403, "a revoker may not issue");
    let (status, body) = call(&up.control, "POST", "/v1/certificates?profile=server", &issuer, &csr);
    assert_eq!(status, 201, "{body}");
    let serial = serde_json::from_str::<serde_json::Value>(&body).expect("json")["serial"]
        .as_str()
        .expect("serial")
        .to_owned();
    let revoke = format!("/v1/certificates/{serial}/revoke");
    assert_eq!(call(&up.control, "POST", &revoke, &issuer, br#"{"reason":"superseded"}"#).0, 403);
    let (status, body) = call(&up.control, "POST", &revoke, &revoker, br#"{"reason":"superseded"}"#);
    assert_eq!(status, 200, "{body}");
    let (status, crl) = call(&up.control, "GET", "/v1/crl", &revoker, b"");
    assert_eq!(status, 200);
    assert!(crl.starts_with("-----BEGIN X509 CRL-----"), "{crl}");
    assert_eq!(call(&up.control, "GET", "/v1/audit/verify", &revoker, b"").0, 403);
    let (status, report) = call(&up.control, "GET", "/v1/audit/verify", &auditor, b"");
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("\"intact\":true"), "{report}");
    assert_eq!(call(&up.control, "GET", &format!("/v1/certificates/{serial}"), &auditor, b"").0, 200);
    assert_eq!(call(&up.control, "GET", "/v1/crl", &"0".repeat(64), b"").0, 401);
}
