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

fn cartorio(args: &[&str], data: &std::path::Path) -> (bool, String) {
    let out = run(Command::new(BIN).args(args).arg("--data-dir").arg(data));
    (out.status.success(), text(&out))
}

/// Tokens expire and are revoked from the command line, beside a running
/// `up`; `admin-token list` names them by the hash prefix the audit log
/// records, and the refusals are audited with their reason.
#[test]
fn tokens_expire_and_are_revoked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let (ok, short) = cartorio(&["admin-token", "--role", "auditor", "--expires-in", "2s"], &data);
    assert!(ok, "{short}");
    let auditor = short.trim().to_owned();
    let revoker = token(&data, "revoker");
    assert_eq!(call(&up.control, "GET", "/v1/audit/verify", &auditor, b"").0, 200);
    assert_eq!(call(&up.control, "GET", "/v1/crl", &revoker, b"").0, 200);
    for bad in ["5y", "0d", "1.5h", "soon"] {
        let (ok, out) = cartorio(&["admin-token", "--role", "auditor", "--expires-in", bad], &data);
        assert!(!ok && out.contains("no lifetime"), "{bad}: {out}");
    }

    let (ok, list) = cartorio(&["admin-token", "list"], &data);
    assert!(ok, "{list}");
    let prefix_of = |token: &str| cartorio_pkix::hash::sha256_hex(token.as_bytes())[..12].to_owned();
    let line = |list: &str, prefix: &str| {
        list.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned()
    };
    assert!(line(&list, &prefix_of(&revoker)).contains("revoker"), "{list}");
    assert!(line(&list, &prefix_of(&revoker)).ends_with("valid"), "{list}");
    assert!(!list.contains(&auditor) && !list.contains(&revoker), "list shows no token");

    let (ok, out) = cartorio(&["admin-token", "revoke", &prefix_of(&revoker)[..8]], &data);
    assert!(ok && out.contains("revoked the revoker token"), "{out}");
    assert_eq!(call(&up.control, "GET", "/v1/crl", &revoker, b"").0, 401, "a revoked token");
    let (ok, out) = cartorio(&["admin-token", "revoke", &prefix_of(&revoker)], &data);
    assert!(ok && out.contains("already revoked"), "{out}");
    for (prefix, says) in [("0123", "at least 8"), ("zzzzzzzz", "at least 8"), ("00000000", "no token")] {
        let (ok, out) = cartorio(&["admin-token", "revoke", prefix], &data);
        assert!(!ok && out.contains(says), "{prefix}: {out}");
    }

    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(call(&up.control, "GET", "/v1/audit/verify", &auditor, b"").0, 401, "an expired token");
    let (ok, list) = cartorio(&["admin-token", "list"], &data);
    assert!(ok && line(&list, &prefix_of(&auditor)).ends_with("expired"), "{list}");
    assert!(line(&list, &prefix_of(&revoker)).contains("revoked 20"), "{list}");
    let admin = std::fs::read_to_string(data.join("control/admin-token")).expect("admin token");
    let (status, report) = call(&up.control, "GET", "/v1/audit/verify", admin.trim(), b"");
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("\"intact\":true"), "{report}");

    // With the walk-through's token revoked, the command line, which goes
    // through the running `up` with it, works on the registry instead.
    let (ok, out) = cartorio(&["admin-token", "revoke", &prefix_of(admin.trim())], &data);
    assert!(ok, "{out}");
    assert_eq!(call(&up.control, "GET", "/v1/audit/verify", admin.trim(), b"").0, 401);
    let (cert, serial) = issue(&data, &make_csr(tmp.path(), "after", "after.example.test"));
    assert!(cert.is_file() && !serial.is_empty(), "issued offline: {serial}");
}
