//! A control node alone (`cartorio control --config`) on a PostgreSQL
//! registry: issuance through its admin API, revocation by the CLI working
//! on the same database beside it, and `cartorio audit verify` over both.
//! Skipped, and said so, when `CARTORIO_TEST_POSTGRES_URL` is unset
//! (scripts/test.sh always sets it).

mod common;

use cartorio_control::registry::testing::TestDatabase;
use common::*;
use std::process::Command;

fn call(addr: &str, method: &str, path: &str, token: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, _, body) = http(addr, &head, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `cartorio ARGS --data-dir DATA` on the registry at `database_url`.
fn cli(args: &[&str], data: &std::path::Path, database_url: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--data-dir").arg(data).env_remove("CARTORIO_DATABASE_URL");
    if let Some(url) = database_url {
        cmd.env("CARTORIO_DATABASE_URL", url);
    }
    let out = run(&mut cmd);
    (out.status.success(), text(&out))
}

#[test]
fn a_control_node_on_postgres_issues_revokes_and_verifies() {
    let Some(pg) = TestDatabase::from_env("control_node") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    // Trust authentication ignores the password: it is here to show it is never logged.
    let url = pg.url.replacen("postgres@", "postgres:never-logged@", 1);
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\nocsp_url = \"http://127.0.0.1:9\"\ndatabase_url = {:?}\n",
        data.display().to_string(),
        url
    );
    let node = start_alone("control", tmp.path(), &config, port);
    let addr = format!("127.0.0.1:{port}");
    let token = std::fs::read_to_string(data.join("control/admin-token")).expect("admin token");
    let token = token.trim();

    let csr = std::fs::read(make_csr(tmp.path(), "pg", "pg.example.test")).expect("csr");
    let (status, body) =
        call(&addr, "POST", "/v1/certificates?profile=server", token, "application/pkcs10", &csr);
    assert_eq!(status, 201, "{body}");
    let issued: serde_json::Value = serde_json::from_str(&body).expect("json");
    let serial = issued["serial"].as_str().expect("serial").to_owned();

    // The CLI, with no `up` to talk to, writes to the same database.
    let (ok, out) = cli(&["revoke", "--serial", &serial, "--reason", "keyCompromise"], &data, Some(&url));
    assert!(ok, "{out}");
    let (status, body) = call(&addr, "GET", &format!("/v1/certificates/{serial}"), token, "text/plain", b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"revoked\""), "the node sees the CLI's revocation: {body}");

    drop(node);
    assert!(!data.join("registry.db").exists(), "no SQLite registry beside a PostgreSQL one");
    let (ok, out) = cli(&["audit", "verify"], &data, Some(&url));
    assert!(ok && out.contains("audit log intact"), "{out}");
    let (ok, out) = cli(&["audit", "verify"], &data, None);
    assert!(!ok && out.contains("has no registry"), "without the URL there is no registry: {out}");
    let log = std::fs::read_to_string(tmp.path().join("control.log")).expect("log");
    assert!(log.contains("registry open"), "{log}");
    assert!(!log.contains("never-logged"), "the password was logged: {log}");
}
