//! The audit log: every action is recorded hash-chained, checkpoints are
//! signed and exported, and `cartorio audit verify` names the first bad
//! entry when one is altered, removed or reordered.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn verify(data: &Path) -> (bool, String) {
    let out = run(Command::new(BIN).args(["audit", "verify", "--data-dir"]).arg(data));
    (out.status.success(), text(&out))
}

/// A copy of `data` with `sql` run on its registry.
fn tampered(data: &Path, name: &str, sql: &str) -> std::path::PathBuf {
    let copy = data.with_file_name(name);
    let out = run(Command::new("cp").arg("-r").arg(data).arg(&copy));
    assert!(out.status.success(), "{}", text(&out));
    let script = format!(
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript({sql:?})\nc.commit()\n"
    );
    let out = run(Command::new("python3").arg("-c").arg(script).arg(copy.join("registry.db")));
    assert!(out.status.success(), "{}", text(&out));
    copy
}

#[test]
fn audit_log_records_actions_and_verify_names_the_first_bad_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    let (_, serial) = issue(&data, &make_csr(tmp.path(), "a", "a.example.test"));
    issue(&data, &make_csr(tmp.path(), "b", "b.example.test"));
    let out = run(Command::new(BIN).args(["revoke", "--data-dir"]).arg(&data).args(["--serial", &serial]));
    assert!(out.status.success(), "{}", text(&out));
    // A checkpoint is signed and exported within the checkpoint interval.
    let checkpoints = data.join("store/audit/checkpoints");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&checkpoints).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no audit checkpoint exported");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(up.stop(), "clean exit");

    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    assert!(report.contains("audit log intact"), "{report}");
    let kinds = run(Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys\nprint(sorted({r[0] for r in sqlite3.connect(sys.argv[1]).execute('SELECT kind FROM audit_log')}))")
        .arg(data.join("registry.db")));
    for kind in [
        "key.generate",
        "config.load",
        "admin.token_add",
        "admin.login",
        "certificate.issue",
        "certificate.revoke",
        "ocsp.sign_batch",
        "crl.issue",
    ] {
        assert!(text(&kinds).contains(kind), "{kind} not audited: {}", text(&kinds));
    }

    for (name, sql, entry) in [
        ("altered", "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", "entry 3"),
        ("removed", "DELETE FROM audit_log WHERE seq = 3", "entry 3"),
        (
            "reordered",
            "CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (2, 3);
             UPDATE audit_log SET at = (SELECT at FROM t WHERE seq = 3), kind = (SELECT kind FROM t WHERE seq = 3),
               actor = (SELECT actor FROM t WHERE seq = 3), detail = (SELECT detail FROM t WHERE seq = 3),
               leaf_hash = (SELECT leaf_hash FROM t WHERE seq = 3), chain_hash = (SELECT chain_hash FROM t WHERE seq = 3)
               WHERE seq = 2;
             UPDATE audit_log SET at = (SELECT at FROM t WHERE seq = 2), kind = (SELECT kind FROM t WHERE seq = 2),
               actor = (SELECT actor FROM t WHERE seq = 2), detail = (SELECT detail FROM t WHERE seq = 2),
               leaf_hash = (SELECT leaf_hash FROM t WHERE seq = 2), chain_hash = (SELECT chain_hash FROM t WHERE seq = 2)
               WHERE seq = 3;",
            "entry 2",
        ),
    ] {
        let copy = tampered(&data, name, sql);
        let (ok, report) = verify(&copy);
        assert!(!ok, "{name}: verify passed: {report}");
        assert!(report.contains(entry), "{name}: {report}");
    }
}
