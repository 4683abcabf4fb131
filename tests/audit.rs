//! The audit log: every action is recorded hash-chained, checkpoints are
//! signed and exported, and `cartorio audit verify` names the first bad
//! entry when one is altered, removed or reordered: with the audit public
//! key alone, also when whoever tampered re-chained the registry, deleted
//! its checkpoints or truncated it.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn verify(data: &Path) -> (bool, String) {
    verify_with(data, &[])
}

fn verify_with(data: &Path, extra: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = run(Command::new(BIN).args(["audit", "verify", "--data-dir"]).arg(data).args(extra));
    (out.status.success(), text(&out))
}

/// Recomputes every entry's leaf and chain hash (and renumbers them 1, 2,
/// 3 ...), as someone who can write the registry would after editing it.
const RECHAIN: &str = r#"
import hashlib, sqlite3, struct, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute('SELECT seq, at, kind, actor, detail FROM audit_log ORDER BY seq').fetchall()
c.execute('DELETE FROM audit_log')
prev = bytes(32)
for n, (_, at, kind, actor, detail) in enumerate(rows, start=1):
    field = lambda s: struct.pack('>Q', len(s.encode())) + s.encode()
    leaf = hashlib.sha256(b'\x00' + struct.pack('>qq', n, at) + field(kind) + field(actor) + field(detail)).digest()
    prev = hashlib.sha256(prev + leaf).digest()
    c.execute('INSERT INTO audit_log (seq, at, kind, actor, detail, leaf_hash, chain_hash) VALUES (?,?,?,?,?,?,?)',
              (n, at, kind, actor, detail, leaf, prev))
c.commit()
"#;

/// `tampered`, then re-chained; the private audit key is not in the copy.
fn tampered_and_rechained(data: &Path, name: &str, sql: &str) -> std::path::PathBuf {
    let copy = tampered(data, name, sql);
    let out = run(Command::new("python3").arg("-c").arg(RECHAIN).arg(copy.join("registry.db")));
    assert!(out.status.success(), "{}", text(&out));
    copy
}

/// The largest size among the checkpoints exported to `store`.
fn largest_exported(data: &Path) -> i64 {
    std::fs::read_dir(data.join("store/audit/checkpoints"))
        .expect("checkpoints")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
        .max()
        .expect("an exported checkpoint")
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

/// What whoever writes the database can do, and what it runs into: each
/// tampering below keeps the hash chain consistent, so only the signed,
/// exported checkpoints can tell, and `audit verify` tells with the public
/// key alone (the private audit key is removed from every copy).
#[test]
fn tampering_that_rechains_the_log_is_caught_by_the_exported_checkpoints() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let up = Up::start(&data);
    for i in 0..6 {
        issue(&data, &make_csr(tmp.path(), &format!("t{i}"), "t.example.test"));
    }
    // Checkpoints every 10 s: wait for one that covers the issuances.
    let deadline = Instant::now() + Duration::from_secs(40);
    while std::fs::read_dir(data.join("store/audit/checkpoints")).map(|d| d.count()).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "no second audit checkpoint exported");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(up.stop(), "clean exit");
    std::fs::remove_file(data.join("pki/audit-key.pk8")).expect("the private key goes");
    let (ok, report) = verify(&data);
    assert!(ok && report.contains("audit log intact"), "{report}");
    assert!(report.contains("exported to the store"), "{report}");
    let size = largest_exported(&data);
    println!("largest exported checkpoint: {size} entries; {report}");

    // Rewritten, then re-chained: the chain is whole, the checkpoints are not.
    let copy =
        tampered_and_rechained(&data, "rewritten", "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    let (ok, report) = verify(&copy);
    assert!(!ok, "rewritten: {report}");
    assert!(report.contains("do not match the signed checkpoint"), "{report}");
    assert!(
        report.contains("entries 1 to") || report.contains("entries 3 to") || report.contains("to 3 "),
        "{report}"
    );
    println!("rewritten: {report}");

    // Rows deleted, the rest renumbered and re-chained, the registry's own
    // checkpoints deleted too.
    let copy = tampered_and_rechained(
        &data,
        "deleted",
        "DELETE FROM audit_log WHERE seq IN (4, 5); DELETE FROM audit_checkpoints;",
    );
    let (ok, report) = verify(&copy);
    assert!(!ok && report.contains("do not match the signed checkpoint"), "deleted: {report}");
    println!("deleted: {report}");

    // Truncated below the exported checkpoints.
    let keep = size - 2;
    let copy = tampered(
        &data,
        "truncated",
        &format!(
            "DELETE FROM audit_log WHERE seq > {keep}; DELETE FROM audit_checkpoints WHERE size > {keep};"
        ),
    );
    let (ok, report) = verify(&copy);
    assert!(
        !ok && report.contains(&format!("entry {}", keep + 1)) && report.contains("removed"),
        "truncated: {report}"
    );
    println!("truncated: {report}");

    // A checkpoint replaced: in the store, or in the registry.
    let copy = tampered(&data, "replaced", "SELECT 1");
    let exported = copy.join(format!("store/audit/checkpoints/{size:012}.json"));
    let mut checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).expect("checkpoint")).expect("json");
    checkpoint["root"] = serde_json::json!("00".repeat(32));
    std::fs::write(&exported, checkpoint.to_string()).expect("replace");
    let (ok, report) = verify(&copy);
    assert!(!ok && report.contains("not signed by the audit key"), "replaced: {report}");
    let copy = tampered(
        &data,
        "replaced-row",
        &format!("UPDATE audit_checkpoints SET root = '{}'", "11".repeat(32)),
    );
    let (ok, report) = verify(&copy);
    assert!(!ok && report.contains("not signed by the audit key") && report.contains("registry"), "{report}");

    // Truncated, and the exported checkpoints that would tell deleted too:
    // only a copy kept elsewhere catches that.
    let witness = tmp.path().join("witness");
    let out = run(Command::new("cp").arg("-r").arg(data.join("store/audit/checkpoints")).arg(&witness));
    assert!(out.status.success(), "{}", text(&out));
    let copy = tampered(
        &data,
        "covered-up",
        &format!(
            "DELETE FROM audit_log WHERE seq > {keep}; DELETE FROM audit_checkpoints WHERE size > {keep};"
        ),
    );
    for entry in std::fs::read_dir(copy.join("store/audit/checkpoints")).expect("dir").flatten() {
        let size: i64 = entry.file_name().to_string_lossy().trim_end_matches(".json").parse().expect("size");
        if size > keep {
            std::fs::remove_file(entry.path()).expect("cover up");
        }
    }
    let (_, alone) = verify(&copy);
    let (ok, report) = verify_with(&copy, &["--checkpoints".as_ref(), witness.as_os_str()]);
    assert!(!ok && report.contains("removed") && report.contains("witness"), "with the copy: {report}");
    println!("covered up: without the copy \"{}\"; with it \"{report}\"", alone.trim());

    // The public key can be pinned; a different one refuses every checkpoint.
    let other = tmp.path().join("other.pem");
    let out = run(Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(tmp.path().join("other.key")));
    assert!(out.status.success(), "{}", text(&out));
    let out = run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(tmp.path().join("other.key"))
        .arg("-out")
        .arg(&other));
    assert!(out.status.success(), "{}", text(&out));
    let (ok, report) = verify_with(&data, &["--public-key".as_ref(), other.as_os_str()]);
    assert!(!ok && report.contains("not signed by the audit key"), "another key: {report}");
}
