//! `cartorio backup` while `up` issues certificates, and `cartorio restore`
//! into a new directory that `up` then serves: every certificate
//! acknowledged before the backup is there, OCSP answers for it and the
//! audit log verifies. The archive is a real age file: the `age` CLI
//! (Debian's, the Go implementation) opens it.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSPHRASE: &str = "correct horse battery staple";

fn cartorio(args: &[&str]) -> (bool, String) {
    let out = run(Command::new(BIN).args(args).env_remove("CARTORIO_BACKUP_PASSPHRASE"));
    (out.status.success(), text(&out))
}

/// `cartorio restore` of `archive` into `into`, opened with the passphrase in `passphrase`.
fn restore(archive: &Path, into: &Path, passphrase: &Path) -> (bool, String) {
    cartorio(&[
        "restore",
        "--from",
        path(archive),
        "--data-dir",
        path(into),
        "--passphrase-file",
        path(passphrase),
    ])
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Issues certificates through the running `up` until told to stop;
/// every acknowledged one is pushed with its path.
fn issue_continuously(
    data: PathBuf,
    work: PathBuf,
    stop: Arc<AtomicBool>,
) -> Arc<Mutex<Vec<(PathBuf, String)>>> {
    let issued = Arc::new(Mutex::new(Vec::new()));
    let sink = issued.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let csr = make_csr(&work, &format!("c{n}"), &format!("c{n}.backup.test"));
            let acknowledged = issue(&data, &csr);
            sink.lock().expect("lock").push(acknowledged);
        }
    });
    issued
}

#[test]
fn a_backup_taken_during_issuance_restores_and_serves() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, restored, work) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("work"));
    std::fs::create_dir_all(&work).expect("work dir");
    let passphrase = tmp.path().join("passphrase");
    std::fs::write(&passphrase, format!("{PASSPHRASE}\n")).expect("passphrase");
    let archive = tmp.path().join("backup.age");

    let up = Up::start(&data);
    let stop = Arc::new(AtomicBool::new(false));
    let issued = issue_continuously(data.clone(), work.clone(), stop.clone());
    while issued.lock().expect("lock").len() < 3 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before: Vec<_> = issued.lock().expect("lock").clone();
    let (ok, out) = cartorio(&[
        "backup",
        "--data-dir",
        path(&data),
        "--out",
        path(&archive),
        "--passphrase-file",
        path(&passphrase),
    ]);
    assert!(ok, "{out}");
    stop.store(true, Ordering::SeqCst);
    let during = issued.lock().expect("lock").len() - before.len();
    println!("{out}\n{} certificates acknowledged before the backup, {during} during it", before.len());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&archive).expect("archive").permissions());
    assert_eq!(mode & 0o077, 0, "the backup holds private keys: mode {mode:o}");

    // Refusals leave everything as it was.
    let (ok, out) = restore(&archive, &data, &passphrase);
    assert!(!ok && out.contains("not empty"), "{out}");
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "incorrect horse battery").expect("wrong passphrase");
    let (ok, out) = restore(&archive, &restored, &wrong);
    assert!(!ok && out.contains("does not open"), "{out}");
    assert!(!restored.exists(), "a failed restore left {}", restored.display());

    let (ok, out) = restore(&archive, &restored, &passphrase);
    assert!(ok, "{out}");
    assert!(up.stop(), "up on the original directory stopped cleanly");

    let epoch_of = |dir: &Path| {
        let manifest = std::fs::read(dir.join("store/ocsp/manifest.json")).unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&manifest).ok().and_then(|m| m["epoch"].as_i64())
    };
    assert_eq!(epoch_of(&data), Some(0), "the original publishes under epoch 0");
    let up = Up::start(&restored);
    // Its manifests count generations from the backup's: under the
    // restore's epoch, responders that served a later generation before it
    // take them (responder/src/loader.rs).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while epoch_of(&restored).unwrap_or(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "no manifest under a new epoch after the restore");
        std::thread::sleep(Duration::from_millis(50));
    }
    for (cert, serial) in &before {
        let out =
            ocsp_until(&up.ocsp_url(), &restored.join("pki"), cert, "good", &[], Duration::from_secs(10));
        assert_eq!(status_of(&out, cert).as_deref(), Some("good"), "{serial} after the restore: {out}");
    }
    let (ok, out) = cartorio(&["audit", "verify", "--data-dir", path(&restored)]);
    assert!(ok && out.contains("audit log intact"), "{out}");
    drop(up);
    let (ok, out) = cartorio(&["audit", "verify", "--data-dir", path(&restored)]);
    assert!(ok, "{out}");
}

#[test]
fn a_backup_to_an_age_recipient_opens_with_the_age_cli() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("a");
    let up = Up::start(&data);
    let identity = tmp.path().join("identity.txt");
    let keygen = run(Command::new("age-keygen").arg("-o").arg(&identity));
    assert!(keygen.status.success(), "age-keygen: {}", text(&keygen));
    let recipient = text(&run(Command::new("age-keygen").arg("-y").arg(&identity))).trim().to_owned();
    let archive = tmp.path().join("backup.age");
    let (ok, out) =
        cartorio(&["backup", "--data-dir", path(&data), "--out", path(&archive), "--recipient", &recipient]);
    assert!(ok, "{out}");
    drop(up);

    let plain = tmp.path().join("backup.tar");
    let decrypted =
        run(Command::new("age").arg("-d").arg("-i").arg(&identity).arg("-o").arg(&plain).arg(&archive));
    assert!(decrypted.status.success(), "age -d: {}", text(&decrypted));
    let listing = text(&run(Command::new("tar").arg("-tf").arg(&plain)));
    for expected in ["registry.db", "BACKUP.json", "pki/root-key.pk8", "pki/audit-key.pk8", "gateway/kek"] {
        assert!(listing.lines().any(|l| l == expected), "{expected} missing from\n{listing}");
    }
    for absent in ["registry.db-wal", "run/endpoints.json"] {
        assert!(!listing.lines().any(|l| l == absent), "{absent} is in the backup");
    }

    // A truncated archive is refused and leaves nothing behind.
    let bytes = std::fs::read(&archive).expect("archive");
    let truncated = tmp.path().join("truncated.age");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("truncated");
    let into = tmp.path().join("b");
    let (ok, out) = cartorio(&[
        "restore",
        "--from",
        path(&truncated),
        "--data-dir",
        path(&into),
        "--identity",
        path(&identity),
    ]);
    assert!(!ok, "{out}");
    assert!(!into.exists(), "a failed restore left {}", into.display());
    let (ok, out) = cartorio(&[
        "restore",
        "--from",
        path(&archive),
        "--data-dir",
        path(&into),
        "--identity",
        path(&identity),
    ]);
    assert!(ok && out.contains("restored"), "{out}");
    let (ok, out) = cartorio(&["audit", "verify", "--data-dir", path(&into)]);
    assert!(ok, "{out}");
}

#[test]
fn there_is_no_unencrypted_backup() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, out) =
        cartorio(&["backup", "--data-dir", path(tmp.path()), "--out", path(&tmp.path().join("x"))]);
    assert!(!ok && out.contains("always encrypted"), "{out}");
}
