//! A control node alone (`cartorio control --config`) on a PostgreSQL
//! registry: issuance through its admin API, revocation by the CLI working
//! on the same database beside it, and `cartorio audit verify` over both.
//! Skipped, and said so, when `CARTORIO_TEST_POSTGRES_URL` is unset
//! (scripts/test.sh always sets it).

mod common;

use cartorio_testkit::postgres::TestDatabase;
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
    let (status, body) = call(&addr, "GET", "/readyz", token, "text/plain", b"");
    assert_eq!(status, 200, "the registry probe answers on PostgreSQL: {body}");

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

/// A PostgreSQL tool of the newest installed server (not the wrapper in
/// /usr/bin, which picks a version by cluster).
fn pg_tool(name: &str) -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL installed")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("pg tool")
}

/// docs/runbook.md's PostgreSQL backup: `pg_dump -Fc` while the node
/// runs, `pg_restore` into a new database, and the node on it has every
/// certificate and an intact audit log; `cartorio backup` keeps the keys.
#[test]
fn a_postgres_registry_restores_with_pg_dump_and_pg_restore() {
    let (Some(pg), Some(target)) =
        (TestDatabase::from_env("pg_dump_source"), TestDatabase::from_env("pg_restore_target"))
    else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let config = |url: &str, data: &std::path::Path| {
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\nocsp_url = \"http://127.0.0.1:9\"\ndatabase_url = {url:?}\n",
            data.display().to_string()
        )
    };
    let node = start_alone("control", tmp.path(), &config(&pg.url, &data), port);
    let addr = format!("127.0.0.1:{port}");
    let token =
        std::fs::read_to_string(data.join("control/admin-token")).expect("admin token").trim().to_owned();
    let mut serials = Vec::new();
    for n in 0..3 {
        let csr = std::fs::read(make_csr(tmp.path(), &format!("d{n}"), &format!("d{n}.example.test")))
            .expect("csr");
        let (status, body) =
            call(&addr, "POST", "/v1/certificates?profile=server", &token, "application/pkcs10", &csr);
        assert_eq!(status, 201, "{body}");
        let issued: serde_json::Value = serde_json::from_str(&body).expect("json");
        serials.push(issued["serial"].as_str().expect("serial").to_owned());
    }
    let dump = tmp.path().join("registry.dump");
    let out = run(Command::new(pg_tool("pg_dump")).args(["-Fc", "-d", &pg.url, "-f"]).arg(&dump));
    assert!(out.status.success(), "pg_dump: {}", text(&out));
    let passphrase = tmp.path().join("passphrase");
    std::fs::write(&passphrase, "correct horse battery staple").expect("passphrase");
    let archive = tmp.path().join("files.age");
    let mut backup = Command::new(BIN);
    backup.args(["backup", "--data-dir"]).arg(&data).arg("--out").arg(&archive).arg("--passphrase-file");
    let out = run(backup.arg(&passphrase).env("CARTORIO_DATABASE_URL", &pg.url));
    assert!(out.status.success() && text(&out).contains("NOT the registry"), "{}", text(&out));
    drop(node);

    let out = run(Command::new(pg_tool("pg_restore"))
        .args(["--no-owner", "--exit-on-error", "-d", &target.url])
        .arg(&dump));
    assert!(out.status.success(), "pg_restore: {}", text(&out));
    let restored = tmp.path().join("restored");
    let mut restore = Command::new(BIN);
    restore.args(["restore", "--from"]).arg(&archive).arg("--data-dir").arg(&restored);
    let out = run(restore.arg("--passphrase-file").arg(&passphrase));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!restored.join("registry.db").exists());

    let node = start_alone("control", tmp.path(), &config(&target.url, &restored), port);
    for serial in &serials {
        let (status, body) =
            call(&addr, "GET", &format!("/v1/certificates/{serial}"), &token, "text/plain", b"");
        assert_eq!(status, 200, "{serial} after pg_restore: {body}");
    }
    drop(node);
    let (ok, out) = cli(&["audit", "verify"], &restored, Some(&target.url));
    assert!(ok && out.contains("audit log intact"), "{out}");
}
